package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/orc/shared/protocol"
)

func TestLibLLVMName(t *testing.T) {
	for line, want := range map[string]string{
		"7f1 r-xp 00000000 08:01 123 /usr/lib/x86_64-linux-gnu/libLLVM-14.so.1": "14",
		"7f1 r-xp 00000000 08:01 123 /usr/lib/x86_64-linux-gnu/libLLVM.so.19.1": "19",
		"7f1 r-xp 00000000 08:01 123 /usr/lib/x86_64-linux-gnu/libLLVM.so.22.1": "22",
		"7f1 r-xp 00000000 08:01 123 /usr/lib/libLLVMSupport.a":                 "",
	} {
		m := libLLVMName.FindStringSubmatch(line)
		got := ""
		if m != nil {
			got = m[1] + m[2]
		}
		if got != want {
			t.Errorf("%q: major %q, want %q", line, got, want)
		}
	}
	// This test process has no libLLVM: the current layout.
	if v, _ := chooseProtocol(os.Getpid()); v != protocol.LLVM22 {
		t.Errorf("without libLLVM: %s", v)
	}
}

// TestPeerPID finds the process at the other end of a Unix socket (here
// this process). Loopback TCP is found through /proc (this process's own
// sockets are skipped there): TestLLVMControllerGorcExecutor's TCP runs
// of llvm-jitlink-14 need it to pick LLVM 14's Setup.
func TestPeerPID(t *testing.T) {
	l, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if pid := peerPID(a); pid != os.Getpid() {
		t.Fatalf("unix peer: %d, want %d", pid, os.Getpid())
	}
}

func TestProtocolOption(t *testing.T) {
	for args, want := range map[string]protocol.Version{
		"-protocol=llvm14": protocol.LLVM14, "protocol=19": protocol.LLVM19, "-protocol=llvm22": protocol.LLVM22, "-protocol=auto": 0,
	} {
		c, err := parseArgs([]string{args, "filedescs=3,4"})
		if err != nil || c.protocol != want {
			t.Errorf("%s: protocol %v, %v", args, c, err)
		}
	}
	if _, err := parseArgs([]string{"-protocol=llvm17", "filedescs=3,4"}); err == nil || !strings.Contains(err.Error(), "want llvm14, llvm19 or llvm22") {
		t.Errorf("-protocol=llvm17: %v", err)
	}
}
