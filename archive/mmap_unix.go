//go:build unix

package archive

import (
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// mapFile maps a regular file read-only; other files (and empty ones) are
// read into memory. unmap releases the memory; evict unmaps the pages
// read so far (the file stays mapped: they come back from the page cache
// when read again) and does nothing for a file read into memory.
func mapFile(path string) (data []byte, unmap func() error, evict func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, nil, err
	}
	size := fi.Size()
	if fi.Mode().IsRegular() && size > 0 && int64(int(size)) == size {
		data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_PRIVATE)
		if err == nil {
			return data, func() error { return syscall.Munmap(data) },
				func() { unix.Madvise(data, unix.MADV_DONTNEED) }, nil
		}
	}
	data, err = io.ReadAll(f)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, func() error { return nil }, func() {}, nil
}
