package memory_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/memory"
)

// TestFailedFinalizeOwnsRelease: when a finalize action fails, Finalize
// releases the memory itself and a later Abandon is refused rather than
// releasing it again; the released memory is reused once, never handed
// to two allocations. For every in-process manager.
func TestFailedFinalizeOwnsRelease(t *testing.T) {
	fail := func(jitlink.WrapperCall) error { return errors.New("action failed") }
	managers := map[string]func() (jitlink.MemoryManager, error){
		"InProcess": func() (jitlink.MemoryManager, error) {
			return memory.NewInProcess(memory.WithActionRunner(fail)), nil
		},
		"Slab": func() (jitlink.MemoryManager, error) {
			return memory.NewSlab(16<<20, memory.SlabActionRunner(fail))
		},
		"DualMapped": func() (jitlink.MemoryManager, error) {
			return memory.NewDualMapped(16<<20, memory.SlabActionRunner(fail))
		},
	}
	for name, newMM := range managers {
		t.Run(name, func(t *testing.T) {
			mm, err := newMM()
			if err != nil {
				t.Fatal(err)
			}
			a, err := mm.Allocate(&jitlink.AllocRequest{Segments: threeSegments})
			if err != nil {
				t.Fatal(err)
			}
			_, err = finalize(t, a, []jitlink.AllocAction{{Finalize: jitlink.WrapperCall{Fn: 1}}})
			if err == nil || !strings.Contains(err.Error(), "action failed") {
				t.Fatalf("Finalize = %v, want the action's error", err)
			}
			if err := a.Abandon(); err == nil || !strings.Contains(err.Error(), "already finalized") {
				t.Fatalf("Abandon after a failed Finalize = %v, want a refusal", err)
			}
			if _, err := finalize(t, a, nil); err == nil {
				t.Fatal("finalized twice")
			}
			// Two new allocations: the released range is handed out once.
			b, _ := mm.Allocate(&jitlink.AllocRequest{Segments: threeSegments})
			c, _ := mm.Allocate(&jitlink.AllocRequest{Segments: threeSegments})
			for i, sb := range b.Segments() {
				for j, sc := range c.Segments() {
					if sb.Addr < sc.Addr+threeSegments[j].Size() && sc.Addr < sb.Addr+threeSegments[i].Size() {
						t.Fatalf("two allocations share %#x", sb.Addr)
					}
				}
			}
			if err := b.Abandon(); err != nil {
				t.Fatal(err)
			}
			if err := b.Abandon(); err == nil {
				t.Fatal("abandoned twice")
			}
			c.Abandon()
		})
	}
}
