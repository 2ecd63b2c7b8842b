package orcrt

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/gorc-jit/gorc/jitlink/memory"
	"github.com/gorc-jit/gorc/orc/shared/protocol"
	"github.com/gorc-jit/gorc/orc/shared/sps"
)

// SharedMemoryMapper gives a controller on the same machine memory it maps
// too (gorc's addition to the protocol): each reservation is a memfd mapped
// here, without access until initialized, and opened by the controller
// through /proc/PID/fd/N. The controller writes segments in place;
// initializing applies protections and runs actions, so no content crosses
// the connection.
type SharedMemoryMapper struct {
	s        *Session
	instance uint64

	mu           sync.Mutex
	reservations map[uint64]*sharedReservation // by base
}

type sharedReservation struct {
	fd     int
	mem    []byte
	allocs map[uint64]*sharedAlloc // initialized allocations, by base
}

type sharedAlloc struct {
	start, end uint64 // page range, relative to the reservation
	deallocs   []protocol.WrapperCall
}

// NewSharedMemoryMapper creates the mapper and publishes its wrapper
// functions in s.
func NewSharedMemoryMapper(s *Session) (*SharedMemoryMapper, error) {
	m := &SharedMemoryMapper{s: s, reservations: make(map[uint64]*sharedReservation)}
	inst, err := s.NewAddress(protocol.SharedMemoryInstance)
	if err != nil {
		return nil, err
	}
	m.instance = inst
	check := func(a sps.Addr) error {
		if uint64(a) != m.instance {
			return fmt.Errorf("shared memory mapper: unknown instance %#x", uint64(a))
		}
		return nil
	}
	for name, f := range map[string]WrapperFunction{
		protocol.SharedMemoryReserve: SyncWrapper(sps.Handler(func(a protocol.SharedReserveArgs) sps.Expected[protocol.SharedReservation] {
			if err := check(a.Instance); err != nil {
				return sps.Fail[protocol.SharedReservation](err)
			}
			r, err := m.Reserve(a.Size)
			if err != nil {
				return sps.Fail[protocol.SharedReservation](err)
			}
			return sps.Ok(r)
		})),
		protocol.SharedMemoryInitialize: SyncWrapper(sps.Handler(func(a protocol.SharedInitializeArgs) error {
			if err := check(a.Instance); err != nil {
				return err
			}
			return m.Initialize(a.Request)
		})),
		protocol.SharedMemoryRelease: SyncWrapper(sps.Handler(func(a protocol.SharedReleaseArgs) error {
			if err := check(a.Instance); err != nil {
				return err
			}
			return m.Release(a.Bases)
		})),
	} {
		if _, err := s.RegisterWrapper(name, f); err != nil {
			return nil, err
		}
	}
	s.AddResourceManager(m)
	return m, nil
}

// Reserve maps size bytes of a new memfd, inaccessible until initialized,
// next to the shared libraries where there is room.
func (m *SharedMemoryMapper) Reserve(size uint64) (protocol.SharedReservation, error) {
	page := uint64(unix.Getpagesize())
	if size == 0 || size > 1<<36 || size%page != 0 {
		return protocol.SharedReservation{}, fmt.Errorf("shared memory mapper: cannot reserve %d bytes", size)
	}
	fd, err := unix.MemfdCreate("gorc-jit-shared", unix.MFD_CLOEXEC)
	if err != nil {
		return protocol.SharedReservation{}, fmt.Errorf("shared memory mapper: memfd_create: %w", err)
	}
	fail := func(err error) (protocol.SharedReservation, error) {
		unix.Close(fd)
		return protocol.SharedReservation{}, fmt.Errorf("shared memory mapper: %w", err)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		return fail(err)
	}
	hole, err := memory.ReserveNearLibraries(size, size)
	if err != nil {
		return fail(err)
	}
	p, err := unix.MmapPtr(fd, 0, pointerOf(hole), uintptr(size), unix.PROT_NONE, unix.MAP_SHARED|unix.MAP_FIXED)
	if err != nil {
		unix.Munmap(hole)
		return fail(err)
	}
	mem := sliceAt(p, size)
	base := addrOf(mem)
	m.mu.Lock()
	m.reservations[base] = &sharedReservation{fd: fd, mem: mem, allocs: make(map[uint64]*sharedAlloc)}
	m.mu.Unlock()
	return protocol.SharedReservation{Addr: sps.Addr(base), Path: fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), fd)}, nil
}

// find returns the reservation holding [addr, addr+size). Called locked.
func (m *SharedMemoryMapper) find(addr, size uint64) (*sharedReservation, uint64, error) {
	for base, r := range m.reservations {
		if addr >= base && addr-base <= uint64(len(r.mem)) && size <= uint64(len(r.mem))-(addr-base) {
			return r, addr - base, nil
		}
	}
	return nil, 0, fmt.Errorf("shared memory mapper: range %#x+%#x is not in a reservation", addr, size)
}

// Initialize applies the segments' protections (their content is already
// in place: Content must be empty) and runs the actions. The allocation is
// known by its lowest segment address.
func (m *SharedMemoryMapper) Initialize(req protocol.FinalizeRequest) error {
	if len(req.Segments) == 0 {
		return errors.New("shared memory mapper: nothing to initialize")
	}
	page := uint64(unix.Getpagesize())
	m.mu.Lock()
	var res *sharedReservation
	a := &sharedAlloc{start: ^uint64(0)}
	for _, seg := range req.Segments {
		r, off, err := m.find(uint64(seg.Addr), seg.Size)
		if err == nil && res != nil && r != res {
			err = errors.New("shared memory mapper: allocation spans reservations")
		}
		if err == nil && len(seg.Content) > 0 {
			err = errors.New("shared memory mapper: segments carry no content")
		}
		if err != nil {
			m.mu.Unlock()
			return err
		}
		res = r
		a.start = min(a.start, off&^(page-1))
		a.end = max(a.end, (off+seg.Size+page-1)&^(page-1))
	}
	base := addrOf(res.mem) + a.start
	if _, dup := res.allocs[base]; dup {
		m.mu.Unlock()
		return fmt.Errorf("shared memory mapper: %#x is already initialized", base)
	}
	res.allocs[base] = a
	m.mu.Unlock()
	for _, seg := range req.Segments {
		if err := protect(res.mem, uint64(seg.Addr)-addrOf(res.mem), seg.Size, seg.Prot); err != nil {
			return err
		}
	}
	deallocs, err := runActions(m.s, req.Actions)
	if err != nil {
		m.mu.Lock()
		delete(res.allocs, base)
		m.mu.Unlock()
		return errors.Join(err, m.clear(res, a))
	}
	a.deallocs = deallocs
	return nil
}

// Release runs the dealloc actions of the allocations at bases, makes
// their pages inaccessible again and returns them to the system (they read
// as zero when reused).
func (m *SharedMemoryMapper) Release(bases []sps.Addr) error {
	var errs []error
	for _, b := range bases {
		m.mu.Lock()
		r, _, err := m.find(uint64(b), 0)
		var a *sharedAlloc
		if err == nil {
			a = r.allocs[uint64(b)]
			delete(r.allocs, uint64(b))
		}
		m.mu.Unlock()
		if a == nil {
			errs = append(errs, fmt.Errorf("shared memory mapper: no allocation at %#x", uint64(b)))
			continue
		}
		errs = append(errs, runDeallocs(m.s, a.deallocs), m.clear(r, a))
	}
	return errors.Join(errs...)
}

// clear revokes access to an allocation's pages and frees them.
func (m *SharedMemoryMapper) clear(r *sharedReservation, a *sharedAlloc) error {
	if err := unix.Mprotect(r.mem[a.start:a.end], unix.PROT_NONE); err != nil {
		return err
	}
	return unix.Fallocate(r.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, int64(a.start), int64(a.end-a.start))
}

// Detach forgets the reservations; their memory stays for running code.
func (m *SharedMemoryMapper) Detach() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reservations = make(map[uint64]*sharedReservation)
	return nil
}

// Shutdown releases every allocation and unmaps the reservations.
func (m *SharedMemoryMapper) Shutdown() error {
	m.mu.Lock()
	rs := m.reservations
	m.reservations = make(map[uint64]*sharedReservation)
	m.mu.Unlock()
	var errs []error
	for _, r := range rs {
		for _, a := range r.allocs {
			errs = append(errs, runDeallocs(m.s, a.deallocs))
		}
		errs = append(errs, unix.MunmapPtr(pointerOf(r.mem), uintptr(len(r.mem))), unix.Close(r.fd))
	}
	return errors.Join(errs...)
}
