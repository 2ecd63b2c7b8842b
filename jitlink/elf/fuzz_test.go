package elf_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/elf"
	"github.com/gorc-jit/gorc/jitlink/jitlinktest"
)

// FuzzNewLinkGraph builds graphs (and reads interfaces) from arbitrary bytes
// and links whatever builds: malformed input must give a typed error, never
// a panic.
// Crashers found are kept under testdata/fuzz/FuzzNewLinkGraph.
func FuzzNewLinkGraph(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.o")
	for _, p := range seeds {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// The other readers of untrusted objects must not panic either.
		iface, _ := elf.ReadInterface("fuzz.o", data)
		elf.NeedsLowAddresses("fuzz.o", data)
		// Building from what ReadInterface decoded fails or not as
		// building from the bytes does.
		_, errWith := elf.NewLinkGraphWith("fuzz.o", data, iface)
		g, err := elf.NewLinkGraph("fuzz.o", data)
		if (err == nil) != (errWith == nil) {
			t.Fatalf("NewLinkGraph: %v; NewLinkGraphWith its interface: %v", err, errWith)
		}
		if err != nil {
			var me *jitlink.MalformedError
			var ue *jitlink.UnsupportedError
			if !errors.As(err, &me) && !errors.As(err, &ue) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		// Zero-fill sections may legitimately be huge; don't allocate them
		// in Go memory here.
		var total uint64
		for b := range g.Blocks() {
			total += b.Size() + b.Alignment()
		}
		if total > 64<<20 {
			return
		}
		ext := map[string]uint64{}
		for i, s := range g.ExternalSymbols() {
			ext[s.Name()] = 0x20000 + uint64(i)*16
		}
		_ = jitlinktest.Link(g, jitlinktest.Options{Externals: ext})
	})
}

// The committed fixtures build, and link with their externals defined.
func TestFixtures(t *testing.T) {
	seeds, _ := filepath.Glob("testdata/*.o")
	if len(seeds) == 0 {
		t.Fatal("no fixtures")
	}
	for _, p := range seeds {
		t.Run(filepath.Base(p), func(t *testing.T) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			g, err := elf.NewLinkGraph(p, data)
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Base(p) == "tls.o" {
				return // needs a TLS platform to link (orc/elfplatform tests)
			}
			link(t, g, nil)
		})
	}
}
