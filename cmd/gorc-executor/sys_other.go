//go:build !unix

package main

import (
	"errors"
	"fmt"
	"runtime"
)

func setNonblock(fd int) error {
	return fmt.Errorf("filedescs= needs a Unix system, not %s: %w", runtime.GOOS, errors.ErrUnsupported)
}

// privateUmask does nothing: there is no umask here, and a socket file
// gets its directory's access rules.
func privateUmask() (restore func()) { return func() {} }
