package remote

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"

	"github.com/gorc-jit/gorc/internal/sysmem"
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/orc/shared/protocol"
	"github.com/gorc-jit/gorc/orc/shared/sps"
)

// llvmSharedManager links into memory shared with an LLVM 19 or 22
// executor through its shared-memory mapper service: per graph, the
// executor reserves a POSIX shared-memory object, this process maps it
// (and unlinks it, as LLVM's controller does) and the linker writes
// straight into it; initializing sends only protections and actions.
// The reservation is fresh, so zero-fill is already zero. If the object
// cannot be opened here (another machine), the graph goes through the
// copying manager.
type llvmSharedManager struct {
	e                                      *EPC
	instance, reserve, initialize, release uint64
	fall                                   *copyingManager
}

func newLLVMSharedManager(e *EPC) (*llvmSharedManager, error) {
	for _, name := range []string{protocol.SharedMemoryMapperInstance, protocol.SharedMemoryMapperReserve,
		protocol.SharedMemoryMapperInitialize, protocol.SharedMemoryMapperRelease} {
		if e.sym(name) == 0 {
			return nil, errors.New("the executor has no shared-memory mapper")
		}
	}
	return &llvmSharedManager{e: e, fall: newCopyingManager(e),
		instance:   e.sym(protocol.SharedMemoryMapperInstance),
		reserve:    e.sym(protocol.SharedMemoryMapperReserve),
		initialize: e.sym(protocol.SharedMemoryMapperInitialize),
		release:    e.sym(protocol.SharedMemoryMapperRelease)}, nil
}

func (m *llvmSharedManager) Allocate(req *jitlink.AllocRequest) (jitlink.InFlightAlloc, error) {
	offs, total, err := layout(req.Segments, m.e.PageSize())
	if err != nil {
		return nil, err
	}
	r, err := sps.CallExpected[protocol.SharedReservation](m.e, m.reserve, protocol.ReserveArgs{Instance: sps.Addr(m.instance), Size: total})
	if err != nil {
		return nil, fmt.Errorf("reserving %d bytes of shared memory in the executor: %w", total, err)
	}
	view, err := mapShared(r.Name, total)
	if err != nil {
		if err := m.releaseBase(uint64(r.Addr)); err != nil {
			return nil, err
		}
		return m.fall.Allocate(req)
	}
	a := &sharedAlloc{m: m, base: uint64(r.Addr), view: view, req: req.Segments, segs: make([]jitlink.SegmentAlloc, len(req.Segments))}
	for i, s := range req.Segments {
		a.segs[i] = jitlink.SegmentAlloc{Addr: uint64(r.Addr) + offs[i], Working: view[offs[i] : offs[i]+s.ContentSize : offs[i]+s.ContentSize]}
	}
	return a, nil
}

// mapShared maps the POSIX shared-memory object name and unlinks it.
func mapShared(name string, size uint64) ([]byte, error) {
	path := "/dev/shm/" + strings.TrimPrefix(name, "/")
	if strings.Contains(strings.TrimPrefix(name, "/"), "/") {
		return nil, fmt.Errorf("bad shared-memory name %q", name)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	view, err := sysmem.MapFile(f, size)
	if err != nil {
		return nil, err
	}
	os.Remove(path)
	return view, nil
}

func (m *llvmSharedManager) releaseBase(base uint64) error {
	return sps.CallError(m.e, m.release, protocol.DeallocateArgs{Instance: sps.Addr(m.instance), Bases: []sps.Addr{sps.Addr(base)}})
}

// sharedFinalized is the Impl of a finalized shared allocation: this
// process's view, unmapped once at release.
type sharedFinalized struct {
	view     []byte
	released atomic.Bool
}

func (m *llvmSharedManager) Deallocate(allocs []jitlink.FinalizedAlloc) error {
	var errs []error
	var rest []jitlink.FinalizedAlloc
	for _, a := range allocs {
		f, ok := a.Impl.(*sharedFinalized)
		if !ok {
			rest = append(rest, a) // the copying manager's
			continue
		}
		if f.released.Swap(true) {
			errs = append(errs, fmt.Errorf("deallocating %#x: not a live allocation of this memory manager", a.Addr))
			continue
		}
		errs = append(errs, m.releaseBase(a.Addr), sysmem.Unmap(f.view))
	}
	if len(rest) > 0 {
		errs = append(errs, m.fall.Deallocate(rest))
	}
	return errors.Join(errs...)
}

type sharedAlloc struct {
	m     *llvmSharedManager
	base  uint64
	view  []byte
	req   []jitlink.SegmentRequest
	segs  []jitlink.SegmentAlloc
	state jitlink.InFlightState
}

func (a *sharedAlloc) Segments() []jitlink.SegmentAlloc { return a.segs }

// Finalize sends protections and actions; the content is in place. A
// failed initialize leaves the reservation to the controller (LLVM's
// executor keeps it), so it is released here.
func (a *sharedAlloc) Finalize(actions []jitlink.AllocAction, done func(jitlink.FinalizedAlloc, error)) {
	if err := a.state.Finalizing(); err != nil {
		done(jitlink.FinalizedAlloc{}, err)
		return
	}
	args := protocol.SharedInitializeArgs{Instance: sps.Addr(a.m.instance), Reservation: sps.Addr(a.base)}
	args.Request.Actions = convertActions(actions)
	for i, s := range a.req {
		if s.Size() > 0 {
			args.Request.Segments = append(args.Request.Segments, protocol.SharedSegment{Prot: uint8(s.Prot), Addr: sps.Addr(a.segs[i].Addr), Size: s.Size()})
		}
	}
	if len(args.Request.Segments) == 0 {
		args.Request.Segments = []protocol.SharedSegment{{Prot: protocol.ProtRead, Addr: sps.Addr(a.base), Size: 1}}
	}
	go func() {
		if _, err := sps.CallExpected[sps.Addr](a.m.e, a.m.initialize, args); err != nil {
			err = errors.Join(fmt.Errorf("initializing shared memory in the executor: %w", err),
				a.m.releaseBase(a.base), sysmem.Unmap(a.view))
			done(jitlink.FinalizedAlloc{}, err)
			return
		}
		done(jitlink.FinalizedAlloc{Addr: a.base, Impl: &sharedFinalized{view: a.view}}, nil)
	}()
}

func (a *sharedAlloc) Abandon() error {
	if err := a.state.Abandoning(); err != nil {
		return err
	}
	return errors.Join(a.m.releaseBase(a.base), sysmem.Unmap(a.view))
}
