package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorc-jit/gorc/orc/shared/wire"
)

// transport opens the connection c names and finds the controller's
// process id (0 if unknown).
func transport(c *config, stderr io.Writer) (*wire.Conn, int, error) {
	arg := c.transport
	if v, ok := strings.CutPrefix(arg, "filedescs="); ok {
		if c.token != nil && !c.tokenFromEnv {
			return nil, 0, usageError{"-token-file applies to listen=, not to filedescs= (a pipe has only the process that made it at its other end)"}
		}
		conn, err := pipes(v, c)
		return conn, os.Getppid(), err
	}
	if v, ok := strings.CutPrefix(arg, "listen="); ok {
		l, err := listen(v, c, stderr)
		if err != nil {
			return nil, 0, err
		}
		fmt.Fprintf(stderr, "gorc-executor: listening on %s\n", listenerName(l))
		nc, err := accept(l, c.token, stderr)
		if err != nil {
			return nil, 0, err
		}
		return wire.NewConn(nc, nc, nc, c.connOptions()...), peerPID(nc), nil
	}
	return nil, 0, usageError{fmt.Sprintf("bad argument %q: want filedescs=IN,OUT or listen=ADDRESS", arg)}
}

// pipes wraps the descriptors of filedescs=IN,OUT.
func pipes(v string, c *config) (*wire.Conn, error) {
	in, out, ok := strings.Cut(v, ",")
	inFD, err1 := strconv.Atoi(in)
	outFD, err2 := strconv.Atoi(out)
	if !ok || err1 != nil || err2 != nil || inFD < 0 || outFD < 0 {
		return nil, usageError{fmt.Sprintf("bad filedescs=%s: want filedescs=IN,OUT", v)}
	}
	// Non-blocking descriptors give pollable files, whose reads end when
	// the connection is closed (as the idle timeout does).
	for _, fd := range []int{inFD, outFD} {
		if err := setNonblock(fd); err != nil {
			return nil, fmt.Errorf("file descriptor %d: %w", fd, err)
		}
	}
	r := os.NewFile(uintptr(inFD), "controller-in")
	w := r
	if outFD != inFD {
		w = os.NewFile(uintptr(outFD), "controller-out")
	}
	return wire.NewConn(r, w, wire.Closers{r, w}, c.connOptions()...), nil
}

// listen opens the listening socket of listen=ADDRESS.
func listen(v string, c *config, stderr io.Writer) (net.Listener, error) {
	if path, ok := strings.CutPrefix(v, "unix:"); ok {
		if path == "" {
			return nil, usageError{"listen=unix: needs a path"}
		}
		// Created readable and writable by this user only: connecting is
		// running code as this user.
		restore := privateUmask()
		l, err := net.Listen("unix", path)
		restore()
		return l, err
	}
	host, port, err := net.SplitHostPort(v)
	if err != nil {
		return nil, usageError{fmt.Sprintf("bad listen=%s: %v", v, err)}
	}
	if host == "" {
		host = "127.0.0.1"
	}
	if !isLoopback(host) && !c.allowRemote {
		return nil, usageError{fmt.Sprintf("listen=%s: %s is not a loopback address, and whoever connects runs code as this user; give -allow-remote (and -token-file) to listen there anyway, or listen=unix:PATH", v, host)}
	}
	l, err := net.Listen("tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, err
	}
	if !isLoopback(host) {
		tokenNote := "; a controller must prove it holds the token"
		if c.token == nil {
			tokenNote = ", and no token is required"
		}
		fmt.Fprintf(stderr, "gorc-executor: warning: listening on %s, not a loopback address: whoever connects runs code as this user%s\n",
			l.Addr(), tokenNote)
	}
	return l, nil
}

// isLoopback reports whether host names only this machine.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func listenerName(l net.Listener) string {
	if a, ok := l.Addr().(*net.UnixAddr); ok {
		return "unix:" + a.Name
	}
	return l.Addr().String()
}

// accept returns the first controller to connect and, with a token, to
// pass the handshake; it closes the listener (which removes a Unix
// socket's file). Handshakes run concurrently and each is bounded in time,
// so a peer that connects and stalls does not keep the rightful
// controller out.
func accept(l net.Listener, token []byte, stderr io.Writer) (net.Conn, error) {
	defer l.Close()
	if token == nil {
		return l.Accept()
	}
	type result struct {
		c   net.Conn
		err error
	}
	won := make(chan result, 1)
	var decided atomic.Bool
	go func() {
		for {
			nc, err := l.Accept()
			if err != nil {
				if decided.CompareAndSwap(false, true) {
					won <- result{err: err}
				}
				return
			}
			go func() {
				nc.SetDeadline(time.Now().Add(handshakeTimeout))
				if err := wire.Challenge(nc, token); err != nil {
					fmt.Fprintf(stderr, "gorc-executor: disconnected a controller%s: %v\n", peerName(nc), err)
					nc.Close()
					return
				}
				nc.SetDeadline(time.Time{})
				if !decided.CompareAndSwap(false, true) {
					nc.Close()
					return
				}
				won <- result{c: nc}
			}()
		}
	}()
	r := <-won
	return r.c, r.err
}

func peerName(nc net.Conn) string {
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return " from " + a.String()
	}
	return ""
}
