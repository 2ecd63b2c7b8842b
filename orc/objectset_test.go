package orc_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/archive"
	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/jitlinktest"
	"github.com/gorc-jit/gorc/orc"
)

// setLayer records what a StaticLibraryGenerator adds.
type setLayer struct {
	sets    [][]string // AddObjects calls: the objects' names
	singles []string   // AddWithTracker calls
}

func (l *setLayer) AddWithTracker(rt *orc.ResourceTracker, name string, obj []byte) error {
	l.singles = append(l.singles, filepath.Base(name))
	return nil
}

func (l *setLayer) AddObjects(rt *orc.ResourceTracker, name string, objs []orc.Object) error {
	var names []string
	for _, o := range objs {
		if o.Interface == nil {
			return errors.New("the generator read the interfaces: it should pass them")
		}
		names = append(names, filepath.Base(o.Name))
	}
	l.sets = append(l.sets, names)
	return nil
}

// singleLayer is an ObjectLayer that cannot add sets.
type singleLayer struct{ l *setLayer }

func (s singleLayer) AddWithTracker(rt *orc.ResourceTracker, name string, obj []byte) error {
	return s.l.AddWithTracker(rt, name, obj)
}

func testArchive(t *testing.T, srcs map[string]string) *archive.Archive {
	t.Helper()
	ar := testutil.NeedTool(t, "ar")
	dir := t.TempDir()
	var objs []string
	for name, src := range srcs {
		objs = append(objs, testutil.Compile(t, dir, name, src))
	}
	slices.Sort(objs)
	lib := filepath.Join(dir, "lib.a")
	if out, err := exec.Command(ar, append([]string{"rcs", lib}, objs...)...).CombinedOutput(); err != nil {
		t.Fatalf("ar: %v %s", err, out)
	}
	a, err := archive.Open(lib)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// The generator pulls what a static link pulls, as one set: the member
// asked for and, transitively, the members defining what it needs, but
// not for weak references or names the JITDylib defines already.
func TestStaticLibraryClosure(t *testing.T) {
	a := testArchive(t, map[string]string{
		"top.c": `#include <stdio.h>
int mid(void); int pre(void); __attribute__((weak)) int weakref(void);
int top(void) { printf("x"); return mid() + pre() + (weakref ? weakref() : 0); }`,
		"mid.c":   `int leaf(void); int mid(void) { return leaf(); }`,
		"leaf.c":  `int leaf(void) { return 1; }`,
		"weak.c":  `int weakref(void) { return 2; }`,
		"pre.c":   `int pre(void) { return 3; }`,
		"other.c": `int other(void) { return 4; }`,
	})
	es := newSession(t)
	jd := mustJD(t, es, "main")
	if err := jd.Define(orc.AbsoluteSymbols(orc.SymbolMap{N("pre"): {Addr: 0x1000, Flags: orc.Exported}})); err != nil {
		t.Fatal(err)
	}
	l := &setLayer{}
	gen, err := orc.NewStaticLibraryGenerator(l, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := gen.TryToGenerate(jd, orc.LookupSet{{Name: N("top")}}); err != nil {
		t.Fatal(err)
	}
	if want := [][]string{{"lib.a(top.o)", "lib.a(mid.o)", "lib.a(leaf.o)"}}; !equalSets(l.sets, want) || l.singles != nil {
		t.Fatalf("pulled %q (singly %q), want %q", l.sets, l.singles, want)
	}
	// Asked for by name, the weakly referenced member comes in a set of
	// its own; members already pulled are not pulled again.
	if err := gen.TryToGenerate(jd, orc.LookupSet{{Name: N("weakref"), Weak: true}, {Name: N("mid")}}); err != nil {
		t.Fatal(err)
	}
	if len(l.sets) != 2 || !slices.Equal(l.sets[1], []string{"lib.a(weak.o)"}) {
		t.Fatalf("second lookup pulled %q, want weak.o alone", l.sets[1:])
	}

	// A layer that cannot add sets gets each member on its own, when a
	// lookup asks for it.
	l2 := &setLayer{}
	gen2, err := orc.NewStaticLibraryGenerator(singleLayer{l2}, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := gen2.TryToGenerate(mustJD(t, es, "other"), orc.LookupSet{{Name: N("top")}}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l2.singles, []string{"lib.a(top.o)"}) || l2.sets != nil {
		t.Fatalf("single-object layer got %q and sets %q, want top.o alone", l2.singles, l2.sets)
	}
}

// Member interfaces read ahead are those the generator would read for
// the same names (less what the JITDylib defines, which is not known
// ahead), and the generator passes them on rather than reading them again.
func TestReadMemberInterfaces(t *testing.T) {
	a := testArchive(t, map[string]string{
		"top.c": `int mid(void); int pre(void); __attribute__((weak)) int weakref(void);
int top(void) { return mid() + pre() + (weakref ? weakref() : 0); }`,
		"mid.c":   `int leaf(void); int mid(void) { return leaf(); }`,
		"leaf.c":  `int leaf(void) { return 1; }`,
		"weak.c":  `int weakref(void) { return 2; }`,
		"pre.c":   `int pre(void) { return 3; }`,
		"other.c": `int other(void) { return 4; }`,
	})
	ahead := orc.ReadMemberInterfaces(a, []string{"top", "not_in_the_archive"})
	var got []string
	for i := range ahead {
		got = append(got, a.MemberName(a.Members()[i]))
	}
	slices.Sort(got)
	if want := []string{"lib.a(leaf.o)", "lib.a(mid.o)", "lib.a(pre.o)", "lib.a(top.o)"}; !slices.Equal(got, want) {
		t.Fatalf("read ahead %q, want %q", got, want)
	}
	passed := map[*jitlink.Interface]bool{}
	for _, iface := range ahead {
		passed[iface] = true
	}
	l := &ifaceLayer{}
	gen, err := orc.NewStaticLibraryGenerator(l, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	gen.UseInterfaces(ahead)
	es := newSession(t)
	if err := gen.TryToGenerate(mustJD(t, es, "main"), orc.LookupSet{{Name: N("top")}, {Name: N("other")}}); err != nil {
		t.Fatal(err)
	}
	if len(l.objs) != 5 {
		t.Fatalf("pulled %d members, want 5", len(l.objs))
	}
	for _, o := range l.objs {
		if read := !passed[o.Interface]; read != strings.HasSuffix(o.Name, "(other.o)") {
			t.Errorf("%s: interface read again: %v", o.Name, read)
		}
	}
}

// ifaceLayer records the objects added as sets.
type ifaceLayer struct {
	setLayer
	objs []orc.Object
}

func (l *ifaceLayer) AddObjects(rt *orc.ResourceTracker, name string, objs []orc.Object) error {
	l.objs = append(l.objs, objs...)
	return nil
}

// A name a pulled member defines pulls no other member, even where the
// archive's index names another member for it (the first of several that
// define it).
func TestStaticLibraryClosureDefinedElsewhere(t *testing.T) {
	a := testArchive(t, map[string]string{
		"a_dup.c": `int dup(void) { return 1; }`,
		"top.c":   `int x(void); int top(void) { return x(); }`,
		"x.c":     `int y(void); int dup(void) { return 2; } int x(void) { return y(); }`,
		"y.c":     `int dup(void); int y(void) { return dup(); }`,
	})
	es := newSession(t)
	jd := mustJD(t, es, "main")
	l := &setLayer{}
	gen, err := orc.NewStaticLibraryGenerator(l, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := gen.TryToGenerate(jd, orc.LookupSet{{Name: N("top")}}); err != nil {
		t.Fatal(err)
	}
	if want := [][]string{{"lib.a(top.o)", "lib.a(x.o)", "lib.a(y.o)"}}; !equalSets(l.sets, want) {
		t.Fatalf("pulled %q, want %q", l.sets, want)
	}
}

func equalSets(a, b [][]string) bool {
	return slices.EqualFunc(a, b, func(x, y []string) bool { return slices.Equal(x, y) })
}

// A set's interface combines its objects' as adding them one by one
// would, but two strong definitions are an error naming both.
func TestAddObjectsInterface(t *testing.T) {
	a := testArchive(t, map[string]string{
		"w.c":  `__attribute__((weak)) int w(void) { return 1; } int only_w(void) { return 0; }`,
		"s.c":  `int w(void) { return 2; }`,
		"s2.c": `int w(void) { return 3; }`,
	})
	member := func(name string) orc.Object {
		for _, m := range a.Members() {
			if a.MemberName(m) == name {
				return orc.Object{Name: name, Data: m.Data}
			}
		}
		t.Fatalf("no member %s", name)
		return orc.Object{}
	}
	es := newSession(t)
	l := orc.NewObjectLinkingLayer(es, &jitlinktest.Memory{Base: 0x10000})
	jd := mustJD(t, es, "main")
	if err := l.AddObjects(jd.DefaultResourceTracker(), "lib.a", []orc.Object{member("lib.a(w.o)"), member("lib.a(s.o)")}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]orc.SymbolFlags{"w": orc.Exported | orc.Callable, "only_w": orc.Exported | orc.Callable} {
		if f, ok := jd.SymbolFlags(N(name)); !ok || f != want {
			t.Errorf("%s has flags %v (defined %v), want %v", name, f, ok, want)
		}
	}
	jd2 := mustJD(t, es, "dup")
	err := l.AddObjects(jd2.DefaultResourceTracker(), "lib.a", []orc.Object{member("lib.a(s.o)"), member("lib.a(w.o)"), member("lib.a(s2.o)")})
	var de *jitlink.DuplicateSymbolError
	if !errors.As(err, &de) || de.Name != "w" || de.First != "lib.a(s.o)" || de.Second != "lib.a(s2.o)" {
		t.Fatalf("want w defined twice, in s.o and s2.o, got %v", err)
	}
	// A name the JITDylib defines already: the error names the member
	// whose definition would have won (the strong one).
	jd3 := mustJD(t, es, "taken")
	if err := jd3.Define(orc.AbsoluteSymbols(orc.SymbolMap{N("w"): {Addr: 1, Flags: orc.Exported}})); err != nil {
		t.Fatal(err)
	}
	err = l.AddObjects(jd3.DefaultResourceTracker(), "lib.a", []orc.Object{member("lib.a(w.o)"), member("lib.a(s.o)")})
	var dd *orc.DuplicateDefinitionError
	if !errors.As(err, &dd) || !strings.HasPrefix(err.Error(), "lib.a(s.o): ") {
		t.Fatalf("want w already defined, naming s.o, got %v", err)
	}
}

// A link resolves every symbol its responsibility covers or none: a
// covered name the object does not define fails the link, naming it,
// without resolving the rest. Weak definitions the interface leaves out
// are claimed and resolved with the others.
func TestLinkResolvesAllCovered(t *testing.T) {
	obj, err := os.ReadFile(testutil.Compile(t, t.TempDir(), "o.c", `int real(void) { return 1; }
__attribute__((weak)) int extra(void) { return 3; }`))
	if err != nil {
		t.Fatal(err)
	}
	es := newSession(t)
	l := orc.NewObjectLinkingLayer(es, &jitlinktest.Memory{Base: 0x10000})
	bad := mustJD(t, es, "bad")
	flags := orc.SymbolFlagsMap{N("real"): orc.Exported | orc.Callable, N("ghost"): orc.Exported}
	if err := l.AddWithInterface(bad.DefaultResourceTracker(), "o.o", obj, flags, false); err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Lookup(context.Background(), N("real")); err == nil || !strings.Contains(err.Error(), "does not define ghost") {
		t.Fatalf("lookup of real: %v, want an error naming ghost", err)
	}
	if st, _ := bad.SymbolState(N("real")); st >= orc.Resolved {
		t.Errorf("real is %v after the failed link, want it unresolved", st)
	}

	good := mustJD(t, es, "good")
	flags = orc.SymbolFlagsMap{N("real"): orc.Exported | orc.Callable}
	if err := l.AddWithInterface(good.DefaultResourceTracker(), "o.o", obj, flags, false); err != nil {
		t.Fatal(err)
	}
	m := lookup(t, good, "real")
	if m[N("real")].Addr < 0x10000 {
		t.Fatalf("real at %#x, want in the layer's memory", m[N("real")].Addr)
	}
	if st, ok := good.SymbolState(N("extra")); !ok || st != orc.Ready {
		t.Fatalf("extra: state %v (defined %v), want claimed and Ready", st, ok)
	}
	if e := lookup(t, good, "extra")[N("extra")].Addr; e < 0x10000 || e == m[N("real")].Addr {
		t.Fatalf("extra at %#x (real at %#x), want its own address in the layer's memory", e, m[N("real")].Addr)
	}
}
