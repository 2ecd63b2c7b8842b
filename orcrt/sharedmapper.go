package orcrt

import (
	"fmt"
	"os"
	"sync/atomic"

	"github.com/gorc-jit/gorc/internal/sysmem"
	"github.com/gorc-jit/gorc/orc/shared/protocol"
	"github.com/gorc-jit/gorc/orc/shared/sps"
)

// LLVM's shared-memory mapper service (LLVM 19 and 22: llvm-jitlink
// -use-memmgr=shared, clang-repl --use-shared-memory): the executor
// reserves a POSIX shared-memory object and maps it; the controller opens
// it by name, maps it too and writes the linked content itself, so
// initializing sends only protections and actions. Reservations are
// allocations of the MemoryManager, which initializes, deinitializes and
// releases them as it does its own (and never clears their content: the
// controller writes every byte, zero-fill included).

// sharedNames numbers shared-memory objects within the process.
var sharedNames atomic.Uint64

// addSharedMemoryMapper publishes the service's wrappers in s, served by
// m.
func addSharedMemoryMapper(s *Session, m *MemoryManager) error {
	inst, err := s.NewAddress(protocol.SharedMemoryMapperInstance)
	if err != nil {
		return err
	}
	check := func(a sps.Addr) error {
		if uint64(a) != inst {
			return fmt.Errorf("shared memory mapper: unknown instance %#x", uint64(a))
		}
		return nil
	}
	for name, f := range map[string]WrapperFunction{
		protocol.SharedMemoryMapperReserve: SyncWrapper(sps.Handler(func(a protocol.ReserveArgs) sps.Expected[protocol.SharedReservation] {
			if err := check(a.Instance); err != nil {
				return sps.Fail[protocol.SharedReservation](err)
			}
			addr, name, err := m.ReserveShared(a.Size)
			if err != nil {
				return sps.Fail[protocol.SharedReservation](err)
			}
			return sps.Ok(protocol.SharedReservation{Addr: sps.Addr(addr), Name: name})
		})),
		protocol.SharedMemoryMapperInitialize: SyncWrapper(sps.Handler(func(a protocol.SharedInitializeArgs) sps.Expected[sps.Addr] {
			if err := check(a.Instance); err != nil {
				return sps.Fail[sps.Addr](err)
			}
			req := protocol.FinalizeRequest{Actions: a.Request.Actions}
			for _, seg := range a.Request.Segments {
				req.Segments = append(req.Segments, protocol.Segment{Prot: seg.Prot, Addr: seg.Addr, Size: seg.Size})
			}
			key, err := m.Initialize(req)
			if err != nil {
				return sps.Fail[sps.Addr](err)
			}
			return sps.Ok(sps.Addr(key))
		})),
		protocol.SharedMemoryMapperDeinitialize: SyncWrapper(sps.Handler(func(a protocol.DeallocateArgs) error {
			if err := check(a.Instance); err != nil {
				return err
			}
			return m.Deinitialize(a.Bases)
		})),
		protocol.SharedMemoryMapperRelease: SyncWrapper(sps.Handler(func(a protocol.DeallocateArgs) error {
			if err := check(a.Instance); err != nil {
				return err
			}
			return m.Deallocate(a.Bases)
		})),
	} {
		if _, err := s.RegisterWrapper(name, f); err != nil {
			return err
		}
	}
	return nil
}

// ReserveShared creates a shared-memory object of size bytes, maps it
// readable and writable, and returns its address and its name (for
// shm_open: /dev/shm/NAME, without the leading slash). The object is
// removed when the reservation is released.
func (m *MemoryManager) ReserveShared(size uint64) (uint64, string, error) {
	if size == 0 || size > 1<<47 {
		return 0, "", fmt.Errorf("shared memory mapper: cannot reserve %d bytes", size)
	}
	if err := m.budget.take(size); err != nil {
		return 0, "", fmt.Errorf("shared memory mapper: %w", err)
	}
	name := fmt.Sprintf("/gorc_%d_%d", os.Getpid(), sharedNames.Add(1))
	path := "/dev/shm" + name
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		m.budget.give(size)
		return 0, "", fmt.Errorf("shared memory mapper: %w", err)
	}
	defer f.Close()
	mem, err := func() ([]byte, error) {
		if err := f.Truncate(int64(size)); err != nil {
			return nil, err
		}
		return sysmem.MapFile(f, size)
	}()
	if err != nil {
		os.Remove(path)
		m.budget.give(size)
		return 0, "", fmt.Errorf("shared memory mapper: mapping %d bytes of %s: %w", size, path, err)
	}
	base := sysmem.Addr(mem)
	m.mu.Lock()
	m.allocs[base] = &allocation{mem: mem, regions: make(map[uint64]*region), shm: path}
	m.mu.Unlock()
	return base, name, nil
}
