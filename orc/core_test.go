package orc_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/shared/tasks"
)

// unit is a MaterializationUnit whose materialization the test controls.
type unit struct {
	name        string
	syms        orc.SymbolFlagsMap
	materialize func(mr *orc.MaterializationResponsibility)
	mu          sync.Mutex
	discarded   []orc.Name
	count       atomic.Int32
}

func (u *unit) Name() string                { return u.name }
func (u *unit) Symbols() orc.SymbolFlagsMap { return u.syms }
func (u *unit) InitSymbol() orc.Name        { return orc.Name{} }
func (u *unit) Discard(_ *orc.JITDylib, n orc.Name) {
	u.mu.Lock()
	u.discarded = append(u.discarded, n)
	u.mu.Unlock()
}
func (u *unit) Materialize(mr *orc.MaterializationResponsibility) {
	u.count.Add(1)
	u.materialize(mr)
}

var N = orc.Intern

func flags(f orc.SymbolFlags, names ...string) orc.SymbolFlagsMap {
	m := orc.SymbolFlagsMap{}
	for _, n := range names {
		m[N(n)] = f
	}
	return m
}

// resolveAll resolves every covered symbol at base, base+16, ... in name
// order and emits them with the given dependencies.
func emitAt(base uint64, deps ...orc.DependenceGroup) func(mr *orc.MaterializationResponsibility) {
	return func(mr *orc.MaterializationResponsibility) {
		syms := mr.Symbols()
		names := make([]string, 0, len(syms))
		for n := range syms {
			names = append(names, n.String())
		}
		slices.Sort(names)
		m := orc.SymbolMap{}
		for i, n := range names {
			m[N(n)] = orc.Symbol{Addr: base + uint64(i)*16, Flags: syms[N(n)]}
		}
		if err := mr.NotifyResolved(m); err != nil {
			panic(err)
		}
		if err := mr.NotifyEmitted(deps...); err != nil {
			panic(err)
		}
	}
}

func newSession(t *testing.T, opts ...orc.SessionOption) *orc.ExecutionSession {
	t.Helper()
	var errs []error
	var mu sync.Mutex
	opts = append([]orc.SessionOption{orc.WithErrorReporter(func(err error) {
		mu.Lock()
		errs = append(errs, err)
		mu.Unlock()
	})}, opts...)
	es := orc.NewExecutionSession(opts...)
	t.Cleanup(func() {
		if err := es.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return es
}

func mustJD(t *testing.T, es *orc.ExecutionSession, name string) *orc.JITDylib {
	t.Helper()
	jd, err := es.CreateJITDylib(name)
	if err != nil {
		t.Fatal(err)
	}
	return jd
}

func lookup(t *testing.T, jd *orc.JITDylib, names ...string) orc.SymbolMap {
	t.Helper()
	var ns []orc.Name
	for _, n := range names {
		ns = append(ns, N(n))
	}
	m, err := jd.Lookup(context.Background(), ns...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDuplicateDefinition(t *testing.T) {
	es := newSession(t)
	jd := mustJD(t, es, "main")
	if err := jd.Define(orc.AbsoluteSymbols(orc.SymbolMap{N("foo"): {Addr: 1, Flags: orc.Exported}})); err != nil {
		t.Fatal(err)
	}
	err := jd.Define(&unit{syms: flags(orc.Exported, "foo", "bar")})
	var dup *orc.DuplicateDefinitionError
	if !errors.As(err, &dup) || dup.Name != N("foo") || dup.JITDylib != "main" {
		t.Fatalf("want a duplicate definition of foo, got %v", err)
	}
	// Nothing of the failed definition was added.
	if _, ok := jd.SymbolState(N("bar")); ok {
		t.Fatal("bar was defined by a rejected unit")
	}
	if _, err := es.CreateJITDylib("main"); err == nil {
		t.Fatal("two JITDylibs named main")
	}
}

// The same name in two JITDylibs is fine; a lookup binds by link order.
func TestLinkOrder(t *testing.T) {
	es := newSession(t)
	a, b, main := mustJD(t, es, "A"), mustJD(t, es, "B"), mustJD(t, es, "main")
	for jd, addr := range map[*orc.JITDylib]uint64{a: 0xa000, b: 0xb000} {
		if err := jd.Define(orc.AbsoluteSymbols(orc.SymbolMap{N("foo"): {Addr: addr, Flags: orc.Exported}})); err != nil {
			t.Fatal(err)
		}
	}
	main.SetLinkOrder(orc.SearchOrder{{JD: a, Flags: orc.MatchExportedOnly}, {JD: b, Flags: orc.MatchExportedOnly}})
	if got := lookup(t, main, "foo")[N("foo")].Addr; got != 0xa000 {
		t.Fatalf("foo bound to %#x, want A's 0xa000", got)
	}
	main.SetLinkOrder(orc.SearchOrder{{JD: b, Flags: orc.MatchExportedOnly}, {JD: a, Flags: orc.MatchExportedOnly}})
	if got := lookup(t, main, "foo")[N("foo")].Addr; got != 0xb000 {
		t.Fatalf("foo bound to %#x, want B's 0xb000", got)
	}
	// Hidden symbols are visible only inside their JITDylib.
	if err := a.Define(orc.AbsoluteSymbols(orc.SymbolMap{N("hid"): {Addr: 5}})); err != nil {
		t.Fatal(err)
	}
	if _, err := main.Lookup(context.Background(), N("hid")); err == nil {
		t.Fatal("hidden symbol of A visible from main")
	}
	if got := lookup(t, a, "hid")[N("hid")].Addr; got != 5 {
		t.Fatal("hidden symbol invisible in its own JITDylib")
	}
}

// TestSearchFirst checks the order built for implementation JITDylibs:
// the first ones with MatchAll, then the rest of the order without them.
func TestSearchFirst(t *testing.T) {
	es := newSession(t)
	a, b, c := mustJD(t, es, "A"), mustJD(t, es, "B"), mustJD(t, es, "C")
	got := orc.SearchFirst([]*orc.JITDylib{a, b}, orc.SearchOrder{{JD: b, Flags: orc.MatchExportedOnly}, {JD: c, Flags: orc.MatchExportedOnly}, {JD: a, Flags: orc.MatchExportedOnly}})
	want := orc.SearchOrder{{JD: a, Flags: orc.MatchAll}, {JD: b, Flags: orc.MatchAll}, {JD: c, Flags: orc.MatchExportedOnly}}
	if !slices.Equal(got, want) {
		t.Fatalf("SearchFirst = %v, want %v", got, want)
	}
}

func TestWeakAndStrong(t *testing.T) {
	es := newSession(t)
	jd := mustJD(t, es, "main")
	weak := &unit{syms: flags(orc.Exported|orc.Weak, "w", "shared"), materialize: emitAt(0x1000)}
	strong := &unit{syms: flags(orc.Exported, "shared"), materialize: emitAt(0x2000)}
	if err := jd.Define(weak); err != nil {
		t.Fatal(err)
	}
	// A strong definition overrides a weak one not yet materialized.
	if err := jd.Define(strong); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(weak.discarded, []orc.Name{N("shared")}) {
		t.Fatalf("weak unit discarded %v, want [shared]", weak.discarded)
	}
	if got := lookup(t, jd, "shared")[N("shared")].Addr; got != 0x2000 {
		t.Fatalf("shared = %#x, want the strong 0x2000", got)
	}
	// A weak definition of a defined name yields.
	late := &unit{syms: flags(orc.Exported|orc.Weak, "shared", "late"), materialize: emitAt(0x3000)}
	if err := jd.Define(late); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(late.discarded, []orc.Name{N("shared")}) {
		t.Fatalf("late weak unit discarded %v", late.discarded)
	}
	m := lookup(t, jd, "shared", "late", "w")
	if m[N("shared")].Addr != 0x2000 || m[N("late")].Addr != 0x3000 || m[N("w")].Addr != 0x1000 {
		t.Fatalf("lookup: %v", m)
	}
	// Once materialized, a weak definition can no longer be overridden.
	if err := jd.Define(&unit{syms: flags(orc.Exported, "w")}); err == nil {
		t.Fatal("strong definition of a materialized weak symbol accepted")
	}
}

// Lookups from many goroutines wait for one in-flight materialization.
func TestLookupWaitsForInFlight(t *testing.T) {
	es := newSession(t, orc.WithDispatcher(tasks.NewPool(2)))
	jd := mustJD(t, es, "main")
	release := make(chan struct{})
	u := &unit{syms: flags(orc.Exported, "slow"), materialize: func(mr *orc.MaterializationResponsibility) {
		<-release
		emitAt(0x5000)(mr)
	}}
	if err := jd.Define(u); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make(chan uint64, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := jd.Lookup(context.Background(), N("slow"))
			if err != nil {
				t.Error(err)
				return
			}
			results <- m[N("slow")].Addr
		}()
	}
	time.Sleep(20 * time.Millisecond)
	if len(results) != 0 {
		t.Fatal("a lookup completed before materialization finished")
	}
	if st, _ := jd.SymbolState(N("slow")); st != orc.Materializing {
		t.Fatalf("state %v, want materializing", st)
	}
	close(release)
	wg.Wait()
	close(results)
	for a := range results {
		if a != 0x5000 {
			t.Fatalf("got %#x", a)
		}
	}
	if n := u.count.Load(); n != 1 {
		t.Fatalf("materialized %d times", n)
	}
}

// Resolved lookups complete before Ready ones.
func TestResolvedBeforeReady(t *testing.T) {
	es := newSession(t)
	jd := mustJD(t, es, "main")
	var mr *orc.MaterializationResponsibility
	if err := jd.Define(&unit{syms: flags(orc.Exported, "x"), materialize: func(m *orc.MaterializationResponsibility) { mr = m }}); err != nil {
		t.Fatal(err)
	}
	resolved := make(chan orc.SymbolMap, 1)
	ready := make(chan orc.SymbolMap, 1)
	es.LookupAsync(orc.Search(jd), orc.Names(N("x")), orc.Resolved, func(m orc.SymbolMap, err error) { resolved <- m })
	es.LookupAsync(orc.Search(jd), orc.Names(N("x")), orc.Ready, func(m orc.SymbolMap, err error) { ready <- m })
	if err := mr.NotifyResolved(orc.SymbolMap{N("x"): {Addr: 0x42}}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-resolved:
		if m[N("x")].Addr != 0x42 {
			t.Fatalf("resolved %v", m)
		}
	default:
		t.Fatal("resolved lookup did not complete on NotifyResolved")
	}
	if len(ready) != 0 {
		t.Fatal("ready lookup completed before emission")
	}
	if err := mr.NotifyEmitted(); err != nil {
		t.Fatal(err)
	}
	if m := <-ready; m[N("x")].Addr != 0x42 {
		t.Fatalf("ready %v", m)
	}
}

// holder defines units whose responsibilities the test completes by hand.
type holder struct {
	mu  sync.Mutex
	mrs map[string]*orc.MaterializationResponsibility
}

func (h *holder) unit(names ...string) *unit {
	return &unit{syms: flags(orc.Exported, names...), materialize: func(mr *orc.MaterializationResponsibility) {
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.mrs == nil {
			h.mrs = map[string]*orc.MaterializationResponsibility{}
		}
		h.mrs[names[0]] = mr
	}}
}

func (h *holder) mr(name string) *orc.MaterializationResponsibility {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.mrs[name]
}

func states(jd *orc.JITDylib, names ...string) string {
	var out []string
	for _, n := range names {
		st, _ := jd.SymbolState(N(n))
		out = append(out, n+"="+st.String())
	}
	return strings.Join(out, " ")
}

// A symbol is Ready only when everything it depends on, transitively and
// across JITDylibs, is emitted; cycles become Ready together.
func TestDependencies(t *testing.T) {
	es := newSession(t)
	a, b := mustJD(t, es, "A"), mustJD(t, es, "B")
	var h holder
	for _, n := range []string{"x", "y"} {
		if err := a.Define(h.unit(n)); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"z", "c1", "c2"} {
		if err := b.Define(h.unit(n)); err != nil {
			t.Fatal(err)
		}
	}
	// Start every materialization.
	es.LookupAsync(orc.Search(a, b), orc.Names(N("x"), N("y"), N("z"), N("c1"), N("c2")), orc.Resolved, func(orc.SymbolMap, error) {})
	if _, err := es.Lookup(context.Background(), orc.Search(a), orc.Names(N("x")), orc.Materializing); err == nil {
		t.Fatal("a lookup waiting for the materializing state was accepted")
	}
	for _, n := range []string{"x", "y", "z", "c1", "c2"} {
		if h.mr(n) == nil {
			t.Fatalf("%s not materializing", n)
		}
		if err := h.mr(n).NotifyResolved(orc.SymbolMap{N(n): {Addr: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	dep := func(syms []string, jd *orc.JITDylib, on ...string) orc.DependenceGroup {
		g := orc.DependenceGroup{Dependencies: map[*orc.JITDylib][]orc.Name{}}
		for _, s := range syms {
			g.Symbols = append(g.Symbols, N(s))
		}
		for _, o := range on {
			g.Dependencies[jd] = append(g.Dependencies[jd], N(o))
		}
		return g
	}
	// Chain x -> y (A) -> z (B), emitted in the worst order.
	if err := h.mr("x").NotifyEmitted(dep([]string{"x"}, a, "y")); err != nil {
		t.Fatal(err)
	}
	if err := h.mr("y").NotifyEmitted(dep([]string{"y"}, b, "z")); err != nil {
		t.Fatal(err)
	}
	if got := states(a, "x", "y"); got != "x=emitted y=emitted" {
		t.Fatalf("before z is emitted: %s", got)
	}
	if err := h.mr("z").NotifyEmitted(); err != nil {
		t.Fatal(err)
	}
	if got := states(a, "x", "y") + " " + states(b, "z"); got != "x=ready y=ready z=ready" {
		t.Fatalf("after z is emitted: %s", got)
	}
	// A cycle c1 <-> c2.
	if err := h.mr("c1").NotifyEmitted(dep([]string{"c1"}, b, "c2")); err != nil {
		t.Fatal(err)
	}
	if got := states(b, "c1"); got != "c1=emitted" {
		t.Fatalf("c1 alone: %s", got)
	}
	if err := h.mr("c2").NotifyEmitted(dep([]string{"c2"}, b, "c1")); err != nil {
		t.Fatal(err)
	}
	if got := states(b, "c1", "c2"); got != "c1=ready c2=ready" {
		t.Fatalf("cycle: %s", got)
	}
}

// Longer cycles through emitted-but-not-ready symbols, emitted in every
// order, all end Ready.
func TestDependencyCyclesAllOrders(t *testing.T) {
	names := []string{"p", "q", "r", "s"}
	// p -> q -> r -> p, and s -> p.
	depsOf := map[string][]string{"p": {"q"}, "q": {"r"}, "r": {"p"}, "s": {"p"}}
	var perms [][]string
	var permute func(prefix, rest []string)
	permute = func(prefix, rest []string) {
		if len(rest) == 0 {
			perms = append(perms, slices.Clone(prefix))
			return
		}
		for i := range rest {
			next := slices.Concat(rest[:i:i], rest[i+1:])
			permute(append(prefix, rest[i]), next)
		}
	}
	permute(nil, names)
	for _, order := range perms {
		es := newSession(t)
		jd := mustJD(t, es, "main")
		var h holder
		for _, n := range names {
			if err := jd.Define(h.unit(n)); err != nil {
				t.Fatal(err)
			}
		}
		done := make(chan error, 1)
		es.LookupAsync(orc.Search(jd), orc.Names(N("p"), N("q"), N("r"), N("s")), orc.Ready, func(m orc.SymbolMap, err error) { done <- err })
		for _, n := range names {
			h.mr(n).NotifyResolved(orc.SymbolMap{N(n): {Addr: 1}})
		}
		for i, n := range order {
			g := orc.DependenceGroup{Symbols: []orc.Name{N(n)}, Dependencies: map[*orc.JITDylib][]orc.Name{}}
			for _, d := range depsOf[n] {
				g.Dependencies[jd] = append(g.Dependencies[jd], N(d))
			}
			if err := h.mr(n).NotifyEmitted(g); err != nil {
				t.Fatal(err)
			}
			if i < len(order)-1 && len(done) != 0 {
				t.Fatalf("order %v: lookup completed after emitting only %v", order, order[:i+1])
			}
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("order %v: not ready after every symbol was emitted: %s", order, states(jd, names...))
		}
	}
}

// A failure reaches dependants and every query waiting on them.
func TestFailurePropagation(t *testing.T) {
	es := newSession(t)
	jd := mustJD(t, es, "main")
	var h holder
	for _, n := range []string{"bad", "user", "user2"} {
		if err := jd.Define(h.unit(n)); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, 2)
	es.LookupAsync(orc.Search(jd), orc.Names(N("user")), orc.Ready, func(m orc.SymbolMap, err error) { errs <- err })
	es.LookupAsync(orc.Search(jd), orc.Names(N("bad"), N("user2")), orc.Ready, func(m orc.SymbolMap, err error) { errs <- err })
	h.mr("user").NotifyResolved(orc.SymbolMap{N("user"): {Addr: 1}})
	h.mr("user").NotifyEmitted(orc.DependenceGroup{Symbols: []orc.Name{N("user")}, Dependencies: map[*orc.JITDylib][]orc.Name{jd: {N("bad")}}})
	cause := errors.New("compiler exploded")
	h.mr("bad").FailMaterialization(cause)
	for i := 0; i < 2; i++ {
		err := <-errs
		var fe *orc.FailedToMaterializeError
		if !errors.As(err, &fe) || !errors.Is(err, cause) {
			t.Fatalf("want a FailedToMaterializeError wrapping the cause, got %v", err)
		}
	}
	// Later lookups fail too, naming the symbol.
	_, err := jd.Lookup(context.Background(), N("user"))
	if err == nil || !strings.Contains(err.Error(), "user") || !errors.Is(err, cause) {
		t.Fatalf("lookup of a failed symbol: %v", err)
	}
	// Reporting on a finished responsibility is an error.
	if err := h.mr("bad").NotifyResolved(orc.SymbolMap{N("bad"): {Addr: 1}}); err == nil {
		t.Fatal("NotifyResolved after failure succeeded")
	}
}

func TestGenerator(t *testing.T) {
	es := newSession(t)
	jd := mustJD(t, es, "main")
	var calls atomic.Int32
	jd.AddGenerator(orc.GeneratorFunc(func(jd *orc.JITDylib, names orc.LookupSet) error {
		calls.Add(1)
		syms := orc.SymbolMap{}
		for _, n := range names {
			if strings.HasPrefix(n.Name.String(), "gen_") {
				syms[n.Name] = orc.Symbol{Addr: uint64(len(n.Name.String())), Flags: orc.Exported}
			}
		}
		if len(syms) == 0 {
			return nil
		}
		return jd.Define(orc.AbsoluteSymbols(syms))
	}))
	m := lookup(t, jd, "gen_a", "gen_bcd")
	if m[N("gen_a")].Addr != 5 || m[N("gen_bcd")].Addr != 7 {
		t.Fatalf("generated %v", m)
	}
	_, err := jd.Lookup(context.Background(), N("gen_x"), N("other"))
	var nf *orc.SymbolsNotFoundError
	if !errors.As(err, &nf) || len(nf.Names) != 1 || nf.Names[0] != N("other") {
		t.Fatalf("want other not found, got %v", err)
	}
	// A weak reference to a missing symbol is not an error.
	m, err = es.Lookup(context.Background(), orc.Search(jd), orc.LookupSet{{Name: N("gen_a")}, {Name: N("missing"), Weak: true}}, orc.Ready)
	if err != nil || len(m) != 1 {
		t.Fatalf("weak lookup: %v %v", m, err)
	}
	// Defined names are not offered to the generator again.
	before := calls.Load()
	lookup(t, jd, "gen_a")
	if calls.Load() != before {
		t.Fatal("generator called for a defined name")
	}
}

func TestAliasesAndReexports(t *testing.T) {
	es := newSession(t)
	lib, main := mustJD(t, es, "lib"), mustJD(t, es, "main")
	var h holder
	if err := lib.Define(h.unit("impl")); err != nil {
		t.Fatal(err)
	}
	if err := lib.Define(orc.SymbolAliases(map[orc.Name]orc.Alias{
		N("alias"):  {Target: N("impl"), Flags: orc.Exported},
		N("alias2"): {Target: N("alias"), Flags: orc.Exported},
	})); err != nil {
		t.Fatal(err)
	}
	if err := main.Define(orc.Reexports(lib, orc.MatchExportedOnly, map[orc.Name]orc.Alias{N("re"): {Target: N("impl"), Flags: orc.Exported}})); err != nil {
		t.Fatal(err)
	}
	done := make(chan orc.SymbolMap, 1)
	es.LookupAsync(orc.Search(main, lib), orc.Names(N("re"), N("alias"), N("alias2")), orc.Ready, func(m orc.SymbolMap, err error) {
		if err != nil {
			t.Error(err)
		}
		done <- m
	})
	h.mr("impl").NotifyResolved(orc.SymbolMap{N("impl"): {Addr: 0x777, Flags: orc.Exported}})
	if len(done) != 0 {
		t.Fatal("reexports became ready before their target was emitted")
	}
	h.mr("impl").NotifyEmitted()
	m := <-done
	for _, n := range []string{"re", "alias", "alias2"} {
		if m[N(n)].Addr != 0x777 {
			t.Fatalf("%s = %#x, want the target's 0x777", n, m[N(n)].Addr)
		}
	}
	// ReexportsOf copies flags.
	mu, err := orc.ReexportsOf(lib, N("impl"))
	if err != nil {
		t.Fatal(err)
	}
	other := mustJD(t, es, "other")
	if err := other.Define(mu); err != nil {
		t.Fatal(err)
	}
	if got := lookup(t, other, "impl")[N("impl")].Addr; got != 0x777 {
		t.Fatalf("reexport of impl = %#x", got)
	}
}

// recorder is a ResourceManager that records what it is told.
type recorder struct {
	mu        sync.Mutex
	removed   []*orc.ResourceTracker
	transfers [][2]*orc.ResourceTracker
}

func (r *recorder) HandleRemoveResources(jd *orc.JITDylib, rt *orc.ResourceTracker) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removed = append(r.removed, rt)
	return nil
}

func (r *recorder) HandleTransferResources(jd *orc.JITDylib, dst, src *orc.ResourceTracker) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.transfers = append(r.transfers, [2]*orc.ResourceTracker{dst, src})
}

func TestResourceTrackers(t *testing.T) {
	es := newSession(t)
	rec := &recorder{}
	es.RegisterResourceManager(rec)
	jd := mustJD(t, es, "main")
	rt := jd.CreateResourceTracker()
	u := &unit{syms: flags(orc.Exported, "f"), materialize: emitAt(0x100)}
	if err := jd.DefineWithTracker(u, rt); err != nil {
		t.Fatal(err)
	}
	lookup(t, jd, "f")
	if err := rt.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, ok := jd.SymbolState(N("f")); ok {
		t.Fatal("f survived its tracker")
	}
	if !slices.Equal(rec.removed, []*orc.ResourceTracker{rt}) {
		t.Fatalf("resource manager saw %v", rec.removed)
	}
	if _, err := jd.Lookup(context.Background(), N("f")); err == nil {
		t.Fatal("lookup of a removed symbol succeeded")
	}
	if err := jd.DefineWithTracker(u, rt); !errors.Is(err, orc.ErrTrackerDefunct) {
		t.Fatalf("define with a removed tracker: %v", err)
	}
	// Re-adding under a new tracker works and materializes again.
	rt2 := jd.CreateResourceTracker()
	u2 := &unit{syms: flags(orc.Exported, "f"), materialize: emitAt(0x200)}
	if err := jd.DefineWithTracker(u2, rt2); err != nil {
		t.Fatal(err)
	}
	if got := lookup(t, jd, "f")[N("f")].Addr; got != 0x200 {
		t.Fatalf("re-added f = %#x", got)
	}
	// Merging trackers: removing the destination removes both.
	rt3 := jd.CreateResourceTracker()
	if err := jd.DefineWithTracker(&unit{syms: flags(orc.Exported, "g"), materialize: emitAt(0x300)}, rt3); err != nil {
		t.Fatal(err)
	}
	if err := rt3.TransferTo(rt2); err != nil {
		t.Fatal(err)
	}
	if len(rec.transfers) != 1 || rec.transfers[0] != [2]*orc.ResourceTracker{rt2, rt3} {
		t.Fatalf("transfers %v", rec.transfers)
	}
	rt3.Remove() // now empty: removes nothing
	lookup(t, jd, "f", "g")
	if err := rt2.Remove(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"f", "g"} {
		if _, ok := jd.SymbolState(N(n)); ok {
			t.Fatalf("%s survived the merged tracker's removal", n)
		}
	}
}

// Removing a tracker while its symbols materialize fails the waiting
// lookups; the late materialization is refused.
func TestRemoveWhileMaterializing(t *testing.T) {
	es := newSession(t)
	jd := mustJD(t, es, "main")
	rt := jd.CreateResourceTracker()
	var h holder
	if err := jd.DefineWithTracker(h.unit("slow"), rt); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	es.LookupAsync(orc.Search(jd), orc.Names(N("slow")), orc.Ready, func(m orc.SymbolMap, err error) { errc <- err })
	if err := rt.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, orc.ErrTrackerDefunct) {
		t.Fatalf("waiting lookup: %v", err)
	}
	if err := h.mr("slow").NotifyResolved(orc.SymbolMap{N("slow"): {Addr: 1}}); !errors.Is(err, orc.ErrTrackerDefunct) {
		t.Fatalf("late NotifyResolved: %v", err)
	}
	if err := h.mr("slow").WithResourceKeyDo(func(*orc.ResourceTracker) {}); !errors.Is(err, orc.ErrTrackerDefunct) {
		t.Fatalf("WithResourceKeyDo: %v", err)
	}
}

// 64 goroutines look up the same symbols; each unit is materialized once.
func TestConcurrentLookups(t *testing.T) {
	for _, name := range []string{"in-place", "pool"} {
		t.Run(name, func(t *testing.T) {
			var opts []orc.SessionOption
			if name == "pool" {
				opts = append(opts, orc.WithDispatcher(tasks.NewPool(4)))
			}
			es := newSession(t, opts...)
			jd := mustJD(t, es, "main")
			const units = 20
			var us []*unit
			for i := 0; i < units; i++ {
				n := fmt.Sprintf("u%d", i)
				var deps []orc.DependenceGroup
				if i > 0 {
					deps = append(deps, orc.DependenceGroup{Symbols: []orc.Name{N(n)}, Dependencies: map[*orc.JITDylib][]orc.Name{jd: {N(fmt.Sprintf("u%d", i-1))}}})
				}
				u := &unit{syms: flags(orc.Exported, n), materialize: func(mr *orc.MaterializationResponsibility) {
					time.Sleep(time.Millisecond)
					emitAt(uint64(0x1000*(i+1)), deps...)(mr)
				}}
				us = append(us, u)
				if err := jd.Define(u); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			for g := 0; g < 64; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var names []orc.Name
					for i := 0; i < units; i++ {
						names = append(names, N(fmt.Sprintf("u%d", (i+g)%units)))
					}
					m, err := jd.Lookup(context.Background(), names...)
					if err != nil {
						t.Error(err)
						return
					}
					for i := 0; i < units; i++ {
						if m[N(fmt.Sprintf("u%d", i))].Addr != uint64(0x1000*(i+1)) {
							t.Errorf("u%d = %#x", i, m[N(fmt.Sprintf("u%d", i))].Addr)
						}
					}
				}()
			}
			wg.Wait()
			for i, u := range us {
				if n := u.count.Load(); n != 1 {
					t.Fatalf("u%d materialized %d times", i, n)
				}
			}
		})
	}
}

func TestLookupCancel(t *testing.T) {
	es := newSession(t)
	jd := mustJD(t, es, "main")
	var h holder
	if err := jd.Define(h.unit("never")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := jd.Lookup(ctx, N("never")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want a deadline error, got %v", err)
	}
	// The materialization can still finish, and a new lookup sees it.
	emitAt(0x9)(h.mr("never"))
	if got := lookup(t, jd, "never")[N("never")].Addr; got != 0x9 {
		t.Fatalf("got %#x", got)
	}
}

// Replace hands symbols back lazily; Delegate splits a responsibility;
// DefineMaterializing adds symbols found while materializing.
func TestResponsibilityOperations(t *testing.T) {
	es := newSession(t)
	jd := mustJD(t, es, "main")
	var later *unit
	var delegated *orc.MaterializationResponsibility
	u := &unit{syms: flags(orc.Exported, "a", "b", "c"), materialize: func(mr *orc.MaterializationResponsibility) {
		later = &unit{syms: flags(orc.Exported, "c"), materialize: emitAt(0xc00)}
		if err := mr.Replace(later); err != nil {
			t.Error(err)
		}
		var err error
		if delegated, err = mr.Delegate(N("b")); err != nil {
			t.Error(err)
		}
		if err := mr.DefineMaterializing(flags(orc.Exported, "extra")); err != nil {
			t.Error(err)
		}
		if err := mr.NotifyResolved(orc.SymbolMap{N("a"): {Addr: 0xa00}, N("extra"): {Addr: 0xe00}}); err != nil {
			t.Error(err)
		}
		if err := mr.NotifyEmitted(); err != nil {
			t.Error(err)
		}
	}}
	if err := jd.Define(u); err != nil {
		t.Fatal(err)
	}
	if got := lookup(t, jd, "a")[N("a")].Addr; got != 0xa00 {
		t.Fatalf("a = %#x", got)
	}
	// extra did not exist when a was looked up; it does now.
	if got := lookup(t, jd, "extra")[N("extra")].Addr; got != 0xe00 {
		t.Fatalf("extra = %#x", got)
	}
	if st, _ := jd.SymbolState(N("c")); st != orc.NeverSearched || later.count.Load() != 0 {
		t.Fatalf("replaced c: %v, materialized %d", st, later.count.Load())
	}
	if got := lookup(t, jd, "c")[N("c")].Addr; got != 0xc00 {
		t.Fatalf("c = %#x", got)
	}
	if st, _ := jd.SymbolState(N("b")); st != orc.Materializing {
		t.Fatalf("delegated b: %v", st)
	}
	emitAt(0xb00)(delegated)
	if got := lookup(t, jd, "b")[N("b")].Addr; got != 0xb00 {
		t.Fatalf("b = %#x", got)
	}
}

func TestSessionClose(t *testing.T) {
	es := orc.NewExecutionSession()
	jd := mustJD(t, es, "main")
	rec := &recorder{}
	es.RegisterResourceManager(rec)
	if err := jd.Define(&unit{syms: flags(orc.Exported, "f"), materialize: emitAt(1)}); err != nil {
		t.Fatal(err)
	}
	lookup(t, jd, "f")
	if err := es.Close(); err != nil {
		t.Fatal(err)
	}
	if len(rec.removed) == 0 {
		t.Fatal("closing the session released nothing")
	}
	if _, err := jd.Lookup(context.Background(), N("f")); !errors.Is(err, orc.ErrSessionClosed) {
		t.Fatalf("lookup after close: %v", err)
	}
	if _, err := es.CreateJITDylib("x"); !errors.Is(err, orc.ErrSessionClosed) {
		t.Fatalf("CreateJITDylib after close: %v", err)
	}
}

func TestMangling(t *testing.T) {
	es := orc.NewExecutionSession()
	if es.Mangle("main") != "main" {
		t.Fatal("ELF mangling must be a no-op")
	}
	if N("x") != es.Intern("x") || N("x").String() != "x" || !(orc.Name{}).IsZero() {
		t.Fatal("interning")
	}
}

// Absolute symbols are owned by their tracker like any definition, and
// collide with other definitions like any definition.
func TestAbsoluteSymbolTables(t *testing.T) {
	es := newSession(t)
	jd := mustJD(t, es, "main")
	rt := jd.CreateResourceTracker()
	if err := jd.DefineWithTracker(orc.AbsoluteSymbols(orc.SymbolMap{N("a"): {Addr: 1, Flags: orc.Exported}, N("b"): {Addr: 2}}), rt); err != nil {
		t.Fatal(err)
	}
	if err := jd.Define(orc.AbsoluteSymbols(orc.SymbolMap{N("b"): {Addr: 3}})); err == nil {
		t.Fatal("duplicate absolute definition accepted")
	}
	if err := jd.Define(&unit{syms: flags(orc.Exported, "a")}); err == nil {
		t.Fatal("strong definition of an absolute symbol accepted")
	}
	weak := &unit{syms: flags(orc.Exported|orc.Weak, "a")}
	if err := jd.Define(weak); err != nil || len(weak.discarded) != 1 {
		t.Fatalf("weak definition of an absolute symbol: %v, discarded %v", err, weak.discarded)
	}
	if f, ok := jd.SymbolFlags(N("a")); !ok || f != orc.Exported|orc.Absolute {
		t.Fatalf("flags of a: %v %v", f, ok)
	}
	other := mustJD(t, es, "other")
	other.AddToLinkOrder(jd, orc.MatchExportedOnly)
	if m := lookup(t, other, "a"); m[N("a")].Addr != 1 {
		t.Fatalf("a = %v", m)
	}
	if _, err := other.Lookup(context.Background(), N("b")); err == nil {
		t.Fatal("hidden absolute symbol visible from another JITDylib")
	}
	rt2 := jd.CreateResourceTracker()
	if err := rt.TransferTo(rt2); err != nil {
		t.Fatal(err)
	}
	rt.Remove()
	if _, ok := jd.SymbolState(N("a")); !ok {
		t.Fatal("a went with the tracker it was transferred away from")
	}
	rt2.Remove()
	if _, ok := jd.SymbolState(N("a")); ok {
		t.Fatal("a survived its tracker")
	}
	if err := jd.Define(orc.AbsoluteSymbols(orc.SymbolMap{N("a"): {Addr: 9}})); err != nil {
		t.Fatalf("redefining a after removal: %v", err)
	}
}
