//go:build unix

package sysmem

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/gorc-jit/gorc/jitlink"
)

// Prot converts protections to mmap's and mprotect's PROT_ bits.
func Prot(p jitlink.MemProt) int {
	prot := unix.PROT_NONE
	if p&jitlink.ProtRead != 0 {
		prot |= unix.PROT_READ
	}
	if p&jitlink.ProtWrite != 0 {
		prot |= unix.PROT_WRITE
	}
	if p&jitlink.ProtExec != 0 {
		prot |= unix.PROT_EXEC
	}
	return prot
}

// Map maps size bytes of fresh zeroed private memory with protections prot
// (none: address space only), at addr if flags has Exact and anywhere
// otherwise.
func Map(addr, size uint64, prot jitlink.MemProt, flags Flag) ([]byte, error) {
	mflags := unix.MAP_PRIVATE | unix.MAP_ANON
	if flags&Reserve != 0 {
		mflags |= unix.MAP_NORESERVE
	}
	if flags&Low2GB != 0 {
		if mapLow == 0 {
			return nil, errUnsupported("placing memory below 2 GiB")
		}
		mflags |= mapLow
	}
	if flags&Exact != 0 {
		// Where there is no MAP_FIXED_NOREPLACE, addr is a hint: the
		// check below tells whether the kernel took it.
		mflags |= mapNoReplace
	} else {
		addr = 0
	}
	b, err := mmap(-1, 0, addr, size, Prot(prot), mflags)
	if err != nil {
		return nil, err
	}
	switch {
	case flags&Exact != 0 && Addr(b) != addr:
		Unmap(b)
		return nil, fmt.Errorf("mapping at %#x: the kernel placed it at %#x", addr, Addr(b))
	case flags&Low2GB != 0 && Addr(b)+size > 1<<31:
		Unmap(b)
		return nil, fmt.Errorf("no %d bytes of address space below 2 GiB", size)
	}
	return b, nil
}

// mmap works on raw ranges: unix.Mmap/Munmap track whole mappings and
// refuse to unmap part of one.
func mmap(fd int, off int64, addr, size uint64, prot, flags int) ([]byte, error) {
	p, err := unix.MmapPtr(fd, off, pointerAt(addr), uintptr(size), prot, flags)
	if err != nil {
		return nil, err
	}
	return unsafe.Slice((*byte)(p), size), nil
}

// Unmap unmaps a range of one or more mappings (or part of one).
func Unmap(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	return unix.MunmapPtr(unsafe.Pointer(unsafe.SliceData(b)), uintptr(len(b)))
}

// Protect sets the protections of the pages of b (which starts on a page).
func Protect(b []byte, p jitlink.MemProt) error { return unix.Mprotect(b, Prot(p)) }

// MapFile maps size bytes of an open file shared and read-write.
func MapFile(f *os.File, size uint64) ([]byte, error) {
	return mmap(int(f.Fd()), 0, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
}

// Map maps size bytes of the memory file from offset off with protections
// prot and returns them; over the range at to, if to is not nil (replacing
// what is mapped there: a reservation of the caller's), anywhere otherwise.
func (f *MemFile) Map(to []byte, off, size uint64, prot jitlink.MemProt) ([]byte, error) {
	flags := unix.MAP_SHARED
	var addr uint64
	if to != nil {
		if uint64(len(to)) < size {
			return nil, errors.New("memory file mapping larger than its place")
		}
		addr, flags = Addr(to), flags|unix.MAP_FIXED
	}
	return mmap(f.fd, int64(off), addr, size, Prot(prot), flags)
}
