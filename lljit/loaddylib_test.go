package lljit_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc"
	"github.com/gorc-jit/gorc/orc/inprocess"
)

// StartLoadDylib returns before the library is loaded; a lookup waits for
// it, and a library that cannot be loaded fails the lookups that reach it
// and its loaded function, naming it, in process and out.
func TestStartLoadDylib(t *testing.T) {
	for where, epc := range map[string]orc.ExecutorProcessControl{"in process": inprocess.New(), "out of process": executorInProcess(t)} {
		t.Run(where, func(t *testing.T) {
			j, err := (&lljit.Builder{EPC: epc}).Create()
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			libm := j.StartLoadDylib("libm.so.6")
			const broken = "/nonexistent/libgorc-broken.so"
			brokenLoaded := j.StartLoadDylib(broken)
			if err := libm(); err != nil {
				t.Fatalf("libm: %v", err)
			}
			if addr, err := j.Lookup(context.Background(), "cbrt"); err != nil || addr == 0 {
				t.Fatalf("cbrt from libm: %#x, %v", addr, err)
			}
			if err := brokenLoaded(); err == nil || !strings.Contains(err.Error(), broken) {
				t.Fatalf("loading %s: %v, want an error naming it", broken, err)
			}
			if _, err := j.Lookup(context.Background(), "gorc_defined_nowhere"); err == nil || !strings.Contains(err.Error(), broken) {
				t.Fatalf("a lookup reaching %s: %v, want its loading error", broken, err)
			}
		})
	}
}
