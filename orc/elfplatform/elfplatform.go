// Package elfplatform gives JIT'd ELF code the run-time environment of a
// program on Linux: per-JITDylib __dso_handle and the atexit family,
// initializers and finalizers (.init_array by priority, .ctors, .fini_array,
// .dtors, handlers registered with atexit and __cxa_atexit), exception
// frames registered with the unwinder, and thread-local storage (general-
// and local-dynamic models, one TLS module per linked graph).
//
// Finalizers follow glibc's own order: each Initialize registers a thunk that
// runs the new finalizers with __cxa_atexit before running the initializers,
// so exit (or JITDylib teardown, through __cxa_finalize) runs exit handlers
// and static destructors first, then .fini_array and .dtors.
package elfplatform

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/ehframe"
	"github.com/gorc-jit/gorc/jitlink/target"
	"github.com/gorc-jit/gorc/orc"
)

// Runtime is the executor-side support the platform relies on.
type Runtime interface {
	// RuntimeSymbol returns the executor address of a runtime function:
	// gorc_tls_get_addr, and the wrapper functions
	// gorc_{,de}register_eh_frame_wrapper and gorc_tls_{,de}register_wrapper.
	RuntimeSymbol(name string) (uint64, bool)
	// ReserveTLSModule reserves a TLS module id in the executor.
	ReserveTLSModule() (uint32, error)
}

// StaticTLSRuntime is a Runtime that can also place a TLS module in every
// thread's static TLS area, as initial- and local-exec code (what gcc
// emits for thread-locals by default, without -fPIC) needs.
type StaticTLSRuntime interface {
	// ReserveStaticTLS gives module m a block initialized with image and
	// zeroes up to size, and returns its offset from the thread pointer.
	ReserveStaticTLS(m uint32, size, align uint64, image []byte) (int64, error)
}

// Platform is the ELF platform of one session.
type Platform struct {
	es      *orc.ExecutionSession
	layer   *orc.ObjectLinkingLayer
	epc     orc.ExecutorProcessControl
	target  jitlink.Target // the executor's, for the thunks
	rt      Runtime
	runtime *orc.JITDylib // runtime symbols (__tls_get_addr)

	regEH, deregEH, regTLS, deregTLS uint64

	mu        sync.Mutex
	staticTLS map[uint32]int64 // module -> offset from the thread pointer
	dylibs    map[*orc.JITDylib]*dylib
	order     map[orc.Name]uint64 // init symbol -> order of addition
	seq       atomic.Uint64
	thunkID   atomic.Uint64
}

// dylib is the platform's state for one JITDylib.
type dylib struct {
	tracker     *orc.ResourceTracker // owns the platform's definitions
	pending     []orc.Name           // init symbols of objects not yet initialized
	graphs      []*graphInits        // linked graphs whose initializers have not run
	initialized bool
}

// New creates the platform for es, whose objects are linked by layer, and
// installs it. JITDylibs created afterwards must be passed to SetupJITDylib
// (LLJIT does this).
func New(es *orc.ExecutionSession, layer *orc.ObjectLinkingLayer, rt Runtime) (*Platform, error) {
	epc := es.ExecutorProcessControl()
	if epc == nil {
		return nil, errors.New("the ELF platform needs an executor")
	}
	tgt, err := target.For(epc.TargetTriple())
	if err != nil {
		return nil, fmt.Errorf("the ELF platform: %w", err)
	}
	p := &Platform{es: es, layer: layer, epc: epc, target: tgt, rt: rt,
		dylibs: make(map[*orc.JITDylib]*dylib), order: make(map[orc.Name]uint64), staticTLS: make(map[uint32]int64)}
	// A function the runtime lacks turns its feature off (LLVM's executor
	// has no TLS runtime); one at address 0 is a broken executor.
	var tlsGetAddr uint64
	for _, f := range []struct {
		name string
		addr *uint64
	}{
		{"gorc_register_eh_frame_wrapper", &p.regEH},
		{"gorc_deregister_eh_frame_wrapper", &p.deregEH},
		{"gorc_tls_register_wrapper", &p.regTLS},
		{"gorc_tls_deregister_wrapper", &p.deregTLS},
		{"gorc_tls_get_addr", &tlsGetAddr},
	} {
		a, _, err := orc.RuntimeFunction(rt, f.name)
		if err != nil {
			return nil, fmt.Errorf("the ELF platform: %w", err)
		}
		*f.addr = a
	}
	jd, err := es.CreateJITDylib("<Platform>")
	if err != nil {
		return nil, err
	}
	p.runtime = jd
	syms := orc.SymbolMap{}
	if tlsGetAddr != 0 {
		syms[orc.Intern("__tls_get_addr")] = orc.Symbol{Addr: tlsGetAddr, Flags: orc.Exported | orc.Callable}
	}
	if err := jd.Define(orc.AbsoluteSymbols(syms)); err != nil {
		return nil, err
	}
	layer.AddPlugin(&plugin{p: p})
	es.RegisterResourceManager(p)
	es.SetPlatform(p)
	return p, nil
}

// RuntimeJITDylib returns the JITDylib of the platform's runtime symbols,
// which every set-up JITDylib links against first.
func (p *Platform) RuntimeJITDylib() *orc.JITDylib { return p.runtime }

func (p *Platform) state(jd *orc.JITDylib) *dylib {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dylibs[jd]
}

// SetupJITDylib gives jd a __dso_handle and the atexit family, and puts the
// runtime JITDylib first in its link order.
func (p *Platform) SetupJITDylib(jd *orc.JITDylib) error {
	order := orc.SearchOrder{{JD: p.runtime, Flags: orc.MatchExportedOnly}}
	for _, o := range jd.LinkOrder()[1:] {
		if o.JD != p.runtime {
			order = append(order, o)
		}
	}
	jd.SetLinkOrder(order)
	d := &dylib{tracker: jd.CreateResourceTracker()}
	p.mu.Lock()
	p.dylibs[jd] = d
	p.mu.Unlock()
	return p.layer.AddLinkGraph(d.tracker, p.dsoGraph(jd.Name()))
}

// dsoGraph defines __dso_handle (a pointer to itself, as crtbeginS.o does)
// and the libc_nonshared.a functions that pass it to libc: atexit,
// at_quick_exit and pthread_atfork. They are weak: a definition in the
// program wins.
func (p *Platform) dsoGraph(name string) *jitlink.LinkGraph {
	t := p.target
	g := t.NewLinkGraph("<" + name + " platform>")
	data := g.CreateSection(".data", jitlink.ProtRead|jitlink.ProtWrite)
	size := uint64(t.PointerSize())
	hb := g.CreateContentBlock(data, make([]byte, size), 0, size, 0)
	dso := g.AddDefinedSymbol(hb, 0, "__dso_handle", size, jitlink.Strong, jitlink.ScopeHidden, jitlink.Live)
	hb.AddEdge(t.PointerEdge(), 0, dso, 0)
	text := g.CreateSection(".text", jitlink.ProtRead|jitlink.ProtExec)
	thunk := func(name, callee string, keep int, extra ...*jitlink.Symbol) {
		b := t.TailCallThunk(g, text, keep, extra, g.AddExternalSymbol(callee, 0, jitlink.Strong))
		g.AddDefinedSymbol(b, 0, name, b.Size(), jitlink.Weak, jitlink.ScopeDefault, jitlink.Callable|jitlink.Live)
	}
	thunk("atexit", "__cxa_atexit", 1, nil, dso)          // __cxa_atexit(f, NULL, &__dso_handle)
	thunk("at_quick_exit", "__cxa_at_quick_exit", 1, dso) // __cxa_at_quick_exit(f, &__dso_handle)
	thunk("pthread_atfork", "__register_atfork", 3, dso)  // __register_atfork(a, b, c, &__dso_handle)
	return g
}

// NotifyAdding records an object with initializers, in order of addition.
func (p *Platform) NotifyAdding(rt *orc.ResourceTracker, mu orc.MaterializationUnit) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.dylibs[rt.JITDylib()]
	if d == nil {
		return fmt.Errorf("JITDylib %s was not set up for the ELF platform", rt.JITDylib().Name())
	}
	sym := mu.InitSymbol()
	p.order[sym] = p.seq.Add(1)
	d.pending = append(d.pending, sym)
	return nil
}

// Initialize links every object of jd that has initializers, then runs the
// initializers that have not run yet, in the order a static link and the
// dynamic loader would (preinit, then by priority, then by object order),
// passing them args as argc and argv. Their finalizers run at exit, or when
// jd is torn down.
func (p *Platform) Initialize(ctx context.Context, jd *orc.JITDylib, args []string) error {
	d := p.state(jd)
	if d == nil {
		return fmt.Errorf("JITDylib %s was not set up for the ELF platform", jd.Name())
	}
	p.mu.Lock()
	pending := d.pending
	d.pending = nil
	p.mu.Unlock()
	if len(pending) > 0 {
		if _, err := p.es.Lookup(ctx, orc.Search(jd), orc.Names(pending...), orc.Ready); err != nil {
			return err
		}
	}
	p.mu.Lock()
	graphs := d.graphs
	d.graphs = nil
	d.initialized = true
	p.mu.Unlock()
	inits, finis := order(graphs)
	if len(inits) == 0 && len(finis) == 0 {
		return nil
	}
	name := fmt.Sprintf("$.gorc.init.%d", p.thunkID.Add(1))
	if err := p.layer.AddLinkGraph(d.tracker, p.target.InitThunkGraph(name, inits, finis)); err != nil {
		return err
	}
	sym, err := p.es.LookupSymbol(ctx, orc.Search(jd), orc.Intern(name))
	if err != nil {
		return err
	}
	_, err = p.epc.RunAsMain(sym.Addr, args)
	return err
}

// TeardownJITDylib runs jd's exit handlers and finalizers (__cxa_finalize on
// its __dso_handle) while its code is still there.
func (p *Platform) TeardownJITDylib(jd *orc.JITDylib) error {
	d := p.state(jd)
	if d == nil || !d.initialized {
		return nil
	}
	p.mu.Lock()
	d.initialized = false
	p.mu.Unlock()
	name := fmt.Sprintf("$.gorc.deinit.%d", p.thunkID.Add(1))
	if err := p.layer.AddLinkGraph(d.tracker, p.deinitThunk(name)); err != nil {
		return err
	}
	sym, err := p.es.LookupSymbol(context.Background(), orc.Search(jd), orc.Intern(name))
	if err != nil {
		return err
	}
	return p.epc.RunAsVoidFunction(sym.Addr)
}

// HandleRemoveResources forgets the initializers of removed objects.
func (p *Platform) HandleRemoveResources(jd *orc.JITDylib, rt *orc.ResourceTracker) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d := p.dylibs[jd]; d != nil {
		kept := d.graphs[:0]
		for _, g := range d.graphs {
			if g.rt != rt {
				kept = append(kept, g)
			}
		}
		d.graphs = kept
		if d.tracker == rt {
			delete(p.dylibs, jd)
		}
	}
	return nil
}

// HandleTransferResources moves recorded initializers between trackers.
func (p *Platform) HandleTransferResources(jd *orc.JITDylib, dst, src *orc.ResourceTracker) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if d := p.dylibs[jd]; d != nil {
		for _, g := range d.graphs {
			if g.rt == src {
				g.rt = dst
			}
		}
	}
}

var le = binary.LittleEndian

// addEHFrameActions registers the graph's .eh_frame (null-terminated by a
// pass) with the unwinder while its memory is finalized.
func (p *Platform) addEHFrameActions(g *jitlink.LinkGraph) error {
	start, end, ok := ehframe.Range(g, ".eh_frame")
	if !ok || p.regEH == 0 {
		return nil
	}
	args := le.AppendUint64(le.AppendUint64(nil, start), end)
	g.AllocActions = append(g.AllocActions, jitlink.AllocAction{
		Finalize: jitlink.WrapperCall{Fn: p.regEH, Args: args},
		Dealloc:  jitlink.WrapperCall{Fn: p.deregEH, Args: args},
	})
	return nil
}
