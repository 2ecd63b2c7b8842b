package funcnames_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/jitlinktest"
	"github.com/gorc-jit/gorc/jitlink/x86_64"
	"github.com/gorc-jit/gorc/orc/funcnames"
)

type runtime map[string]uint64

func (r runtime) RuntimeSymbol(name string) (uint64, bool) { a, ok := r[name]; return a, ok }

// TestActions: a graph's named functions are registered with their names
// and deregistered by their starts alone (entries with empty names), so
// that an executor process receives the names once; data is not named.
func TestActions(t *testing.T) {
	p, ok, err := funcnames.New(runtime{funcnames.RegisterFunction: 0x100, funcnames.DeregisterFunction: 0x200})
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	g := x86_64.NewLinkGraph("test")
	text := g.CreateSection(".text", jitlink.ProtRead|jitlink.ProtExec)
	b := g.CreateContentBlock(text, make([]byte, 16), 0, 16, 0)
	g.AddDefinedSymbol(b, 4, "f", 4, jitlink.Strong, jitlink.ScopeDefault, jitlink.Callable|jitlink.Live)
	data := g.CreateSection(".data", jitlink.ProtRead|jitlink.ProtWrite)
	g.AddDefinedSymbol(g.CreateContentBlock(data, make([]byte, 8), 0, 8, 0), 0, "d", 8, jitlink.Strong, jitlink.ScopeDefault, jitlink.Live)
	err = jitlinktest.Link(g, jitlinktest.Options{Passes: func(cfg *jitlink.PassConfig) {
		if err := p.ModifyPassConfig(nil, g, cfg); err != nil {
			t.Fatal(err)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.AllocActions) != 1 {
		t.Fatalf("%d actions, want 1", len(g.AllocActions))
	}
	a := g.AllocActions[0]
	le := binary.LittleEndian
	entry := func(name string) []byte {
		e := le.AppendUint64(nil, b.Address()+4)
		e = le.AppendUint64(e, 4)
		e = le.AppendUint64(e, uint64(len(name)))
		return append(e, name...)
	}
	if a.Finalize.Fn != 0x100 || !bytes.Equal(a.Finalize.Args, entry("f")) {
		t.Errorf("registration %#x % x, want %#x % x", a.Finalize.Fn, a.Finalize.Args, 0x100, entry("f"))
	}
	if a.Dealloc.Fn != 0x200 || !bytes.Equal(a.Dealloc.Args, entry("")) {
		t.Errorf("deregistration %#x % x, want %#x % x", a.Dealloc.Fn, a.Dealloc.Args, 0x200, entry(""))
	}
}
