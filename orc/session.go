package orc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"

	"github.com/gorc-jit/gorc/jitlink/triple"
	"github.com/gorc-jit/gorc/orc/shared/tasks"
)

// ExecutionSession is the root of a JIT: it owns the JITDylibs, interns
// symbol names, dispatches materialization work, and reports errors that
// have no caller to return to. All of its methods are safe for concurrent
// use.
type ExecutionSession struct {
	// mu guards every JITDylib's symbol table and the state of every
	// materialization, query and resource tracker of the session. Lookups
	// of Ready symbols only read, and take it shared.
	mu       sync.RWMutex
	jds      []*JITDylib
	closing  bool // Close has begun
	closed   bool // Close has stopped lookups
	managers []ResourceManager
	platform Platform

	epc         ExecutorProcessControl
	jitHandlers sync.Map // tag (uint64) -> JITDispatchHandler
	dispatcher  tasks.Dispatcher
	reportError func(error)
	prefix      string // platform mangling prefix
	searches    uint64 // numbers addWait's cycle searches (locked)
}

// SessionOption configures an ExecutionSession.
type SessionOption func(*ExecutionSession)

// WithDispatcher sets how materializations run (default: in place, on the
// goroutine that triggers them).
func WithDispatcher(d tasks.Dispatcher) SessionOption {
	return func(es *ExecutionSession) { es.dispatcher = d }
}

// WithErrorReporter sets where errors without a caller go (failed
// materializations nobody waits for, resource release errors). The default
// writes them to standard error.
func WithErrorReporter(f func(error)) SessionOption {
	return func(es *ExecutionSession) { es.reportError = f }
}

// WithExecutorProcessControl sets the executor the session's code runs in.
func WithExecutorProcessControl(epc ExecutorProcessControl) SessionOption {
	return func(es *ExecutionSession) { es.epc = epc }
}

// NewExecutionSession returns a new session.
func NewExecutionSession(opts ...SessionOption) *ExecutionSession {
	es := &ExecutionSession{dispatcher: tasks.InPlace{}}
	es.reportError = func(err error) { fmt.Fprintln(os.Stderr, "gorc:", err) }
	for _, o := range opts {
		o(es)
	}
	if es.epc != nil {
		if es.epc.TargetTriple().Format == triple.MachO {
			es.prefix = "_"
		}
		es.epc.SetJITDispatchHandler(es.runJITDispatch)
	}
	return es
}

// JITDispatchHandler answers a call JIT'd code makes to the controller:
// args are the bytes it passed, the result the bytes it gets back.
type JITDispatchHandler func(args []byte) ([]byte, error)

// RegisterJITDispatchHandler makes calls that JIT'd code addresses to tag
// (an executor address, usually a JIT'd symbol's) run h. Calls to tags
// without a handler are refused: JIT'd code reaches only the controller
// functions registered here.
func (es *ExecutionSession) RegisterJITDispatchHandler(tag uint64, h JITDispatchHandler) error {
	if tag == 0 || h == nil {
		return errors.New("RegisterJITDispatchHandler: need a tag and a handler")
	}
	if _, dup := es.jitHandlers.LoadOrStore(tag, h); dup {
		return fmt.Errorf("a JIT dispatch handler is already registered for tag %#x", tag)
	}
	return nil
}

func (es *ExecutionSession) runJITDispatch(tag uint64, args []byte) ([]byte, error) {
	h, ok := es.jitHandlers.Load(tag)
	if !ok {
		return nil, fmt.Errorf("JIT'd code called the controller with tag %#x, which has no handler", tag)
	}
	return h.(JITDispatchHandler)(args)
}

// ExecutorProcessControl returns the session's executor (nil if none).
func (es *ExecutionSession) ExecutorProcessControl() ExecutorProcessControl { return es.epc }

// Intern returns the interned name of s.
func (es *ExecutionSession) Intern(s string) Name { return Intern(s) }

// Mangle applies the platform's linker mangling to a source-level name
// (nothing on ELF, a leading underscore on Mach-O).
func (es *ExecutionSession) Mangle(s string) string { return es.prefix + s }

// MangleAndIntern mangles and interns a source-level name.
func (es *ExecutionSession) MangleAndIntern(s string) Name { return Intern(es.prefix + s) }

// ReportError passes an error that has no caller to the session's reporter.
func (es *ExecutionSession) ReportError(err error) {
	if err != nil {
		es.reportError(err)
	}
}

// Dispatch runs a task on the session's dispatcher.
func (es *ExecutionSession) Dispatch(task func()) { es.dispatcher.Dispatch(task) }

// RegisterResourceManager adds a manager that is told when resource
// trackers are removed or merged. Managers are told in reverse order of
// registration.
func (es *ExecutionSession) RegisterResourceManager(rm ResourceManager) {
	es.mu.Lock()
	es.managers = append(es.managers, rm)
	es.mu.Unlock()
}

// DeregisterResourceManager removes a manager.
func (es *ExecutionSession) DeregisterResourceManager(rm ResourceManager) {
	es.mu.Lock()
	if i := slices.Index(es.managers, rm); i >= 0 {
		es.managers = slices.Delete(es.managers, i, i+1)
	}
	es.mu.Unlock()
}

// CreateJITDylib creates a JITDylib. Names must be unique in the session.
func (es *ExecutionSession) CreateJITDylib(name string) (*JITDylib, error) {
	es.mu.Lock()
	defer es.mu.Unlock()
	if es.closed {
		return nil, ErrSessionClosed
	}
	for _, jd := range es.jds {
		if jd.name == name {
			return nil, fmt.Errorf("JITDylib %q already exists", name)
		}
	}
	jd := &JITDylib{es: es, name: name, symbols: make(map[Name]*symbolEntry)}
	jd.linkOrder = SearchOrder{{JD: jd, Flags: MatchAll}}
	jd.defaultRT = jd.newTracker()
	es.jds = append(es.jds, jd)
	return jd, nil
}

// JITDylibByName returns the JITDylib with the given name, or nil.
func (es *ExecutionSession) JITDylibByName(name string) *JITDylib {
	es.mu.Lock()
	defer es.mu.Unlock()
	for _, jd := range es.jds {
		if jd.name == name {
			return jd
		}
	}
	return nil
}

// RemoveJITDylib removes every definition of jd (releasing its resources)
// and then jd itself; it can no longer be used.
func (es *ExecutionSession) RemoveJITDylib(jd *JITDylib) error {
	var err error
	if p := es.Platform(); p != nil {
		err = p.TeardownJITDylib(jd)
	}
	err = errors.Join(err, jd.clear())
	es.mu.Lock()
	if i := slices.Index(es.jds, jd); i >= 0 {
		es.jds = slices.Delete(es.jds, i, i+1)
	}
	jd.closed = true
	es.mu.Unlock()
	return err
}

// Close ends the session: it waits for dispatched work, removes every
// JITDylib (newest first, releasing their resources) and closes the
// executor. Lookups fail from then on.
func (es *ExecutionSession) Close() error {
	es.mu.Lock()
	if es.closed || es.closing {
		es.mu.Unlock()
		return nil
	}
	es.closing = true
	jds := slices.Clone(es.jds)
	es.mu.Unlock()
	var errs []error
	// Finalizers run first, while the session can still link and look up
	// what runs them.
	if p := es.Platform(); p != nil {
		for _, jd := range slices.Backward(jds) {
			errs = append(errs, p.TeardownJITDylib(jd))
		}
	}
	es.mu.Lock()
	es.closed = true
	es.mu.Unlock()
	es.dispatcher.Shutdown()
	for _, jd := range slices.Backward(jds) {
		errs = append(errs, es.RemoveJITDylib(jd))
	}
	if es.epc != nil {
		errs = append(errs, es.epc.Close())
	}
	return errors.Join(errs...)
}

// Lookup looks names up in the search order, materializing what is needed,
// and waits until every found symbol reaches state (Resolved or Ready) or
// ctx is done. Missing required names are an error; missing weak references
// are left out of the result.
func (es *ExecutionSession) Lookup(ctx context.Context, order SearchOrder, names LookupSet, state SymbolState) (SymbolMap, error) {
	type result struct {
		m   SymbolMap
		err error
	}
	ch := make(chan result, 1)
	q := es.lookupAsync(order, names, state, func(r *queryResult, err error) {
		var m SymbolMap
		if r != nil {
			m = r.symbols()
		}
		ch <- result{m, err}
	})
	select {
	case r := <-ch:
		return r.m, r.err
	case <-ctx.Done():
		es.cancelQuery(q)
		select {
		case r := <-ch: // completed anyway
			return r.m, r.err
		default:
			return nil, ctx.Err()
		}
	}
}

// LookupAsync is Lookup with a callback: done is called exactly once, on
// some goroutine, when the lookup completes or fails.
func (es *ExecutionSession) LookupAsync(order SearchOrder, names LookupSet, state SymbolState, done func(SymbolMap, error)) {
	es.lookupAsync(order, names, state, func(r *queryResult, err error) {
		if err != nil {
			done(nil, err)
			return
		}
		done(r.symbols(), nil)
	})
}

// LookupSymbol looks up one required symbol and waits until it is Ready.
func (es *ExecutionSession) LookupSymbol(ctx context.Context, order SearchOrder, name Name) (Symbol, error) {
	if sym, ok := es.lookupReady(order, name); ok {
		return sym, nil
	}
	m, err := es.Lookup(ctx, order, LookupSet{{Name: name}}, Ready)
	if err != nil {
		return Symbol{}, err
	}
	return m[name], nil
}

// lookupReady is the fast path of LookupSymbol: a symbol that is already
// Ready needs no query.
func (es *ExecutionSession) lookupReady(order SearchOrder, name Name) (Symbol, bool) {
	es.mu.RLock()
	defer es.mu.RUnlock()
	for _, o := range order {
		e, abs, ok := find(o, name)
		switch {
		case !ok:
			continue
		case e == nil:
			return abs, true
		case e.state == Ready && e.m == nil:
			return Symbol{Addr: e.addr, Flags: e.flags}, true
		}
		return Symbol{}, false
	}
	return Symbol{}, false
}

// batch collects what must happen once the session lock is released:
// callbacks must not run under the lock.
type batch struct {
	completed []*query
	dispatch  []*MaterializationResponsibility
	reports   []error
}

func (b *batch) run(es *ExecutionSession) {
	for _, q := range b.completed {
		q.cb(q.res, q.err)
	}
	for _, mr := range b.dispatch {
		mu := mr.unit
		mr.unit = nil
		es.dispatcher.Dispatch(func() { mu.Materialize(mr) })
	}
	for _, err := range b.reports {
		es.ReportError(err)
	}
}

// locked runs f under the session lock, then the batch it filled.
func (es *ExecutionSession) locked(f func(b *batch)) {
	var b batch
	es.mu.Lock()
	f(&b)
	es.mu.Unlock()
	b.run(es)
}
