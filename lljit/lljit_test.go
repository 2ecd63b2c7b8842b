package lljit_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gorc-jit/gorc/internal/native"
	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc"
)

const childEnv = "GORC_LLJIT_CHILD"

func TestMain(m *testing.M) {
	testutil.Main(m, map[string]func() int{childEnv: child, lazyChildEnv: lazyChild}, "testdata")
}

// child runs the objects (.o), archives (.a) and shared libraries (.so*)
// named in GORC_INPUTS with LLJIT and returns main's result.
func child() int {
	j, err := lljit.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 125
	}
	for _, p := range strings.Split(os.Getenv("GORC_INPUTS"), "\n") {
		switch {
		case strings.HasSuffix(p, ".a"):
			err = j.AddArchive(nil, p)
		case strings.Contains(p, ".so"):
			err = j.LoadDylib(p)
		default:
			err = j.AddObjectFile(nil, p)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 125
		}
	}
	rc, err := j.RunMain(context.Background(), "prog")
	native.FlushStdio()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gorc:", err)
		return 126
	}
	return rc
}

func runChild(t *testing.T, inputs ...string) testutil.Outcome {
	t.Helper()
	return testutil.Run(t, testutil.Child(childEnv+"=1", "GORC_INPUTS="+strings.Join(inputs, "\n")))
}

const sqliteProg = `#include <stdio.h>
#include <sqlite3.h>
static int row(void *a, int n, char **v, char **c) {
	for (int i = 0; i < n; i++) printf("%s=%s ", c[i], v[i] ? v[i] : "NULL");
	printf("\n");
	return 0;
}
int main(void) {
	sqlite3 *db;
	char *err = 0;
	sqlite3_open(":memory:", &db);
	if (sqlite3_exec(db, "create table t(x, y); insert into t values (1, 'a'), (2, 'b'), (3, NULL);"
	                     "select sum(x), avg(x), group_concat(y) from t; select exp(1.0) > 2.7 as e;", row, 0, &err))
		printf("error: %s\n", err);
	printf("%s\n", sqlite3_libversion());
	return sqlite3_close(db);
}
`

// main + libsqlite3.a (members linked on demand) + libm through a dylib
// generator, compared with the natively linked program.
func TestSqliteThroughLLJIT(t *testing.T) {
	lib := testutil.NeedFile(t, filepath.Join(testutil.MultiarchLibDir(), "libsqlite3.a"))
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "main.c", sqliteProg, "-O2")
	want := testutil.Native(t, dir, []string{obj}, []string{lib, "-lm"})
	got := runChild(t, obj, lib, "libm.so.6")
	if got.Stdout != want.Stdout || got.ExitCode != want.ExitCode {
		t.Fatalf("differs from native:\n--- native (exit %d)\n%s--- jit (exit %d)\n%s%s", want.ExitCode, want.Stdout, got.ExitCode, got.Stdout, got.Stderr)
	}
}

// Inline functions (COMDAT, weak) defined in two objects: one copy wins, so
// its function-local static is shared.
func TestComdatAcrossObjects(t *testing.T) {
	dir := t.TempDir()
	hdr := "inline int &counter() { static int c; return c; }\n"
	a := testutil.Compile(t, dir, "a.cc", hdr+"extern \"C\" int bumpA() { return ++counter(); }\n", "-O0")
	b := testutil.Compile(t, dir, "b.cc", hdr+"extern \"C\" int bumpB() { return ++counter(); }\n", "-O0")
	main := testutil.Compile(t, dir, "main.c", `#include <stdio.h>
int bumpA(void); int bumpB(void);
int main(void) { int x = bumpA(), y = bumpB(), z = bumpA(); printf("%d %d %d\n", x, y, z); return z; }`)
	inputs := []string{main, a, b}
	want := testutil.Native(t, dir, inputs, []string{"-lstdc++"})
	got := runChild(t, inputs...)
	if got.Stdout != "1 2 3\n" || got.Stdout != want.Stdout || got.ExitCode != 3 {
		t.Fatalf("native %q (exit %d), jit %q (exit %d) %s", want.Stdout, want.ExitCode, got.Stdout, got.ExitCode, got.Stderr)
	}
}

// pluginLog records the layer's plugin hooks.
type pluginLog struct {
	orc.PluginBase
	mu   sync.Mutex
	log  []string
	objs []string // the objects of each graph linked
}

func (p *pluginLog) add(s string) {
	p.mu.Lock()
	p.log = append(p.log, s)
	p.mu.Unlock()
}

func (p *pluginLog) ModifyPassConfig(mr *orc.MaterializationResponsibility, g *jitlink.LinkGraph, cfg *jitlink.PassConfig) error {
	p.add("modify " + filepath.Base(g.Name()))
	objs := map[string]bool{}
	for _, sec := range g.Sections() {
		if o := filepath.Base(g.SectionObject(sec)); !objs[o] {
			objs[o] = true
			p.mu.Lock()
			p.objs = append(p.objs, o)
			p.mu.Unlock()
		}
	}
	cfg.PostPrune = append(cfg.PostPrune, func(g *jitlink.LinkGraph) error {
		p.add("pass " + filepath.Base(g.Name()))
		if strings.Contains(g.Name(), "fail") {
			return errors.New("plugin pass refused the graph")
		}
		return nil
	})
	return nil
}
func (p *pluginLog) NotifyLoaded(mr *orc.MaterializationResponsibility) { p.add("loaded") }
func (p *pluginLog) NotifyEmitted(mr *orc.MaterializationResponsibility) error {
	p.add("emitted")
	return nil
}
func (p *pluginLog) NotifyFailed(mr *orc.MaterializationResponsibility) error {
	p.add("failed")
	return nil
}
func (p *pluginLog) NotifyRemovingResources(jd *orc.JITDylib, rt *orc.ResourceTracker) error {
	p.add("removing")
	return nil
}

func TestPluginHooks(t *testing.T) {
	log := &pluginLog{}
	b := &lljit.Builder{ObjectLinkingLayerCreator: func(es *orc.ExecutionSession, mm jitlink.MemoryManager) (*orc.ObjectLinkingLayer, error) {
		l := orc.NewObjectLinkingLayer(es, mm)
		l.AddPlugin(log)
		return l, nil
	}}
	j, err := b.Create()
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	obj, _ := os.ReadFile("testdata/answer.o")
	rt := j.MainJITDylib().CreateResourceTracker()
	if err := j.AddObjectWithTracker(rt, "answer.o", obj); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Lookup(t.Context(), "answer"); err != nil {
		t.Fatal(err)
	}
	if err := rt.Remove(); err != nil {
		t.Fatal(err)
	}
	want := []string{"loaded", "modify answer.o", "pass answer.o", "emitted", "removing"}
	if !slices.Equal(log.log, want) {
		t.Fatalf("hooks %q, want %q", log.log, want)
	}
	// A failing pass fails the materialization with its error.
	log.log = nil
	if err := j.AddObject(nil, "fail.o", obj); err != nil {
		t.Fatal(err)
	}
	_, err = j.Lookup(t.Context(), "answer")
	if err == nil || !strings.Contains(err.Error(), "plugin pass refused the graph") {
		t.Fatalf("want the pass's error, got %v", err)
	}
	if want := []string{"loaded", "modify fail.o", "pass fail.o", "failed"}; !slices.Equal(log.log, want) {
		t.Fatalf("hooks %q, want %q", log.log, want)
	}
}

// The archive generator links exactly the members a lookup needs,
// transitively.
func TestStaticLibraryLoadsOnlyWhatIsNeeded(t *testing.T) {
	ar := testutil.NeedTool(t, "ar")
	dir := t.TempDir()
	objs := []string{
		testutil.Compile(t, dir, "m1.c", "int m2(void); int m1(void) { return m2() + 1; }"),
		testutil.Compile(t, dir, "m2.c", "int m2(void) { return 41; }"),
		testutil.Compile(t, dir, "m3.c", "int m3(void) { return 3; }"),
	}
	lib := filepath.Join(dir, "libm123.a")
	if out, err := exec.Command(ar, append([]string{"rcs", lib}, objs...)...).CombinedOutput(); err != nil {
		t.Fatalf("ar: %v %s", err, out)
	}
	log := &pluginLog{}
	j, err := (&lljit.Builder{ObjectLinkingLayerCreator: func(es *orc.ExecutionSession, mm jitlink.MemoryManager) (*orc.ObjectLinkingLayer, error) {
		l := orc.NewObjectLinkingLayer(es, mm)
		l.AddPlugin(log)
		return l, nil
	}}).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := j.AddArchive(nil, lib); err != nil {
		t.Fatal(err)
	}
	if r := callInt(t, j, nil, "m1"); r != 42 {
		t.Fatalf("m1() = %d", r)
	}
	linked := slices.Clone(log.objs)
	var graphs []string
	for _, l := range log.log {
		if s, ok := strings.CutPrefix(l, "modify "); ok {
			graphs = append(graphs, s)
		}
	}
	slices.Sort(linked)
	if !slices.Equal(linked, []string{"libm123.a(m1.o)", "libm123.a(m2.o)"}) {
		t.Fatalf("linked %q, want m1.o and m2.o only", linked)
	}
	// The members one lookup needs are linked together, as one graph.
	if !slices.Equal(graphs, []string{"libm123.a"}) {
		t.Fatalf("linked graphs %q, want one for both members", graphs)
	}
	if _, ok := j.MainJITDylib().SymbolState(orc.Intern("m3")); ok {
		t.Fatal("m3.o was added although nothing needs it")
	}
}

// Adding and removing an object 10,000 times keeps memory flat.
func TestAddRemoveKeepsMemoryFlat(t *testing.T) {
	j, err := lljit.New()
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	obj, _ := os.ReadFile("testdata/answer.o")
	epc := j.ExecutorProcessControl()
	cycle := func() {
		rt := j.MainJITDylib().CreateResourceTracker()
		if err := j.AddObjectWithTracker(rt, "answer.o", obj); err != nil {
			t.Fatal(err)
		}
		addr, err := j.Lookup(t.Context(), "answer")
		if err != nil {
			t.Fatal(err)
		}
		if r, _ := epc.RunAsIntFunction(addr, 0); r != 42 {
			t.Fatalf("answer() = %d", r)
		}
		if err := rt.Remove(); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 500; i++ { // warm up
		cycle()
	}
	runtime.GC()
	debug.FreeOSMemory()
	rss0, heap0 := testutil.RSS(t), heapInUse()
	const n = 10000
	for i := 0; i < n; i++ {
		cycle()
	}
	runtime.GC()
	debug.FreeOSMemory()
	rss1, heap1 := testutil.RSS(t), heapInUse()
	t.Logf("%d add/link/call/remove cycles: RSS %d KiB -> %d KiB, Go heap %d KiB -> %d KiB",
		n, rss0>>10, rss1>>10, heap0>>10, heap1>>10)
	if rss1 > rss0+8<<20 || heap1 > heap0+4<<20 {
		t.Fatalf("memory grew: RSS %d -> %d, heap %d -> %d", rss0, rss1, heap0, heap1)
	}
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

func TestProcessSymbolsFilterAndHiding(t *testing.T) {
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "p.c", "#include <unistd.h>\nint f(int x) { return getpid() > 0 ? -x : 0; }")
	j, err := (&lljit.Builder{NoProcessSymbols: true}).Create()
	if err != nil {
		t.Fatal(err)
	}
	j.AddObjectFile(nil, obj)
	if _, err := j.Lookup(t.Context(), "f"); err == nil || !strings.Contains(err.Error(), "getpid") {
		t.Fatalf("with process symbols hidden, want getpid unresolved, got %v", err)
	}
	j.Close()
	j, err = (&lljit.Builder{ProcessSymbolsFilter: func(n orc.Name) bool { return n.String() == "getpid" }}).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	j.AddObjectFile(nil, obj)
	addr, err := j.Lookup(t.Context(), "f")
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := j.ExecutorProcessControl().RunAsIntFunction(addr, -9); r != 9 {
		t.Fatalf("f(-9) = %d", r)
	}
	if _, err := j.Session().LookupSymbol(context.Background(), j.MainJITDylib().LinkOrder(), orc.Intern("puts")); err == nil {
		t.Fatal("puts visible although the filter allows only getpid")
	}
}

// Lookups from many goroutines with compile workers materialize each object
// once.
func TestConcurrentMaterialization(t *testing.T) {
	j, err := (&lljit.Builder{NumCompileThreads: 2}).Create()
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	dir := t.TempDir()
	const n = 30
	for i := 0; i < n; i++ {
		src := fmt.Sprintf("int f%d(void) { return %d; }", i, i)
		if i > 0 {
			src = fmt.Sprintf("int f%d(void); int f%d(void) { return f%d() + 1; }", i-1, i, i-1)
		}
		if err := j.AddObjectFile(nil, testutil.Compile(t, dir, fmt.Sprintf("f%d.c", i), src, "-O1")); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("f%d", n-1-g%3)
			addr, err := j.Lookup(t.Context(), name)
			if err != nil {
				t.Error(err)
				return
			}
			want := n - 1 - g%3
			if r, _ := j.ExecutorProcessControl().RunAsIntFunction(addr, 0); r != want {
				t.Errorf("%s() = %d, want %d", name, r, want)
			}
		}()
	}
	wg.Wait()
}

// Thread-local data works on threads that existed before the link (and so
// before its TLS module): each thread starts from the initial value.
func TestTLSOnThreadsCreatedBeforeLink(t *testing.T) {
	// -fPIC: dynamic TLS, blocks made on first use; -fpie (gcc's default):
	// initial- and local-exec code, static TLS.
	for _, model := range []string{"-fPIC", "-fpie"} {
		t.Run(model, func(t *testing.T) { testTLSOnOldThread(t, model) })
	}
}

func testTLSOnOldThread(t *testing.T, model string) {
	type call struct {
		arg int
		res chan int
	}
	// A goroutine locked to its own OS thread, started before anything is
	// linked.
	calls := make(chan call)
	var run func(addr uint64, arg int) int
	ready := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		close(ready)
		for c := range calls {
			c.res <- run(0, c.arg)
		}
	}()
	<-ready

	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "tls.c", `__thread int v = 5;
static __thread int w;
int bump(int by) { w += 1; v += by; return v * 100 + w; }
`, "-O1", model)
	j, err := lljit.New()
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := j.AddObjectFile(nil, obj); err != nil {
		t.Fatal(err)
	}
	addr, err := j.Lookup(t.Context(), "bump")
	if err != nil {
		t.Fatal(err)
	}
	epc := j.ExecutorProcessControl()
	run = func(_ uint64, arg int) int {
		r, err := epc.RunAsIntFunction(addr, arg)
		if err != nil {
			t.Error(err)
		}
		return r
	}
	old := func(arg int) int {
		c := call{arg, make(chan int)}
		calls <- c
		return <-c.res
	}
	// The old thread and this one each have their own copy.
	if got := old(1); got != 601 {
		t.Fatalf("old thread, first call: %d, want 601", got)
	}
	if got := old(2); got != 802 {
		t.Fatalf("old thread, second call: %d, want 802", got)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if got := run(addr, 10); got != 1501 {
		t.Fatalf("another thread, first call: %d, want 1501", got)
	}
	close(calls)
}
