//go:build !linux

package perfjit

import (
	"errors"
	"fmt"
	"os"
	"runtime"
)

// osSupport says whether this system has perf: perf and its jitdump
// format are Linux's, so New fails here and the rest is never reached.
func osSupport() error {
	return fmt.Errorf("perfjit: perf's jitdump files are Linux-only, not for %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

func mapMarker(f *os.File) ([]byte, error) { return nil, osSupport() }
func unmapMarker(b []byte) error           { return osSupport() }
func timestamp() uint64                    { return 0 }
func threadID() int                        { return 0 }
