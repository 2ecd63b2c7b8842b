//go:build !amd64

package memory

import (
	"errors"
	"fmt"
	"runtime"
)

// lowMapFlag fails: only x86-64 Linux has MAP_32BIT, and only x86-64 code
// built without PIC needs low addresses.
func lowMapFlag() (int, error) {
	return 0, fmt.Errorf("memory below 2 GiB (MAP_32BIT) on %s: %w", runtime.GOARCH, errors.ErrUnsupported)
}
