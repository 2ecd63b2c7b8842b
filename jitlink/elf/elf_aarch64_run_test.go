//go:build linux && arm64

package elf_test

import (
	"encoding/binary"
	"os"
	"os/exec"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/internal/testutil/rawcall"
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/aarch64"
	gelf "github.com/gorc-jit/gorc/jitlink/elf"
	"github.com/gorc-jit/gorc/jitlink/jitlinktest"
	"github.com/gorc-jit/gorc/jitlink/triple"
)

// Freestanding C (no libc, no thread-locals): calls across objects,
// function-pointer tables, switch jump tables, static, common and
// read-only data.
const (
	runOps = `
struct op { const char *name; long (*fn)(long, long); };
static long add(long a, long b) { return a + b; }
static long mul(long a, long b) { return a * b; }
long counter;
static long table[8] = {1, 2, 3, 4, 5, 6, 7, 8};
const struct op ops[] = {{"add", add}, {"mul", mul}};
__attribute__((noinline)) long helper(long x) { return x * 3 + table[x & 7]; }
long run(long a, long b) {
	long s = 0;
	for (int i = 0; i < 2; i++) s += ops[i].fn(a, b) + ops[i].name[0];
	counter += s;
	switch (a & 7) {
	case 0: s += 10; break; case 1: s += 20; break; case 2: s += 30; break;
	case 3: s -= 7; break; case 4: s *= 2; break; case 5: s ^= 0x55; break;
	default: s += 40;
	}
	return s + helper(b) + counter;
}
`
	runMain = `
long run(long, long);
extern long counter;
long entry(long a, long b) { long r = run(a, b); return r * 1000 + counter; }
`
)

// runExpected is what entry(a, b) returns on the first call.
func runExpected(a, b int64) int64 {
	s := (a + b + 'a') + (a*b + 'm')
	counter := s
	switch a & 7 {
	case 0:
		s += 10
	case 1:
		s += 20
	case 2:
		s += 30
	case 3:
		s -= 7
	case 4:
		s *= 2
	case 5:
		s ^= 0x55
	default:
		s += 40
	}
	r := s + b*3 + []int64{1, 2, 3, 4, 5, 6, 7, 8}[b&7] + counter
	return r*1000 + counter
}

// On an arm64 machine (here: under qemu-aarch64), code linked by gorc from
// clang and gcc objects in each code model runs and computes what it should.
func TestAArch64LinkedCodeRuns(t *testing.T) {
	ccs := map[string][]string{"clang-19": {"--target=aarch64-linux-gnu"}}
	if _, err := exec.LookPath("aarch64-linux-gnu-gcc"); err == nil || testutil.InCI() {
		ccs["aarch64-linux-gnu-gcc"] = nil
	}
	for cc, ccFlags := range ccs {
		for _, flags := range [][]string{{"-O0"}, {"-O2"}, {"-O2", "-fPIC"}, {"-O2", "-fno-pic"},
			{"-O2", "-mcmodel=large", "-fno-pic"}, {"-O1", "-mcmodel=tiny"}} {
			t.Run(cc+fmtFlags(flags), func(t *testing.T) {
				dir := t.TempDir()
				args := append(append([]string{"-ffreestanding", "-fno-stack-protector"}, ccFlags...), flags...)
				ops := testutil.CompileWith(t, cc, dir, "ops.c", runOps, args...)
				main := testutil.CompileWith(t, cc, dir, "main.c", runMain, args...)
				entry := linkAndLoad(t, ops, main)
				for _, in := range [][2]int64{{3, 4}, {4, 9}, {13, 2}} {
					// Each call adds to counter: link afresh per input.
					if in != [2]int64{3, 4} {
						entry = linkAndLoad(t, ops, main)
					}
					if got, want := int64(rawcall.Call2(entry, uintptr(in[0]), uintptr(in[1]))), runExpected(in[0], in[1]); got != want {
						t.Errorf("entry(%d, %d) = %d, want %d", in[0], in[1], got, want)
					}
				}
			})
		}
	}
}

func fmtFlags(flags []string) string {
	s := ""
	for _, f := range flags {
		s += f
	}
	return s
}

// newRegion maps executable memory for linked code and returns it with a
// jitlinktest.Memory allocating in it and an empty symbol table.
func newRegion(t *testing.T) ([]byte, uint64, *jitlinktest.Memory, map[string]uint64) {
	t.Helper()
	region, err := unix.Mmap(-1, 0, 16<<20, unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(region) })
	base := uint64(uintptr(unsafe.Pointer(&region[0])))
	return region, base, &jitlinktest.Memory{Base: base}, map[string]uint64{}
}

// load copies the segments linked so far into the region and makes them
// visible to instruction fetch.
func load(t *testing.T, tgt aarch64.Target, region []byte, base uint64, m *jitlinktest.Memory) {
	t.Helper()
	for _, s := range m.Segments {
		if s.Addr < base || s.Addr+uint64(len(s.Working)) > base+uint64(len(region)) {
			t.Fatalf("segment at %#x is outside the region", s.Addr)
		}
		copy(region[s.Addr-base:], s.Working)
		tgt.FlushInstructionCache(s.Addr, uint64(len(s.Working)))
	}
	m.Segments = nil
}

// linkAndLoad links the objects in order (each may use the symbols of
// those before it) into fresh executable memory and returns the address of
// entry.
func linkAndLoad(t *testing.T, objs ...string) uintptr {
	t.Helper()
	region, base, m, defined := newRegion(t)
	for _, obj := range objs {
		data, err := os.ReadFile(obj)
		if err != nil {
			t.Fatal(err)
		}
		g, err := gelf.NewLinkGraph(obj, data)
		if err != nil {
			t.Fatal(err)
		}
		if err := jitlinktest.Link(g, jitlinktest.Options{Memory: m, Externals: defined}); err != nil {
			t.Fatal(err)
		}
		for s := range g.DefinedSymbols() {
			if s.HasName() && s.Scope() != jitlink.ScopeLocal {
				defined[s.Name()] = s.Address()
			}
		}
	}
	load(t, aarch64.NewTarget(triple.MustParse("aarch64-unknown-linux-gnu")), region, base, m)
	entry, ok := defined["entry"]
	if !ok {
		t.Fatal("no entry symbol")
	}
	return uintptr(entry)
}

// The target's machine code runs: the init thunk calls initializers with
// argc, argv, envp and registers the finalizers with __cxa_atexit; a lazy
// stub enters the reentry code, which asks the dispatch function for the
// body and jumps there with every argument register intact.
func TestAArch64TargetCodeRuns(t *testing.T) {
	const src = `
struct res { unsigned long data, size; };
long log[16]; int nlog;
void *atexit_fn, *atexit_arg, *atexit_dso;
char __dso_handle;
int __cxa_atexit(void (*f)(void *), void *arg, void *dso) { atexit_fn = (void *)f; atexit_arg = arg; atexit_dso = dso; return 0; }
void init1(int argc, char **argv, char **envp) { log[nlog++] = 100 + argc; log[nlog++] = (long)argv; log[nlog++] = (long)envp; }
void init2(int argc, char **argv, char **envp) { log[nlog++] = 200 + argc; }
void fini1(void) { log[nlog++] = -1; }
void fini2(void) { log[nlog++] = -2; }
long body(long a, long b, long c, long d, long e, long f, long g, long h, double x, double y) {
	return a + 2*b + 3*c + 4*d + 5*e + 6*f + 7*g + 8*h + (long)(x * 100) + (long)(y * 1000);
}
unsigned long seen_id; void *seen_tag;
struct res dispatch(void *ctx, void *tag, unsigned long *id, unsigned long n) {
	seen_id = *id; seen_tag = tag;
	struct res r = { (unsigned long)body, n == 8 && ctx == (void *)0x1234 ? 8 : 0 };
	return r;
}
long call_lazy(long (*f)(long, long, long, long, long, long, long, long, double, double)) {
	return f(1, 2, 3, 4, 5, 6, 7, 8, 0.5, 0.25);
}
`
	dir := t.TempDir()
	obj := testutil.CompileWith(t, "clang-19", dir, "rt.c", src, "--target=aarch64-linux-gnu", "-O1", "-ffreestanding", "-fno-stack-protector")
	region, base, m, defined := newRegion(t)
	tgt := aarch64.NewTarget(triple.MustParse("aarch64-unknown-linux-gnu"))
	link := func(g *jitlink.LinkGraph) {
		t.Helper()
		if err := jitlinktest.Link(g, jitlinktest.Options{Memory: m, Externals: defined}); err != nil {
			t.Fatal(err)
		}
		for s := range g.DefinedSymbols() {
			if s.HasName() {
				defined[s.Name()] = s.Address()
			}
		}
		load(t, tgt, region, base, m)
	}
	data, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	g, err := gelf.NewLinkGraph(obj, data)
	if err != nil {
		t.Fatal(err)
	}
	link(g)
	read := func(name string, i int) int64 {
		return int64(binary.LittleEndian.Uint64(region[defined[name]-base+uint64(8*i):]))
	}

	link(tgt.InitThunkGraph("run_inits", []uint64{defined["init1"], defined["init2"]}, []uint64{defined["fini1"], defined["fini2"]}))
	if r := rawcall.Call2(uintptr(defined["run_inits"]), 3, 0x5000); r != 0 {
		t.Errorf("init thunk returned %d", r)
	}
	if got := []int64{read("log", 0), read("log", 1), read("log", 3)}; got[0] != 103 || got[1] != 0x5000 || got[2] != 203 {
		t.Errorf("initializers logged %v, want [103 0x5000 203]", got)
	}
	if uint64(read("atexit_dso", 0)) != defined["__dso_handle"] || read("atexit_arg", 0) != 0 {
		t.Errorf("__cxa_atexit(f, %#x, %#x), want (f, 0, &__dso_handle)", read("atexit_arg", 0), read("atexit_dso", 0))
	}
	rawcall.Call2(uintptr(read("atexit_fn", 0)), 0, 0)
	if got := []int64{read("log", 4), read("log", 5)}; got[0] != -2 || got[1] != -1 {
		t.Errorf("finalizers logged %v, want [-2 -1] (reverse order)", got)
	}

	link(tgt.LazyReentryGraph(jitlink.LazyReentry{Symbol: "reentry", TagSymbol: "tag",
		DispatchFn: defined["dispatch"], DispatchCtx: 0x1234, ReportFailure: 1}))
	sg, ptrs := tgt.LazyStubsGraph("stubs", defined["reentry"], []jitlink.LazyStub{{Name: "lazy_f", ID: 42}})
	link(sg)
	want := int64(1 + 2*2 + 3*3 + 4*4 + 5*5 + 6*6 + 7*7 + 8*8 + 50 + 250)
	if got := int64(rawcall.Call2(uintptr(defined["call_lazy"]), uintptr(defined["lazy_f"]), 0)); got != want {
		t.Errorf("lazy call returned %d, want %d", got, want)
	}
	if read("seen_id", 0) != 42 || uint64(read("seen_tag", 0)) != defined["tag"] {
		t.Errorf("dispatch saw id %d tag %#x, want 42 and %#x", read("seen_id", 0), read("seen_tag", 0), defined["tag"])
	}
	// The controller would now point the stub at the body.
	binary.LittleEndian.PutUint64(region[ptrs[0].Address()-base:], defined["body"])
	if got := int64(rawcall.Call2(uintptr(defined["call_lazy"]), uintptr(defined["lazy_f"]), 0)); got != want {
		t.Errorf("second lazy call returned %d, want %d", got, want)
	}
}
