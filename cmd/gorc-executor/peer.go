package main

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/gorc-jit/gorc/orc/shared/protocol"
)

// The executor speaks first, so it must choose its Setup's layout (LLVM
// 14's, or the one of 19 and 22) before the controller has said anything:
// no message of the controller's can tell. It asks the system instead:
// the controller's process (the parent, for pipes; the socket's peer, for
// a Unix socket or loopback TCP) has LLVM's shared library mapped, and
// its name carries LLVM's major version. A controller without libLLVM
// (gorc's, or an LLVM linked statically) gets the current layout, which
// gorc's controller reads as well as 14's. See docs/llvm-protocols.md.

// libLLVMName matches libLLVM-14.so.1 (LLVM 14's name) and
// libLLVM.so.19.1 (later ones).
var libLLVMName = regexp.MustCompile(`/libLLVM(?:-(\d+)\.so|\.so\.(\d+))`)

// llvmMajor returns the major version of the libLLVM that process pid has
// mapped.
func llvmMajor(pid int) (int, bool) {
	if pid <= 0 {
		return 0, false
	}
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return 0, false
	}
	m := libLLVMName.FindSubmatch(maps)
	if m == nil {
		return 0, false
	}
	v := string(m[1]) + string(m[2])
	n, err := strconv.Atoi(v)
	return n, err == nil
}

// chooseProtocol picks the protocol for the controller process pid (0 if
// unknown) and says why.
func chooseProtocol(pid int) (protocol.Version, string) {
	major, ok := llvmMajor(pid)
	switch {
	case !ok:
		return protocol.LLVM22, "controller has no libLLVM mapped (or is unknown): LLVM 19/22 layout"
	case major <= 14:
		return protocol.LLVM14, fmt.Sprintf("controller (pid %d) uses libLLVM %d", pid, major)
	}
	return protocol.LLVM22, fmt.Sprintf("controller (pid %d) uses libLLVM %d", pid, major)
}

// peerPID finds the process at the other end of a connection accepted on
// a Unix socket or on loopback TCP; 0 if it cannot.
func peerPID(c net.Conn) int {
	switch c := c.(type) {
	case *net.UnixConn:
		raw, err := c.SyscallConn()
		if err != nil {
			return 0
		}
		pid := 0
		raw.Control(func(fd uintptr) { pid = socketPeerPID(fd) })
		return pid
	case *net.TCPConn:
		local, _ := c.LocalAddr().(*net.TCPAddr)
		remote, _ := c.RemoteAddr().(*net.TCPAddr)
		if local == nil || remote == nil || !remote.IP.IsLoopback() {
			return 0
		}
		inode := tcpInode(remote, local)
		if inode == "" {
			return 0
		}
		return socketOwner(inode)
	}
	return 0
}

// tcpInode returns the inode of the IPv4 socket bound to local and
// connected to remote, from /proc/net/tcp.
func tcpInode(local, remote *net.TCPAddr) string {
	hexAddr := func(a *net.TCPAddr) string {
		ip := a.IP.To4()
		if ip == nil {
			return ""
		}
		return fmt.Sprintf("%08X:%04X", binary.NativeEndian.Uint32(ip), a.Port)
	}
	l, r := hexAddr(local), hexAddr(remote)
	if l == "" || r == "" {
		return ""
	}
	table, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(table), "\n") {
		f := strings.Fields(line)
		if len(f) > 9 && f[1] == l && f[2] == r {
			return f[9]
		}
	}
	return ""
}

// socketOwner finds a process with an open descriptor on socket inode.
func socketOwner(inode string) int {
	want := "socket:[" + inode + "]"
	fds, _ := filepath.Glob("/proc/[0-9]*/fd/*")
	for _, fd := range fds {
		if link, err := os.Readlink(fd); err == nil && link == want {
			pid, _ := strconv.Atoi(strings.Split(fd, "/")[2])
			if pid != os.Getpid() {
				return pid
			}
		}
	}
	return 0
}
