package remote_test

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/x86_64"
	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/remote"
	"github.com/gorc-jit/gorc/orc/shared/sps"
	"github.com/gorc-jit/gorc/orcrt"
)

// memoryModes are the ways a controller links into an executor: copying
// into a slab, sharing the slab's memory, and one reservation per graph
// (what an executor without slab memory, LLVM's protocol, offers).
var memoryModes = []struct {
	name     string
	opts     []remote.Option
	services func(*orcrt.Session) error
}{
	{"copying", nil, allServices},
	{"shared", []remote.Option{remote.SharedMemory()}, allServices},
	{"reservations", nil, func(s *orcrt.Session) error {
		if _, err := orcrt.NewMemoryManager(s); err != nil {
			return err
		}
		if _, err := orcrt.NewDylibManager(s); err != nil {
			return err
		}
		return orcrt.AddBootstrap(s)
	}},
}

func allServices(s *orcrt.Session) error { return orcrt.AddServices(s) }

// tinyGraph is a graph of three segments, as a small C object has: code
// returning its argument plus k (lea eax, [rdi+k]; ret), read-only data
// and writable data with zero-fill, each block holding a marker naming
// the graph.
func tinyGraph(name string, k byte) *jitlink.LinkGraph {
	g := x86_64.NewLinkGraph(name)
	text := g.CreateSection(".text", jitlink.ProtRead|jitlink.ProtExec)
	fn := g.CreateContentBlock(text, []byte{0x8d, 0x47, k, 0xc3}, 0, 16, 0)
	g.AddDefinedSymbol(fn, 0, "f", 4, jitlink.Strong, jitlink.ScopeDefault, jitlink.Callable|jitlink.Live)
	ro := g.CreateSection(".rodata", jitlink.ProtRead)
	g.AddAnonymousSymbol(g.CreateContentBlock(ro, []byte("ro:"+name), 0, 8, 0), 0, 0, jitlink.Live)
	data := g.CreateSection(".data", jitlink.ProtRead|jitlink.ProtWrite)
	g.AddAnonymousSymbol(g.CreateContentBlock(data, []byte("rw:"+name), 0, 8, 0), 0, 0, jitlink.Live)
	bss := g.CreateSection(".bss", jitlink.ProtRead|jitlink.ProtWrite)
	g.AddAnonymousSymbol(g.CreateZeroFillBlock(bss, 100, 0, 8, 0), 0, 0, jitlink.Live)
	return g
}

// linkContext links one graph into an executor's memory manager.
type linkContext struct {
	mm      jitlink.MemoryManager
	actions []jitlink.AllocAction
	done    chan linkResult
}

type linkResult struct {
	g     *jitlink.LinkGraph
	alloc jitlink.FinalizedAlloc
	segs  []segRange
	err   error
}

// segRange is a segment's executor range and the content it must hold.
type segRange struct {
	addr, size uint64
	content    []byte
}

func (c *linkContext) MemoryManager() jitlink.MemoryManager { return c.mm }
func (c *linkContext) Dylib() any                           { return nil }
func (c *linkContext) NotifyResolved(*jitlink.LinkGraph) error {
	return nil
}
func (c *linkContext) ModifyPassConfig(g *jitlink.LinkGraph, cfg *jitlink.PassConfig) error {
	cfg.PostFixup = append(cfg.PostFixup, func(g *jitlink.LinkGraph) error {
		g.AllocActions = append(g.AllocActions, c.actions...)
		return nil
	})
	return nil
}
func (c *linkContext) LookupExternals(g *jitlink.LinkGraph, syms []*jitlink.Symbol, done func([]uint64, error)) {
	done(make([]uint64, len(syms)), nil)
}
func (c *linkContext) NotifyEmitted(g *jitlink.LinkGraph, fa jitlink.FinalizedAlloc) {
	r := linkResult{g: g, alloc: fa}
	for b := range g.Blocks() {
		content := bytes.Clone(b.Content())
		if b.IsZeroFill() {
			content = make([]byte, b.Size())
		}
		r.segs = append(r.segs, segRange{b.Address(), b.Size(), content})
	}
	c.done <- r
}
func (c *linkContext) NotifyFailed(g *jitlink.LinkGraph, err error) {
	c.done <- linkResult{g: g, err: err}
}

// link links g and waits for the outcome.
func link(mm jitlink.MemoryManager, g *jitlink.LinkGraph, actions ...jitlink.AllocAction) linkResult {
	c := &linkContext{mm: mm, actions: actions, done: make(chan linkResult, 1)}
	jitlink.Link(g, c)
	return <-c.done
}

// function returns the address of g's "f".
func function(g *jitlink.LinkGraph) uint64 {
	for s := range g.DefinedSymbols() {
		if s.Name() == "f" {
			return s.Address()
		}
	}
	return 0
}

// TestFailedFinalizeReleasesOnce: links whose finalize action fails in the
// executor, among links that succeed, all at once. The failing links
// report the action's error and nothing else; their memory is released
// once, so the live links' memory is never handed out again: no two live
// allocations overlap and each holds its own bytes, including those
// linked after the failures.
func TestFailedFinalizeReleasesOnce(t *testing.T) {
	for _, mode := range memoryModes {
		t.Run(mode.name, func(t *testing.T) {
			var fail, ok uint64
			epc := executorInProcess(t, func(s *orcrt.Session) error {
				if err := mode.services(s); err != nil {
					return err
				}
				var err error
				fail, err = s.RegisterWrapper("fail_action", orcrt.SyncWrapper(func([]byte) ([]byte, error) {
					return sps.Marshal(struct{ E error }{errors.New("the plugin's finalize action failed")})
				}))
				if err != nil {
					return err
				}
				ok, err = s.RegisterWrapper("ok_action", orcrt.SyncWrapper(func([]byte) ([]byte, error) {
					return sps.Marshal(struct{ E error }{})
				}))
				return err
			}, mode.opts...)
			mm := epc.MemoryManager()
			var mu sync.Mutex
			var live []linkResult
			run := func(wave string, n int) {
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() {
						act := jitlink.AllocAction{Finalize: jitlink.WrapperCall{Fn: ok}, Dealloc: jitlink.WrapperCall{Fn: ok}}
						failing := wave == "first" && i%2 == 0
						if failing {
							act.Finalize.Fn = fail
						}
						r := link(mm, tinyGraph(fmt.Sprintf("%s-%d", wave, i), byte(i)), act)
						switch {
						case failing && r.err == nil:
							t.Errorf("%s: linked although its finalize action failed", r.g.Name())
						case failing && (!strings.Contains(r.err.Error(), "the plugin's finalize action failed") || strings.Contains(r.err.Error(), "releas")):
							t.Errorf("%s: error %q, want only the action's failure", r.g.Name(), r.err)
						case !failing && r.err != nil:
							t.Errorf("%s: %v", r.g.Name(), r.err)
						case !failing:
							mu.Lock()
							live = append(live, r)
							mu.Unlock()
						}
					})
				}
				wg.Wait()
			}
			run("first", 200)
			run("second", 200)
			checkDisjoint(t, live)
			for _, r := range live {
				for _, s := range r.segs {
					if got := read(s.addr, len(s.content)); !bytes.Equal(got, s.content) {
						t.Fatalf("%s: %#x holds %q, want %q", r.g.Name(), s.addr, got, s.content)
					}
				}
			}
			for _, r := range live {
				if err := mm.Deallocate([]jitlink.FinalizedAlloc{r.alloc}); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// checkDisjoint fails if two live allocations share a byte.
func checkDisjoint(t *testing.T, live []linkResult) {
	t.Helper()
	type owned struct {
		segRange
		name string
	}
	var all []owned
	for _, r := range live {
		for _, s := range r.segs {
			all = append(all, owned{s, r.g.Name()})
		}
	}
	slices.SortFunc(all, func(a, b owned) int { return cmp.Compare(a.addr, b.addr) })
	for i := 1; i < len(all); i++ {
		if p := all[i-1]; p.addr+p.size > all[i].addr {
			t.Fatalf("%s at %#x+%d overlaps %s at %#x", p.name, p.addr, p.size, all[i].name, all[i].addr)
		}
	}
}

// buildExecutor builds gorc-executor into a temporary directory.
func buildExecutor(t testing.TB) string {
	exe := filepath.Join(t.TempDir(), "gorc-executor")
	if out, err := exec.Command("go", "build", "-o", exe, "github.com/gorc-jit/gorc/cmd/gorc-executor").CombinedOutput(); err != nil {
		t.Fatalf("building gorc-executor: %v\n%s", err, out)
	}
	return exe
}

// processMemory returns a process's number of mappings and its resident
// set in bytes.
func processMemory(t testing.TB, pid int) (maps int, rss uint64) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	maps = bytes.Count(b, []byte("\n"))
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			rss = kb << 10
		}
	}
	return maps, rss
}

// manyObjects is how many objects TestManyObjectsFewMappings keeps live:
// the 100,000 (which exhausted vm.max_map_count when each cost the
// executor three mappings), fewer in -short and -race runs.
func manyObjects() int {
	if testing.Short() || raceEnabled {
		return 10_000
	}
	return 100_000
}

// TestManyObjectsFewMappings links many small three-segment objects into
// one executor process and keeps them all live: its mapping count stays
// small (graphs share the slab's mappings), and the code runs.
func TestManyObjectsFewMappings(t *testing.T) {
	exe := buildExecutor(t)
	n := manyObjects()
	for _, mode := range memoryModes[:2] {
		t.Run(mode.name, func(t *testing.T) {
			epc, err := remote.Launch(exe, mode.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer epc.Close()
			mm := epc.MemoryManager()
			mapsBefore, rssBefore := processMemory(t, epc.PID())
			results := make([]linkResult, n)
			var wg sync.WaitGroup
			sem := make(chan struct{}, 64) // links in flight
			for i := range n {
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem }()
					results[i] = link(mm, tinyGraph(strconv.Itoa(i), byte(i%100)))
				})
			}
			wg.Wait()
			for _, r := range results {
				if r.err != nil {
					t.Fatal(r.err)
				}
			}
			maps, rss := processMemory(t, epc.PID())
			t.Logf("%d live objects: executor has %d mappings (%d before), RSS %.1f MB (%.1f MB before)",
				n, maps, mapsBefore, float64(rss)/1e6, float64(rssBefore)/1e6)
			if maps >= 1000 {
				t.Errorf("the executor has %d mappings for %d objects, want fewer than 1000", maps, n)
			}
			for i := 0; i < n; i += n / 10 {
				if got, err := epc.RunAsIntFunction(function(results[i].g), 1000); err != nil || got != 1000+i%100 {
					t.Fatalf("f of object %d = %d, %v; want %d", i, got, err, 1000+i%100)
				}
			}
		})
	}
}

// TestLinkCallRemoveCycles links, calls and removes an object 20,000
// times in one executor: its mappings and resident memory stay flat. (A
// few mappings come and go with the Go runtime's threads and heap; a leak
// would be one or more per cycle.)
func TestLinkCallRemoveCycles(t *testing.T) {
	exe := buildExecutor(t)
	cycles := 20_000
	if testing.Short() || raceEnabled {
		cycles = 4_000
	}
	for _, mode := range memoryModes {
		t.Run(mode.name, func(t *testing.T) {
			epc, err := remote.Launch(exe, mode.opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer epc.Close()
			mm := epc.MemoryManager()
			var maps0 int
			var rss0 uint64
			for i := range cycles {
				if i == cycles/10 {
					maps0, rss0 = processMemory(t, epc.PID())
				}
				r := link(mm, tinyGraph(strconv.Itoa(i), byte(i%100)))
				if r.err != nil {
					t.Fatal(r.err)
				}
				if got, err := epc.RunAsIntFunction(function(r.g), i); err != nil || got != i+i%100 {
					t.Fatalf("cycle %d: f = %d, %v", i, got, err)
				}
				if err := mm.Deallocate([]jitlink.FinalizedAlloc{r.alloc}); err != nil {
					t.Fatal(err)
				}
			}
			maps, rss := processMemory(t, epc.PID())
			t.Logf("after %d cycles: %d mappings (%d at cycle %d), RSS %.1f MB (%.1f MB)", cycles, maps, maps0, cycles/10,
				float64(rss)/1e6, float64(rss0)/1e6)
			if maps > maps0+20 {
				t.Errorf("mappings grew from %d to %d", maps0, maps)
			}
			if rss > rss0+8<<20 {
				t.Errorf("RSS grew from %d to %d bytes", rss0, rss)
			}
		})
	}
}

// TestLargeZeroFill links objects with a large zero-initialized array
// into an executor process: it travels as a size, never as bytes, and
// lands on untouched pages, so neither process's resident memory grows
// with it, and the program can write and read its last byte. 2 GiB is
// more than a slab holds (a reservation of its own); 256 MiB fits the
// slab.
func TestLargeZeroFill(t *testing.T) {
	exe := buildExecutor(t)
	dir := t.TempDir()
	for _, size := range []string{"1L << 31", "256L << 20"} {
		src := "char big[" + size + "];\n" + `
int touch(int v) {
	volatile char *p = big;
	p[sizeof big - 1] = (char)v;
	p[0] = 1;
	return p[sizeof big - 1] + p[0];
}
`
		for _, flags := range [][]string{{"-mcmodel=medium"}, {"-fPIC"}} {
			obj := testutil.Compile(t, dir, "big.c", src, append([]string{"-O1"}, flags...)...)
			for _, mode := range memoryModes[:2] {
				t.Run(fmt.Sprintf("%s/%s/%s", strings.Fields(size)[2], flags[0], mode.name), func(t *testing.T) {
					_, before := processMemory(t, os.Getpid())
					epc, err := remote.Launch(exe, mode.opts...)
					if err != nil {
						t.Fatal(err)
					}
					j, err := (&lljit.Builder{EPC: epc}).Create()
					if err != nil {
						t.Fatal(err)
					}
					defer j.Close()
					if err := j.AddObjectFile(nil, obj); err != nil {
						t.Fatal(err)
					}
					touch, err := j.Lookup(t.Context(), "touch")
					if err != nil {
						t.Fatal(err)
					}
					if got, err := epc.RunAsIntFunction(touch, 41); err != nil || got != 42 {
						t.Fatalf("touch(41) = %d, %v; want 42", got, err)
					}
					_, execRSS := processMemory(t, epc.PID())
					_, after := processMemory(t, os.Getpid())
					t.Logf("executor RSS %.1f MB, controller RSS grew %.1f MB", float64(execRSS)/1e6, (float64(after)-float64(before))/1e6)
					if execRSS > 64<<20 {
						t.Errorf("executor RSS is %d bytes", execRSS)
					}
					if after > before+64<<20 {
						t.Errorf("controller RSS grew from %d to %d bytes", before, after)
					}
				})
			}
		}
	}
}

// TestReservedAddressSpaceCap: an executor caps the address space its
// memory reserves (64 GiB by default, max-reserved=SIZE to change it). A
// graph asking for more fails with an error saying so, and the executor
// stays up and small.
func TestReservedAddressSpaceCap(t *testing.T) {
	exe := buildExecutor(t)
	for _, tc := range []struct {
		name     string
		args     []string
		tooLarge uint64
	}{
		{"default", nil, 1 << 40},
		// Smaller than the slab: everything goes to reservations.
		{"max-reserved=512M", []string{"max-reserved=512M"}, 600 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			epc, err := remote.Launch(exe, remote.ExecutorArgs(tc.args...))
			if err != nil {
				t.Fatal(err)
			}
			defer epc.Close()
			mm := epc.MemoryManager()
			g := tinyGraph("huge", 1)
			g.AddAnonymousSymbol(g.CreateZeroFillBlock(g.CreateSection(".lbss", jitlink.ProtRead|jitlink.ProtWrite), tc.tooLarge, 0, 8, 0), 0, 0, jitlink.Live)
			r := link(mm, g)
			if r.err == nil || !strings.Contains(r.err.Error(), "limit of") {
				t.Fatalf("linking %d bytes of zero-fill: %v, want an error about the executor's limit", tc.tooLarge, r.err)
			}
			t.Log(r.err)
			for i := range 3 {
				r := link(mm, tinyGraph(strconv.Itoa(i), 5))
				if r.err != nil {
					t.Fatal(r.err)
				}
				if got, err := epc.RunAsIntFunction(function(r.g), 1); err != nil || got != 6 {
					t.Fatalf("after the refusal: f(1) = %d, %v", got, err)
				}
			}
			if _, rss := processMemory(t, epc.PID()); rss > 64<<20 {
				t.Errorf("executor RSS is %d bytes", rss)
			}
		})
	}
}

// countingWriter counts Write calls.
type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(b []byte) (int, error) { c.n.Add(1); return c.w.Write(b) }

// finalizeCounter counts the allocations whose Finalize has been called.
type finalizeCounter struct {
	jitlink.MemoryManager
	n atomic.Int64
}

func (m *finalizeCounter) Allocate(r *jitlink.AllocRequest) (jitlink.InFlightAlloc, error) {
	a, err := m.MemoryManager.Allocate(r)
	if err != nil {
		return nil, err
	}
	return countedAlloc{a, &m.n}, nil
}

type countedAlloc struct {
	jitlink.InFlightAlloc
	n *atomic.Int64
}

func (a countedAlloc) Finalize(actions []jitlink.AllocAction, done func(jitlink.FinalizedAlloc, error)) {
	a.InFlightAlloc.Finalize(actions, done)
	a.n.Add(1)
}

// TestFinalizeBatches: with shared memory, graphs finalized while another
// finalize call is on its way go to gorc's executor together, in one
// message; each gets its own outcome.
func TestFinalizeBatches(t *testing.T) {
	release := make(chan struct{})
	var block, ok, fail uint64
	var cw *countingWriter
	epc := executorInProcessWriting(t, func(s *orcrt.Session) error {
		if err := orcrt.AddServices(s); err != nil {
			return err
		}
		var err error
		block, err = s.RegisterWrapper("", orcrt.SyncWrapper(func([]byte) ([]byte, error) {
			<-release
			return sps.Marshal(struct{ E error }{})
		}))
		if err != nil {
			return err
		}
		ok, err = s.RegisterWrapper("", orcrt.SyncWrapper(func([]byte) ([]byte, error) {
			return sps.Marshal(struct{ E error }{})
		}))
		if err != nil {
			return err
		}
		fail, err = s.RegisterWrapper("", orcrt.SyncWrapper(func([]byte) ([]byte, error) {
			return sps.Marshal(struct{ E error }{errors.New("this one fails")})
		}))
		return err
	}, func(w io.Writer) io.Writer { cw = &countingWriter{w: w}; return cw }, remote.SharedMemory())
	mm := &finalizeCounter{MemoryManager: epc.MemoryManager()}
	const n = 50
	results := make(chan linkResult, n+1)
	go func() {
		results <- link(mm, tinyGraph("first", 0), jitlink.AllocAction{Finalize: jitlink.WrapperCall{Fn: block}})
	}()
	for mm.n.Load() < 1 {
		time.Sleep(time.Millisecond)
	}
	for i := range n {
		act := jitlink.AllocAction{Finalize: jitlink.WrapperCall{Fn: ok}}
		if i == 7 {
			act.Finalize.Fn = fail
		}
		go func() { results <- link(mm, tinyGraph(fmt.Sprintf("g%d", i), byte(i)), act) }()
	}
	deadline := time.Now().Add(10 * time.Second)
	for mm.n.Load() < n+1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if mm.n.Load() != n+1 {
		t.Fatalf("%d of %d graphs reached finalize", mm.n.Load(), n+1)
	}
	writes := cw.n.Load()
	close(release)
	var live []linkResult
	for range n + 1 {
		r := <-results
		switch {
		case r.g.Name() == "g7" && (r.err == nil || !strings.Contains(r.err.Error(), "this one fails")):
			t.Errorf("g7: %v, want its action's failure", r.err)
		case r.g.Name() != "g7" && r.err != nil:
			t.Errorf("%s: %v", r.g.Name(), r.err)
		case r.err == nil:
			live = append(live, r)
		}
	}
	// The 50 went in one message (header and payload in one write).
	if d := cw.n.Load() - writes; d != 1 {
		t.Errorf("the controller wrote %d times to finalize the 50 waiting graphs, want once", d)
	}
	checkDisjoint(t, live)
	for _, r := range live {
		for _, s := range r.segs {
			if got := read(s.addr, len(s.content)); !bytes.Equal(got, s.content) {
				t.Fatalf("%s: %#x holds %q, want %q", r.g.Name(), s.addr, got, s.content)
			}
		}
	}
}

// TestRunAsMainAndExit: a launched gorc-executor runs main and exits with
// its result; a main that ends the process itself (exit, a crash) is an
// ExitError, as from RunAsMain. libc's functions stand in for main:
// abs(argc) returns, exit(argc) exits, and address 16 faults.
func TestRunAsMainAndExit(t *testing.T) {
	exe := buildExecutor(t)
	for _, tc := range []struct {
		main   string
		status int
		exit   *remote.ExitError
	}{
		{main: "abs", status: 3},
		{main: "exit", exit: &remote.ExitError{Code: 3}},
		{main: "", exit: &remote.ExitError{Signal: syscall.SIGSEGV}},
	} {
		epc, err := remote.Launch(exe, remote.Stdio(io.Discard, io.Discard))
		if err != nil {
			t.Fatal(err)
		}
		addr := uint64(16)
		if tc.main != "" {
			h, err := epc.LoadDylib("")
			if err != nil {
				t.Fatal(err)
			}
			addrs, err := epc.LookupSymbols(h, []orc.SymbolRequest{{Name: tc.main, Required: true}})
			if err != nil {
				t.Fatal(err)
			}
			addr = addrs[0]
		}
		status, ok, err := epc.RunAsMainAndExit(addr, []string{"prog", "a", "b"})
		var exit *remote.ExitError
		switch {
		case !ok:
			t.Errorf("%s: not run", tc.main)
		case tc.exit == nil && (err != nil || status != tc.status):
			t.Errorf("%s: status %d, %v; want %d", tc.main, status, err, tc.status)
		case tc.exit != nil && (!errors.As(err, &exit) || *exit != *tc.exit):
			t.Errorf("%s: %v, want %v", tc.main, err, tc.exit)
		}
		epc.Close()
	}
	// Not with an executor that was not launched here: nothing runs.
	if _, ok, err := executorInProcess(t, nil).RunAsMainAndExit(16, nil); ok || err != nil {
		t.Errorf("in-process executor: ran %v, %v", ok, err)
	}
}

// TestExecutorPreload: a launched gorc-executor loads at start what the
// controller asks for, and else libm and the C++ runtime, as LLVM's.
func TestExecutorPreload(t *testing.T) {
	exe := buildExecutor(t)
	for _, tc := range []struct {
		name string
		opts []remote.Option
		libm bool
	}{
		{"default", nil, true},
		{"libm", []remote.Option{remote.ExecutorPreload("libm.so.6")}, true},
		{"none", []remote.Option{remote.ExecutorPreload()}, false},
	} {
		epc, err := remote.Launch(exe, tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		h, err := epc.LoadDylib("")
		if err != nil {
			t.Fatal(err)
		}
		addrs, err := epc.LookupSymbols(h, []orc.SymbolRequest{{Name: "cbrt"}})
		if err != nil || (addrs[0] != 0) != tc.libm {
			t.Errorf("%s: cbrt at %#x, %v; want libm loaded %v", tc.name, addrs[0], err, tc.libm)
		}
		epc.Close()
	}
}
