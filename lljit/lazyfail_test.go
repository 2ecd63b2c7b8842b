package lljit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/gorc-jit/gorc/internal/native"
	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc/compile"
	"github.com/gorc-jit/gorc/orc/remote"
)

// missingIR's main calls helper, which calls a function defined nowhere:
// helper's body cannot be linked.
const missingIR = `declare i32 @missing_fn(i32)
define i32 @helper(i32 %x) {
  %r = call i32 @missing_fn(i32 %x)
  ret i32 %r
}
define i32 @main(i32 %argc, ptr %argv) {
  %r = call i32 @helper(i32 %argc)
  ret i32 %r
}
`

// lazyChildEnv makes the test binary run the IR it holds with LLLazyJIT,
// in process (see TestMain).
const lazyChildEnv = "GORC_LLJIT_LAZY_CHILD"

func lazyChild() int {
	native.InstallCrashHandler("lazy child:")
	j, err := lljit.NewLazy()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 125
	}
	if err := j.AddLazyIRModule(nil, compile.Module{Name: "m.ll", IR: []byte(os.Getenv(lazyChildEnv))}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 125
	}
	rc, err := j.RunMain(context.Background(), "prog")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 126
	}
	return rc
}

// A lazy call whose body cannot be linked reports the error, naming the
// missing symbol, and aborts (the runtime's gorc_lazy_compile_failed), in
// process and in gorc-executor; it never jumps to address 0.
func TestLazyLinkFailureAborts(t *testing.T) {
	llvmTools(t)
	t.Run("in-process", func(t *testing.T) {
		cmd := testutil.Child(lazyChildEnv + "=" + missingIR)
		got := testutil.Run(t, cmd)
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ws.Signaled() || ws.Signal() != syscall.SIGABRT || !strings.Contains(got.Stderr, "lazy compilation failed: lazy call to helper") ||
			!strings.Contains(got.Stderr, "symbol not found: missing_fn") {
			t.Fatalf("exit %v, stderr:\n%s\nwant SIGABRT and the error naming missing_fn", cmd.ProcessState, got.Stderr)
		}
	})
	t.Run("gorc-executor", func(t *testing.T) {
		var stderr syncBuffer
		epc, err := remote.Launch(buildExecutor(t, t.TempDir()), remote.Stdio(os.Stdout, &stderr))
		if err != nil {
			t.Fatal(err)
		}
		j, err := (&lljit.LazyBuilder{Builder: lljit.Builder{EPC: epc}}).Create()
		if err != nil {
			t.Fatal(err)
		}
		defer j.Close()
		if err := j.AddLazyIRModule(nil, compile.Module{Name: "m.ll", IR: []byte(missingIR)}); err != nil {
			t.Fatal(err)
		}
		_, err = j.RunMain(t.Context(), "prog")
		var exit *remote.ExitError
		if !errors.As(err, &exit) || exit.Signal != syscall.SIGABRT || !strings.Contains(stderr.String(), "lazy compilation failed: lazy call to helper") ||
			!strings.Contains(stderr.String(), "symbol not found: missing_fn") {
			t.Fatalf("RunMain: %v; executor's stderr:\n%s\nwant SIGABRT and the error naming missing_fn", err, stderr.String())
		}
	})
}

// syncBuffer is a bytes.Buffer an executor's output copier may write while
// the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
