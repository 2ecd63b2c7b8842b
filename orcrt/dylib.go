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
	// LLVM 14 answers addresses, 19 (address, flags) pairs.
	lookup := SyncWrapper(func(args []byte) ([]byte, error) {
		var a protocol.LookupArgs
		if err := sps.Unmarshal(args, &a); err != nil {
			return nil, err
		}
		if err := d.check(a.Instance); err != nil {
			return marshalFail(err)
		}
		addrs, err := d.Lookup(a.Handle, a.Names)
		if err != nil {
			return marshalFail(err)
		}
		if s.Protocol() == protocol.LLVM14 {
			return sps.Marshal(sps.Ok(addrs))
		}
		defs := make([]protocol.SymbolDef, len(addrs))
		for i, a := range addrs {
			defs[i] = protocol.SymbolDef{Addr: a, Flags: protocol.SymbolExported}
		}
		return sps.Marshal(sps.Ok(defs))
	})
	// LLVM 22: no instance. Answered as LLVM 22's executor answers on
	// the wire: a name not found is absent if required (the controller
	// reports it) and present at address 0 if not.
	resolve := SyncWrapper(sps.Handler(func(a protocol.ResolveArgs) sps.Expected[[]protocol.MaybeSymbolDef] {
		optional := make([]protocol.LookupRequest, len(a.Names))
		for i, n := range a.Names {
			optional[i] = protocol.LookupRequest{Name: n.Name}
		}
		addrs, err := d.Lookup(uint64(a.Handle), optional)
		if err != nil {
			return sps.Fail[[]protocol.MaybeSymbolDef](err)
		}
		defs := make([]protocol.MaybeSymbolDef, len(addrs))
		for i, addr := range addrs {
			if addr != 0 || !a.Names[i].Required {
				defs[i] = protocol.MaybeSymbolDef{Found: true, Def: protocol.SymbolDef{Addr: addr, Flags: protocol.SymbolExported}}
			}
		}
		return sps.Ok(defs)
	}))
	err = d.publish(s, d, map[string]WrapperFunction{protocol.DylibManagerOpen: open,
		protocol.DylibManagerLookup: lookup, protocol.DylibManagerResolve: resolve})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Open loads the library at path ("" for the process) with global
// visibility and returns its handle. Handles count up from 1: LLVM 19 and
// later take them for addresses, which are never 0. A library waits for
// the preloaded ones, which come first in the search order; the process
// needs no wait (see Lookup).
func (d *DylibManager) Open(path string) (uint64, error) {
	if path != "" {
		if err := d.s.waitPreload(); err != nil {
			return 0, err
		}
	}
	lib, err := native.Open(path, native.RTLDNow|native.RTLDGlobal)
	if err != nil {
		return 0, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.libs = append(d.libs, lib)
	return uint64(len(d.libs)), nil
}

// Lookup finds names in the library with handle h. In the process, a
// name found before the preloaded libraries are in is found the same
// after (libraries loaded later come later in the search order), so only
// names not found wait for them: most of a C program's names are libc's,
// and the lookups of the first links need not wait for libstdc++.
func (d *DylibManager) Lookup(h uint64, names []protocol.LookupRequest) ([]sps.Addr, error) {
	d.mu.Lock()
	if h == 0 || h > uint64(len(d.libs)) {
		d.mu.Unlock()
		return nil, fmt.Errorf("dylib manager: invalid handle %#x", h)
	}
	lib := d.libs[h-1]
	d.mu.Unlock()
	addrs := make([]sps.Addr, len(names))
	var missing []string
	waited := false
	for i, n := range names {
		a, ok := uint64(0), false
		if lib.Path() == "" {
			a, ok = d.s.Symbol(n.Name)
		}
		if !ok {
			a, ok = lib.Lookup(n.Name)
		}
		if !ok && !waited && lib.Path() == "" {
			// Perhaps in a library still loading.
			waited = true
			if err := d.s.waitPreload(); err != nil {
				return nil, err
			}
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

// marshalFail encodes err as a failed Expected, whose value's type does not
// matter to the encoding.
func marshalFail(err error) ([]byte, error) {
	return sps.Marshal(sps.Fail[sps.Empty](err))
}
