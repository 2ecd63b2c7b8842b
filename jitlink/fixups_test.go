package jitlink_test

import (
	"encoding/binary"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/jitlinktest"
	"github.com/gorc-jit/gorc/jitlink/x86_64"
)

// bigGraph has enough edges for fixups to be applied on several
// goroutines: each 8-byte slot of each block points at x plus its index.
// bad, if >= 0, is a block whose slot 0 holds a 32-bit pointer to far<bad>.
func bigGraph(blocks, perBlock int, bad ...int) *jitlink.LinkGraph {
	return bigGraphSections(1, blocks, perBlock, bad...)
}

// bigGraphSections is bigGraph with its blocks in runs over sections
// sections, each followed by an empty one.
func bigGraphSections(sections, blocks, perBlock int, bad ...int) *jitlink.LinkGraph {
	g := x86_64.NewLinkGraph("big.o")
	var secs []*jitlink.Section
	for i := range sections {
		secs = append(secs, g.CreateSection(".data"+strconv.Itoa(i), jitlink.ProtRead|jitlink.ProtWrite))
		g.CreateSection(".empty"+strconv.Itoa(i), jitlink.ProtRead|jitlink.ProtWrite)
	}
	x := g.AddExternalSymbol("x", 0, jitlink.Strong)
	for i := range blocks {
		sec := secs[i*sections/blocks]
		b := g.CreateContentBlock(sec, make([]byte, 8*perBlock), uint64(i*8*perBlock), 8, 0)
		g.AddDefinedSymbol(b, 0, "", 0, jitlink.Strong, jitlink.ScopeLocal, jitlink.Live)
		for j := range perBlock {
			b.AddEdge(x86_64.Pointer64, uint32(8*j), x, int64(i*perBlock+j))
		}
		for _, k := range bad {
			if k == i {
				b.Edges()[0].Kind = x86_64.Pointer32
				b.Edges()[0].Target = g.AddExternalSymbol("far"+strconv.Itoa(i), 0, jitlink.Strong)
			}
		}
	}
	return g
}

func TestParallelFixups(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	const blocks, perBlock = 300, 64 // 19,200 edges: four goroutines
	// The goroutines' runs of blocks start and end within sections and
	// at their ends, and cross empty ones.
	for _, sections := range []int{1, 3, 7, 300} {
		t.Run(strconv.Itoa(sections), func(t *testing.T) {
			testParallelFixups(t, bigGraphSections(sections, blocks, perBlock), blocks*perBlock)
		})
	}
}

func testParallelFixups(t *testing.T, g *jitlink.LinkGraph, slots int) {
	mem := &jitlinktest.Memory{Base: 0x10000}
	if err := jitlinktest.Link(g, jitlinktest.Options{Memory: mem, Externals: map[string]uint64{"x": 0x5000_0000_0000}}); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, s := range mem.Segments {
		for off := 0; off+8 <= len(s.Working); off += 8 {
			if got, want := binary.LittleEndian.Uint64(s.Working[off:]), uint64(0x5000_0000_0000+n); got != want {
				t.Fatalf("slot %d: %#x, want %#x", n, got, want)
			}
			n++
		}
	}
	if n != slots {
		t.Fatalf("%d slots, want %d", n, slots)
	}
}

// Of two failing fixups, the one a sequential loop meets first is
// reported, however the blocks were shared out.
func TestParallelFixupsFirstError(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	for range 5 {
		g := bigGraphSections(5, 300, 64, 7, 290)
		far := map[string]uint64{"x": 0}
		for _, s := range g.ExternalSymbols() {
			if strings.HasPrefix(s.Name(), "far") {
				far[s.Name()] = 1 << 40
			}
		}
		err := jitlinktest.Link(g, jitlinktest.Options{Externals: far})
		if err == nil || !strings.Contains(err.Error(), "far7") {
			t.Fatalf("got %v, want the error of far7 (block 7)", err)
		}
	}
}
