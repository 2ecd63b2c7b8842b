// Command gorc-executor runs JIT'd code for a controller in another
// process (gorc-jitlink -oop-executor, or llvm-jitlink of LLVM 14, 19 or
// 22 with -oop-executor), speaking the remote-executor protocol of the
// controller's LLVM (docs/llvm-protocols.md). See usage (gorc-executor
// -help) for its arguments, and docs/remote.md for the trust model: a
// controller runs any code it likes here, as this user.
//
// The JIT'd program's stdout and stderr are the executor's. Like LLVM's
// executor (a C++ program), it has the C math library and, where
// installed, the C++ runtime (libstdc++, libgcc_s) loaded, so that programs
// find them whichever controller links them.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorc-jit/gorc/internal/native"
	"github.com/gorc-jit/gorc/orc/shared/protocol"
	"github.com/gorc-jit/gorc/orc/shared/wire"
	"github.com/gorc-jit/gorc/orcrt"

	"github.com/gorc-jit/gorc/internal/cli"
)

// usage is -help's text.
func usage() string {
	return `usage: gorc-executor [options] TRANSPORT

Runs the code a controller (gorc-jitlink, llvm-jitlink-14/19/22) links into it.
Whoever controls it runs any code as this user: listen only where every
peer that can connect is trusted (see docs/remote.md).

TRANSPORT is one of:
  filedescs=IN,OUT        read from file descriptor IN, write to OUT (how a
                          controller that starts the executor talks to it)
  listen=HOST:PORT        accept one controller on TCP; HOST defaults to
                          127.0.0.1 and must be a loopback address unless
                          -allow-remote is given. Port 0 picks a free port.
  listen=unix:PATH        accept one controller on a Unix socket created at
                          PATH, readable and writable by this user only

When listening it prints "gorc-executor: listening on ADDRESS" on stderr.

Options:
` + cli.Usage(optionTable(&config{}, new(string))) + `
Environment:
  GORC_EXECUTOR_TOKEN     the token, when -token-file is not given
`
}

// config is the command line.
type config struct {
	transport    string
	allowRemote  bool
	token        []byte // nil: none required
	tokenFromEnv bool
	maxInFlight  int
	idleTimeout  time.Duration
	memory       []orcrt.MemoryOption
	protocol     protocol.Version // 0: choose by the controller's process
	help         bool
}

// handshakeTimeout bounds a connecting controller's token handshake, so
// that a peer that connects and says nothing holds no slot for long.
const handshakeTimeout = 10 * time.Second

func main() {
	code := 0
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "gorc-executor:", err)
		code = 1
		var ue usageError
		if errors.As(err, &ue) {
			code = 2
		}
	}
	// Through C, so that the JIT'd program's stdio buffers are flushed and
	// its exit handlers run.
	native.Exit(code)
}

// usageError is a bad command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg + " (see gorc-executor -help)" }

// optionTable is the executor's options: names, value, help and what each
// does to c (tokenFile receives -token-file's value).
func optionTable(c *config, tokenFile *string) []cli.Option {
	return []cli.Option{
		{Names: []string{"allow-remote"}, Help: "allow listen= on an address other than loopback (prints a warning)", Set: cli.Flag(&c.allowRemote)},
		{Names: []string{"token-file"}, Value: "FILE", Help: "with listen=, admit only a controller that proves it holds the token in FILE (gorc-jitlink -oop-executor-token-file, or GORC_EXECUTOR_TOKEN); others are disconnected before any call", Set: cli.String(tokenFile)},
		{Names: []string{"max-in-flight"}, Value: "N", Help: "handle at most N calls at once; beyond that, read no more from the controller until one is answered (default 256)", Set: func(v string) (err error) {
			if c.maxInFlight, err = strconv.Atoi(v); err != nil || c.maxInFlight < 1 {
				return errors.New("want a count of at least 1")
			}
			return nil
		}},
		{Names: []string{"idle-timeout"}, Value: "DURATION", Help: "end the session when the controller stops for DURATION in the middle of a message, sending it or taking one of ours (e.g. 30s; default: wait forever)", Set: func(v string) (err error) {
			if c.idleTimeout, err = time.ParseDuration(v); err != nil || c.idleTimeout <= 0 {
				return errors.New("want a duration such as 30s")
			}
			return nil
		}},
		{Names: []string{"max-reserved"}, Value: "SIZE", Help: "cap the address space JIT'd memory reserves (bytes, or with K, M, G or T; default 64G): a controller asking for more gets an error (also accepted without the dash, max-reserved=SIZE)", Set: func(v string) error {
			n, err := cli.ParseSize(v)
			c.memory = append(c.memory, orcrt.MaxReserved(n))
			return err
		}},
		{Names: []string{"protocol"}, Value: "P", Help: "speak LLVM's protocol P: llvm14, or llvm19 and llvm22 (one protocol: both are served at once); auto (the default) picks llvm14 when the controller's process has LLVM 14's libLLVM mapped, llvm19/22 otherwise (gorc's controller reads both) (also accepted without the dash)", Set: func(v string) (err error) {
			if v != "auto" {
				c.protocol, err = protocol.ParseVersion(v)
			}
			return err
		}},
		{Names: []string{"help", "h"}, Help: "print this text", Set: cli.Flag(&c.help)},
	}
}

func parseArgs(args []string) (*config, error) {
	c := &config{maxInFlight: 256}
	tokenFile := ""
	args = slices.Clone(args)
	for i, a := range args {
		if strings.HasPrefix(a, "max-reserved=") || strings.HasPrefix(a, "protocol=") {
			args[i] = "-" + a // as a controller's executor arguments give it
		}
	}
	err := cli.Parse(optionTable(c, &tokenFile), args, func(a string) error {
		if c.transport != "" {
			return fmt.Errorf("two transports, %q and %q", c.transport, a)
		}
		c.transport = a
		return nil
	})
	if err != nil {
		return nil, usageError{err.Error()}
	}
	if c.help {
		return c, nil
	}
	if c.transport == "" {
		return nil, usageError{"no transport: want filedescs=IN,OUT or listen=ADDRESS"}
	}
	if c.token, err = wire.LoadToken(tokenFile); err != nil {
		return nil, err
	}
	c.tokenFromEnv = tokenFile == "" && c.token != nil
	return c, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	c, err := parseArgs(args)
	if err != nil {
		return err
	}
	if c.help {
		fmt.Fprint(stdout, usage())
		return nil
	}
	conn, peer, err := transport(c, stderr)
	if err != nil {
		return err
	}
	proto := c.protocol
	if proto == 0 {
		proto, _ = chooseProtocol(peer)
	}
	native.InstallCrashHandler("gorc-executor: JIT'd code crashed: ")
	// Loaded while Setup goes out and the controller starts linking.
	s := orcrt.NewSession(orcrt.WithProtocol(proto), orcrt.Preload(preloads()))
	if err := orcrt.AddServices(s, c.memory...); err != nil {
		return err
	}
	ca, err := orcrt.Connect(s, conn)
	if err != nil {
		return err
	}
	err = ca.Serve()
	// The process ends with the connection. A controller that cleaned up
	// has released everything; anything left (a controller that went
	// away, or did not run the program's finalizers) stays mapped, so that
	// exit handlers the JIT'd program registered can still run at exit.
	s.Detach()
	return err
}

// preloads returns the libraries to load at start: what a launching
// controller chose (protocol.PreloadEnv, not passed on to JIT'd code;
// each where installed, as the controller's own process has them), or
// what LLVM's executor, a C++ program, has loaded: libm, and where
// installed libgcc_s and libstdc++.
func preloads() (required, optional []string) {
	v, ok := os.LookupEnv(protocol.PreloadEnv)
	if !ok {
		return []string{"libm.so.6"}, []string{"libgcc_s.so.1", "libstdc++.so.6"}
	}
	os.Unsetenv(protocol.PreloadEnv)
	for lib := range strings.SplitSeq(v, ":") {
		if lib != "" {
			optional = append(optional, lib)
		}
	}
	return nil, optional
}

// connOptions are the limits every session's connection gets.
func (c *config) connOptions() []wire.Option {
	return []wire.Option{wire.MaxInFlight(c.maxInFlight), wire.IdleTimeout(c.idleTimeout)}
}
