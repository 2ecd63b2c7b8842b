//go:build linux && arm64

package elf_test

import (
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

// linkAndLoad links the objects in order (each may use the symbols of
// those before it) into fresh executable memory and returns the address of
// entry.
func linkAndLoad(t *testing.T, objs ...string) uintptr {
	t.Helper()
	region, err := unix.Mmap(-1, 0, 16<<20, unix.PROT_READ|unix.PROT_WRITE|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(region) })
	base := uint64(uintptr(unsafe.Pointer(&region[0])))
	m := &jitlinktest.Memory{Base: base}
	defined := map[string]uint64{}
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
	tgt := aarch64.NewTarget(triple.MustParse("aarch64-unknown-linux-gnu"))
	for _, s := range m.Segments {
		if s.Addr < base || s.Addr+uint64(len(s.Working)) > base+uint64(len(region)) {
			t.Fatalf("segment at %#x is outside the region", s.Addr)
		}
		copy(region[s.Addr-base:], s.Working)
		tgt.FlushInstructionCache(s.Addr, uint64(len(s.Working)))
	}
	entry, ok := defined["entry"]
	if !ok {
		t.Fatal("no entry symbol")
	}
	return uintptr(entry)
}
