package cfunc_test

import (
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
)

// The example loads lljit's committed x86-64 objects: rebuilt for other
// targets.
func TestMain(m *testing.M) { testutil.Main(m, nil, "../../lljit/testdata") }
