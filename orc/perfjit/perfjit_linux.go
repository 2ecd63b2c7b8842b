package perfjit

import (
	"os"

	"golang.org/x/sys/unix"
)

// osSupport says whether this system has perf: perf and its jitdump
// format are Linux's.
func osSupport() error { return nil }

// mapMarker maps the dump's first page executable: perf finds the dump
// through that mapping in the process's mmap events.
func mapMarker(f *os.File) ([]byte, error) {
	return unix.Mmap(int(f.Fd()), 0, os.Getpagesize(), unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE)
}

func unmapMarker(b []byte) error { return unix.Munmap(b) }

// timestamp reads the clock perf record -k mono uses.
func timestamp() uint64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return uint64(ts.Nano())
}

func threadID() int { return unix.Gettid() }
