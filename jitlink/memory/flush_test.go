package memory_test

import (
	"slices"
	"testing"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/memory"
)

// Every in-process manager flushes the instruction cache over exactly the
// code segments when it finalizes them, and a virtual slab (whose target
// addresses are not this process's memory) flushes nothing.
func TestICacheFlush(t *testing.T) {
	type flushed struct{ addr, size uint64 }
	var got []flushed
	var taken uint64 // an address the slab has mapped
	flush := func(addr, size uint64) { got = append(got, flushed{addr, size}) }
	dual, err := memory.NewDualMapped(16<<20, memory.SlabICacheFlush(flush))
	if err != nil {
		t.Fatal(err)
	}
	defer dual.Close()
	slab, err := memory.NewSlab(16<<20, memory.SlabICacheFlush(flush))
	if err != nil {
		t.Fatal(err)
	}
	defer slab.Close()
	for name, mm := range map[string]jitlink.MemoryManager{
		"in-process": memory.NewInProcess(memory.WithICacheFlush(flush)),
		"slab":       slab,
		"dual":       dual,
	} {
		got = nil
		a, err := mm.Allocate(&jitlink.AllocRequest{Segments: threeSegments})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		code := a.Segments()[0].Addr
		if name == "slab" {
			taken = code &^ 0xfff
		}
		if _, err := finalize(t, a, nil); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := []flushed{{code, threeSegments[0].Size()}}; !slices.Equal(got, want) {
			t.Errorf("%s: flushed %v, want %v", name, got, want)
		}
	}

	// A slab at an address already mapped is virtual.
	virtual, err := memory.NewSlab(1<<20, memory.SlabAddress(taken), memory.SlabICacheFlush(flush))
	if err != nil {
		t.Fatal(err)
	}
	defer virtual.Close()
	if !virtual.Virtual() {
		t.Fatalf("a slab at %#x, which is mapped, is not virtual", taken)
	}
	got = nil
	a, err := virtual.Allocate(&jitlink.AllocRequest{Segments: threeSegments})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := finalize(t, a, nil); err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("a virtual slab flushed %v", got)
	}
}
