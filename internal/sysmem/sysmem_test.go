//go:build linux

package sysmem

import (
	"errors"
	"os"
	"runtime"
	"testing"

	"github.com/gorc-jit/gorc/jitlink"
)

const rw = jitlink.ProtRead | jitlink.ProtWrite

func TestMapExactNeverReplaces(t *testing.T) {
	page := uint64(os.Getpagesize())
	a, err := Map(0, 4*page, 0, Reserve)
	if err != nil {
		t.Fatal(err)
	}
	defer Unmap(a)
	if _, err := Map(Addr(a), page, rw, Exact); err == nil {
		t.Fatal("Exact mapped over an existing mapping")
	}
	// Free the middle and map exactly there.
	at := Addr(a) + page
	if err := Unmap(a[page : 2*page]); err != nil {
		t.Fatal(err)
	}
	b, err := Map(at, page, rw, Exact)
	if err != nil {
		t.Fatal(err)
	}
	if Addr(b) != at {
		t.Fatalf("mapped at %#x, want %#x", Addr(b), at)
	}
	b[0] = 1 // writable
}

func TestMapLow2GB(t *testing.T) {
	b, err := Map(0, 1<<20, rw, Low2GB)
	if runtime.GOARCH != "amd64" {
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("Low2GB on %s: err %v, want ErrUnsupported", runtime.GOARCH, err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer Unmap(b)
	if Addr(b)+1<<20 > 1<<31 {
		t.Fatalf("mapped at %#x, above 2 GiB", Addr(b))
	}
}

// A memory file mapped twice shows writes through one view in the other,
// and Discard zeroes it.
func TestMemFileViews(t *testing.T) {
	page := uint64(os.Getpagesize())
	f, err := NewMemFile("sysmem-test", 2*page)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := Map(0, 2*page, 0, Reserve)
	if err != nil {
		t.Fatal(err)
	}
	defer Unmap(res)
	ro, err := f.Map(res, 0, 2*page, jitlink.ProtRead)
	if err != nil {
		t.Fatal(err)
	}
	if Addr(ro) != Addr(res) {
		t.Fatalf("view at %#x, want it over the reservation at %#x", Addr(ro), Addr(res))
	}
	w, err := f.Map(nil, 0, 2*page, rw)
	if err != nil {
		t.Fatal(err)
	}
	defer Unmap(w)
	w[page+5] = 42
	if ro[page+5] != 42 {
		t.Fatal("write through the working view not seen in the other")
	}
	if err := f.Discard(page, page); err != nil {
		t.Fatal(err)
	}
	if ro[page+5] != 0 {
		t.Fatal("discarded page still holds data")
	}
	if err := Protect(w[:page], jitlink.ProtRead); err != nil {
		t.Fatal(err)
	}
}

func TestProt(t *testing.T) {
	if Prot(0) != 0 || Prot(jitlink.ProtRead|jitlink.ProtExec) != 5 || Prot(rw) != 3 {
		t.Fatalf("Prot: R-X=%d RW-=%d", Prot(jitlink.ProtRead|jitlink.ProtExec), Prot(rw))
	}
}
