package rtdyld

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/inprocess"
	"github.com/gorc-jit/gorc/orc/shared/sps"
)

// MemoryManager gives the loader memory for sections and finalizes it: the
// interface of the MCJIT design (RTDyldMemoryManager).
type MemoryManager interface {
	// AllocateCodeSection returns at least size bytes, aligned to align,
	// that the loader fills with section id's code. The section's load
	// address starts as the buffer's address.
	AllocateCodeSection(size, align uint64, id SectionID, name string) ([]byte, error)
	// AllocateDataSection does the same for data, read-only or writable.
	AllocateDataSection(size, align uint64, id SectionID, name string, readOnly bool) ([]byte, error)
	// NotifyObjectLoaded is called once an object's sections are loaded,
	// before any relocation is applied: a manager that places sections in
	// another process reserves memory there and maps each section to it
	// (d.MapSectionAddress).
	NotifyObjectLoaded(d *Dyld, o *Object) error
	// RegisterEHFrames registers an .eh_frame section at target address
	// addr (local is its bytes here) with the target's unwinder.
	RegisterEHFrames(addr uint64, local []byte) error
	// DeregisterEHFrames deregisters every registered .eh_frame.
	DeregisterEHFrames() error
	// FindSymbol returns the target address of an external symbol.
	FindSymbol(name string) (uint64, bool)
	// FinalizeMemory makes the target memory hold the sections' bytes with
	// their final permissions (code executable, read-only data read-only)
	// and instruction caches flushed.
	FinalizeMemory() error
}

// ExecutorMemoryManager places sections in an executor process through its
// ExecutorProcessControl: in this process (orc/inprocess, whose memory is
// mmapped slabs) or in another one (orc/remote, gorc-executor or LLVM's
// executor), as lli -remote-mcjit does. Sections are filled and relocated
// in local buffers; when an object is loaded, the manager allocates one
// executor allocation for it (code, read-only and writable segments) and
// maps each section into it; FinalizeMemory copies the bytes over and
// finalizes them, registering eh-frames as the allocation's actions.
//
// It serves one Dyld: the sections allocated since the last
// NotifyObjectLoaded are taken to be that object's.
type ExecutorMemoryManager struct {
	epc orc.ExecutorProcessControl

	mu        sync.Mutex
	pending   []*localSection // allocated, not yet in an executor allocation
	inflight  []*objectAlloc  // mapped, not yet finalized
	finalized []jitlink.FinalizedAlloc
	// registered deregisters the eh-frames of finalized allocations.
	registered []jitlink.WrapperCall
	process    *orc.DylibHandle
	extra      map[string]uint64
}

// localSection is a section allocated by the loader.
type localSection struct {
	id    SectionID
	local []byte
	align uint64
	class int // segment: code, read-only, read-write
	seg   int
	off   uint64
}

const (
	segCode = iota
	segRO
	segRW
	numSegs
)

var segProt = [numSegs]jitlink.MemProt{
	segCode: jitlink.ProtRead | jitlink.ProtExec,
	segRO:   jitlink.ProtRead,
	segRW:   jitlink.ProtRead | jitlink.ProtWrite,
}

// objectAlloc is one object's executor allocation.
type objectAlloc struct {
	name     string
	alloc    jitlink.InFlightAlloc
	sections []*localSection
	segs     []jitlink.SegmentAlloc
	segIndex [numSegs]int // request index of each class, -1 if absent
	actions  []jitlink.AllocAction
	// deregister undoes the eh-frame registrations among actions.
	deregister []jitlink.WrapperCall
}

// NewExecutorMemoryManager returns a manager placing sections in epc's
// process.
func NewExecutorMemoryManager(epc orc.ExecutorProcessControl) *ExecutorMemoryManager {
	return &ExecutorMemoryManager{epc: epc}
}

// DefineSymbol makes FindSymbol answer name with addr before asking the
// executor (llvm-rtdyld's -dummy-extern).
func (m *ExecutorMemoryManager) DefineSymbol(name string, addr uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.extra == nil {
		m.extra = make(map[string]uint64)
	}
	m.extra[name] = addr
}

func (m *ExecutorMemoryManager) allocate(size, align uint64, id SectionID, class int) []byte {
	align = max(align, 1)
	buf := make([]byte, size+align-1)
	skip := alignUp(addrOf(buf), align) - addrOf(buf)
	local := buf[skip : skip+size : skip+size]
	m.mu.Lock()
	m.pending = append(m.pending, &localSection{id: id, local: local, align: align, class: class})
	m.mu.Unlock()
	return local
}

// AllocateCodeSection implements MemoryManager.
func (m *ExecutorMemoryManager) AllocateCodeSection(size, align uint64, id SectionID, name string) ([]byte, error) {
	return m.allocate(size, align, id, segCode), nil
}

// AllocateDataSection implements MemoryManager.
func (m *ExecutorMemoryManager) AllocateDataSection(size, align uint64, id SectionID, name string, readOnly bool) ([]byte, error) {
	class := segRW
	if readOnly {
		class = segRO
	}
	return m.allocate(size, align, id, class), nil
}

// NotifyObjectLoaded allocates executor memory for the object's sections
// and maps them there.
func (m *ExecutorMemoryManager) NotifyObjectLoaded(d *Dyld, o *Object) error {
	m.mu.Lock()
	secs := m.pending
	m.pending = nil
	m.mu.Unlock()
	if len(secs) == 0 {
		return nil
	}
	oa := &objectAlloc{name: o.Name, sections: secs}
	var sizes [numSegs]uint64
	var aligns [numSegs]uint64
	for _, s := range secs {
		s.off = alignUp(sizes[s.class], s.align)
		sizes[s.class] = s.off + uint64(len(s.local))
		aligns[s.class] = max(aligns[s.class], s.align)
	}
	req := &jitlink.AllocRequest{Graph: o.g}
	for c := range numSegs {
		oa.segIndex[c] = -1
		if sizes[c] == 0 {
			continue
		}
		oa.segIndex[c] = len(req.Segments)
		req.Segments = append(req.Segments, jitlink.SegmentRequest{Prot: segProt[c], Align: aligns[c], ContentSize: sizes[c]})
	}
	alloc, err := m.epc.MemoryManager().Allocate(req)
	if err != nil {
		return fmt.Errorf("allocating executor memory: %w", err)
	}
	oa.alloc, oa.segs = alloc, alloc.Segments()
	for _, s := range secs {
		s.seg = oa.segIndex[s.class]
		if err := d.MapSectionAddress(s.id, oa.segs[s.seg].Addr+s.off); err != nil {
			return err
		}
	}
	m.mu.Lock()
	m.inflight = append(m.inflight, oa)
	m.mu.Unlock()
	return nil
}

// RegisterEHFrames registers the frames when the allocation holding them
// is finalized, and deregisters them when it is released.
func (m *ExecutorMemoryManager) RegisterEHFrames(addr uint64, local []byte) error {
	rt, ok := m.epc.(orc.RuntimeSymbols)
	if !ok {
		return errors.New("the executor offers no eh-frame registration")
	}
	reg, _, err := orc.RuntimeFunction(rt, "gorc_register_eh_frame_wrapper")
	if err != nil {
		return err
	}
	dereg, _, err := orc.RuntimeFunction(rt, "gorc_deregister_eh_frame_wrapper")
	if err != nil {
		return err
	}
	if reg == 0 {
		return errors.New("the executor offers no eh-frame registration")
	}
	le := binary.LittleEndian
	args := le.AppendUint64(le.AppendUint64(nil, addr), addr+uint64(len(local)))
	act := jitlink.AllocAction{Finalize: jitlink.WrapperCall{Fn: reg, Args: args}}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, oa := range m.inflight {
		for _, s := range oa.segs {
			if addr >= s.Addr && addr < s.Addr+uint64(len(s.Working)) {
				oa.actions = append(oa.actions, act)
				oa.deregister = append(oa.deregister, jitlink.WrapperCall{Fn: dereg, Args: args})
				return nil
			}
		}
	}
	return fmt.Errorf("eh-frame section at %#x is in no allocation being finalized", addr)
}

// DeregisterEHFrames deregisters the frames registered so far.
func (m *ExecutorMemoryManager) DeregisterEHFrames() error {
	m.mu.Lock()
	calls := m.registered
	m.registered = nil
	m.mu.Unlock()
	var errs []error
	for _, c := range calls {
		if c.Fn == 0 {
			continue
		}
		out, err := m.epc.CallWrapper(c.Fn, c.Args)
		if err == nil {
			err = sps.ActionResult(c.Fn, out)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// FindSymbol looks name up among the defined symbols, then in the executor
// process.
func (m *ExecutorMemoryManager) FindSymbol(name string) (uint64, bool) {
	m.mu.Lock()
	if a, ok := m.extra[name]; ok {
		m.mu.Unlock()
		return a, true
	}
	if m.process == nil {
		h, err := m.epc.LoadDylib("")
		if err != nil {
			m.mu.Unlock()
			return 0, false
		}
		m.process = &h
	}
	h := *m.process
	m.mu.Unlock()
	addrs, err := m.epc.LookupSymbols(h, []orc.SymbolRequest{{Name: name}})
	if err != nil || len(addrs) != 1 || addrs[0] == 0 {
		return 0, false
	}
	return addrs[0], true
}

// FinalizeMemory copies each mapped section to the executor and finalizes
// the allocations.
func (m *ExecutorMemoryManager) FinalizeMemory() error {
	m.mu.Lock()
	work := m.inflight
	m.inflight = nil
	m.mu.Unlock()
	var errs []error
	for _, oa := range work {
		for _, s := range oa.sections {
			copy(oa.segs[s.seg].Working[s.off:], s.local)
		}
		done := make(chan error, 1)
		oa.alloc.Finalize(oa.actions, func(f jitlink.FinalizedAlloc, err error) {
			if err == nil {
				m.mu.Lock()
				m.finalized = append(m.finalized, f)
				m.registered = append(m.registered, oa.deregister...)
				m.mu.Unlock()
			}
			done <- err
		})
		if err := <-done; err != nil {
			errs = append(errs, fmt.Errorf("%s: finalizing memory: %w", oa.name, err))
		}
	}
	return errors.Join(errs...)
}

// Close deregisters the eh-frames and releases all memory.
func (m *ExecutorMemoryManager) Close() error {
	errs := []error{m.DeregisterEHFrames()}
	m.mu.Lock()
	work, fin := m.inflight, m.finalized
	m.inflight, m.finalized = nil, nil
	m.mu.Unlock()
	for _, oa := range work {
		errs = append(errs, oa.alloc.Abandon())
	}
	if len(fin) > 0 {
		errs = append(errs, m.epc.MemoryManager().Deallocate(fin))
	}
	return errors.Join(errs...)
}

// NewSectionMemoryManager returns the default manager: sections in this
// process, in memory mapped by orc/inprocess's slab (pure Go, x/sys),
// eh-frames registered with this process's unwinder and external symbols
// looked up among the process's symbols.
func NewSectionMemoryManager() *ExecutorMemoryManager {
	return NewExecutorMemoryManager(inprocess.New())
}
