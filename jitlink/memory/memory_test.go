package memory_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/memory"
)

var threeSegments = []jitlink.SegmentRequest{
	{Prot: jitlink.ProtRead | jitlink.ProtExec, Align: 16, ContentSize: 100},
	{Prot: jitlink.ProtRead, Align: 8, ContentSize: 5000},
	{Prot: jitlink.ProtRead | jitlink.ProtWrite, Align: 64, ContentSize: 10, ZeroFillSize: 9000},
}

// mapping is a line of /proc/self/maps.
type mapping struct {
	start, end uint64
	perms      string
}

func maps(t *testing.T) []mapping {
	t.Helper()
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Skip("no /proc/self/maps")
	}
	defer f.Close()
	var out []mapping
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		lo, hi, _ := strings.Cut(fields[0], "-")
		s, _ := strconv.ParseUint(lo, 16, 64)
		e, _ := strconv.ParseUint(hi, 16, 64)
		out = append(out, mapping{s, e, fields[1][:3]})
	}
	return out
}

func permsAt(t *testing.T, addr uint64) string {
	t.Helper()
	for _, m := range maps(t) {
		if addr >= m.start && addr < m.end {
			return m.perms
		}
	}
	return "unmapped"
}

func finalize(t *testing.T, a jitlink.InFlightAlloc, actions []jitlink.AllocAction) (jitlink.FinalizedAlloc, error) {
	t.Helper()
	var fa jitlink.FinalizedAlloc
	var ferr error
	called := false
	a.Finalize(actions, func(f jitlink.FinalizedAlloc, err error) { fa, ferr, called = f, err, true })
	if !called {
		t.Fatal("in-process finalization must complete before Finalize returns")
	}
	return fa, ferr
}

// Every segment's working memory is writable while linking and its target
// memory has exactly its final protection once finalized: never writable and
// executable at once. Dual-mapped memory has final protections from the
// start (dual), others switch at finalization.
func testProtections(t *testing.T, mm jitlink.MemoryManager, dual bool) {
	a, err := mm.Allocate(&jitlink.AllocRequest{Segments: threeSegments})
	if err != nil {
		t.Fatal(err)
	}
	segs := a.Segments()
	for i, s := range segs {
		if uint64(len(s.Working)) != threeSegments[i].Size() {
			t.Fatalf("segment %d: %d bytes of working memory", i, len(s.Working))
		}
		if s.Addr%threeSegments[i].Align != 0 {
			t.Fatalf("segment %d at %#x is not %d-aligned", i, s.Addr, threeSegments[i].Align)
		}
		if p := permsAt(t, addrOf(s.Working)); p != "rw-" {
			t.Fatalf("segment %d's working memory is %s, want rw-", i, p)
		}
		for j, c := range s.Working {
			if c != 0 {
				t.Fatalf("segment %d byte %d is %#x, want zeroed memory", i, j, c)
			}
		}
		s.Working[0] = 0xc3 // ret
	}
	fa, err := finalize(t, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"r-x", "r--", "rw-"} {
		if p := permsAt(t, segs[i].Addr); p != want {
			t.Errorf("segment %d is %s after finalize, want %s", i, p, want)
		}
	}
	if dual {
		for i, s := range segs {
			if addrOf(s.Working) == s.Addr && threeSegments[i].Prot != jitlink.ProtRead|jitlink.ProtWrite {
				t.Errorf("segment %d: working and target memory are one mapping", i)
			}
			if got := bytesAt(s.Addr, 1)[0]; got != 0xc3 {
				t.Errorf("segment %d: target memory reads %#x, want what was written through the working memory", i, got)
			}
		}
	}
	for _, m := range maps(t) {
		if m.perms == "rwx" {
			for _, s := range segs {
				if s.Addr >= m.start && s.Addr < m.end {
					t.Errorf("segment at %#x is in an rwx mapping", s.Addr)
				}
			}
		}
	}
	if err := mm.Deallocate([]jitlink.FinalizedAlloc{fa}); err != nil {
		t.Fatal(err)
	}
	if err := mm.Deallocate([]jitlink.FinalizedAlloc{fa}); err == nil {
		t.Error("deallocating twice must fail")
	}
}

func TestInProcessProtections(t *testing.T) {
	testProtections(t, memory.NewInProcess(), false)
	// Freed memory is gone.
	mm := memory.NewInProcess()
	a, _ := mm.Allocate(&jitlink.AllocRequest{Segments: threeSegments})
	addr := a.Segments()[0].Addr
	fa, _ := finalize(t, a, nil)
	mm.Deallocate([]jitlink.FinalizedAlloc{fa})
	if p := permsAt(t, addr); p != "unmapped" {
		t.Errorf("deallocated memory is still mapped %s", p)
	}
}

func TestSlabProtections(t *testing.T) {
	slab, err := memory.NewSlab(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer slab.Close()
	testProtections(t, slab, false)
}

func TestLow2GB(t *testing.T) {
	mm := memory.NewInProcess(memory.Low2GB())
	a, err := mm.Allocate(&jitlink.AllocRequest{Segments: threeSegments})
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		// Only linux/amd64 has MAP_32BIT: elsewhere the error says so.
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("Low2GB on %s/%s: %v, want an error wrapping ErrUnsupported", runtime.GOOS, runtime.GOARCH, err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range a.Segments() {
		if s.Addr+uint64(len(s.Working)) > 1<<31 {
			t.Fatalf("segment at %#x is above 2 GiB", s.Addr)
		}
	}
	a.Abandon()
	slab, err := memory.NewSlab(1<<24, memory.SlabLow2GB())
	if err != nil {
		t.Fatal(err)
	}
	defer slab.Close()
	if slab.Base()+slab.Size() > 1<<31 {
		t.Fatalf("slab at %#x is above 2 GiB", slab.Base())
	}
}

// Freed ranges are reused, inside the slab, and come back zeroed.
func TestSlabReuse(t *testing.T) {
	slab, err := memory.NewSlab(64 << 10)
	if err != nil {
		t.Fatal(err)
	}
	defer slab.Close()
	req := &jitlink.AllocRequest{Segments: []jitlink.SegmentRequest{{Prot: jitlink.ProtRead | jitlink.ProtWrite, Align: 8, ZeroFillSize: 3 * 4096}}}
	var allocs []jitlink.FinalizedAlloc
	for i := 0; i < 5; i++ {
		a, err := slab.Allocate(req)
		if err != nil {
			t.Fatal(err)
		}
		w := a.Segments()[0]
		if w.Addr < slab.Base() || w.Addr >= slab.Base()+slab.Size() {
			t.Fatalf("allocation at %#x outside the slab", w.Addr)
		}
		fa, _ := finalize(t, a, nil)
		allocs = append(allocs, fa)
	}
	// The slab (16 pages) is now full.
	if _, err := slab.Allocate(req); err == nil {
		t.Fatal("allocation from a full slab succeeded")
	}
	first := allocs[0].Addr
	// Dirty the memory, free it, and get it back.
	unsafeWrite(allocs[0].Addr, 3*4096)
	if err := slab.Deallocate(allocs[:1]); err != nil {
		t.Fatal(err)
	}
	a, err := slab.Allocate(req)
	if err != nil {
		t.Fatal(err)
	}
	w := a.Segments()[0]
	if w.Addr != first {
		t.Fatalf("freed range at %#x not reused (got %#x)", first, w.Addr)
	}
	for i, c := range w.Working {
		if c != 0 {
			t.Fatalf("reused working memory byte %d is %#x, want 0", i, c)
		}
	}
	a.Abandon()
	if err := slab.Deallocate(allocs[1:]); err != nil {
		t.Fatal(err)
	}
	// Everything coalesced back into one range: the whole slab fits again.
	big := &jitlink.AllocRequest{Segments: []jitlink.SegmentRequest{{Prot: jitlink.ProtRead, Align: 8, ContentSize: 64 << 10}}}
	if a, err := slab.Allocate(big); err != nil {
		t.Fatalf("free ranges did not coalesce: %v", err)
	} else {
		a.Abandon()
	}
}

// unsafeWrite dirties n bytes at addr (RW memory we own).
func unsafeWrite(addr uint64, n int) {
	b := bytesAt(addr, n)
	for i := range b {
		b[i] = 0xee
	}
}

// A slab at a fixed address that cannot be mapped there still hands out
// addresses from it (for -noexec links); working memory is elsewhere.
func TestSlabAddress(t *testing.T) {
	slab, err := memory.NewSlab(1<<20, memory.SlabAddress(0xfff00000), memory.SlabPageSize(4096))
	if err != nil {
		t.Fatal(err)
	}
	defer slab.Close()
	a, err := slab.Allocate(&jitlink.AllocRequest{Segments: threeSegments})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Segments()[0].Addr; got != 0xfff00000 {
		t.Fatalf("first segment at %#x, want 0xfff00000", got)
	}
	if got := a.Segments()[1].Addr; got != 0xfff01000 {
		t.Fatalf("second segment at %#x, want 0xfff01000", got)
	}
	a.Abandon()
	if _, err := memory.NewSlab(1<<20, memory.SlabAddress(0x1001)); err == nil {
		t.Fatal("unaligned slab address accepted")
	}
}

func TestAlignmentAbovePageSize(t *testing.T) {
	req := &jitlink.AllocRequest{Segments: []jitlink.SegmentRequest{{Prot: jitlink.ProtRead, Align: 1 << 16, ContentSize: 1}}}
	if _, err := memory.NewInProcess().Allocate(req); err == nil || !strings.Contains(err.Error(), "alignment") {
		t.Fatalf("want an alignment error, got %v", err)
	}
}

// Finalize actions run in order after protection; dealloc actions run in
// reverse at deallocation; a failing finalize action undoes the others and
// releases the memory.
func TestAllocActions(t *testing.T) {
	var mu sync.Mutex
	var log []string
	run := func(c jitlink.WrapperCall) error {
		mu.Lock()
		defer mu.Unlock()
		log = append(log, fmt.Sprintf("%d:%s", c.Fn, c.Args))
		if string(c.Args) == "fail" {
			return errors.New("action failed")
		}
		return nil
	}
	act := func(fn uint64, fin, dealloc string) jitlink.AllocAction {
		return jitlink.AllocAction{
			Finalize: jitlink.WrapperCall{Fn: fn, Args: []byte(fin)},
			Dealloc:  jitlink.WrapperCall{Fn: fn + 100, Args: []byte(dealloc)},
		}
	}
	mm := memory.NewInProcess(memory.WithActionRunner(run))
	a, _ := mm.Allocate(&jitlink.AllocRequest{Segments: threeSegments})
	fa, err := finalize(t, a, []jitlink.AllocAction{act(1, "a", "A"), act(2, "b", "B")})
	if err != nil {
		t.Fatal(err)
	}
	if err := mm.Deallocate([]jitlink.FinalizedAlloc{fa}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"1:a", "2:b", "102:B", "101:A"}; !slices.Equal(log, want) {
		t.Fatalf("actions ran %q, want %q", log, want)
	}
	log = nil
	a, _ = mm.Allocate(&jitlink.AllocRequest{Segments: threeSegments})
	addr := a.Segments()[0].Addr
	if _, err := finalize(t, a, []jitlink.AllocAction{act(1, "a", "A"), act(2, "fail", "B")}); err == nil {
		t.Fatal("failing finalize action did not fail finalization")
	}
	if want := []string{"1:a", "2:fail", "101:A"}; !slices.Equal(log, want) {
		t.Fatalf("actions ran %q, want %q", log, want)
	}
	if p := permsAt(t, addr); p != "unmapped" {
		t.Errorf("memory of a failed finalization is still mapped %s", p)
	}
	// Without a runner, actions are an error, not a silent no-op.
	a, _ = memory.NewInProcess().Allocate(&jitlink.AllocRequest{Segments: threeSegments})
	if _, err := finalize(t, a, []jitlink.AllocAction{act(1, "a", "A")}); err == nil {
		t.Fatal("actions without a runner must fail")
	}
}

func TestPerDylib(t *testing.T) {
	var slabs []*memory.Slab
	pd := memory.NewPerDylib(func() (jitlink.MemoryManager, error) {
		s, err := memory.NewSlab(1 << 20)
		slabs = append(slabs, s)
		return s, err
	})
	defer func() {
		for _, s := range slabs {
			s.Close()
		}
	}()
	addr := func(dylib string) uint64 {
		a, err := pd.Allocate(&jitlink.AllocRequest{Dylib: dylib, Segments: threeSegments})
		if err != nil {
			t.Fatal(err)
		}
		return a.Segments()[0].Addr
	}
	a1, b1, a2 := addr("A"), addr("B"), addr("A")
	if len(slabs) != 2 {
		t.Fatalf("%d slabs for two dylibs", len(slabs))
	}
	in := func(x uint64, s *memory.Slab) bool { return x >= s.Base() && x < s.Base()+s.Size() }
	if !in(a1, slabs[0]) || !in(a2, slabs[0]) || !in(b1, slabs[1]) {
		t.Fatal("allocations landed in the wrong dylib's slab")
	}
}

func TestSlabConcurrent(t *testing.T) {
	slab, err := memory.NewSlab(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer slab.Close()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				a, err := slab.Allocate(&jitlink.AllocRequest{Segments: threeSegments})
				if err != nil {
					t.Error(err)
					return
				}
				a.Segments()[2].Working[0] = 1
				var fa jitlink.FinalizedAlloc
				a.Finalize(nil, func(f jitlink.FinalizedAlloc, err error) {
					if err != nil {
						t.Error(err)
					}
					fa = f
				})
				if err := slab.Deallocate([]jitlink.FinalizedAlloc{fa}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
}

func addrOf(b []byte) uint64 {
	if len(b) == 0 {
		return 0
	}
	return uint64(uintptr(unsafe.Pointer(&b[0])))
}

func TestDualMappedProtections(t *testing.T) {
	d, err := memory.NewDualMapped(16 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	testProtections(t, d, true)
}

// Small segments of different graphs share pages; freed memory is reused and
// comes back zeroed; large frees are returned to the system.
func TestDualMappedPackingAndReuse(t *testing.T) {
	d, err := memory.NewDualMapped(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	small := &jitlink.AllocRequest{Segments: []jitlink.SegmentRequest{{Prot: jitlink.ProtRead | jitlink.ProtExec, Align: 16, ContentSize: 100}}}
	a1, _ := d.Allocate(small)
	a2, _ := d.Allocate(small)
	s1, s2 := a1.Segments()[0], a2.Segments()[0]
	if s1.Addr>>12 != s2.Addr>>12 {
		t.Errorf("two 100-byte code segments at %#x and %#x do not share a page", s1.Addr, s2.Addr)
	}
	if s2.Addr-s1.Addr < 100 {
		t.Fatalf("segments overlap: %#x %#x", s1.Addr, s2.Addr)
	}
	copy(s1.Working, []byte{0xde, 0xad})
	a1.Abandon()
	a3, _ := d.Allocate(small)
	s3 := a3.Segments()[0]
	if s3.Addr != s1.Addr || s3.Working[0] != 0 || s3.Working[1] != 0 {
		t.Fatalf("freed range not reused or not zeroed: %#x (was %#x), bytes % x", s3.Addr, s1.Addr, s3.Working[:2])
	}
	big := &jitlink.AllocRequest{Segments: []jitlink.SegmentRequest{{Prot: jitlink.ProtRead | jitlink.ProtWrite, Align: 8, ContentSize: 4 << 20}}}
	ab, err := d.Allocate(big)
	if err != nil {
		t.Fatal(err)
	}
	w := ab.Segments()[0].Working
	for i := range w {
		w[i] = 1
	}
	rss0 := testutil.RSS(t)
	ab.Abandon()
	if rss1 := testutil.RSS(t); rss0-rss1 < 3<<20 {
		t.Errorf("freeing 4 MiB returned %d KiB to the system", (rss0-rss1)>>10)
	}
	ab, _ = d.Allocate(big)
	for _, c := range ab.Segments()[0].Working[:4096] {
		if c != 0 {
			t.Fatal("reused large range is not zero")
		}
	}
	// Larger than the region: an error, not a crash.
	huge := &jitlink.AllocRequest{Segments: []jitlink.SegmentRequest{{Prot: jitlink.ProtRead, Align: 8, ContentSize: 1 << 30}}}
	if _, err := d.Allocate(huge); err == nil {
		t.Fatal("allocation larger than the region succeeded")
	}
	if _, err := d.Allocate(&jitlink.AllocRequest{Segments: []jitlink.SegmentRequest{{Prot: jitlink.ProtWrite | jitlink.ProtExec, ContentSize: 1}}}); err == nil {
		t.Fatal("writable and executable segment accepted")
	}
}

func TestDualMappedConcurrent(t *testing.T) {
	d, err := memory.NewDualMapped(64 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				a, err := d.Allocate(&jitlink.AllocRequest{Segments: threeSegments})
				if err != nil {
					t.Error(err)
					return
				}
				for _, s := range a.Segments() {
					for j := range s.Working {
						if s.Working[j] != 0 {
							t.Error("allocated memory not zeroed")
							return
						}
					}
					s.Working[0] = byte(g)
				}
				a.Finalize(nil, func(fa jitlink.FinalizedAlloc, err error) {
					if err != nil {
						t.Error(err)
					}
					d.Deallocate([]jitlink.FinalizedAlloc{fa})
				})
			}
		}()
	}
	wg.Wait()
}
