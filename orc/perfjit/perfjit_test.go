package perfjit_test

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/perfjit"
)

// TestDump links two functions with the plugin and reads the dump back: a
// header for this process, a code-load record per function with its
// address and the bytes the compiler emitted, and the closing record.
func TestDump(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("JITDUMPDIR", dir)
	obj := testutil.Compile(t, dir, "f.c", "int add(int a, int b) { return a + b; }\nint twice(int a) { return 2 * a; }\n", "-O2")
	p, err := perfjit.New()
	if err != nil {
		t.Fatal(err)
	}
	j, err := (&lljit.Builder{ObjectLinkingLayerCreator: func(es *orc.ExecutionSession, mm jitlink.MemoryManager) (*orc.ObjectLinkingLayer, error) {
		l := orc.NewObjectLinkingLayer(es, mm)
		l.AddPlugin(p)
		return l, nil
	}}).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := j.AddObjectFile(nil, obj); err != nil {
		t.Fatal(err)
	}
	addr, err := j.Lookup(t.Context(), "add")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.Path(), filepath.Join(dir, ".debug", "jit", "gorc-jit-")) || filepath.Base(p.Path()) != "jit-"+strconv.Itoa(os.Getpid())+".dump" {
		t.Errorf("dump at %s", p.Path())
	}
	data, err := os.ReadFile(p.Path())
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	if len(data) < 40 || le.Uint32(data) != 0x4A695444 || le.Uint32(data[4:]) != 1 || le.Uint32(data[8:]) != 40 || le.Uint32(data[12:]) != 62 || le.Uint32(data[20:]) != uint32(os.Getpid()) {
		t.Fatalf("bad header % x", data[:min(len(data), 40)])
	}
	loads := map[string][2]uint64{}
	code := map[string][]byte{}
	closed := false
	for off := 40; off < len(data); {
		id, size := le.Uint32(data[off:]), int(le.Uint32(data[off+4:]))
		if size < 16 || off+size > len(data) {
			t.Fatalf("record at %d: size %d", off, size)
		}
		rec := data[off : off+size]
		switch id {
		case 0:
			name, _, _ := bytes.Cut(rec[56:], []byte{0})
			n := le.Uint64(rec[40:])
			loads[string(name)] = [2]uint64{le.Uint64(rec[32:]), n}
			code[string(name)] = rec[56+len(name)+1:]
			if uint64(len(code[string(name)])) != n {
				t.Errorf("%s: %d code bytes, header says %d", name, len(code[string(name)]), n)
			}
		case 3:
			closed = true
		}
		off += size
	}
	if !closed {
		t.Error("no close record")
	}
	if loads["add"][0] != addr {
		t.Errorf("add recorded at %#x, linked at %#x", loads["add"][0], addr)
	}
	f, err := elf.Open(obj)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, _ := f.Symbols()
	text, _ := f.Section(".text").Data()
	for _, s := range syms {
		if s.Name != "add" && s.Name != "twice" {
			continue
		}
		if want := text[s.Value : s.Value+s.Size]; !bytes.Equal(code[s.Name], want) {
			t.Errorf("%s: recorded code % x, want % x", s.Name, code[s.Name], want)
		}
	}
}
