//go:build unix && !linux

package sysmem

// mapNoReplace is zero where mmap has no MAP_FIXED_NOREPLACE: Map passes
// the address as a hint and checks where the mapping went.
const mapNoReplace = 0

// MemFile is anonymous memory that can be mapped several times. Only Linux
// has one here (memfd_create).
type MemFile struct{ fd int }

// NewMemFile fails: this system has no memfd.
func NewMemFile(name string, size uint64) (*MemFile, error) {
	return nil, errUnsupported("a memory file (memfd)")
}

// Discard is never reached: no MemFile exists.
func (f *MemFile) Discard(off, size uint64) error { return errUnsupported("a memory file (memfd)") }

// Path is never reached: no MemFile exists.
func (f *MemFile) Path() string { return "" }

// Close is never reached: no MemFile exists.
func (f *MemFile) Close() error { return nil }
