// Package lazy reduces lazy compilation to symbol lookup, as ORC does: a
// lazy symbol is a stub that, on its first call, asks the controller for
// the body, which looking it up materializes (compiles, links); the stub
// is then pointed at the body. Calls made while the body is compiling
// wait in the lookup, so a body is materialized once however many threads
// call it first.
//
// The calls into the controller go through the JIT dispatch function, so
// laziness works the same in process and in an executor process.
package lazy

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/target"
	"github.com/gorc-jit/gorc/orc"
)

// Symbols of the reentry graph.
const (
	ReentrySymbol = "__gorc_lazy_reentry"
	TagSymbol     = "__gorc_lazy_reentry_tag"
)

// Manager owns the reentry code and the call-throughs of a session (LLVM's
// LazyCallThroughManager with its indirect stubs).
type Manager struct {
	es      *orc.ExecutionSession
	layer   *orc.ObjectLinkingLayer
	epc     orc.ExecutorProcessControl
	target  jitlink.Target
	reentry uint64
	// controllerReports says failed lazy calls are reported here, as the
	// executor will not print the message (LLVM's LazyCallThroughManager
	// reports every failure so).
	controllerReports bool

	mu      sync.Mutex
	next    uint64
	calls   map[uint64]*callThrough
	tracked map[*orc.ResourceTracker][]uint64 // the call-throughs each tracker's stubs use
	hooks   []func(jd *orc.JITDylib, body orc.Name, addr uint64)
}

// callThrough is one lazy symbol: the body to look up, and the stub
// pointer to update.
type callThrough struct {
	source *orc.JITDylib
	body   orc.Name
	ptr    uint64 // known once the stub graph is laid out
}

// Options configure a Manager.
type Options struct {
	// FailureHandler is where a call goes, with its arguments, when the
	// body fails to materialize (it stands in for the function: a handler
	// returning an error value, say). 0: report the error and abort.
	FailureHandler uint64
}

// NewManager links the reentry code into jd (the session's executor must
// offer the JIT dispatch function) and registers its dispatch handler.
func NewManager(es *orc.ExecutionSession, layer *orc.ObjectLinkingLayer, jd *orc.JITDylib, opts Options) (*Manager, error) {
	epc := es.ExecutorProcessControl()
	if epc == nil {
		return nil, errors.New("lazy: the session has no executor")
	}
	fn, ctx, ok, err := orc.DispatchFunction(epc)
	if err != nil {
		return nil, fmt.Errorf("lazy: %w", err)
	}
	if !ok {
		return nil, errors.New("lazy: the executor offers no JIT dispatch function")
	}
	tgt, err := target.For(epc.TargetTriple())
	if err != nil {
		return nil, fmt.Errorf("lazy: %w", err)
	}
	var report uint64
	executorReports := false
	if opts.FailureHandler == 0 {
		if report, executorReports, err = failureReporter(epc); err != nil {
			return nil, fmt.Errorf("lazy: %w", err)
		}
	}
	m := &Manager{es: es, layer: layer, epc: epc, target: tgt, calls: make(map[uint64]*callThrough),
		tracked: make(map[*orc.ResourceTracker][]uint64), controllerReports: !executorReports}
	reentry := tgt.LazyReentryGraph(jitlink.LazyReentry{Symbol: ReentrySymbol, TagSymbol: TagSymbol,
		DispatchFn: fn, DispatchCtx: ctx, FailureHandler: opts.FailureHandler, ReportFailure: report})
	if err := layer.AddLinkGraph(jd.DefaultResourceTracker(), reentry); err != nil {
		return nil, err
	}
	syms, err := es.Lookup(context.Background(), orc.SearchOrder{{JD: jd, Flags: orc.MatchAll}},
		orc.LookupSet{{Name: orc.Intern(ReentrySymbol)}, {Name: orc.Intern(TagSymbol)}}, orc.Ready)
	if err != nil {
		return nil, fmt.Errorf("lazy: linking the reentry code: %w", err)
	}
	m.reentry = syms[orc.Intern(ReentrySymbol)].Addr
	if err := es.RegisterJITDispatchHandler(syms[orc.Intern(TagSymbol)].Addr, m.resolve); err != nil {
		return nil, err
	}
	es.RegisterResourceManager(m)
	return m, nil
}

// FailureFunction is the runtime function a failed lazy call ends in when
// no handler stands in: it prints the controller's error and aborts.
const FailureFunction = "gorc_lazy_compile_failed"

// failureReporter finds the function reentry calls, with the error
// message, when a body cannot be had and no handler stands in: the
// runtime's FailureFunction, or in an executor without gorc's runtime
// (LLVM's) its process's abort, the controller reporting the message.
// executorReports says the executor prints the message.
func failureReporter(epc orc.ExecutorProcessControl) (addr uint64, executorReports bool, err error) {
	if rt, ok := epc.(orc.RuntimeSymbols); ok {
		if addr, ok, err := orc.RuntimeFunction(rt, FailureFunction); ok || err != nil {
			return addr, ok, err
		}
	}
	h, err := epc.LoadDylib("")
	if err != nil {
		return 0, false, fmt.Errorf("finding abort for failed lazy calls: %w", err)
	}
	addrs, err := epc.LookupSymbols(h, []orc.SymbolRequest{{Name: "abort", Required: true}})
	if err != nil {
		return 0, false, fmt.Errorf("finding abort for failed lazy calls: %w", err)
	}
	if len(addrs) != 1 || addrs[0] == 0 {
		return 0, false, errors.New("the executor's abort, for failed lazy calls, is at address 0")
	}
	return addrs[0], false, nil
}

// HandleRemoveResources forgets the call-throughs of removed stubs.
func (m *Manager) HandleRemoveResources(jd *orc.JITDylib, rt *orc.ResourceTracker) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range m.tracked[rt] {
		delete(m.calls, id)
	}
	delete(m.tracked, rt)
	return nil
}

// HandleTransferResources makes dst own src's call-throughs.
func (m *Manager) HandleTransferResources(jd *orc.JITDylib, dst, src *orc.ResourceTracker) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tracked[dst] = append(m.tracked[dst], m.tracked[src]...)
	delete(m.tracked, src)
}

// OnResolved adds a hook called when a lazy call has found its body (for
// speculation: compile what the body will call next).
func (m *Manager) OnResolved(hook func(jd *orc.JITDylib, body orc.Name, addr uint64)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.hooks = append(m.hooks, hook)
}

// resolve answers reentry: the argument is a call-through id, the result
// the body's address (eight bytes). It materializes the body, points the
// stub at it, and answers the waiting call.
func (m *Manager) resolve(args []byte) ([]byte, error) {
	if len(args) != 8 {
		return nil, errors.New("lazy: malformed reentry call")
	}
	order := m.target.Endianness() // the id and the address are target words
	id := order.Uint64(args)
	m.mu.Lock()
	ct := m.calls[id]
	hooks := m.hooks
	m.mu.Unlock()
	if ct == nil {
		return nil, fmt.Errorf("lazy: unknown call-through %d", id)
	}
	sym, err := m.es.LookupSymbol(context.Background(), orc.SearchOrder{{JD: ct.source, Flags: orc.MatchAll}}, ct.body)
	if err != nil {
		err = fmt.Errorf("lazy call to %s: %w", ct.body, err)
		if m.controllerReports {
			m.es.ReportError(err)
		}
		return nil, err
	}
	addr := make([]byte, 8)
	order.PutUint64(addr, sym.Addr)
	if err := m.epc.WriteMemory(ct.ptr, addr); err != nil {
		return nil, fmt.Errorf("lazy: updating the stub of %s: %w", ct.body, err)
	}
	for _, h := range hooks {
		h(ct.source, ct.body, sym.Addr)
	}
	return addr, nil
}

// emitStubs links the stubs of names (each calling source's body for it)
// for mr.
func (m *Manager) emitStubs(mr *orc.MaterializationResponsibility, source *orc.JITDylib, names map[orc.Name]orc.Alias) {
	specs := make([]jitlink.LazyStub, 0, len(names))
	cts := make([]*callThrough, 0, len(names))
	rt := mr.Tracker()
	m.mu.Lock()
	for n, a := range names {
		id := m.next
		m.next++
		ct := &callThrough{source: source, body: a.Target}
		m.calls[id] = ct
		m.tracked[rt] = append(m.tracked[rt], id)
		cts = append(cts, ct)
		specs = append(specs, jitlink.LazyStub{Name: n.String(), ID: id, Hidden: a.Flags&orc.Exported == 0})
	}
	m.mu.Unlock()
	g, ptrs := m.target.LazyStubsGraph(fmt.Sprintf("<lazy stubs for %s>", mr.JITDylib().Name()), m.reentry, specs)
	m.layer.EmitWithPasses(mr, g, func(cfg *jitlink.PassConfig) {
		cfg.PostAllocation = append(cfg.PostAllocation, func(*jitlink.LinkGraph) error {
			m.mu.Lock()
			defer m.mu.Unlock()
			for i, p := range ptrs {
				cts[i].ptr = p.Address()
			}
			return nil
		})
	})
}
