package object_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/object"
	"github.com/gorc-jit/gorc/jitlink/triple"
)

// An ELF object goes to the ELF reader; its graph and interface agree.
func TestELF(t *testing.T) {
	obj := testutil.Assemble(t, t.TempDir(), "t.s", "\t.text\n\t.globl f\n\t.type f,@function\nf: ret\n\t.section .init_array,\"aw\"\n\t.quad f\n")
	data, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	if f := object.Format(data); f != triple.ELF {
		t.Fatalf("Format = %s", f)
	}
	g, err := object.NewLinkGraph(obj, data)
	if err != nil {
		t.Fatal(err)
	}
	if g.TargetTriple().Arch != triple.X86_64 || g.TargetTriple().Format != triple.ELF {
		t.Errorf("triple %v", g.TargetTriple())
	}
	iface, err := object.ReadInterface(obj, data)
	if err != nil {
		t.Fatal(err)
	}
	if len(iface.Symbols) != 1 || iface.Symbols[0].Name != "f" || !iface.Symbols[0].Callable || !iface.HasInitializers {
		t.Errorf("interface %+v", iface)
	}
	if err := object.CheckArch(obj, data, triple.MustParse("x86_64-unknown-linux-gnu")); err != nil {
		t.Errorf("CheckArch(x86_64): %v", err)
	}
	if err := object.CheckArch(obj, data, triple.MustParse("aarch64-unknown-linux-gnu")); err == nil || !strings.Contains(err.Error(), "EM_X86_64") {
		t.Errorf("CheckArch(aarch64): %v, want an error naming the machine", err)
	}
	if err := object.CheckArch("junk", []byte("junk"), triple.MustParse("aarch64-unknown-linux-gnu")); err != nil {
		t.Errorf("CheckArch(junk): %v, want nil (reading reports it)", err)
	}
	if low, err := object.NeedsLowAddresses(obj, data); err != nil || low {
		t.Errorf("NeedsLowAddresses = %v, %v (an absolute .quad in .init_array is not 32-bit)", low, err)
	}
}

// Objects of other formats get one error naming the file and what it is.
func TestUnknownFormats(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty.o", nil, "empty.o: unsupported: object format with magic "},
		{"text.o", []byte("hello world"), "text.o: unsupported: object format with magic 68 65 6c 6c"},
		{"mach.o", []byte{0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1}, "mach.o: unsupported: Mach-O objects"},
		{"coff.obj", []byte{0x64, 0x86, 1, 0}, "coff.obj: unsupported: COFF objects"},
	} {
		_, err := object.NewLinkGraph(tc.name, tc.data)
		var ue *jitlink.UnsupportedError
		if err == nil || !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("NewLinkGraph(%s): %v, want %q", tc.name, err, tc.want)
		}
		if _, err := object.ReadInterface(tc.name, tc.data); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("ReadInterface(%s): %v, want %q", tc.name, err, tc.want)
		}
		if _, err := object.NeedsLowAddresses(tc.name, tc.data); err == nil {
			t.Errorf("NeedsLowAddresses(%s): no error", tc.name)
		}
	}
}
