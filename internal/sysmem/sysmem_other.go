//go:build !unix

package sysmem

import (
	"os"

	"github.com/gorc-jit/gorc/jitlink"
)

// On systems without mmap (Windows among them) gorc can link, and link for
// an executor on another machine, but has no memory of its own to run code
// in: every call here fails.

const errWhat = "mapping memory for JIT'd code"

// Map fails: see above.
func Map(addr, size uint64, prot jitlink.MemProt, flags Flag) ([]byte, error) {
	return nil, errUnsupported(errWhat)
}

// Unmap fails: see above.
func Unmap(b []byte) error { return errUnsupported(errWhat) }

// Protect fails: see above.
func Protect(b []byte, p jitlink.MemProt) error { return errUnsupported(errWhat) }

// MapFile fails: see above.
func MapFile(f *os.File, size uint64) ([]byte, error) { return nil, errUnsupported(errWhat) }

// MemFile is anonymous memory that can be mapped several times; there is
// none here.
type MemFile struct{}

// NewMemFile fails: see above.
func NewMemFile(name string, size uint64) (*MemFile, error) {
	return nil, errUnsupported("a memory file (memfd)")
}

// Map is never reached: no MemFile exists.
func (f *MemFile) Map(to []byte, off, size uint64, prot jitlink.MemProt) ([]byte, error) {
	return nil, errUnsupported(errWhat)
}

// Discard is never reached: no MemFile exists.
func (f *MemFile) Discard(off, size uint64) error { return errUnsupported(errWhat) }

// Path is never reached: no MemFile exists.
func (f *MemFile) Path() string { return "" }

// Close is never reached: no MemFile exists.
func (f *MemFile) Close() error { return nil }
