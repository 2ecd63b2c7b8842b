// Package dualmap is JIT'd memory mapped twice from one memory file: the
// in-process DualMapped memory manager (jitlink/memory) and the executor's
// slab memory (orcrt) allocate from it.
package dualmap

import (
	"errors"
	"fmt"
	"os"

	"github.com/gorc-jit/gorc/internal/sysmem"
	"github.com/gorc-jit/gorc/jitlink"
)

// Mapping is a memory file (a memfd) mapped twice: each protection (code,
// read-only data, writable data) has a region of one reserved target range,
// mapped once with that protection, and code and read-only data also have a
// read-write working view of the same pages. No mapping is writable and
// executable, and the number of mappings stays the same however many
// graphs it holds.
type Mapping struct {
	file    *sysmem.MemFile
	reserve []byte // the whole target range
	// Regions in target order: code, read-only data, writable data.
	Regions [3]*Region
}

// Region is the part of a Mapping holding one protection.
type Region struct {
	Prot    jitlink.MemProt
	Target  []byte // mapped with Prot
	Work    []byte // mapped read-write (the same pages; == Target for RW)
	FileOff uint64 // where the region starts in the memory file
}

// Granule is the allocation granularity within a region: segments of
// different graphs share pages.
const Granule = 64

// Region order in the target range.
const (
	regionCode = iota
	regionRO
	regionRW
)

// punchThreshold: ranges at least this large are zeroed by giving their
// pages back to the system rather than by writing zeros.
const punchThreshold = 1 << 20

// New reserves size bytes (at most 2 GiB, so that every region is within
// 32-bit reach of the others) split between code, read-only data (a
// quarter each) and writable data (half), next to the process's shared
// libraries where there is room (sysmem.ReserveNearLibraries), or below
// 2 GiB with low.
func New(size uint64, low bool) (*Mapping, error) {
	page := uint64(os.Getpagesize())
	if size < 16*page || size > 1<<31 {
		return nil, fmt.Errorf("dual-mapped region size %d out of range", size)
	}
	size = (size + 4*page - 1) &^ (4*page - 1)
	file, err := sysmem.NewMemFile("gorc-jit", size)
	if err != nil {
		return nil, err
	}
	m := &Mapping{file: file}
	fail := func(err error) (*Mapping, error) {
		m.Close()
		return nil, err
	}
	if low {
		m.reserve, err = sysmem.Map(0, size, 0, sysmem.Reserve|sysmem.Low2GB)
	} else {
		// Code comes first: it is what reads library data.
		m.reserve, err = sysmem.ReserveNearLibraries(size, size/4)
	}
	if err != nil {
		return fail(fmt.Errorf("reserving %d bytes: %w", size, err))
	}
	bounds := [4]uint64{0, size / 4, size / 2, size}
	prots := [3]jitlink.MemProt{jitlink.ProtRead | jitlink.ProtExec, jitlink.ProtRead, jitlink.ProtRead | jitlink.ProtWrite}
	for i := range m.Regions {
		off, n := bounds[i], bounds[i+1]-bounds[i]
		r := &Region{Prot: prots[i], FileOff: off}
		target, err := m.file.Map(m.reserve[off:off+n], off, n, prots[i])
		if err != nil {
			return fail(fmt.Errorf("mapping %s view: %w", prots[i], err))
		}
		r.Target, r.Work = target, target
		if prots[i] != jitlink.ProtRead|jitlink.ProtWrite {
			if r.Work, err = m.file.Map(nil, off, n, jitlink.ProtRead|jitlink.ProtWrite); err != nil {
				return fail(fmt.Errorf("mapping working view: %w", err))
			}
		}
		m.Regions[i] = r
	}
	return m, nil
}

// Path returns a path another process on this machine can open to map the
// pages too.
func (m *Mapping) Path() string { return m.file.Path() }

// Base returns the target address of the start of the reserved range.
func (m *Mapping) Base() uint64 { return sysmem.Addr(m.reserve) }

// Size returns the size of the reserved range.
func (m *Mapping) Size() uint64 { return uint64(len(m.reserve)) }

// Close unmaps everything and closes the memory file. Code in it must no
// longer run.
func (m *Mapping) Close() error {
	var errs []error
	for _, r := range m.Regions {
		if r != nil && r.Prot != jitlink.ProtRead|jitlink.ProtWrite {
			errs = append(errs, sysmem.Unmap(r.Work))
		}
	}
	if m.reserve != nil {
		errs = append(errs, sysmem.Unmap(m.reserve))
	}
	errs = append(errs, m.file.Close())
	return errors.Join(errs...)
}

// RegionFor returns the index of the region holding protection p.
func RegionFor(p jitlink.MemProt) (int, error) {
	switch p {
	case jitlink.ProtRead | jitlink.ProtExec:
		return regionCode, nil
	case jitlink.ProtRead:
		return regionRO, nil
	case jitlink.ProtRead | jitlink.ProtWrite:
		return regionRW, nil
	}
	return 0, fmt.Errorf("no region for memory protection %s", p)
}

// Zero makes [off, off+size) of region r read as zero, so that free memory
// is always zero and allocating never writes: the whole pages of a large
// range are punched out of the memory file (returning their memory), the
// rest is cleared through the working view.
func (m *Mapping) Zero(r *Region, off, size uint64) {
	if size >= punchThreshold {
		page := uint64(os.Getpagesize())
		start, end := (off+page-1)&^(page-1), (off+size)&^(page-1)
		if m.file.Discard(r.FileOff+start, end-start) == nil {
			clear(r.Work[off:start])
			clear(r.Work[end : off+size])
			return
		}
	}
	clear(r.Work[off : off+size])
}
