//go:build unix

package archive

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// mapFile maps a regular file read-only; other files (and empty ones) are
// read into memory. The returned function releases the memory.
func mapFile(path string) ([]byte, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	size := fi.Size()
	if fi.Mode().IsRegular() && size > 0 && int64(int(size)) == size {
		data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_PRIVATE)
		if err == nil {
			return data, func() error { return syscall.Munmap(data) }, nil
		}
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, func() error { return nil }, nil
}
