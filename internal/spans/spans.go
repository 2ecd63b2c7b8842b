// Package spans keeps the free ranges of an address range: first-fit
// allocation and release that merges neighbours. Memory managers use it;
// it does no locking.
//
// A range given back while any part of it is still free is refused with
// an error: releasing memory twice would otherwise hand the same bytes to
// two later allocations.
package spans

import "fmt"

// Span is a free range.
type Span struct{ Off, Size uint64 }

// List is a free list, ordered by offset. The zero List has nothing free.
type List struct {
	free []Span
	size uint64
}

// New returns a list with [0, size) free.
func New(size uint64) *List { return &List{free: []Span{{0, size}}, size: size} }

// Take removes the first free range of size bytes and returns its offset.
func (l *List) Take(size uint64) (uint64, bool) { return l.TakeAligned(size, 1) }

// TakeAligned removes the first free range of size bytes whose offset is a
// multiple of align (a power of two) and returns that offset.
func (l *List) TakeAligned(size, align uint64) (uint64, bool) {
	for i, f := range l.free {
		off := (f.Off + align - 1) &^ (align - 1)
		if off < f.Off || off-f.Off > f.Size || f.Size-(off-f.Off) < size {
			continue
		}
		l.cut(i, off, size)
		return off, true
	}
	return 0, false
}

// TakeAt removes [off, off+size), which must be free.
func (l *List) TakeAt(off, size uint64) error {
	for i, f := range l.free {
		if off >= f.Off && off-f.Off <= f.Size && f.Size-(off-f.Off) >= size {
			l.cut(i, off, size)
			return nil
		}
	}
	return fmt.Errorf("range %#x+%#x is not free", off, size)
}

// cut removes [off, off+size) from free span i, which holds it.
func (l *List) cut(i int, off, size uint64) {
	f := l.free[i]
	var rest []Span
	if off > f.Off {
		rest = append(rest, Span{f.Off, off - f.Off})
	}
	if end := off + size; end < f.Off+f.Size {
		rest = append(rest, Span{end, f.Off + f.Size - end})
	}
	switch len(rest) {
	case 0:
		l.free = append(l.free[:i], l.free[i+1:]...)
	case 1:
		l.free[i] = rest[0]
	default:
		l.free = append(l.free[:i+1], l.free[i:]...)
		l.free[i], l.free[i+1] = rest[0], rest[1]
	}
}

// Give returns [off, off+size) to the list, merging it with free
// neighbours. It refuses a range outside the list or overlapping a free
// one (given back twice).
func (l *List) Give(off, size uint64) error {
	if size == 0 {
		return nil
	}
	if off > l.size || size > l.size-off {
		return fmt.Errorf("range %#x+%#x is outside the %#x-byte free list", off, size, l.size)
	}
	i := 0
	for i < len(l.free) && l.free[i].Off < off {
		i++
	}
	if i > 0 && l.free[i-1].Off+l.free[i-1].Size > off || i < len(l.free) && off+size > l.free[i].Off {
		return fmt.Errorf("range %#x+%#x is already free (released twice)", off, size)
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
	return nil
}

// Free returns the free ranges (do not modify).
func (l *List) Free() []Span { return l.free }
