// Package orcrt is gorc's executor runtime: what a process that runs JIT'd
// code (an executor) provides to the controller that links it, after the
// ORC runtime design.
//
// A Session is the root object of a JIT'd program: it owns the
// ResourceManagers that hold JIT'd memory, library handles and
// registrations, runs the calls that arrive from the controller as tasks on
// its task dispatcher, and shuts everything down, in reverse order, at the
// end. Wrapper functions (bytes in, bytes out, possibly answered later) are
// what the controller calls; each has an executor address, so that calls
// name their callee by address as LLVM's protocol does. Connect attaches a
// Session to a controller over the remote-executor protocol of LLVM 14,
// or of LLVM 19 and 22.
package orcrt

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"

	"github.com/gorc-jit/gorc/internal/native"
	"github.com/gorc-jit/gorc/internal/sysmem"
	"github.com/gorc-jit/gorc/orc/shared/protocol"
	"github.com/gorc-jit/gorc/orc/shared/tasks"
)

// Return delivers a wrapper function's result, now or later, from any
// goroutine. A non-nil error is an out-of-band failure.
type Return func(result []byte, err error)

// WrapperFunction is a wrapper function implemented in Go.
type WrapperFunction func(args []byte, ret Return)

// SyncWrapper adapts a function that answers at once.
func SyncWrapper(f func(args []byte) ([]byte, error)) WrapperFunction {
	return func(args []byte, ret Return) { ret(f(args)) }
}

// ResourceManager manages resources that support JIT'd code.
type ResourceManager interface {
	// Detach is called when the controller detaches: no more requests
	// will come, so fine-grained tracking may be dropped. Resources stay
	// in place for the JIT'd code still running.
	Detach() error
	// Shutdown releases everything, at the end of the Session.
	Shutdown() error
}

// Session is the executor side of one JIT session. More than one may exist
// in a process.
type Session struct {
	tasks tasks.Dispatcher
	proto protocol.Version

	mu       sync.Mutex
	managers []ResourceManager
	wrappers map[uint64]WrapperFunction
	symbols  map[string]uint64 // what the controller may look up by name
	pages    [][]byte          // address space that names Go wrappers
	next     int               // next free slot in the last page
	closed   bool

	preloaded  chan struct{} // closed when Preload's libraries are loaded; nil: none
	preloadErr error
}

// Option configures a Session.
type Option func(*Session)

// WithProtocol sets the protocol the session speaks: protocol.LLVM14 (its
// Setup layout and lookup results), or LLVM19 or LLVM22, which one
// executor serves at once (the default; gorc's controller reads either).
func WithProtocol(v protocol.Version) Option { return func(s *Session) { s.proto = v } }

// Protocol returns the protocol the session speaks: LLVM14, or LLVM22 for
// the protocol of LLVM 19 and 22 both.
func (s *Session) Protocol() protocol.Version {
	if s.proto == protocol.LLVM14 {
		return protocol.LLVM14
	}
	return protocol.LLVM22
}

// WithTaskDispatcher sets how incoming calls run (default: a goroutine
// each).
func WithTaskDispatcher(d tasks.Dispatcher) Option { return func(s *Session) { s.tasks = d } }

// Preload loads libraries into the process with global visibility, on a
// goroutine of their own from the moment the session is made, so that
// loading them overlaps the connection's setup and the controller's start
// (libstdc++ alone takes about a millisecond to load). The dylib manager's
// opens and lookups wait until they are loaded. A required library that
// fails to load fails them; optional ones that fail are ignored.
func Preload(required, optional []string) Option {
	return func(s *Session) {
		s.preloaded = make(chan struct{})
		go func() {
			defer close(s.preloaded)
			for _, lib := range required {
				if _, err := native.Open(lib, native.RTLDNow|native.RTLDGlobal); err != nil {
					s.preloadErr = fmt.Errorf("preloading %s: %w", lib, err)
					return
				}
			}
			for _, lib := range optional {
				native.Open(lib, native.RTLDNow|native.RTLDGlobal)
			}
		}()
	}
}

// waitPreload waits for Preload's libraries.
func (s *Session) waitPreload() error {
	if s.preloaded == nil {
		return nil
	}
	<-s.preloaded
	return s.preloadErr
}

// NewSession creates a session.
func NewSession(opts ...Option) *Session {
	s := &Session{wrappers: make(map[uint64]WrapperFunction), symbols: make(map[string]uint64)}
	for _, o := range opts {
		o(s)
	}
	if s.tasks == nil {
		s.tasks = &tasks.Goroutines{}
	}
	return s
}

// Dispatcher returns the session's task dispatcher.
func (s *Session) Dispatcher() tasks.Dispatcher { return s.tasks }

// AddResourceManager adds rm; it is shut down before the managers added
// earlier.
func (s *Session) AddResourceManager(rm ResourceManager) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.managers = append(s.managers, rm)
}

// wrapperSlot is the spacing of Go wrapper addresses.
const wrapperSlot = 16

// RegisterWrapper gives f an executor address, by which the controller
// calls it, and publishes it under name (if not empty) among the symbols
// the controller receives at setup. The address lies in a page mapped
// without access, so it names f and nothing else: jumping there faults.
func (s *Session) RegisterWrapper(name string, f WrapperFunction) (uint64, error) {
	if f == nil {
		return 0, errors.New("RegisterWrapper: nil function")
	}
	return s.newAddress(name, f)
}

// NewAddress returns a fresh address that names an object of the
// controller's protocol (a service instance, say) and publishes it under
// name. Calls to it fail.
func (s *Session) NewAddress(name string) (uint64, error) {
	return s.newAddress(name, func(args []byte, ret Return) {
		ret(nil, fmt.Errorf("%s is not a function", name))
	})
}

func (s *Session) newAddress(name string, f WrapperFunction) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	page := os.Getpagesize()
	if len(s.pages) == 0 || s.next+wrapperSlot > page {
		p, err := sysmem.Map(0, uint64(page), 0, 0)
		if err != nil {
			return 0, fmt.Errorf("reserving wrapper addresses: %w", err)
		}
		s.pages = append(s.pages, p)
		s.next = 0
	}
	addr := sysmem.Addr(s.pages[len(s.pages)-1]) + uint64(s.next)
	s.next += wrapperSlot
	s.wrappers[addr] = f
	if name != "" {
		s.symbols[name] = addr
	}
	return addr, nil
}

// DefineSymbol publishes a native address (a C function or data) under
// name among the symbols the controller receives at setup.
func (s *Session) DefineSymbol(name string, addr uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.symbols[name] = addr
}

// Symbol returns the address published under name.
func (s *Session) Symbol(name string) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.symbols[name]
	return a, ok
}

// Symbols returns a copy of the published symbols.
func (s *Session) Symbols() map[string]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]uint64, len(s.symbols))
	for k, v := range s.symbols {
		m[k] = v
	}
	return m
}

// CallWrapper calls the wrapper function at addr: a Go one registered with
// RegisterWrapper, or else native code with the C wrapper-function ABI.
// ret may run before CallWrapper returns or later.
func (s *Session) CallWrapper(addr uint64, args []byte, ret Return) {
	s.mu.Lock()
	f, ok := s.wrappers[addr]
	s.mu.Unlock()
	if ok {
		f(args, ret)
		return
	}
	if addr == 0 {
		ret(nil, errors.New("call to a wrapper function at address 0"))
		return
	}
	ret(native.CallWrapper(addr, args))
}

// CallWrapperSync calls the wrapper function at addr and waits for its
// result.
func (s *Session) CallWrapperSync(addr uint64, args []byte) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	ch := make(chan result, 1)
	s.CallWrapper(addr, args, func(b []byte, err error) { ch <- result{b, err} })
	r := <-ch
	return r.b, r.err
}

// Detach tells every resource manager that the controller has gone.
func (s *Session) Detach() error {
	s.mu.Lock()
	ms := slices.Clone(s.managers)
	s.mu.Unlock()
	var errs []error
	for _, m := range ms {
		errs = append(errs, m.Detach())
	}
	return errors.Join(errs...)
}

// Shutdown waits for every task, then shuts the resource managers down in
// reverse order of addition. A second Shutdown does nothing.
func (s *Session) Shutdown() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.tasks.Shutdown()
	s.mu.Lock()
	ms := slices.Clone(s.managers)
	s.managers = nil
	s.mu.Unlock()
	var errs []error
	for _, m := range slices.Backward(ms) {
		errs = append(errs, m.Shutdown())
	}
	// The Go wrappers' address pages stay reserved, so that a late call
	// naming one cannot reach other memory.
	return errors.Join(errs...)
}
