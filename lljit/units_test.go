package lljit_test

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc"
)

// The members of an archive one lookup needs are linked as one graph
// (orc.ObjectLinkingLayer.AddObjects, jitlink.MergeGraphs): these tests
// check that symbols resolve among them as a static link resolves them.

// archiveOf compiles the sources (name -> C text) and archives them in
// dir/lib.a.
func archiveOf(t *testing.T, dir string, srcs map[string]string, flags ...string) string {
	t.Helper()
	ar := testutil.NeedTool(t, "ar")
	var objs []string
	for name, src := range srcs {
		objs = append(objs, testutil.Compile(t, dir, name, src, flags...))
	}
	lib := filepath.Join(dir, "lib.a")
	if out, err := exec.Command(ar, append([]string{"rcs", lib}, objs...)...).CombinedOutput(); err != nil {
		t.Fatalf("ar: %v %s", err, out)
	}
	return lib
}

// runMain links main (C text) with lib in a new LLJIT and returns main's
// result, or the error of the lookup.
func runMain(t *testing.T, dir, main, lib string) (int64, error) {
	t.Helper()
	obj := testutil.Compile(t, dir, "main.c", main)
	j, err := (&lljit.Builder{}).Create()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	if err := j.AddObjectFile(nil, obj); err != nil {
		t.Fatal(err)
	}
	if err := j.AddArchive(nil, lib); err != nil {
		t.Fatal(err)
	}
	addr, err := j.Lookup(t.Context(), "main")
	if err != nil {
		return 0, err
	}
	r, err := j.ExecutorProcessControl().RunAsIntFunction(addr, 0)
	return int64(r), err
}

// callInt looks name up in jd (nil: the main JITDylib) and runs it as
// int f(int) with 0, failing the test if either fails.
func callInt(t *testing.T, j *lljit.LLJIT, jd *orc.JITDylib, name string) int {
	t.Helper()
	if jd == nil {
		jd = j.MainJITDylib()
	}
	addr, err := j.LookupIn(t.Context(), jd, name)
	if err != nil {
		t.Fatal(err)
	}
	r, err := j.ExecutorProcessControl().RunAsIntFunction(addr, 0)
	if err != nil {
		t.Fatalf("%s(): %v", name, err)
	}
	return r
}

func TestArchiveUnitResolvesAmongMembers(t *testing.T) {
	dir := t.TempDir()
	lib := archiveOf(t, dir, map[string]string{
		// Weak w loses to b.o's strong one; static helpers stay apart.
		"a.c": `__attribute__((weak)) int w(void) { return 1000; }
static int helper(void) { return 1; }
int b(void);
int a(void) { return helper() + b() + w(); }`,
		"b.c": `int w(void) { return 300; }
static int helper(void) { return 20; }
int common_buf[4];
int b(void) { return helper(); }`,
		// A common grows to its largest definition.
		"c.c": `int common_buf[64];
int c(void) { for (int i = 0; i < 64; i++) common_buf[i] = i; return common_buf[63]; }`,
		"unused.c": `int unused(void) { return 5; }`,
	}, "-fcommon")
	got, err := runMain(t, dir, `int a(void); int c(void); int main(void) { return a() + c(); }`, lib)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(1 + 20 + 300 + 63); got != want {
		t.Fatalf("main() = %d, want %d", got, want)
	}
}

func TestArchiveUnitDuplicateStrong(t *testing.T) {
	dir := t.TempDir()
	lib := archiveOf(t, dir, map[string]string{
		"x.c": `int dup(void) { return 1; } int fx(void) { return dup(); }`,
		"y.c": `int dup(void) { return 2; } int fy(void) { return 3; }`,
	})
	_, err := runMain(t, dir, `int fx(void); int fy(void); int main(void) { return fx() + fy(); }`, lib)
	var de *jitlink.DuplicateSymbolError
	if !errors.As(err, &de) || de.Name != "dup" || !strings.HasSuffix(de.First, "(x.o)") && !strings.HasSuffix(de.First, "(y.o)") ||
		!strings.Contains(err.Error(), "lib.a(x.o)") || !strings.Contains(err.Error(), "lib.a(y.o)") {
		t.Fatalf("want a duplicate definition of dup naming lib.a(x.o) and lib.a(y.o), got %v", err)
	}
}

// A member's weak definition of a name the JITDylib already defines yields
// to it; its other definitions link as usual.
func TestArchiveUnitPartlyDefined(t *testing.T) {
	dir := t.TempDir()
	lib := archiveOf(t, dir, map[string]string{
		"p.c": `__attribute__((weak)) int shared(void) { return 1; }
int g(void); int f(void) { return shared() + g(); }`,
		"q.c": `int g(void) { return 10; }`,
	})
	got, err := runMain(t, dir, `int f(void); int shared(void) { return 500; } int main(void) { return f(); }`, lib)
	if err != nil {
		t.Fatal(err)
	}
	if got != 510 {
		t.Fatalf("main() = %d, want 510 (main's shared, q.o's g)", got)
	}
}

// A member the linker cannot take fails the link with an error naming it.
func TestArchiveUnitBadMemberNamed(t *testing.T) {
	reloc := map[string]string{"amd64": "R_X86_64_COPY", "arm64": "R_AARCH64_COPY"}[runtime.GOARCH]
	if reloc == "" {
		t.Skip("no relocation chosen for", runtime.GOARCH)
	}
	dir := t.TempDir()
	lib := archiveOf(t, dir, map[string]string{
		"good.c": `int bad(void); int good(void) { return bad(); }`,
		"bad.c":  `int bad(void) { return 1; } __asm__(".data\n.reloc ., ` + reloc + `, good\n.quad 0\n");`,
	})
	_, err := runMain(t, dir, `int good(void); int main(void) { return good(); }`, lib)
	if err == nil || !strings.Contains(err.Error(), "lib.a(bad.o)") {
		t.Fatalf("want an error naming lib.a(bad.o), got %v", err)
	}
	t.Log(err)
	var ue *jitlink.UnsupportedError
	if !errors.As(err, &ue) {
		t.Fatalf("want an UnsupportedError, got %T: %v", err, err)
	}
}

// With a plugin that must see each object's bytes, members stay graphs of
// their own.
func TestArchiveUnitObjectPluginKeepsMembersApart(t *testing.T) {
	dir := t.TempDir()
	lib := archiveOf(t, dir, map[string]string{
		"m1.c": `int m2(void); int m1(void) { return m2() + 1; }`,
		"m2.c": `int m2(void) { return 41; }`,
	})
	seen := &objectLog{}
	j := jitWithPlugin(t, seen)
	if err := j.AddArchive(nil, lib); err != nil {
		t.Fatal(err)
	}
	if r := callInt(t, j, nil, "m1"); r != 42 {
		t.Fatalf("m1() = %d", r)
	}
	if len(seen.objs) != 2 {
		t.Fatalf("the plugin saw %q, want both members", seen.objs)
	}
}

// jitWithPlugin returns an LLJIT whose object layer has plugin p.
func jitWithPlugin(t *testing.T, p orc.Plugin) *lljit.LLJIT {
	t.Helper()
	j, err := (&lljit.Builder{ObjectLinkingLayerCreator: func(es *orc.ExecutionSession, mm jitlink.MemoryManager) (*orc.ObjectLinkingLayer, error) {
		l := orc.NewObjectLinkingLayer(es, mm)
		l.AddPlugin(p)
		return l, nil
	}}).Create()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

type objectLog struct {
	orc.PluginBase
	objs []string
}

func (o *objectLog) NotifyObject(mr *orc.MaterializationResponsibility, g *jitlink.LinkGraph, obj []byte) {
	o.objs = append(o.objs, filepath.Base(g.Name()))
}

// A name nothing defines fails the lookup with an error naming the member
// that needs it, not only the archive.
func TestArchiveUnitMissingNameNamesMember(t *testing.T) {
	dir := t.TempDir()
	lib := archiveOf(t, dir, map[string]string{
		"user.c": `int nowhere(void); int user(void) { return nowhere(); }`,
		"top.c":  `int user(void); int top(void) { return user(); }`,
	})
	_, err := runMain(t, dir, `int top(void); int main(void) { return top(); }`, lib)
	var nf *orc.SymbolsNotFoundError
	if !errors.As(err, &nf) || !strings.Contains(err.Error(), "lib.a(user.o): symbol not found: nowhere") {
		t.Fatalf("want nowhere not found, naming lib.a(user.o), got %v", err)
	}
}

// Removing the tracker that owns a unit of members releases it whole.
func TestArchiveUnitRemoved(t *testing.T) {
	dir := t.TempDir()
	lib := archiveOf(t, dir, map[string]string{
		"m1.c": `int m2(void); int m1(void) { return m2() + 1; }`,
		"m2.c": `int m2(void) { return 41; }`,
	})
	j, err := (&lljit.Builder{}).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	jd, err := j.CreateJITDylib("lib")
	if err != nil {
		t.Fatal(err)
	}
	if err := j.AddArchive(jd, lib); err != nil {
		t.Fatal(err)
	}
	if r := callInt(t, j, jd, "m1"); r != 42 {
		t.Fatalf("m1() = %d", r)
	}
	if err := jd.DefaultResourceTracker().Remove(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"m1", "m2"} {
		if _, ok := jd.SymbolState(orc.Intern(n)); ok {
			t.Errorf("%s is still defined after its tracker was removed", n)
		}
	}
}

// A member's strong definition of a name the JITDylib defines already is
// an error naming the member.
func TestArchiveUnitClashWithJITDylib(t *testing.T) {
	dir := t.TempDir()
	lib := archiveOf(t, dir, map[string]string{
		"clash.c": `int shared(void) { return 1; } int g(void); int f(void) { return shared() + g(); }`,
		"g.c":     `int g(void) { return 10; }`,
	})
	_, err := runMain(t, dir, `int f(void); int shared(void) { return 500; } int main(void) { return f(); }`, lib)
	var de *orc.DuplicateDefinitionError
	if !errors.As(err, &de) || de.Name != orc.Intern("shared") || !strings.Contains(err.Error(), "lib.a(clash.o): duplicate definition of symbol shared") {
		t.Fatalf("want shared defined twice, naming lib.a(clash.o), got %v", err)
	}
}

// Many members pulled at once are read and built on several goroutines
// (run with -race).
func TestArchiveUnitManyMembers(t *testing.T) {
	dir := t.TempDir()
	srcs := map[string]string{}
	hub := ""
	for i := range 16 {
		srcs[fmt.Sprintf("leaf%d.c", i)] = fmt.Sprintf("int leaf%d(void) { return %d; }", i, i)
		hub += fmt.Sprintf("int leaf%d(void); ", i)
	}
	hub += "int hub(void) { return 0"
	for i := range 16 {
		hub += fmt.Sprintf(" + leaf%d()", i)
	}
	srcs["hub.c"] = hub + "; }"
	lib := archiveOf(t, dir, srcs)
	got, err := runMain(t, dir, `int hub(void); int main(void) { return hub(); }`, lib)
	if err != nil {
		t.Fatal(err)
	}
	if got != 120 {
		t.Fatalf("main() = %d, want 120", got)
	}
}

// A member with thread-local data is linked as a graph of its own (a graph
// is one TLS module), the rest of the members together.
func TestArchiveUnitTLSMemberApart(t *testing.T) {
	dir := t.TempDir()
	lib := archiveOf(t, dir, map[string]string{
		"tls.c":    `__thread int counter = 40; int bump(void) { return ++counter; }`,
		"user.c":   `int bump(void); int helper(void); int user(void) { bump(); return bump() + helper(); }`,
		"helper.c": `int helper(void) { return 100; }`,
	})
	obj := testutil.Compile(t, dir, "main.c", `int user(void); int main(void) { return user(); }`)
	log := &pluginLog{}
	j := jitWithPlugin(t, log)
	if err := j.AddObjectFile(nil, obj); err != nil {
		t.Fatal(err)
	}
	if err := j.AddArchive(nil, lib); err != nil {
		t.Fatal(err)
	}
	if r := callInt(t, j, nil, "main"); r != 142 {
		t.Fatalf("main() = %d, want 142", r)
	}
	var graphs []string
	for _, l := range log.log {
		if s, ok := strings.CutPrefix(l, "modify "); ok && s != "main.o" {
			graphs = append(graphs, s)
		}
	}
	slices.Sort(graphs)
	if !slices.Equal(graphs, []string{"lib.a", "lib.a(tls.o)"}) {
		t.Fatalf("linked graphs %q, want lib.a(tls.o) apart from the others' lib.a", graphs)
	}
}
