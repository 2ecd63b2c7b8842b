package jitlinktool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorc-jit/gorc/archive"
	"github.com/gorc-jit/gorc/internal/jitlinkcheck"
	"github.com/gorc-jit/gorc/internal/native"
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/memory"
	"github.com/gorc-jit/gorc/jitlink/object"
	"github.com/gorc-jit/gorc/jitlink/target"
	"github.com/gorc-jit/gorc/jitlink/triple"
	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/elfplatform"
	"github.com/gorc-jit/gorc/orc/funcnames"
	"github.com/gorc-jit/gorc/orc/inprocess"
	"github.com/gorc-jit/gorc/orc/perfjit"
	"github.com/gorc-jit/gorc/orc/remote"
	"github.com/gorc-jit/gorc/orc/shared/wire"
)

// Main runs the tool and returns its exit status. The caller exits through
// C's exit, so that the JIT'd program's exit handlers and stdio run.
func Main(argv []string, stdout, stderr io.Writer) int {
	o, err := parseArgs(argv)
	if err != nil {
		fmt.Fprintln(stderr, "gorc-jitlink:", err)
		return 1
	}
	if o.help {
		fmt.Fprint(stdout, usage())
		return 0
	}
	t := &tool{o: o, stdout: stdout, stderr: stderr, times: &timings{}}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "gorc-jitlink:", err)
			return 1
		}
		pprof.StartCPUProfile(f)
		// Stopped before the program runs (it may exit the process).
		t.stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
	}
	if o.memProfile != "" {
		// Finer than the default (512 KiB) so a 100 ms link has samples.
		runtime.MemProfileRate = 4096
		stop := t.stopProfile
		t.stopProfile = func() {
			if stop != nil {
				stop()
			}
			if err := writeHeapProfile(o.memProfile); err != nil {
				fmt.Fprintln(stderr, "gorc-jitlink:", err)
			}
		}
	}
	code, err := t.run()
	t.stop()
	if t.stats != nil {
		// On stderr, after the program ran (lazy links happen while it
		// runs); a program that exits the process skips it.
		t.stats.print(stderr)
	}
	if t.perf != nil {
		// A program that exits the process skips this: the dump then
		// lacks only its closing record, which perf does not need.
		err = errors.Join(err, t.perf.Close())
	}
	if err != nil {
		report(stderr, err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// report prints one line per problem.
func report(w io.Writer, err error) {
	var errs []error
	var flatten func(error)
	flatten = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				flatten(x)
			}
			return
		}
		errs = append(errs, e)
	}
	flatten(err)
	seen := map[string]bool{}
	for _, e := range errs {
		msg := strings.ReplaceAll(e.Error(), "\n", "; ")
		if !seen[msg] {
			seen[msg] = true
			fmt.Fprintln(w, "gorc-jitlink:", msg)
		}
	}
}

type tool struct {
	stopProfile func()
	o           *options
	stdout      io.Writer
	stderr      io.Writer
	j           *lljit.LLJIT
	rec         *recorder
	perf        *perfjit.Plugin  // -perf-support
	lazy        *lljit.LLLazyJIT // -lazy
	dylibs      []func() error   // shared libraries loading (see loadDylib)
	stats       *linkStats       // -show-stats
	times       *timings
	// names interface symbols of every input object, to link them all with
	// -noexec and -check.
	provided []orc.Name
	// holds input objects read before they are added, so that each is
	// read once.
	objects map[string][]byte
	// holds the linker scripts followed, so that a loop ends.
	scripts map[string]bool
	// is set when an input object needs an executable stack.
	execStack bool
	// is set when JIT'd memory lies below 2 GiB, for code built with
	// -fno-pic.
	low bool
	// answers the host's libgcc.a, asked for at the start (nil with
	// -nolibgcc).
	// holds the input objects read ahead.
	ahead *readAhead
}

// timings accumulates -show-times figures.
type timings struct {
	mu     sync.Mutex
	phases map[string]time.Duration
	order  []string
}

func (t *timings) add(phase string, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.phases == nil {
		t.phases = map[string]time.Duration{}
	}
	if _, ok := t.phases[phase]; !ok {
		t.order = append(t.order, phase)
	}
	t.phases[phase] += d
}

func (t *timings) since(phase string, start time.Time) { t.add(phase, time.Since(start)) }

func (t *timings) print(w io.Writer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintln(w, "phase times:")
	for _, p := range t.order {
		fmt.Fprintf(w, "  %-28s %10.3f ms\n", p, float64(t.phases[p])/1e6)
	}
	fmt.Fprintln(w, "  (link: phases are summed over graphs; awaiting externals overlaps other work)")
}

// stop ends CPU profiling, if it runs.
func (t *tool) stop() {
	if t.stopProfile != nil {
		t.stopProfile()
		t.stopProfile = nil
	}
}

func (t *tool) logf(format string, args ...any) {
	if t.o.debug {
		fmt.Fprintf(t.stderr, "gorc-jitlink: "+format+"\n", args...)
	}
}

func (t *tool) run() (int, error) {
	o := t.o
	t.ahead = startReadAhead(append(slices.Clone(o.harness), o.inputs...), !o.lazy)
	defer t.ahead.closeArchives()
	start := time.Now()
	j, err := t.setup()
	if err != nil {
		return 0, err
	}
	t.j = j
	t.times.since("setup", start)

	start = time.Now()
	if err := t.addInputs(); err != nil {
		return 0, err
	}
	t.times.since("load inputs", start)

	start = time.Now()
	ctx := context.Background()
	main := j.MainJITDylib()
	entry, err := j.LookupIn(ctx, main, o.entry)
	if err != nil {
		return 0, fmt.Errorf("entry point %s: %w", o.entry, err)
	}
	t.logf("entry point %s at %#x", o.entry, entry)
	if o.noexec || len(o.checks) > 0 || o.showAddrs {
		// Link every input object, not only what the entry point needs.
		set := make(orc.LookupSet, len(t.provided))
		for i, n := range t.provided {
			set[i] = orc.LookupEntry{Name: n, Weak: true}
		}
		if _, err := j.Session().Lookup(ctx, main.LinkOrder(), set, orc.Ready); err != nil {
			return 0, err
		}
	}
	for _, loaded := range t.dylibs {
		// A library no lookup reached has not been checked yet.
		if err := loaded(); err != nil {
			return 0, err
		}
	}
	t.times.since("link", start)

	if t.rec != nil {
		t.rec.seal()
	}
	if o.showAddrs {
		t.rec.print(t.stdout)
	}
	if len(o.checks) > 0 {
		start = time.Now()
		if err := t.runChecks(); err != nil {
			return 0, err
		}
		t.times.since("checks", start)
	}
	t.stop()
	if o.noexec {
		if o.showTimes {
			t.times.print(t.stderr)
		}
		return 0, nil
	}
	argv := append([]string{o.inputs[0]}, o.args...)
	start = time.Now()
	native.InstallCrashHandler("gorc-jitlink: " + o.inputs[0] + " crashed: ")
	if t.execStack {
		// As glibc gives a program whose objects ask for one.
		if err := elfplatform.EnableExecutableStack(j.ExecutorProcessControl(), ""); err != nil {
			return 0, err
		}
	}
	initialize := j.Initialize
	if t.lazy != nil {
		initialize = t.lazy.Initialize
	}
	if err := initialize(ctx, main, argv); err != nil {
		return 0, fmt.Errorf("running initializers: %w", err)
	}
	t.times.since("initializers", start)
	if o.showTimes {
		t.times.print(t.stderr)
	}
	var rc int
	ended := false // the executor ended with main (see exitExecutor)
	if r, ok := j.ExecutorProcessControl().(*remote.EPC); ok {
		rc, ended, err = r.RunAsMainAndExit(entry, argv)
	}
	if !ended {
		rc, err = j.ExecutorProcessControl().RunAsMain(entry, argv)
	}
	if _, inProcess := j.ExecutorProcessControl().(*inprocess.EPC); inProcess || (ended && err == nil) {
		// Exit handlers and finalizers run when this process exits, or
		// ran as the executor ended.
		return rc, err
	}
	if err == nil {
		var exit *remote.ExitError
		if xerr := exitExecutor(j.ExecutorProcessControl(), rc); errors.As(xerr, &exit) && exit.Signal == 0 {
			return exit.Code, nil
		} else if xerr != nil {
			return rc, fmt.Errorf("%s: exiting: %w", o.inputs[0], xerr)
		}
	}
	var exit *remote.ExitError
	if errors.As(err, &exit) {
		// The program called exit, or crashed, in the executor.
		if exit.Signal != 0 {
			return 128 + int(exit.Signal), fmt.Errorf("%s: %w", o.inputs[0], err)
		}
		fmt.Fprintf(t.stderr, "gorc-jitlink: %s: %v\n", o.inputs[0], err)
		return exit.Code, nil
	}
	if err != nil {
		return 0, err
	}
	// Run the finalizers and exit handlers in the executor, release its
	// memory and let it exit (flushing the program's output).
	if err := j.Close(); err != nil {
		return rc, err
	}
	return rc, nil
}

// exitExecutor ends a gorc-executor this tool launched as a native program
// ends once main returns (remote.EPC.RunAsMainAndExit does so in the call
// that runs main; this is for gorc-executors without it): by calling the C
// library's exit(rc) there, which
// runs the program's exit handlers and finalizers (the platform registers
// them with __cxa_atexit) and flushes its stdio. Tearing the session down
// instead would also release executor memory piece by piece and link a
// finalizer thunk, work the executor's exit makes pointless. The executor
// dies inside the call, so success is an *remote.ExitError; nil means the
// executor cannot be exited this way (not launched here, or not gorc's) and
// the caller closes the session as usual.
func exitExecutor(epc orc.ExecutorProcessControl, rc int) error {
	r, ok := epc.(*remote.EPC)
	if !ok || !r.IsGorcExecutor() || r.PID() == 0 {
		return nil
	}
	h, err := r.LoadDylib("")
	if err != nil {
		return nil
	}
	addr, err := r.LookupSymbols(h, []orc.SymbolRequest{{Name: "exit"}})
	if err != nil || addr[0] == 0 {
		return nil
	}
	_, err = r.RunAsIntFunction(addr[0], rc)
	return err
}

// setup builds the JIT for the options.
func (t *tool) setup() (*lljit.LLJIT, error) {
	o := t.o
	b := &lljit.Builder{NoProcessSymbols: o.noProcessSyms, NumCompileThreads: o.numThreads, DebuggerSupport: o.debugger}
	var remoteOpts []remote.Option
	if o.sharedMemory {
		remoteOpts = append(remoteOpts, remote.SharedMemory())
	}
	if o.debugger {
		remoteOpts = append(remoteOpts, remote.Debuggable())
	}
	switch {
	case o.oopExecutor != "":
		// The executor's program sees the libraries it would see in this
		// process (see inProcess); the C++ runtime and libm are loaded
		// when the command line or the objects ask for them.
		var preload []string
		if !o.noProcessSyms {
			preload = append(preload, "libgcc_s.so.1")
		}
		remoteOpts = append(remoteOpts, remote.Stdio(t.stdout, t.stderr), remote.ExecutorPreload(preload...))
		epc, err := remote.Launch(o.oopExecutor, remoteOpts...)
		if err != nil {
			return nil, err
		}
		b.EPC = epc
	case o.oopConnect != "":
		token, err := wire.LoadToken(o.oopTokenFile)
		if err != nil {
			return nil, fmt.Errorf("the executor's token: %w", err)
		}
		if token != nil {
			remoteOpts = append(remoteOpts, remote.Token(token))
		}
		epc, err := remote.Connect(o.oopConnect, remoteOpts...)
		if errors.Is(err, wire.ErrTokenRequired) {
			err = fmt.Errorf("%w: give -oop-executor-token-file=FILE or set %s", err, wire.TokenEnv)
		}
		if err != nil {
			return nil, err
		}
		b.EPC = epc
	case native.Unsupported() != nil:
		return nil, fmt.Errorf("%w (-oop-executor, -oop-executor-connect)", native.Unsupported())
	default:
		epc, err := t.inProcess()
		if err != nil {
			return nil, err
		}
		b.EPC = epc
		foreign, err := t.foreignTriple()
		if err != nil {
			return nil, err
		}
		if o.noexec {
			// Nothing runs (nor can, with objects for another
			// architecture or memory at addresses that cannot be
			// mapped): see noexecEPC.
			ne := noexecEPC{epc, epc.TargetTriple()}
			if foreign != nil {
				ne.triple = *foreign
			}
			b.EPC, b.PlatformRuntime = ne, ne
			if foreign != nil {
				b.PlatformRuntime = &foreignRuntime{Runtime: ne, below: foreign.Arch == triple.X86_64}
			}
		}
	}
	b.SessionOptions = append(b.SessionOptions, orc.WithErrorReporter(func(err error) { report(t.stderr, err) }))
	b.ObjectLinkingLayerCreator = func(es *orc.ExecutionSession, mm jitlink.MemoryManager) (*orc.ObjectLinkingLayer, error) {
		l := orc.NewObjectLinkingLayer(es, mm)
		if len(o.checks) > 0 || o.showAddrs {
			t.rec = newRecorder()
			l.AddPlugin(t.rec)
		}
		if o.perfSupport {
			p, err := perfjit.New()
			if err != nil {
				return nil, err
			}
			t.perf = p
			l.AddPlugin(p)
		}
		if t.low && !o.noexec && len(o.checks) == 0 {
			// Only for programs that run: regression tests check LLVM's
			// out-of-range errors and addresses of their own tables.
			l.AddPlugin(farExternals{fe: jitlink.FarExternals{IsCode: inprocess.IsCode, Copy: elfplatform.CopyableVariable}})
		}
		if o.showStats {
			t.stats = &linkStats{}
			l.AddPlugin(t.stats)
		}
		if o.showGraphs != nil {
			l.AddPlugin(&graphPrinter{w: t.stdout, match: o.showGraphs})
		}
		if o.debug {
			l.AddPlugin(&debugLogger{t: t})
		}
		if o.showTimes {
			l.SetPhaseTimer(func(g *jitlink.LinkGraph, phase string, d time.Duration) { t.times.add("link: "+phase, d) })
		}
		return l, nil
	}
	if o.lazy {
		lz, err := (&lljit.LazyBuilder{Builder: *b}).Create()
		if err != nil {
			return nil, err
		}
		t.lazy = lz
		return lz.LLJIT, nil
	}
	return b.Create()
}

// farExternals makes 32-bit references of code below 2 GiB to shared
// libraries' functions and stdio streams work (see jitlink.FarExternals):
// the graph's target installs the passes.
type farExternals struct {
	orc.PluginBase
	fe jitlink.FarExternals
}

func (p farExternals) ModifyPassConfig(mr *orc.MaterializationResponsibility, g *jitlink.LinkGraph, cfg *jitlink.PassConfig) error {
	tgt, err := target.For(g.TargetTriple())
	if err != nil {
		return err
	}
	return tgt.AddFarExternalPasses(cfg, p.fe)
}

// linkStats counts the objects added and linked (-show-stats).
type linkStats struct {
	orc.PluginBase
	inputs, linked, graphs atomic.Int64
}

func (s *linkStats) added() {
	if s != nil {
		s.inputs.Add(1)
	}
}

// ModifyPassConfig counts links of objects: graphs the tool and the
// platform build themselves have names in angle brackets. A graph of
// archive members linked together counts each member.
func (s *linkStats) ModifyPassConfig(mr *orc.MaterializationResponsibility, g *jitlink.LinkGraph, cfg *jitlink.PassConfig) error {
	if strings.HasPrefix(g.Name(), "<") {
		return nil
	}
	objs := map[string]bool{g.Name(): true}
	for _, sec := range g.Sections() {
		objs[g.SectionObject(sec)] = true
	}
	if len(objs) > 1 {
		delete(objs, g.Name())
	}
	s.linked.Add(int64(len(objs)))
	s.graphs.Add(1)
	return nil
}

func (s *linkStats) print(w io.Writer) {
	fmt.Fprintf(w, "objects linked: %d in %d graphs (inputs %d, the rest archive members)\n", s.linked.Load(), s.graphs.Load(), s.inputs.Load())
}

// inProcess makes the in-process executor. Its memory may lie at
// addresses that cannot be mapped (for -noexec checks only: noexecEPC
// then keeps it from the unwinder).
func (t *tool) inProcess() (*inprocess.EPC, error) {
	o := t.o
	var epcOpts []inprocess.Option
	if o.debugger {
		epcOpts = append(epcOpts, inprocess.Debuggable())
	}
	if t.needsLowAddresses() {
		// Code built with -fno-pic holds 32-bit absolute addresses of its
		// own data.
		epcOpts = append(epcOpts, inprocess.Low2GB())
		t.low = true
	}
	if o.slabSize > 0 {
		slabOpts := []memory.SlabOption{memory.SlabActionRunner(inprocess.RunAction)}
		if o.hasSlabAddress {
			slabOpts = append(slabOpts, memory.SlabAddress(o.slabAddress))
		}
		if o.slabPageSize != 0 {
			slabOpts = append(slabOpts, memory.SlabPageSize(o.slabPageSize))
		}
		slab, err := memory.NewSlab(o.slabSize, slabOpts...)
		if err != nil {
			return nil, err
		}
		if slab.Virtual() && !o.noexec {
			return nil, fmt.Errorf("cannot map the slab at %#x: running code needs it there (use -noexec to link only)", o.slabAddress)
		}
		epcOpts = append(epcOpts, inprocess.WithMemoryManager(slab))
	}
	if !o.noProcessSyms {
		// Programs linked by gcc and g++ see the unwinder of libgcc_s
		// (_Unwind_*); C++ programs need it, llvm-jitlink (itself C++)
		// always has it loaded.
		native.Open("libgcc_s.so.1", native.RTLDNow|native.RTLDGlobal)
	}
	return inprocess.New(epcOpts...), nil
}

// noexecEPC is the in-process executor as -noexec uses it. For objects of
// another architecture, it says it targets theirs. As nothing runs, it
// offers the platform and the layers no functions to register code with
// (the unwinder's, and the crash reports' function names): registering
// cost about a tenth of a link's CPU, and llvm-jitlink registers nothing
// with -noexec either. Code at addresses that cannot be mapped must not
// be registered at all.
type noexecEPC struct {
	*inprocess.EPC
	triple triple.Triple
}

func (e noexecEPC) TargetTriple() triple.Triple { return e.triple }

func (e noexecEPC) RuntimeSymbol(name string) (uint64, bool) {
	if strings.Contains(name, "eh_frame") || name == funcnames.RegisterFunction || name == funcnames.DeregisterFunction {
		return 0, false
	}
	return e.EPC.RuntimeSymbol(name)
}

// foreignRuntime is the platform runtime of a -noexec link for another
// architecture: no unwinder registration (this process's unwinder is for
// its own machine), and static TLS laid out as the target lays it out,
// without any memory behind it, as nothing runs: on x86-64 below the
// thread pointer (TLS variant 2), elsewhere after the 16-byte thread
// control block it points at (variant 1, AArch64's).
type foreignRuntime struct {
	elfplatform.Runtime
	below bool // variant 2
	mu    sync.Mutex
	used  uint64
}

func (r *foreignRuntime) ReserveStaticTLS(m uint32, size, align uint64, image []byte) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	align = max(align, 1)
	if r.below {
		r.used = (r.used + size + align - 1) &^ (align - 1)
		return -int64(r.used), nil
	}
	off := (16 + r.used + align - 1) &^ (align - 1)
	r.used = off + size - 16
	return int64(off), nil
}

// foreignTriple returns, with -noexec, the triple of the first input
// object if it is for another architecture than this process (as
// llvm-jitlink takes its target from the first object), else nil.
func (t *tool) foreignTriple() (*triple.Triple, error) {
	if !t.o.noexec {
		return nil, nil
	}
	for _, in := range append(slices.Clone(t.o.harness), t.o.inputs...) {
		if kind, err := sniff(in); err != nil || kind != "object" {
			continue
		}
		data, err := t.readObject(in)
		if err != nil {
			return nil, nil // reported when the input is added
		}
		arch, err := object.Arch(in, data)
		if err != nil {
			return nil, err
		}
		host := triple.Host()
		if arch == host.Arch {
			return nil, nil
		}
		t.logf("%s is for %s: linking for it without running", in, arch)
		host.Arch = arch
		return &host, nil
	}
	return nil, nil
}

// needsLowAddresses reports whether an input object was built without PIC
// in the small code model (see object.NeedsLowAddresses).
func (t *tool) needsLowAddresses() bool {
	for _, in := range append(slices.Clone(t.o.inputs), t.o.harness...) {
		if kind, err := sniff(in); err != nil || kind != "object" {
			continue
		}
		data, err := t.readObject(in)
		if err != nil {
			continue // reported when the input is added
		}
		if low, _ := object.NeedsLowAddresses(in, data); low {
			t.logf("%s has 32-bit absolute relocations: JIT'd memory goes below 2 GiB", in)
			return true
		}
	}
	return false
}

// readObject reads an input object, or returns what an earlier call (or
// the read-ahead) read.
func (t *tool) readObject(path string) ([]byte, error) {
	if data, ok := t.objects[path]; ok {
		return data, nil
	}
	if o, ok := t.ahead.peek(path); ok && o.readErr == nil {
		return o.data, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if t.objects == nil {
		t.objects = map[string][]byte{}
	}
	t.objects[path] = data
	return data, nil
}

// readInput returns an input object and its interface: the read-ahead's,
// or read now.
func (t *tool) readInput(path string) ([]byte, *jitlink.Interface, error) {
	if o, ok := t.ahead.take(path); ok {
		if o.readErr != nil {
			return nil, nil, o.readErr
		}
		return o.data, o.iface, o.ifaceErr
	}
	data, err := t.readObject(path)
	if err != nil {
		return nil, nil, err
	}
	iface, err := object.ReadInterface(path, data)
	return data, iface, err
}

// readAhead reads the input objects and parses their interfaces, and
// opens the input archives, on a goroutine of its own from the start,
// while an executor process starts (-oop-executor) or the JIT is set up:
// a large object takes milliseconds, opening an archive reads each of its
// member headers.
type readAhead struct {
	done     chan struct{} // closed when objs and archives are complete
	mu       sync.Mutex
	objs     map[string]aheadObject
	archives map[string]aheadArchive
}

type aheadArchive struct {
	a       *archive.Archive
	members orc.MemberInterfaces // the members the input objects pull
	err     error
}

type aheadObject struct {
	data              []byte
	iface             *jitlink.Interface
	readErr, ifaceErr error
}

// startReadAhead starts reading paths; with members, it also reads the
// interfaces of the archive members the input objects pull (what linking
// them eagerly does first).
func startReadAhead(paths []string, members bool) *readAhead {
	r := &readAhead{done: make(chan struct{}), objs: map[string]aheadObject{}, archives: map[string]aheadArchive{}}
	go func() {
		defer close(r.done)
		for _, p := range paths {
			kind, err := sniff(p)
			if err != nil {
				continue // added (and the error reported) as before
			}
			if kind == "archive" {
				if _, seen := r.archives[p]; !seen {
					a, err := archive.Open(p)
					r.archives[p] = aheadArchive{a: a, err: err}
				}
				continue
			}
			if _, seen := r.objs[p]; seen || kind != "object" {
				continue
			}
			var o aheadObject
			if o.data, o.readErr = os.ReadFile(p); o.readErr == nil {
				o.iface, o.ifaceErr = object.ReadInterface(p, o.data)
			}
			r.objs[p] = o
		}
		if members {
			r.readMembers()
		}
	}()
	return r
}

// readMembers reads the interfaces of the members the objects read ahead
// pull from each archive (and those these pull in turn).
func (r *readAhead) readMembers() {
	defined := map[string]bool{}
	for _, o := range r.objs {
		if o.iface != nil {
			for _, s := range o.iface.Symbols {
				defined[s.Name] = true
			}
		}
	}
	var undefined []string
	for _, o := range r.objs {
		if o.iface != nil {
			for _, u := range orc.StrongUndefined(o.iface) {
				if !defined[u] {
					undefined = append(undefined, u)
				}
			}
		}
	}
	for p, a := range r.archives {
		if a.a != nil {
			a.members = orc.ReadMemberInterfaces(a.a, undefined)
			r.archives[p] = a
		}
	}
}

// peek waits for the read-ahead and returns what it holds for path.
func (r *readAhead) peek(path string) (aheadObject, bool) {
	if r == nil {
		return aheadObject{}, false
	}
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	o, ok := r.objs[path]
	return o, ok
}

// takeArchive returns the archive at path opened ahead, if it was, and
// forgets it (the caller owns it).
func (r *readAhead) takeArchive(path string) (aheadArchive, bool) {
	if r == nil {
		return aheadArchive{}, false
	}
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.archives[path]
	delete(r.archives, path)
	return a, ok
}

// closeArchives closes the archives opened ahead that were not taken
// (inputs not added after an error).
func (r *readAhead) closeArchives() {
	if r == nil {
		return
	}
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	for p, a := range r.archives {
		if a.a != nil {
			a.a.Close()
		}
		delete(r.archives, p)
	}
}

// take is peek, after which the read-ahead forgets path (its bytes go to
// the layer, which drops them once linked).
func (r *readAhead) take(path string) (aheadObject, bool) {
	o, ok := r.peek(path)
	if ok {
		r.mu.Lock()
		delete(r.objs, path)
		r.mu.Unlock()
	}
	return o, ok
}

// addInputs adds absolute symbols, harness and test objects, archives and
// libraries.
func (t *tool) addInputs() error {
	o, j := t.o, t.j
	main := j.MainJITDylib()
	if len(o.abs) > 0 {
		syms := orc.SymbolMap{}
		for _, a := range o.abs {
			syms[orc.Intern(a.name)] = orc.Symbol{Addr: a.addr, Flags: orc.Exported}
		}
		if err := main.Define(orc.AbsoluteSymbols(syms)); err != nil {
			return err
		}
	}
	h, err := newHarness(o.harness)
	if err != nil {
		return err
	}
	if h != nil {
		j.ObjectLinkingLayer().AddPlugin(h)
	}
	var errs []error
	for _, p := range append(slices.Clone(o.harness), o.inputs...) {
		errs = append(errs, t.addInput(p, h))
	}
	dirs := append(slices.Clone(o.libDirs), systemLibDirs(t.j.ExecutorProcessControl().TargetTriple())...)
	libs := o.libs
	// Not in llvm-jitlink's regression-test modes, whose objects name C++
	// runtime symbols to be resolved otherwise.
	if !o.noStdlibCXX && !o.noexec && !o.phonyExternals && len(o.checks) == 0 {
		libs = withCXXRuntime(libs, o.inputs)
	}
	for _, l := range libs {
		p, err := findLibrary(l, dirs)
		if err == nil {
			err = t.addLibrary(p, dirs)
		}
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if !o.noLibgcc {
		if err := t.addLibgcc(); err != nil {
			return err
		}
	}
	if o.phonyExternals {
		phony, err := j.Session().CreateJITDylib("<Phony Externals>")
		if err != nil {
			return err
		}
		phony.AddGenerator(orc.GeneratorFunc(func(jd *orc.JITDylib, names orc.LookupSet) error {
			syms := orc.SymbolMap{}
			for _, n := range names {
				syms[n.Name] = orc.Symbol{Flags: orc.Exported}
			}
			return jd.Define(orc.AbsoluteSymbols(syms))
		}))
		main.AddToLinkOrder(phony, orc.MatchExportedOnly)
	}
	return nil
}

// addLibgcc makes the compiler's libgcc.a the last place symbols are
// looked for, as gcc links it after everything: its helpers (decimal
// float, 128-bit division, soft-float) are called by compiled code without
// the program naming the library. Members are linked on demand; without a
// libgcc.a there is nothing to fall back to. The archive is found and
// opened when a lookup first reaches it: most links never do, and finding
// it runs the compiler driver (about 1.5 ms) and opening it maps about
// 1 MB.
func (t *tool) addLibgcc() error {
	jd, err := t.j.CreateJITDylib("<libgcc>")
	if err != nil {
		return err
	}
	jd.AddGenerator(&libgcc{t: t})
	t.j.MainJITDylib().AddToLinkOrder(jd, orc.MatchExportedOnly)
	return nil
}

// libgcc is the generator of the <libgcc> JITDylib: libgcc.a's, once a
// lookup needs it.
type libgcc struct {
	t    *tool
	once sync.Once
	gen  orc.DefinitionGenerator // nil when there is no libgcc.a
	err  error
}

func (l *libgcc) TryToGenerate(jd *orc.JITDylib, names orc.LookupSet) error {
	l.once.Do(func() {
		path := libgccPath(l.t.j.ExecutorProcessControl().TargetTriple())
		if path == "" {
			l.t.logf("no libgcc.a found: no fallback for compiler helpers")
			return
		}
		l.t.logf("libgcc fallback %s", path)
		// Mapped for the rest of the process, as the tool's other
		// archives are in process.
		a, err := archive.Open(path)
		if err != nil {
			l.err = err
			return
		}
		l.gen, l.err = orc.NewStaticLibraryGenerator(l.t.j.ObjectLinkingLayer(), a, nil)
	})
	if l.gen == nil {
		return l.err
	}
	return l.gen.TryToGenerate(jd, names)
}

// addInput adds one input file: an object, an archive or a shared library.
func (t *tool) addInput(path string, h *harness) error {
	kind, err := sniff(path)
	if err != nil {
		return err
	}
	switch kind {
	case "archive":
		t.logf("archive %s", path)
		return t.addArchive(path)
	case "shared":
		t.logf("shared library %s", path)
		return t.loadDylib(path)
	case "script":
		return fmt.Errorf("%s: not an ELF object or archive", path)
	}
	data, iface, err := t.readInput(path)
	if err != nil {
		return err
	}
	delete(t.objects, path) // the layer holds it from here
	if iface.ExecutableStack {
		t.logf("%s has an executable .note.GNU-stack: the stack will be executable", path)
		t.execStack = true
	}
	flags := orc.InterfaceFlags(iface)
	if h != nil && !h.isHarness(path) {
		flags = h.testInterface(path, iface, flags)
	}
	for n := range flags {
		t.provided = append(t.provided, n)
	}
	t.logf("object %s: %d symbols", path, len(flags))
	t.stats.added()
	if t.lazy != nil {
		return t.lazy.AddLazyObject(nil, path, data)
	}
	main := t.j.MainJITDylib()
	return t.j.ObjectLinkingLayer().AddWithInterface(main.DefaultResourceTracker(), path, data, flags, iface.HasInitializers)
}

// loadDylib loads a shared library in the executor without waiting for
// it: run checks that it loaded once the link is done.
func (t *tool) loadDylib(path string) error {
	t.dylibs = append(t.dylibs, t.j.StartLoadDylib(path))
	return nil
}

// addArchive links an archive's members on demand (with -lazy, each on
// its first call).
func (t *tool) addArchive(path string) error {
	ahead, ok := t.ahead.takeArchive(path)
	switch {
	case ok && ahead.err != nil:
		return ahead.err
	case ok && t.lazy != nil:
		return t.lazy.AddLazyOpenArchive(nil, ahead.a)
	case ok:
		return t.j.AddOpenArchive(nil, ahead.a, ahead.members)
	case t.lazy != nil:
		return t.lazy.AddLazyArchive(nil, path)
	}
	return t.j.AddArchive(nil, path)
}

// addLibrary adds a library found by -l: shared libraries are loaded,
// archives linked on demand, linker scripts followed.
func (t *tool) addLibrary(path string, dirs []string) error {
	kind, err := sniff(path)
	if err != nil {
		return err
	}
	switch kind {
	case "shared":
		t.logf("library %s", path)
		return t.loadDylib(path)
	case "archive":
		t.logf("library %s", path)
		return t.addArchive(path)
	case "object":
		return t.addInput(path, nil)
	}
	if t.scripts[path] {
		return nil // a script that names itself, directly or not
	}
	if t.scripts == nil {
		t.scripts = map[string]bool{}
	}
	t.scripts[path] = true
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	inputs, err := scriptInputs(path, data)
	if err != nil {
		return err
	}
	var errs []error
	for _, in := range inputs {
		p, err := scriptFile(path, in, dirs)
		if err == nil {
			err = t.addLibrary(p, dirs)
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// runChecks evaluates every check file against the linked memory.
func (t *tool) runChecks() error {
	env := &jitlinkcheck.Env{
		Arch: t.j.ExecutorProcessControl().TargetTriple().Arch,
		Symbol: func(name string) (uint64, bool) {
			if a, ok := t.rec.symbols[name]; ok {
				return a, true
			}
			s, err := t.j.Session().LookupSymbol(context.Background(), t.j.MainJITDylib().LinkOrder(), orc.Intern(name))
			return s.Addr, err == nil
		},
		Read:        t.rec.read,
		StubAddr:    t.rec.stubAddr,
		GOTAddr:     t.rec.gotAddr,
		SectionAddr: t.rec.sectionAddr,
	}
	var errs []error
	for _, file := range t.o.checks {
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		rules := jitlinkcheck.Rules(data, t.o.checkName)
		if len(rules) == 0 {
			errs = append(errs, fmt.Errorf("%s: no %s lines", file, t.o.checkName))
			continue
		}
		failed := 0
		for _, r := range rules {
			lhs, rhs, err := jitlinkcheck.Eval(r.Expr, env)
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("%s:%d: %s: %w", file, r.Line, r.Expr, err))
				failed++
			case lhs != rhs:
				errs = append(errs, fmt.Errorf("%s:%d: check failed: %s (%#x != %#x)", file, r.Line, r.Expr, lhs, rhs))
				failed++
			}
		}
		t.logf("%s: %d of %d checks passed", file, len(rules)-failed, len(rules))
	}
	return errors.Join(errs...)
}

// graphPrinter prints the graphs whose names match after fixups
// (-show-graph, -show-graphs).
type graphPrinter struct {
	orc.PluginBase
	mu    sync.Mutex
	w     io.Writer
	match *regexp.Regexp
}

func (p *graphPrinter) ModifyPassConfig(mr *orc.MaterializationResponsibility, g *jitlink.LinkGraph, cfg *jitlink.PassConfig) error {
	if !p.match.MatchString(g.Name()) {
		return nil
	}
	cfg.PostFixup = append(cfg.PostFixup, func(g *jitlink.LinkGraph) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		return g.Dump(p.w)
	})
	return nil
}

// debugLogger logs links (-debug).
type debugLogger struct {
	orc.PluginBase
	t *tool
}

func (d *debugLogger) ModifyPassConfig(mr *orc.MaterializationResponsibility, g *jitlink.LinkGraph, cfg *jitlink.PassConfig) error {
	d.t.logf("linking %s into %s (%d symbols)", g.Name(), mr.JITDylib().Name(), len(mr.Symbols()))
	cfg.PostAllocation = append(cfg.PostAllocation, func(g *jitlink.LinkGraph) error {
		for _, sec := range g.Sections() {
			if len(sec.Blocks()) > 0 {
				s, e := sec.Range()
				d.t.logf("  %s: %s %s %#x-%#x", g.Name(), sec.Name(), sec.Prot(), s, e)
			}
		}
		return nil
	})
	cfg.PreFixup = append(cfg.PreFixup, func(g *jitlink.LinkGraph) error {
		for _, s := range g.ExternalSymbols() {
			d.t.logf("  %s: %s -> %#x", g.Name(), s.Name(), s.Address())
		}
		return nil
	})
	return nil
}

func (d *debugLogger) NotifyEmitted(mr *orc.MaterializationResponsibility) error {
	d.t.logf("emitted %d symbols into %s", len(mr.Symbols()), mr.JITDylib().Name())
	return nil
}

func (d *debugLogger) NotifyFailed(mr *orc.MaterializationResponsibility) error {
	d.t.logf("link into %s failed", mr.JITDylib().Name())
	return nil
}

// writeHeapProfile writes the allocations made so far to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return errors.Join(pprof.Lookup("allocs").WriteTo(f, 0), f.Close())
}
