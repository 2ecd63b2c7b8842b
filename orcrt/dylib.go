package orcrt

import (
	"fmt"
	"strings"
	"sync"

	"github.com/gorc-jit/gorc/internal/native"
	"github.com/gorc-jit/gorc/orc/shared/protocol"
	"github.com/gorc-jit/gorc/orc/shared/sps"
)

// DylibManager opens shared libraries in the executor and looks symbols up
// in them, as LLVM's SimpleExecutorDylibManager. Handles count up from 0;
// the empty path is the executor process, where the session's published
// symbols (its runtime) are found before the dynamic linker's.
type DylibManager struct {
	s *Session
	service

	mu   sync.Mutex
	libs []*native.Library
}

// NewDylibManager creates the dylib manager and publishes its wrapper
// functions in s.
func NewDylibManager(s *Session) (*DylibManager, error) {
	d := &DylibManager{s: s}
	var err error
	if d.service, err = newService(s, "dylib manager", protocol.DylibManagerInstance); err != nil {
		return nil, err
	}
	open := SyncWrapper(sps.Handler(func(a protocol.OpenArgs) sps.Expected[uint64] {
		if err := d.check(a.Instance); err != nil {
			return sps.Fail[uint64](err)
		}
		h, err := d.Open(a.Path)
		if err != nil {
			return sps.Fail[uint64](err)
		}
		return sps.Ok(h)
	}))
	lookup := SyncWrapper(sps.Handler(func(a protocol.LookupArgs) sps.Expected[[]sps.Addr] {
		if err := d.check(a.Instance); err != nil {
			return sps.Fail[[]sps.Addr](err)
		}
		addrs, err := d.Lookup(a.Handle, a.Names)
		if err != nil {
			return sps.Fail[[]sps.Addr](err)
		}
		return sps.Ok(addrs)
	}))
	if err := d.publish(s, d, map[string]WrapperFunction{protocol.DylibManagerOpen: open, protocol.DylibManagerLookup: lookup}); err != nil {
		return nil, err
	}
	return d, nil
}

// Open loads the library at path ("" for the process) with global
// visibility and returns its handle.
func (d *DylibManager) Open(path string) (uint64, error) {
	lib, err := native.Open(path, native.RTLDNow|native.RTLDGlobal)
	if err != nil {
		return 0, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.libs = append(d.libs, lib)
	return uint64(len(d.libs) - 1), nil
}

// Lookup finds names in the library with handle h.
func (d *DylibManager) Lookup(h uint64, names []protocol.LookupRequest) ([]sps.Addr, error) {
	d.mu.Lock()
	if h >= uint64(len(d.libs)) {
		d.mu.Unlock()
		return nil, fmt.Errorf("dylib manager: invalid handle %d", h)
	}
	lib := d.libs[h]
	d.mu.Unlock()
	addrs := make([]sps.Addr, len(names))
	var missing []string
	for i, n := range names {
		a, ok := uint64(0), false
		if lib.Path() == "" {
			a, ok = d.s.Symbol(n.Name)
		}
		if !ok {
			a, ok = lib.Lookup(n.Name)
		}
		if !ok && n.Required {
			missing = append(missing, n.Name)
		}
		addrs[i] = sps.Addr(a)
	}
	if missing != nil {
		where := lib.Path()
		if where == "" {
			where = "the executor process"
		}
		return nil, fmt.Errorf("symbols not found in %s: %s", where, strings.Join(missing, ", "))
	}
	return addrs, nil
}

// Detach does nothing: libraries stay loaded.
func (d *DylibManager) Detach() error { return nil }

// Shutdown forgets the handles. Libraries stay loaded: code that was
// linked against them may still run until the process ends.
func (d *DylibManager) Shutdown() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.libs = nil
	return nil
}
