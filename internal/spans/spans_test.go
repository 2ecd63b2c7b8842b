package spans

import (
	"slices"
	"strings"
	"testing"
)

func TestTakeAndGive(t *testing.T) {
	l := New(100)
	a, _ := l.Take(10)
	b, _ := l.Take(20)
	c, _ := l.Take(30)
	if a != 0 || b != 10 || c != 30 {
		t.Fatalf("offsets %d %d %d", a, b, c)
	}
	if _, ok := l.Take(41); ok {
		t.Fatal("took more than is free")
	}
	must(t, l.Give(b, 20))
	if off, _ := l.Take(15); off != 10 {
		t.Fatalf("first fit took %d", off)
	}
	must(t, l.Give(10, 15))
	must(t, l.Give(a, 10))
	must(t, l.Give(c, 30))
	if !slices.Equal(l.Free(), []Span{{0, 100}}) {
		t.Fatalf("after giving everything back: %v", l.Free())
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestGiveTwice: a range given back twice, or overlapping a free range,
// or outside the list, is refused and the list is unchanged.
func TestGiveTwice(t *testing.T) {
	l := New(100)
	a, _ := l.Take(10)
	l.Take(10)
	must(t, l.Give(a, 10))
	before := slices.Clone(l.Free())
	for _, r := range []Span{{a, 10}, {5, 10}, {0, 1}, {60, 10}, {95, 10}, {200, 1}} {
		err := l.Give(r.Off, r.Size)
		if err == nil {
			t.Fatalf("Give(%d, %d) succeeded on %v", r.Off, r.Size, before)
		}
		if !slices.Equal(l.Free(), before) {
			t.Fatalf("a refused Give changed the list to %v", l.Free())
		}
	}
	if err := l.Give(a, 10); !strings.Contains(err.Error(), "released twice") {
		t.Fatalf("error %q does not say released twice", err)
	}
}

func TestTakeAlignedAndAt(t *testing.T) {
	l := New(256)
	l.Take(3)
	off, ok := l.TakeAligned(16, 64)
	if !ok || off != 64 {
		t.Fatalf("TakeAligned = %d, %v", off, ok)
	}
	if !slices.Equal(l.Free(), []Span{{3, 61}, {80, 176}}) {
		t.Fatalf("free after aligned take: %v", l.Free())
	}
	must(t, l.TakeAt(100, 10))
	if err := l.TakeAt(105, 1); err == nil {
		t.Fatal("took a range twice")
	}
	if err := l.TakeAt(250, 10); err == nil {
		t.Fatal("took past the end")
	}
	if _, ok := l.TakeAligned(200, 1); ok {
		t.Fatal("took more than a free range holds")
	}
	if !slices.Equal(l.Free(), []Span{{3, 61}, {80, 20}, {110, 146}}) {
		t.Fatalf("free after TakeAt: %v", l.Free())
	}
}
