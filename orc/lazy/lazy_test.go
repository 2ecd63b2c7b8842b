package lazy_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/lazy"
)

// countLinks counts the links of graphs named after a file.
type countLinks struct {
	orc.PluginBase
	name string
	n    atomic.Int32
}

func (c *countLinks) ModifyPassConfig(mr *orc.MaterializationResponsibility, g *jitlink.LinkGraph, cfg *jitlink.PassConfig) error {
	if g.Name() == c.name {
		c.n.Add(1)
	}
	return nil
}

func TestLazyReexport(t *testing.T) {
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "body.c", "int twice(int x) { return 2 * x; }\n", "-O1")
	counter := &countLinks{name: obj}
	j, err := (&lljit.Builder{ObjectLinkingLayerCreator: func(es *orc.ExecutionSession, mm jitlink.MemoryManager) (*orc.ObjectLinkingLayer, error) {
		l := orc.NewObjectLinkingLayer(es, mm)
		l.AddPlugin(counter)
		return l, nil
	}}).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	impl, err := j.CreateJITDylib("impl")
	if err != nil {
		t.Fatal(err)
	}
	if err := j.AddObjectFile(impl, obj); err != nil {
		t.Fatal(err)
	}
	m, err := lazy.NewManager(j.Session(), j.ObjectLinkingLayer(), impl, lazy.Options{})
	if err != nil {
		t.Fatal(err)
	}
	twice := orc.Intern("twice")
	if err := j.MainJITDylib().Define(m.Reexports(impl, map[orc.Name]orc.Alias{twice: {Target: twice, Flags: orc.Exported | orc.Callable}})); err != nil {
		t.Fatal(err)
	}
	stub, err := j.Lookup(t.Context(), "twice")
	if err != nil {
		t.Fatal(err)
	}
	if n := counter.n.Load(); n != 0 {
		t.Fatalf("taking the lazy symbol's address linked its body %d times", n)
	}
	r, err := j.ExecutorProcessControl().RunAsIntFunction(stub, 21)
	if err != nil || r != 42 {
		t.Fatalf("twice(21) through the stub = %d, %v", r, err)
	}
	body, err := j.Session().LookupSymbol(context.Background(), orc.Search(impl), twice)
	if err != nil || body.Addr == stub {
		t.Fatalf("body at %#x, stub at %#x, %v", body.Addr, stub, err)
	}
	r, _ = j.ExecutorProcessControl().RunAsIntFunction(stub, 5)
	if r != 10 || counter.n.Load() != 1 {
		t.Fatalf("second call = %d after %d links", r, counter.n.Load())
	}

	// Stubs owned by a tracker go, call-throughs and all, when it is
	// removed.
	rt := j.MainJITDylib().CreateResourceTracker()
	again := orc.Intern("twice_again")
	if err := j.MainJITDylib().DefineWithTracker(m.Reexports(impl, map[orc.Name]orc.Alias{again: {Target: twice, Flags: orc.Exported | orc.Callable}}), rt); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Lookup(t.Context(), "twice_again"); err != nil {
		t.Fatal(err)
	}
	if n := m.CallThroughs(); n != 2 {
		t.Fatalf("%d call-throughs, want 2", n)
	}
	if err := rt.Remove(); err != nil {
		t.Fatal(err)
	}
	if n := m.CallThroughs(); n != 1 {
		t.Fatalf("after removal: %d call-throughs, want 1", n)
	}
}
