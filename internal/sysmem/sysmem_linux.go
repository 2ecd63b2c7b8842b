package sysmem

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// mapNoReplace makes mmap fail rather than replace a mapping at its address.
const mapNoReplace = unix.MAP_FIXED_NOREPLACE

// MemFile is anonymous memory that can be mapped several times, with
// different protections (a memfd).
type MemFile struct{ fd int }

// NewMemFile creates a memory file of size bytes; name shows in
// /proc/PID/maps.
func NewMemFile(name string, size uint64) (*MemFile, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("ftruncate memfd: %w", err)
	}
	return &MemFile{fd}, nil
}

// Discard gives the memory of [off, off+size) back to the system; it reads
// as zero afterwards.
func (f *MemFile) Discard(off, size uint64) error {
	return unix.Fallocate(f.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(off), int64(size))
}

// Path returns a path another process on this machine can open to map
// the file too.
func (f *MemFile) Path() string { return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), f.fd) }

// Close closes the file; its mappings stay.
func (f *MemFile) Close() error { return unix.Close(f.fd) }
