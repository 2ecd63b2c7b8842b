// Package spans keeps the free ranges of an address range: first-fit
// allocation and release that merges neighbours. Memory managers use it;
// it does no locking.
package spans

// Span is a free range.
type Span struct{ Off, Size uint64 }

// List is a free list, ordered by offset. The zero List has nothing free.
type List struct {
	free []Span
}

// New returns a list with [0, size) free.
func New(size uint64) *List { return &List{free: []Span{{0, size}}} }

// Take removes the first free range of size bytes and returns its offset.
func (l *List) Take(size uint64) (uint64, bool) {
	for i := range l.free {
		f := &l.free[i]
		if f.Size >= size {
			off := f.Off
			f.Off += size
			f.Size -= size
			if f.Size == 0 {
				l.free = append(l.free[:i], l.free[i+1:]...)
			}
			return off, true
		}
	}
	return 0, false
}

// Give returns [off, off+size) to the list, merging it with free
// neighbours.
func (l *List) Give(off, size uint64) {
	i := 0
	for i < len(l.free) && l.free[i].Off < off {
		i++
	}
	l.free = append(l.free, Span{})
	copy(l.free[i+1:], l.free[i:])
	l.free[i] = Span{off, size}
	if i+1 < len(l.free) && l.free[i].Off+l.free[i].Size == l.free[i+1].Off {
		l.free[i].Size += l.free[i+1].Size
		l.free = append(l.free[:i+1], l.free[i+2:]...)
	}
	if i > 0 && l.free[i-1].Off+l.free[i-1].Size == l.free[i].Off {
		l.free[i-1].Size += l.free[i].Size
		l.free = append(l.free[:i], l.free[i+1:]...)
	}
}

// Free returns the free ranges (do not modify).
func (l *List) Free() []Span { return l.free }
