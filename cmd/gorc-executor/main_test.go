package main_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorc-jit/gorc/internal/wireframe"
	"github.com/gorc-jit/gorc/orc/shared/protocol"
	"github.com/gorc-jit/gorc/orc/shared/sps"
	"github.com/gorc-jit/gorc/orc/shared/wire"
)

// executor is the gorc-executor binary under test.
var executor string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gorc-executor-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	executor = filepath.Join(dir, "gorc-executor")
	if out, err := exec.Command("go", "build", "-o", executor, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building gorc-executor: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// running is a gorc-executor started by a test.
type running struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer // what followed the lines read by start
	lines  []string      // stderr lines up to "listening on"
	addr   string        // where it listens
	done   chan error
}

// start runs gorc-executor with args and waits for its "listening on"
// line. The process is killed at the end of the test if still running.
func start(t *testing.T, args ...string) *running {
	t.Helper()
	r := &running{cmd: exec.Command(executor, args...), stderr: new(bytes.Buffer), done: make(chan error, 1)}
	pipe, err := r.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.cmd.Process.Kill()
		<-r.done
	})
	br := bufio.NewReader(pipe)
	for r.addr == "" {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("gorc-executor %s: no listening line (%v); stderr %q", strings.Join(args, " "), err, strings.Join(r.lines, ""))
		}
		r.lines = append(r.lines, line)
		if a, ok := strings.CutPrefix(line, "gorc-executor: listening on "); ok {
			r.addr = strings.TrimSpace(a)
		}
	}
	go func() {
		io.Copy(r.stderr, br)
		r.done <- r.cmd.Wait()
	}()
	return r
}

// wait waits for the executor to exit by itself.
func (r *running) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("the executor is still running; stderr %q", r.stderr.String())
		return nil
	}
}

// dial connects to the executor.
func (r *running) dial(t *testing.T) net.Conn {
	t.Helper()
	network, addr := "tcp", r.addr
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, addr = "unix", p
	}
	nc, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return nc
}

// readSetup reads the executor's Setup message and checks it.
func readSetup(t *testing.T, nc net.Conn) {
	t.Helper()
	m, err := wireframe.Read(nc, 1<<20)
	if err != nil || m.Op != wireframe.OpSetup || m.Tag != 0 {
		t.Fatalf("first message = %v %#x, %v; want Setup", m.Op, m.Tag, err)
	}
	var s protocol.Setup
	if err := sps.Unmarshal(m.Payload, &s); err != nil || !strings.HasPrefix(s.Triple, "x86_64") {
		t.Fatalf("Setup = %+v, %v", s, err)
	}
}

// rssKB is the resident size of process pid, in KiB.
func rssKB(t *testing.T, pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestHelp: -help, -h and --help print usage naming every transport and
// option, with status 0; a bad command line points there, with status 2.
func TestHelp(t *testing.T) {
	for _, flag := range []string{"-help", "-h", "--help"} {
		cmd := exec.Command(executor, flag)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v", flag, err)
		}
		for _, want := range []string{"filedescs=IN,OUT", "listen=HOST:PORT", "listen=unix:PATH", "-allow-remote",
			"-token-file FILE", "-max-in-flight N", "-idle-timeout DURATION", "-max-reserved SIZE", "max-reserved=SIZE", "GORC_EXECUTOR_TOKEN", "docs/remote.md"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("%s: usage lacks %q:\n%s", flag, want, out)
			}
		}
	}
	for _, args := range [][]string{{"-bogus"}, {}, {"listen=1"}, {"-max-in-flight=0", "listen=:0"}, {"-idle-timeout=soon", "listen=:0"}, {"max-reserved=12X", "listen=:0"}} {
		var stderr bytes.Buffer
		cmd := exec.Command(executor, args...)
		cmd.Stderr = &stderr
		err := cmd.Run()
		if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(stderr.String(), "see gorc-executor -help") {
			t.Errorf("%q: %v, %q; want status 2 and a pointer to -help", args, err, stderr.String())
		}
	}
}

// TestListenOnlyOnLoopback: a non-loopback address needs -allow-remote,
// and then comes with a warning.
func TestListenOnlyOnLoopback(t *testing.T) {
	var stderr bytes.Buffer
	cmd := exec.Command(executor, "listen=0.0.0.0:0")
	cmd.Stderr = &stderr
	cmd.Run()
	if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(stderr.String(), "0.0.0.0 is not a loopback address") ||
		!strings.Contains(stderr.String(), "-allow-remote") {
		t.Fatalf("listen=0.0.0.0:0: status %d, %q", cmd.ProcessState.ExitCode(), stderr.String())
	}
	r := start(t, "-allow-remote", "listen=0.0.0.0:0")
	if !strings.Contains(r.lines[0], "warning: listening on") || !strings.Contains(r.lines[0], "no token is required") {
		t.Fatalf("no warning: %q", r.lines)
	}
	// Loopback names need nothing.
	for _, addr := range []string{"localhost:0", ":0"} {
		if r := start(t, "listen="+addr); len(r.lines) != 1 {
			t.Errorf("listen=%s: %q", addr, r.lines)
		}
	}
}

// TestUnixSocket: listen=unix:PATH makes a socket only this user may use,
// serves one controller and removes the socket.
func TestUnixSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "exec.sock")
	r := start(t, "listen=unix:"+path)
	if r.addr != "unix:"+path {
		t.Fatalf("listening on %q", r.addr)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket %v, %v; want a socket of mode 0600", st.Mode(), err)
	}
	nc := r.dial(t)
	readSetup(t, nc)
	nc.Write(wireframe.Append(nil, wireframe.Message{Op: wireframe.OpHangup}))
	if err := r.wait(t); err != nil {
		t.Fatalf("after hangup: %v, %s", err, r.stderr)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("socket left behind: %v", err)
	}
}

// TestPipeliningClient: a client that sends calls as fast as it can and
// never reads a result meets backpressure at the cap on calls in flight:
// the executor's memory stays bounded, and it ends the session when the
// client goes away.
func TestPipeliningClient(t *testing.T) {
	r := start(t, "-max-in-flight=16", "listen=127.0.0.1:0")
	nc := r.dial(t)
	readSetup(t, nc)
	// Calls to address 0 fail at once; their results, which the client
	// does not read, are what piles up. Without the cap the executor
	// would read every call and park a goroutine for each.
	call := wireframe.Append(nil, wireframe.Message{Op: wireframe.OpCallWrapper, Tag: 0})
	batch := bytes.Repeat(call, 1024)
	const calls = 1 << 20
	sent := 0
	for ; sent < calls; sent += 1024 {
		nc.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := nc.Write(batch); err != nil {
			break
		}
	}
	if sent >= calls {
		t.Fatalf("the executor took all %d calls without pushing back", calls)
	}
	rss := rssKB(t, r.cmd.Process.Pid)
	if rss > 100<<10 {
		t.Fatalf("executor RSS %d MiB after %d calls", rss>>10, sent)
	}
	t.Logf("backpressure after about %d calls; executor RSS %d MiB", sent, rss>>10)
	nc.Close()
	r.wait(t)
	if !strings.Contains(r.stderr.String(), "connection closed") {
		t.Fatalf("executor's last words: %q", r.stderr.String())
	}
}

// TestIdleTimeout: a client that stops in the middle of a message, sending
// or receiving, is disconnected after the idle timeout, and the executor
// exits saying so.
func TestIdleTimeout(t *testing.T) {
	r := start(t, "-idle-timeout=200ms", "listen=127.0.0.1:0")
	nc := r.dial(t)
	readSetup(t, nc)
	time.Sleep(400 * time.Millisecond) // silence between messages is fine
	msg := wireframe.Append(nil, wireframe.Message{Op: wireframe.OpCallWrapper, Tag: 0, Payload: make([]byte, 100)})
	nc.Write(msg[:50])
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := io.Copy(io.Discard, nc); err != nil || n != 0 {
		t.Fatalf("after stalling: read %d bytes, %v; want the connection closed", n, err)
	}
	r.wait(t)
	if !strings.Contains(r.stderr.String(), "sent nothing for 200ms in the middle of a message") {
		t.Fatalf("executor's last words: %q", r.stderr.String())
	}

	// A client that sends calls and never reads their results is cut off
	// too, once the executor's results stop going out.
	r = start(t, "-idle-timeout=200ms", "listen=127.0.0.1:0")
	nc = r.dial(t)
	readSetup(t, nc)
	batch := bytes.Repeat(wireframe.Append(nil, wireframe.Message{Op: wireframe.OpCallWrapper, Tag: 0}), 1024)
	for {
		nc.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := nc.Write(batch); err != nil {
			break
		}
	}
	r.wait(t)
	if !strings.Contains(r.stderr.String(), "took nothing for 200ms in the middle of a message") {
		t.Fatalf("executor's last words: %q", r.stderr.String())
	}
}

// TestTokenHandshake: with a token, a client that answers the challenge
// wrongly, or not at all, is disconnected before any Setup, and the
// executor stays up for the controller that holds the token.
func TestTokenHandshake(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	os.WriteFile(tokenFile, []byte("open sesame\n"), 0o600)
	r := start(t, "-token-file="+tokenFile, "listen=127.0.0.1:0")

	silent := r.dial(t) // says nothing; must not keep the others out
	if m, err := wireframe.Read(silent, 1<<20); err != nil || m.Tag != wireframe.AuthTag {
		t.Fatalf("first message to a client: %+v, %v; want a challenge", m, err)
	}

	wrong := r.dial(t)
	wireframe.Read(wrong, 1<<20)
	wrong.Write(wireframe.Append(nil, wireframe.Message{Op: wireframe.OpSetup, Tag: wireframe.AuthTag, Payload: make([]byte, 32)}))
	wrong.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := io.Copy(io.Discard, wrong); err != nil || n != 0 {
		t.Fatalf("after a wrong answer: read %d bytes, %v; want the connection closed", n, err)
	}

	right := r.dial(t)
	c := wire.NewConn(right, right, right, wire.AuthToken([]byte("open sesame")))
	payload, err := c.ReadSetup()
	if err != nil {
		t.Fatalf("with the token: %v; executor: %q", err, r.stderr.String())
	}
	var s protocol.Setup
	if err := sps.Unmarshal(payload, &s); err != nil || len(s.Symbols) == 0 {
		t.Fatalf("Setup = %+v, %v", s, err)
	}
	c.Hangup()
	if err := r.wait(t); err != nil {
		t.Fatalf("after hangup: %v", err)
	}
	if !strings.Contains(r.stderr.String(), "the controller's token is wrong") {
		t.Fatalf("executor's stderr: %q", r.stderr.String())
	}
}

// TestOversizedMessage: a message announcing more than the limit ends the
// session with an error, before any of it is read; one announcing a large
// size and sending little costs only what was sent.
func TestOversizedMessage(t *testing.T) {
	r := start(t, "listen=127.0.0.1:0")
	nc := r.dial(t)
	readSetup(t, nc)
	huge := wireframe.Append(nil, wireframe.Message{Op: wireframe.OpCallWrapper})
	binary.LittleEndian.PutUint64(huge, 1<<40)
	nc.Write(huge)
	r.wait(t)
	if !strings.Contains(r.stderr.String(), "exceeds the limit") {
		t.Fatalf("executor's last words: %q", r.stderr.String())
	}

	r = start(t, "-idle-timeout=300ms", "listen=127.0.0.1:0")
	nc = r.dial(t)
	readSetup(t, nc)
	binary.LittleEndian.PutUint64(huge, 1<<30) // at the limit
	nc.Write(huge)
	nc.Write(make([]byte, 4<<20))
	time.Sleep(100 * time.Millisecond)
	if rss := rssKB(t, r.cmd.Process.Pid); rss > 100<<10 {
		t.Fatalf("executor RSS %d MiB for a 4 MiB start of a 1 GiB message", rss>>10)
	}
	r.wait(t)
	if !strings.Contains(r.stderr.String(), "in the middle of a message") {
		t.Fatalf("executor's last words: %q", r.stderr.String())
	}
}
