// Command gorc-executor runs JIT'd code for a controller in another
// process (gorc-jitlink -oop-executor, or llvm-jitlink-14 -oop-executor),
// speaking LLVM 14's remote-executor protocol:
//
//	gorc-executor filedescs=IN,OUT   read from fd IN, write to fd OUT
//	gorc-executor listen=HOST:PORT   accept one connection (HOST defaults
//	                                 to 127.0.0.1)
//
// followed by options:
//
//	max-reserved=SIZE   cap the address space JIT'd memory reserves
//	                    (bytes, or with K, M, G or T; default 64G): a
//	                    controller asking for more gets an error
//
// The JIT'd program's stdout and stderr are the executor's. Like LLVM's
// executor (a C++ program), it has the C math library and, where
// installed, the C++ runtime (libstdc++, libgcc_s) loaded, so that programs
// find them whichever controller links them.
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/gorc-jit/gorc/internal/native"
	"github.com/gorc-jit/gorc/orc/shared/wire"
	"github.com/gorc-jit/gorc/orcrt"
)

func main() {
	code := 0
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gorc-executor:", err)
		code = 1
	}
	// Through C, so that the JIT'd program's stdio buffers are flushed and
	// its exit handlers run.
	native.Exit(code)
}

func run(args []string) error {
	memOpts, args, err := memoryOptions(args)
	if err != nil {
		return err
	}
	if len(args) != 1 {
		return fmt.Errorf("usage: gorc-executor filedescs=IN,OUT | listen=HOST:PORT")
	}
	conn, err := transport(args[0])
	if err != nil {
		return err
	}
	native.InstallCrashHandler("gorc-executor: JIT'd code crashed: ")
	if _, err := native.Open("libm.so.6", native.RTLDNow|native.RTLDGlobal); err != nil {
		return err
	}
	for _, lib := range []string{"libgcc_s.so.1", "libstdc++.so.6"} {
		native.Open(lib, native.RTLDNow|native.RTLDGlobal) // optional
	}
	s := orcrt.NewSession()
	if err := orcrt.AddServices(s, memOpts...); err != nil {
		return err
	}
	c, err := orcrt.Connect(s, conn)
	if err != nil {
		return err
	}
	err = c.Serve()
	// The process ends with the connection. A controller that cleaned up
	// has released everything; anything left (a controller that went
	// away, or did not run the program's finalizers) stays mapped, so that
	// exit handlers the JIT'd program registered can still run at exit.
	s.Detach()
	return err
}

// transport opens the connection the argument names.
func transport(arg string) (*wire.Conn, error) {
	if v, ok := strings.CutPrefix(arg, "filedescs="); ok {
		in, out, ok := strings.Cut(v, ",")
		inFD, err1 := strconv.Atoi(in)
		outFD, err2 := strconv.Atoi(out)
		if !ok || err1 != nil || err2 != nil || inFD < 0 || outFD < 0 {
			return nil, fmt.Errorf("bad %q: want filedescs=IN,OUT", arg)
		}
		r := os.NewFile(uintptr(inFD), "controller-in")
		w := os.NewFile(uintptr(outFD), "controller-out")
		if r == nil || w == nil {
			return nil, fmt.Errorf("bad file descriptors in %q", arg)
		}
		return wire.NewConn(r, w, wire.Closers{r, w}), nil
	}
	if v, ok := strings.CutPrefix(arg, "listen="); ok {
		host, port, err := net.SplitHostPort(v)
		if err != nil {
			return nil, fmt.Errorf("bad %q: %v", arg, err)
		}
		if host == "" {
			host = "127.0.0.1"
		}
		l, err := net.Listen("tcp", net.JoinHostPort(host, port))
		if err != nil {
			return nil, err
		}
		c, err := l.Accept()
		l.Close()
		if err != nil {
			return nil, err
		}
		return wire.NewConn(c, c, c), nil
	}
	return nil, fmt.Errorf("bad argument %q: want filedescs=IN,OUT or listen=HOST:PORT", arg)
}

// memoryOptions takes the memory options (max-reserved=SIZE) out of args.
func memoryOptions(args []string) ([]orcrt.MemoryOption, []string, error) {
	var opts []orcrt.MemoryOption
	var rest []string
	for _, a := range args {
		v, ok := strings.CutPrefix(a, "max-reserved=")
		if !ok {
			rest = append(rest, a)
			continue
		}
		n, err := parseSize(v)
		if err != nil {
			return nil, nil, fmt.Errorf("bad %q: %v", a, err)
		}
		opts = append(opts, orcrt.MaxReserved(n))
	}
	return opts, rest, nil
}

// parseSize reads a byte count with an optional K, M, G or T (binary)
// suffix.
func parseSize(s string) (uint64, error) {
	shift := 0
	if i := strings.IndexAny(s, "KMGTkmgt"); i >= 0 && i == len(s)-1 {
		shift = 10 * (1 + strings.IndexByte("kmgt", s[i]|0x20))
		s = s[:i]
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, err
	}
	if n > (1<<64-1)>>shift {
		return 0, fmt.Errorf("%s is too large", s)
	}
	return n << shift, nil
}
