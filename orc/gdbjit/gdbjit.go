// Package gdbjit lets debuggers see JIT'd code: a plugin for the object
// linking layer that registers each linked object with the GDB JIT
// interface, as LLVM's debug-object plugin does. The object registered is
// a copy of the input whose section headers carry the addresses the
// sections were linked at; GDB and LLDB read its symbols and DWARF from
// the executor's memory, so breakpoints, backtraces and variables work in
// JIT'd code compiled with -g.
//
// The copy lives in executor memory from the moment the object is linked
// to the end of the process (the interface has no removal the registrar
// of LLVM 14 supports), so enable the plugin for debugging sessions.
package gdbjit

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/orc"
)

// RegisterFunction is the executor's registration wrapper function (LLVM's
// name; gorc's executors and LLVM's define it).
const RegisterFunction = "llvm_orc_registerJITLoaderGDBWrapper"

// Plugin registers linked objects with debuggers.
type Plugin struct {
	orc.PluginBase
	mm       jitlink.MemoryManager
	register uint64

	mu      sync.Mutex
	pending map[*orc.MaterializationResponsibility]*object
}

// object is a link in progress: the input and where its sections went.
type object struct {
	data   []byte
	orig   map[*jitlink.Block]uint64 // a block's address as the file gives it
	starts map[string]uint64         // a section's address as the file gives it
	bases  map[string]uint64         // a section's linked address
}

// New returns a plugin that copies objects into memory from mm and
// registers them by calling register (the executor address of
// RegisterFunction).
func New(mm jitlink.MemoryManager, register uint64) *Plugin {
	return &Plugin{mm: mm, register: register, pending: make(map[*orc.MaterializationResponsibility]*object)}
}

// NotifyObject keeps the object being linked.
func (p *Plugin) NotifyObject(mr *orc.MaterializationResponsibility, g *jitlink.LinkGraph, obj []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending[mr] = &object{data: obj, orig: make(map[*jitlink.Block]uint64),
		starts: make(map[string]uint64), bases: make(map[string]uint64)}
}

// ModifyPassConfig learns where the object's sections are linked: blocks'
// addresses before layout place them in the file's sections (the ELF
// reader gives each section a distinct range), so a block's linked address
// less its offset in its section is the section's linked address.
func (p *Plugin) ModifyPassConfig(mr *orc.MaterializationResponsibility, g *jitlink.LinkGraph, cfg *jitlink.PassConfig) error {
	p.mu.Lock()
	o := p.pending[mr]
	p.mu.Unlock()
	if o == nil {
		return nil
	}
	cfg.PrePrune = append(cfg.PrePrune, func(g *jitlink.LinkGraph) error {
		for _, sec := range g.Sections() {
			for i, b := range sec.Blocks() {
				o.orig[b] = b.Address()
				if start, ok := o.starts[sec.Name()]; i == 0 || !ok || b.Address() < start {
					o.starts[sec.Name()] = b.Address()
				}
			}
		}
		return nil
	})
	cfg.PostAllocation = append(cfg.PostAllocation, func(g *jitlink.LinkGraph) error {
		for _, sec := range g.Sections() {
			// The block earliest in the file's section tells where the
			// section starts.
			var first *jitlink.Block
			for _, b := range sec.Blocks() {
				if a, ok := o.orig[b]; ok && (first == nil || a < o.orig[first]) {
					first = b
				}
			}
			if first != nil {
				o.bases[sec.Name()] = first.Address() - (o.orig[first] - o.starts[sec.Name()])
			}
		}
		return nil
	})
	return nil
}

// NotifyEmitted registers the linked object.
func (p *Plugin) NotifyEmitted(mr *orc.MaterializationResponsibility) error {
	p.mu.Lock()
	o := p.pending[mr]
	delete(p.pending, mr)
	p.mu.Unlock()
	if o == nil {
		return nil
	}
	dbg, err := o.debugObject()
	if err != nil {
		return fmt.Errorf("debug object: %w", err)
	}
	return p.registerObject(dbg)
}

// NotifyFailed forgets a failed link.
func (p *Plugin) NotifyFailed(mr *orc.MaterializationResponsibility) error {
	p.mu.Lock()
	delete(p.pending, mr)
	p.mu.Unlock()
	return nil
}

// debugObject copies the object with the linked addresses in the headers
// of its loaded sections.
func (o *object) debugObject() ([]byte, error) {
	f, err := elf.NewFile(bytes.NewReader(o.data))
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	shoff := le.Uint64(o.data[40:])
	shentsize := uint64(le.Uint16(o.data[58:]))
	dbg := bytes.Clone(o.data)
	for i, s := range f.Sections {
		base, ok := o.bases[s.Name]
		if !ok || s.Flags&elf.SHF_ALLOC == 0 {
			continue
		}
		le.PutUint64(dbg[shoff+uint64(i)*shentsize+16:], base)
	}
	return dbg, nil
}

// registerObject copies dbg into executor memory and registers it there
// once the memory is finalized.
func (p *Plugin) registerObject(dbg []byte) error {
	a, err := p.mm.Allocate(&jitlink.AllocRequest{Segments: []jitlink.SegmentRequest{
		{Prot: jitlink.ProtRead, Lifetime: jitlink.LifetimeStandard, Align: 16, ContentSize: uint64(len(dbg))},
	}})
	if err != nil {
		return err
	}
	seg := a.Segments()[0]
	copy(seg.Working, dbg)
	le := binary.LittleEndian
	args := le.AppendUint64(le.AppendUint64(nil, seg.Addr), seg.Addr+uint64(len(dbg)))
	errc := make(chan error, 1)
	a.Finalize([]jitlink.AllocAction{{Finalize: jitlink.WrapperCall{Fn: p.register, Args: args}}},
		func(_ jitlink.FinalizedAlloc, err error) { errc <- err })
	return <-errc
}
