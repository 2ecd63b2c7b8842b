package rtdyld

import (
	"fmt"

	"github.com/gorc-jit/gorc/internal/native"
)

// LocalMemoryManager keeps sections in ordinary memory of this process,
// never executable: for loading objects to inspect or verify them
// (llvm-rtdyld -verify's trivial manager). External symbols are the
// defined ones, then this process's.
type LocalMemoryManager struct {
	symbols map[string]uint64
	// Allocs logs the allocation requests, for -print-alloc-requests.
	Allocs []string
}

// NewLocalMemoryManager returns an empty LocalMemoryManager.
func NewLocalMemoryManager() *LocalMemoryManager {
	return &LocalMemoryManager{symbols: make(map[string]uint64)}
}

// DefineSymbol makes FindSymbol answer name with addr.
func (m *LocalMemoryManager) DefineSymbol(name string, addr uint64) { m.symbols[name] = addr }

func (m *LocalMemoryManager) allocate(size, align uint64) []byte {
	align = max(align, 1)
	buf := make([]byte, size+align-1)
	skip := alignUp(addrOf(buf), align) - addrOf(buf)
	return buf[skip : skip+size : skip+size]
}

// AllocateCodeSection implements MemoryManager.
func (m *LocalMemoryManager) AllocateCodeSection(size, align uint64, id SectionID, name string) ([]byte, error) {
	m.Allocs = append(m.Allocs, fmt.Sprintf("allocateCodeSection(Size = %d, Alignment = %d, SectionName = %s)", size, align, name))
	return m.allocate(size, align), nil
}

// AllocateDataSection implements MemoryManager.
func (m *LocalMemoryManager) AllocateDataSection(size, align uint64, id SectionID, name string, readOnly bool) ([]byte, error) {
	m.Allocs = append(m.Allocs, fmt.Sprintf("allocateDataSection(Size = %d, Alignment = %d, SectionName = %s, IsReadOnly = %v)", size, align, name, readOnly))
	return m.allocate(size, align), nil
}

// NotifyObjectLoaded implements MemoryManager: sections stay where they are.
func (m *LocalMemoryManager) NotifyObjectLoaded(*Dyld, *Object) error { return nil }

// RegisterEHFrames implements MemoryManager: the frames are never run.
func (m *LocalMemoryManager) RegisterEHFrames(uint64, []byte) error { return nil }

// DeregisterEHFrames implements MemoryManager.
func (m *LocalMemoryManager) DeregisterEHFrames() error { return nil }

// FindSymbol implements MemoryManager.
func (m *LocalMemoryManager) FindSymbol(name string) (uint64, bool) {
	if a, ok := m.symbols[name]; ok {
		return a, true
	}
	return native.LookupDefault(name)
}

// FinalizeMemory implements MemoryManager: the memory is never run.
func (m *LocalMemoryManager) FinalizeMemory() error { return nil }
