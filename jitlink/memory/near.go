package memory

import (
	"bufio"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Code compiled the usual way (PIE, or without -fPIC) reads the data of
// shared libraries (stdout, environ, std::cout) with 32-bit PC-relative
// loads, trusting the static linker to copy that data next to the program.
// A JIT cannot move libc's data, so it moves its memory instead: reserved
// ranges are placed next to the process's shared libraries where the
// address space allows, as a dynamic loader would place a library.

// reach is how far, in bytes, a reservation and the libraries may spread
// together for 32-bit displacements to span them, with room to spare for
// libraries loaded later.
const reach = 1<<31 - 128<<20

// reserveNearLibraries reserves size bytes of inaccessible address space
// within 32-bit reach of the process's shared libraries if it can, and
// anywhere otherwise.
func reserveNearLibraries(size uint64, flags int) ([]byte, error) {
	if lo, hi, ok := libraryRange(); ok {
		const align = 2 << 20
		above := alignUp(hi, align)
		var below uint64
		if lo > size+align {
			below = (lo - size) &^ (align - 1)
		}
		for _, addr := range []uint64{above, below} {
			if addr == 0 || max(addr+size, hi)-min(addr, lo) > reach {
				continue
			}
			if mem, err := mmapAt(addr, size, flags); err == nil {
				return mem, nil
			}
		}
	}
	return mmap(0, size, unix.PROT_NONE, flags)
}

// libraryRange returns the lowest and highest addresses of the shared
// libraries mapped in this process.
func libraryRange() (lo, hi uint64, ok bool) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return 0, 0, false
	}
	defer f.Close()
	return librariesIn(f)
}

// librariesIn reads a /proc/PID/maps listing.
func librariesIn(maps io.Reader) (lo, hi uint64, ok bool) {
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		// start-end perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || !isSharedLibrary(fields[5]) {
			continue
		}
		start, end, found := strings.Cut(fields[0], "-")
		s, err1 := strconv.ParseUint(start, 16, 64)
		e, err2 := strconv.ParseUint(end, 16, 64)
		if !found || err1 != nil || err2 != nil {
			continue
		}
		if !ok || s < lo {
			lo = s
		}
		if !ok || e > hi {
			hi = e
		}
		ok = true
	}
	return lo, hi, ok
}

func isSharedLibrary(path string) bool {
	base := path[strings.LastIndexByte(path, '/')+1:]
	return strings.HasPrefix(path, "/") && (strings.HasSuffix(base, ".so") || strings.Contains(base, ".so."))
}
