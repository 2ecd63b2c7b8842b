package sysmem

import (
	"bufio"
	"cmp"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
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

// ReserveNearLibraries reserves size bytes of inaccessible address space
// (private, not backed by memory until remapped or protected) whose first
// near bytes lie within 32-bit reach of the process's shared libraries if
// it can, and anywhere otherwise. Its first near bytes are where code goes:
// only code reads library data PC-relatively. The memory managers place
// JIT'd memory with it.
func ReserveNearLibraries(size, near uint64) ([]byte, error) {
	if f, err := os.Open("/proc/self/maps"); err == nil {
		l := readMaps(f)
		f.Close()
		for _, addr := range l.placements(size, near) {
			if mem, err := Map(addr, size, 0, Reserve|Exact); err == nil {
				return mem, nil
			}
		}
	}
	return Map(0, size, 0, Reserve)
}

// addressSpace is what /proc/self/maps says: the mapped ranges, in
// address order, and the span of the shared libraries among them.
type addressSpace struct {
	mapped []addrRange
	lo, hi uint64 // the libraries' span; hi == 0 if there are none
}

type addrRange struct{ start, end uint64 }

// readMaps reads a /proc/PID/maps listing.
func readMaps(maps io.Reader) addressSpace {
	var l addressSpace
	sc := bufio.NewScanner(maps)
	for sc.Scan() {
		// start-end perms offset dev inode [path]
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		start, end, found := strings.Cut(fields[0], "-")
		s, err1 := strconv.ParseUint(start, 16, 64)
		e, err2 := strconv.ParseUint(end, 16, 64)
		if !found || err1 != nil || err2 != nil || e <= s {
			continue
		}
		l.mapped = append(l.mapped, addrRange{s, e})
		if len(fields) >= 6 && isSharedLibrary(fields[5]) {
			if l.hi == 0 || s < l.lo {
				l.lo = s
			}
			l.hi = max(l.hi, e)
		}
	}
	return l
}

// placements lists addresses where size bytes fit in free address space
// with their first near bytes within reach of the libraries, nearest
// first: the start of each free gap above them and the end of each gap
// below.
func (l addressSpace) placements(size, near uint64) []uint64 {
	if l.hi == 0 {
		return nil
	}
	const align = 2 << 20
	type cand struct{ addr, span uint64 }
	var cands []cand
	consider := func(addr uint64) {
		if span := max(addr+near, l.hi) - min(addr, l.lo); span <= reach {
			cands = append(cands, cand{addr, span})
		}
	}
	for i := 0; i+1 < len(l.mapped); i++ {
		gapStart, gapEnd := (l.mapped[i].end+align-1)&^(align-1), l.mapped[i+1].start
		if gapEnd <= gapStart || gapEnd-gapStart < size {
			continue
		}
		if gapStart >= l.hi {
			consider(gapStart)
		} else if gapEnd <= l.lo {
			consider((gapEnd - size) &^ (align - 1))
		}
	}
	slices.SortFunc(cands, func(a, b cand) int { return cmp.Compare(a.span, b.span) })
	addrs := make([]uint64, len(cands))
	for i, c := range cands {
		addrs[i] = c.addr
	}
	return addrs
}

func isSharedLibrary(path string) bool {
	base := path[strings.LastIndexByte(path, '/')+1:]
	return strings.HasPrefix(path, "/") && (strings.HasSuffix(base, ".so") || strings.Contains(base, ".so."))
}
