package jitlinktool

import (
	"os"
	"sync"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/object"
	"github.com/gorc-jit/gorc/orc"
)

// harness implements -harness: the harness objects' definitions replace
// those of the objects under test, and the symbols the harness refers to
// are promoted to global scope in the objects under test (so a harness can
// call and mock their static functions).
type harness struct {
	orc.PluginBase
	files map[string]bool // harness object paths
	defs  map[string]bool // names the harness defines
	refs  map[string]bool // names the harness refers to

	mu       sync.Mutex
	promoted map[string]map[string]bool // test object -> local names to promote
}

func newHarness(paths []string) (*harness, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	h := &harness{files: map[string]bool{}, defs: map[string]bool{}, refs: map[string]bool{}, promoted: map[string]map[string]bool{}}
	for _, p := range paths {
		h.files[p] = true
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		iface, err := object.ReadInterface(p, data)
		if err != nil {
			return nil, err
		}
		for _, s := range iface.Symbols {
			h.defs[s.Name] = true
		}
		for _, n := range iface.Undefined {
			h.refs[n] = true
		}
	}
	return h, nil
}

func (h *harness) isHarness(path string) bool { return h.files[path] }

// testInterface adjusts the interface of an object under test: the
// harness's definitions win, and locals the harness refers to are exported.
func (h *harness) testInterface(path string, iface *jitlink.Interface, flags orc.SymbolFlagsMap) orc.SymbolFlagsMap {
	for n := range flags {
		if h.defs[n.String()] {
			delete(flags, n)
		}
	}
	promote := map[string]bool{}
	for _, l := range iface.Locals {
		if h.refs[l] && !h.defs[l] {
			flags[orc.Intern(l)] = orc.Exported
			promote[l] = true
		}
	}
	h.mu.Lock()
	h.promoted[path] = promote
	h.mu.Unlock()
	return flags
}

// ModifyPassConfig promotes the locals of an object under test before
// dead-stripping, so they are kept and resolved.
func (h *harness) ModifyPassConfig(mr *orc.MaterializationResponsibility, g *jitlink.LinkGraph, cfg *jitlink.PassConfig) error {
	h.mu.Lock()
	promote := h.promoted[g.Name()]
	h.mu.Unlock()
	if len(promote) == 0 {
		return nil
	}
	cfg.PrePrune = append(cfg.PrePrune, func(g *jitlink.LinkGraph) error {
		for s := range g.DefinedSymbols() {
			if s.Scope() == jitlink.ScopeLocal && promote[s.Name()] {
				s.SetScope(jitlink.ScopeDefault)
			}
		}
		return nil
	})
	return nil
}
