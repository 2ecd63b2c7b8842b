// Package remote is the controller's side of an executor in another
// process: an ExecutorProcessControl that speaks the remote-executor
// protocol of LLVM 14, 19 or 22 (whichever the executor's Setup shows) to
// gorc-executor or llvm-jitlink-executor, over pipes to a
// process it starts or over a network connection. It is pure Go: a
// controller built without cgo links for a remote executor.
package remote

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/target"
	"github.com/gorc-jit/gorc/jitlink/triple"
	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/shared/protocol"
	"github.com/gorc-jit/gorc/orc/shared/sps"
	"github.com/gorc-jit/gorc/orc/shared/wire"
)

// EPC controls an executor process over the remote-executor protocol. It
// is safe for concurrent use.
type EPC struct {
	conn   *wire.Conn
	setup  protocol.Setup
	triple triple.Triple // setup.Triple, parsed
	syms   map[string]uint64
	mm     jitlink.MemoryManager
	gorc   bool // the executor is gorc's (it publishes gorc's additions)
	// version is the LLVM protocol the executor speaks (gorc's speaks
	// 14's or 22's, which serves 19's controllers too).
	version protocol.Version

	dispatch atomic.Pointer[func(tag uint64, args []byte) ([]byte, error)]

	cmd     *exec.Cmd     // the executor process, when launched
	exited  chan struct{} // closed once cmd has been waited for
	waitErr error
	closeMu sync.Mutex
	closed  bool
	served  chan struct{} // closed when the connection's reader has stopped
}

// Option configures an EPC.
type Option func(*config)

type config struct {
	stdout, stderr io.Writer
	shared         bool
	debuggable     bool
	args           []string
	token          []byte
	preload        *[]string // nil: the executor's own choice
}

// ExecutorPreload makes a gorc-executor that Launch starts load only libs
// at start (with global visibility, as dlopen's RTLD_GLOBAL), rather than
// the C++ runtime and libm it loads for LLVM's controllers, which cannot
// load libraries into it: loading libstdc++ costs a millisecond or two of
// its start. Other executors ignore it.
func ExecutorPreload(libs ...string) Option { return func(c *config) { c.preload = &libs } }

// Token makes the EPC answer a listening executor's token challenge with
// token (see wire.Challenge). An executor that does not challenge is
// served as before.
func Token(token []byte) Option { return func(c *config) { c.token = token } }

// Stdio sets where a launched executor's stdout and stderr go (default:
// this process's).
func Stdio(stdout, stderr io.Writer) Option {
	return func(c *config) { c.stdout, c.stderr = stdout, stderr }
}

// Debuggable makes JIT'd memory that a debugger attached to the executor
// can set breakpoints in: a private reservation per graph rather than the
// slab's shared memfd, whose read-only views ptrace cannot write. It
// overrides SharedMemory.
func Debuggable() Option { return func(c *config) { c.debuggable = true } }

// ExecutorArgs passes options to an executor that Launch starts, after
// its transport argument (for gorc-executor, max-reserved=SIZE).
func ExecutorArgs(args ...string) Option { return func(c *config) { c.args = append(c.args, args...) } }

// SharedMemory makes the EPC link into memory mapped in both processes
// (gorc-executor's slab, or the shared-memory mapper of LLVM 19's and
// 22's executors; same machine only), so that finalizing sends no content
// over the connection. Without it, or where the executor cannot
// share memory, segments are copied over the connection.
func SharedMemory() Option { return func(c *config) { c.shared = true } }

// Launch starts the executor at path, talking to it over a pair of pipes
// (passed as "filedescs=3,4"), and waits for its Setup message.
func Launch(path string, opts ...Option) (*EPC, error) {
	c := configure(opts)
	toExec, ourW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	ourR, fromExec, err := os.Pipe()
	if err != nil {
		toExec.Close()
		ourW.Close()
		return nil, err
	}
	growPipe(ourW)
	growPipe(fromExec)
	cmd := exec.Command(path, append([]string{"filedescs=3,4"}, c.args...)...)
	cmd.ExtraFiles = []*os.File{toExec, fromExec}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, c.stdout, c.stderr
	if c.preload != nil {
		cmd.Env = append(os.Environ(), protocol.PreloadEnv+"="+strings.Join(*c.preload, ":"))
	}
	err = cmd.Start()
	toExec.Close()
	fromExec.Close()
	if err != nil {
		ourW.Close()
		ourR.Close()
		return nil, fmt.Errorf("starting executor: %w", err)
	}
	e := &EPC{cmd: cmd, exited: make(chan struct{})}
	go func() {
		e.waitErr = cmd.Wait()
		close(e.exited)
	}()
	if err := e.start(wire.NewConn(ourR, ourW, wire.Closers{ourR, ourW}), c); err != nil {
		e.Close()
		var exit *ExitError
		if err := e.exitReason(err); errors.As(err, &exit) {
			return nil, fmt.Errorf("executor %s: %v before its Setup message", path, exit)
		}
		return nil, fmt.Errorf("executor %s: %w", path, err)
	}
	return e, nil
}

// connectRetry is how long Connect keeps trying an executor that is not
// listening yet: one started at the same moment as the controller (as in
// "gorc-executor listen=... & gorc-jitlink -oop-executor-connect=...")
// needs a few milliseconds to get there.
const connectRetry = 2 * time.Second

// Connect connects to an executor listening at addr: host:port on TCP, or
// unix:PATH for a Unix socket. While nothing listens there it retries for
// up to two seconds.
func Connect(addr string, opts ...Option) (*EPC, error) {
	network, address := "tcp", addr
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, address = "unix", p
	}
	deadline := time.Now().Add(connectRetry)
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		nc, err := net.Dial(network, address)
		if err == nil {
			return New(nc, nc, nc, opts...)
		}
		notYet := errors.Is(err, syscall.ECONNREFUSED) || (network == "unix" && errors.Is(err, syscall.ENOENT))
		if !notYet || time.Now().Add(wait).After(deadline) {
			return nil, fmt.Errorf("connecting to executor: %w", err)
		}
		time.Sleep(wait)
	}
}

// New talks to an executor over an established transport: it reads r,
// writes w and closes c at the end (closing c must end reads of r).
func New(r io.Reader, w io.Writer, c io.Closer, opts ...Option) (*EPC, error) {
	e := &EPC{}
	cfg := configure(opts)
	if err := e.start(wire.NewConn(r, w, c, wire.AuthToken(cfg.token)), cfg); err != nil {
		return nil, err
	}
	return e, nil
}

func configure(opts []Option) *config {
	c := &config{stdout: os.Stdout, stderr: os.Stderr}
	for _, o := range opts {
		o(c)
	}
	return c
}

// start reads the Setup message and serves the executor's calls.
func (e *EPC) start(conn *wire.Conn, c *config) error {
	e.conn = conn
	payload, err := conn.ReadSetup()
	if err != nil {
		return err
	}
	e.setup, e.version, err = protocol.DecodeSetup(payload)
	if err != nil {
		conn.Close()
		return err
	}
	if e.triple, err = triple.Parse(e.setup.Triple); err != nil {
		conn.Close()
		return fmt.Errorf("executor's Setup message: %w", err)
	}
	if err := checkTarget(e.triple, e.setup.PageSize); err != nil {
		conn.Close()
		return err
	}
	e.syms = make(map[string]uint64, len(e.setup.Symbols))
	for _, s := range e.setup.Symbols {
		e.syms[s.Name] = uint64(s.Addr)
	}
	for _, name := range requiredSymbols(e.version) {
		if e.syms[name] == 0 {
			conn.Close()
			return fmt.Errorf("executor's Setup message (%s protocol) lacks %s", e.version, name)
		}
	}
	_, e.gorc = e.syms[protocol.RunAsVoid]
	// gorc's executor understands failures reported with a message.
	conn.SendErrors(e.gorc)
	e.served = make(chan struct{})
	go func() {
		defer close(e.served)
		conn.Serve(e.handle)
	}()
	e.mm = newCopyingManager(e)
	if !c.debuggable {
		if mm, err := newSlabManager(e, c.shared); err == nil {
			e.mm = mm
		} else if mm, err := newLLVMSharedManager(e); err == nil && c.shared {
			e.mm = mm
		}
	}
	return nil
}

// requiredSymbols are the names an executor of protocol v must publish.
func requiredSymbols(v protocol.Version) []string {
	names := []string{protocol.MemoryManagerInstance, protocol.MemoryManagerReserve,
		protocol.DylibManagerInstance, protocol.DylibManagerOpen, protocol.RunAsMain,
		protocol.WriteUint64s, protocol.WriteBuffers}
	switch v {
	case protocol.LLVM14, protocol.LLVM19:
		return append(names, protocol.MemoryManagerFinalize, protocol.MemoryManagerDeallocate, protocol.DylibManagerLookup)
	}
	return append(names, protocol.MemoryManagerInitialize, protocol.MemoryManagerRelease, protocol.DylibManagerResolve)
}

// checkTarget refuses an executor that runs code gorc does not link for:
// an architecture without a JIT target, or a system other than Linux (the
// executor runtime and the ELF platform are Linux's). The memory managers
// lay segments out on the executor's pages, which must be a power of two
// (x86-64 Linux has 4 KiB pages; up to 64 KiB is accepted).
func checkTarget(t triple.Triple, page uint64) error {
	if _, err := target.For(t); err != nil {
		return fmt.Errorf("the executor runs %q code: %w", t, err)
	}
	if t.OS != triple.Linux {
		return fmt.Errorf("the executor runs %q code, but gorc links only for Linux", t)
	}
	if page < 4096 || page > 64<<10 || page&(page-1) != 0 {
		return fmt.Errorf("the executor's page size is %d; gorc lays memory out for pages of a power of two from 4 KiB to 64 KiB", page)
	}
	return nil
}

// handle answers a call from the executor (JIT'd code calling a tag).
func (e *EPC) handle(tag uint64, args []byte, reply func([]byte, error)) {
	h := e.dispatch.Load()
	if h == nil {
		reply(nil, fmt.Errorf("executor called tag %#x, but no session handles such calls", tag))
		return
	}
	reply((*h)(tag, args))
}

// PID returns the process id of an executor started by Launch, 0 for one
// connected to.
func (e *EPC) PID() int {
	if e.cmd == nil {
		return 0
	}
	return e.cmd.Process.Pid
}

// IsGorcExecutor reports whether the executor is gorc's (rather than
// LLVM's), offering TLS, run-as-int and shared memory.
func (e *EPC) IsGorcExecutor() bool { return e.gorc }

// Symbol returns an address the executor published at setup.
func (e *EPC) Symbol(name string) (uint64, bool) {
	a, ok := e.syms[name]
	return a, ok
}

func (e *EPC) sym(name string) uint64 { return e.syms[name] }

// TargetTriple returns the executor's triple.
func (e *EPC) TargetTriple() triple.Triple { return e.triple }

// PageSize returns the executor's page size.
func (e *EPC) PageSize() uint64 { return e.setup.PageSize }

// MemoryManager returns the memory manager linking into the executor.
func (e *EPC) MemoryManager() jitlink.MemoryManager { return e.mm }

// CallWrapper calls the wrapper function at addr in the executor. LLVM's
// executors answer a call that failed with an empty result.
func (e *EPC) CallWrapper(addr uint64, args []byte) ([]byte, error) {
	if addr == 0 {
		// A function the executor does not offer: LLVM's would jump to 0.
		return nil, orc.ErrWrapperAtZero
	}
	out, err := e.conn.Call(addr, args)
	if err != nil {
		return nil, e.exitReason(err)
	}
	return out, nil
}

// LoadDylib opens a library in the executor ("" is the executor process).
func (e *EPC) LoadDylib(path string) (orc.DylibHandle, error) {
	h, err := sps.CallExpected[uint64](e, e.sym(protocol.DylibManagerOpen),
		protocol.OpenArgs{Instance: sps.Addr(e.sym(protocol.DylibManagerInstance)), Path: path})
	if err != nil {
		return 0, fmt.Errorf("loading %q in the executor: %w", path, err)
	}
	return orc.DylibHandle(h), nil
}

// LookupSymbols looks names up in a library opened with LoadDylib; a
// name not found (and not required) is 0.
func (e *EPC) LookupSymbols(h orc.DylibHandle, syms []orc.SymbolRequest) ([]uint64, error) {
	names := make([]protocol.LookupRequest, len(syms))
	for i, s := range syms {
		names[i] = protocol.LookupRequest{Name: s.Name, Required: s.Required}
	}
	inst := sps.Addr(e.sym(protocol.DylibManagerInstance))
	out := make([]uint64, 0, len(syms))
	switch e.version {
	case protocol.LLVM14:
		addrs, err := sps.CallExpected[[]sps.Addr](e, e.sym(protocol.DylibManagerLookup),
			protocol.LookupArgs{Instance: inst, Handle: uint64(h), Names: names})
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			out = append(out, uint64(a))
		}
	case protocol.LLVM19:
		defs, err := sps.CallExpected[[]protocol.SymbolDef](e, e.sym(protocol.DylibManagerLookup),
			protocol.LookupArgs{Instance: inst, Handle: uint64(h), Names: names})
		if err != nil {
			return nil, err
		}
		for _, d := range defs {
			out = append(out, uint64(d.Addr))
		}
	default:
		defs, err := sps.CallExpected[[]protocol.MaybeSymbolDef](e, e.sym(protocol.DylibManagerResolve),
			protocol.ResolveArgs{Handle: sps.Addr(h), Names: names})
		if err != nil {
			return nil, err
		}
		// LLVM 22's executor answers a required name it lacks as absent.
		var missing []string
		for i, d := range defs {
			if !d.Found && i < len(syms) && syms[i].Required {
				missing = append(missing, syms[i].Name)
			}
			out = append(out, uint64(d.Def.Addr))
		}
		if missing != nil {
			return nil, fmt.Errorf("symbols not found in the executor: %s", strings.Join(missing, ", "))
		}
	}
	if len(out) != len(syms) {
		return nil, fmt.Errorf("executor answered %d addresses for %d names", len(out), len(syms))
	}
	return out, nil
}

// RunAsMain runs int main(int, char**) at addr with argv = args.
func (e *EPC) RunAsMain(addr uint64, args []string) (int, error) {
	if args == nil {
		args = []string{}
	}
	r, err := sps.Call[int64](e, e.sym(protocol.RunAsMain), protocol.RunAsMainArgs{Main: sps.Addr(addr), Args: args})
	if err != nil {
		return 0, err
	}
	return int(int32(r)), nil
}

// RunAsMainAndExit runs main at addr with argv = args in a gorc-executor
// that Launch started and, once main returns, ends that executor through
// C's exit(main's result), as a native program ends: its exit handlers and
// finalizers run and its stdio is flushed. It waits for the process to end
// and returns its exit status. If the program ends the process itself
// (calls exit, or crashes), err is an *ExitError, as from RunAsMain; so is
// a crash while exiting. ok is false, and nothing ran, when the executor
// cannot do this (connected to rather than launched, LLVM's, or a
// gorc-executor without the call).
func (e *EPC) RunAsMainAndExit(addr uint64, args []string) (status int, ok bool, err error) {
	fn := e.syms[protocol.RunAsMainAndExit]
	if !e.gorc || fn == 0 || e.cmd == nil {
		return 0, false, nil
	}
	if args == nil {
		args = []string{}
	}
	if _, err := sps.Call[int64](e, fn, protocol.RunAsMainArgs{Main: sps.Addr(addr), Args: args}); err != nil {
		return 0, true, err
	}
	err = e.exitReason(errors.New("the executor did not exit after main returned"))
	var exit *ExitError
	if errors.As(err, &exit) && exit.Signal == 0 {
		return exit.Code, true, nil
	}
	return 0, true, err
}

// RunAsVoidFunction runs void f(void) at addr. LLVM 14's executor has no
// such call: there f runs as main with no arguments, which a void
// function ignores.
func (e *EPC) RunAsVoidFunction(addr uint64) error {
	if !e.gorc {
		if fn, ok := e.syms[protocol.RunAsVoidFunction]; ok {
			_, err := sps.Call[int32](e, fn, sps.Addr(addr))
			return err
		}
		_, err := e.RunAsMain(addr, nil)
		return err
	}
	_, err := sps.Call[sps.Empty](e, e.sym(protocol.RunAsVoid), sps.Addr(addr))
	return err
}

// RunAsIntFunction runs int f(int) at addr (gorc-executor only).
func (e *EPC) RunAsIntFunction(addr uint64, arg int) (int, error) {
	if !e.gorc {
		return 0, errors.New("the executor (not gorc's) cannot run int(int) functions")
	}
	a, err := orc.CIntArg(arg)
	if err != nil {
		return 0, err
	}
	r, err := sps.Call[int32](e, e.sym(protocol.RunAsInt), protocol.RunAsIntArgs{Fn: sps.Addr(addr), Arg: a})
	return int(r), err
}

// CallFunction calls the function at addr with signature sig in the
// executor (see orc.FunctionCaller); only gorc's executor can.
func (e *EPC) CallFunction(addr uint64, sig orc.CSignature, args []uint64) (uint64, error) {
	if err := e.CanCallFunctions(); err != nil {
		return 0, err
	}
	fn := e.sym(protocol.CallFunction)
	if err := orc.CheckCArgs(sig, args); err != nil {
		return 0, err
	}
	a := protocol.CallFunctionArgs{Fn: sps.Addr(addr), Args: args}
	a.Result, a.Params = sig.Bytes()
	return sps.CallExpected[uint64](e, fn, a)
}

// NewForwardingCallback makes a C function in the executor whose calls go
// to the controller's JIT dispatch handler for tag (gorc's executor only;
// see orc.ForwardingCallbackMaker).
func (e *EPC) NewForwardingCallback(name string, sig orc.CSignature, tag uint64) (uint64, func() error, error) {
	fn, rel := e.sym(protocol.NewCallback), e.sym(protocol.ReleaseCallback)
	_, ctx, ok := e.JITDispatch()
	if !e.gorc || fn == 0 || rel == 0 || !ok {
		return 0, nil, errors.New("the executor cannot call Go functions: only gorc's executor can")
	}
	a := protocol.NewCallbackArgs{Name: name, Ctx: sps.Addr(ctx), Tag: sps.Addr(tag)}
	a.Result, a.Params = sig.Bytes()
	addr, err := sps.CallExpected[sps.Addr](e, fn, a)
	if err != nil {
		return 0, nil, err
	}
	return uint64(addr), func() error {
		_, err := sps.Call[sps.Empty](e, rel, addr)
		return err
	}, nil
}

// CanCallFunctions returns nil for gorc's executor, and else why
// CallFunction cannot work.
func (e *EPC) CanCallFunctions() error {
	if !e.gorc || e.sym(protocol.CallFunction) == 0 {
		return errors.New("the executor cannot call functions by C signature: only gorc's executor can (LLVM's runs main only)")
	}
	return nil
}

// FlushStdio flushes the executor's C stdio streams (gorc's executor; LLVM's
// flushes when it exits).
func (e *EPC) FlushStdio() error {
	fn := e.sym(protocol.FlushStdio)
	if !e.gorc || fn == 0 {
		return nil
	}
	_, err := sps.Call[sps.Empty](e, fn, sps.Empty{})
	return err
}

// WriteMemory writes data at addr in the executor. Eight bytes at an
// aligned address go as one 64-bit store (a stub's pointer must never be
// seen half-written).
func (e *EPC) WriteMemory(addr uint64, data []byte) error {
	var err error
	if len(data) == 8 && addr%8 == 0 {
		_, err = sps.Call[sps.Empty](e, e.sym(protocol.WriteUint64s),
			[]protocol.WriteUint64{{Addr: sps.Addr(addr), Value: binary.LittleEndian.Uint64(data)}})
	} else {
		_, err = sps.Call[sps.Empty](e, e.sym(protocol.WriteBuffers), []protocol.WriteBuffer{{Addr: sps.Addr(addr), Data: data}})
	}
	return err
}

// JITDispatch returns the executor's dispatch function and context.
func (e *EPC) JITDispatch() (fn, ctx uint64, ok bool) {
	fn, ok1 := e.syms[protocol.DispatchFn]
	ctx, ok2 := e.syms[protocol.DispatchCtx]
	return fn, ctx, ok1 && ok2
}

// SetJITDispatchHandler installs the function answering JIT'd code's calls
// to the controller.
func (e *EPC) SetJITDispatchHandler(h func(tag uint64, args []byte) ([]byte, error)) {
	e.dispatch.Store(&h)
}

// RuntimeSymbol returns the executor address of a function of gorc's
// runtime (for orc/elfplatform). LLVM's executors have only the eh-frame
// registration among them, under a name of their version's (all take and
// answer what gorc's does).
func (e *EPC) RuntimeSymbol(name string) (uint64, bool) {
	if a, ok := e.syms[name]; ok {
		return a, true
	}
	var llvmNames []string
	switch name {
	case "gorc_register_eh_frame_wrapper":
		llvmNames = []string{protocol.RegisterEHFrame, protocol.RegisterEHFrameSection, protocol.RegisterEHFrameAllocAction}
	case "gorc_deregister_eh_frame_wrapper":
		llvmNames = []string{protocol.DeregisterEHFrame, protocol.DeregisterEHFrameSection, protocol.DeregisterEHFrameAllocAction}
	}
	for _, n := range llvmNames {
		if a, ok := e.syms[n]; ok {
			return a, true
		}
	}
	return 0, false
}

// Protocol returns the LLVM protocol the executor speaks.
func (e *EPC) Protocol() protocol.Version { return e.version }

// ReserveTLSModule reserves a TLS module id in the executor.
func (e *EPC) ReserveTLSModule() (uint32, error) {
	if !e.gorc {
		return 0, errors.New("the executor has no thread-local storage runtime (use gorc-executor)")
	}
	return sps.CallExpected[uint32](e, e.sym(protocol.ReserveTLSModule), sps.Empty{})
}

// ReserveStaticTLS places TLS module m in the executor's static TLS (gorc
// executor only).
func (e *EPC) ReserveStaticTLS(m uint32, size, align uint64, image []byte) (int64, error) {
	if !e.gorc {
		return 0, errors.New("the executor has no thread-local storage runtime (use gorc-executor)")
	}
	return sps.CallExpected[int64](e, e.sym(protocol.ReserveStaticTLS),
		protocol.StaticTLSArgs{Module: m, Size: size, Align: align, Image: image})
}

// ExitError reports that the executor process ended while a call was in
// flight: the JIT'd program called exit, or crashed.
type ExitError struct {
	Code   int            // exit status, if it exited
	Signal syscall.Signal // the signal that killed it, if one did
}

func (e *ExitError) Error() string {
	if e.Signal != 0 {
		return fmt.Sprintf("the executor was killed by signal %d (%s)", int(e.Signal), e.Signal)
	}
	return fmt.Sprintf("the executor exited with status %d", e.Code)
}

// exitReason turns a connection error into an ExitError when the executor
// was launched here and has ended.
func (e *EPC) exitReason(err error) error {
	if e.cmd == nil || err == nil {
		return err
	}
	select {
	case <-e.exited:
	case <-time.After(5 * time.Second):
		return err
	}
	var ee *exec.ExitError
	if !errors.As(e.waitErr, &ee) && e.waitErr != nil {
		return err
	}
	st := e.cmd.ProcessState
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return &ExitError{Signal: ws.Signal()}
	}
	return &ExitError{Code: st.ExitCode()}
}

// Close hangs up and, for a launched executor, waits for it to exit
// (killing it if it does not within a few seconds).
func (e *EPC) Close() error {
	e.closeMu.Lock()
	defer e.closeMu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	err := e.conn.Hangup()
	if e.served != nil {
		<-e.served // the reader stops once the connection is closed
	}
	if e.cmd == nil {
		return err
	}
	select {
	case <-e.exited:
	case <-time.After(5 * time.Second):
		e.cmd.Process.Kill()
		<-e.exited
		return errors.New("the executor did not exit after hangup: killed")
	}
	return nil
}
