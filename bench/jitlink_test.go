// Package bench holds gorc's benchmarks. Go benchmarks measure the library
// layers; compare.sh runs gorc-jitlink against llvm-jitlink on the same inputs.
package bench

import (
	"os"
	"testing"

	"github.com/gorc-jit/gorc/archive"
	"github.com/gorc-jit/gorc/internal/native"
	"github.com/gorc-jit/gorc/internal/staticlink"
	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/memory"
	"github.com/gorc-jit/gorc/jitlink/object"
)

const sqliteArchive = "/usr/lib/x86_64-linux-gnu/libsqlite3.a"

// sqliteObjects returns every member of Debian's libsqlite3.a.
func sqliteObjects(b *testing.B) ([]staticlink.Object, int64) {
	testutil.NeedFile(b, sqliteArchive)
	a, err := archive.Open(sqliteArchive)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	var objs []staticlink.Object
	var size int64
	for _, m := range a.Members() {
		objs = append(objs, staticlink.Object{Name: a.MemberName(m), Data: m.Data})
		size += int64(len(m.Data))
	}
	return objs, size
}

// BenchmarkParseSqlite builds the LinkGraphs of all libsqlite3 members.
func BenchmarkParseSqlite(b *testing.B) {
	objs, size := sqliteObjects(b)
	b.SetBytes(size)
	b.ReportAllocs()
	relocs := 0
	for b.Loop() {
		relocs = 0
		for _, o := range objs {
			g, err := object.NewLinkGraph(o.Name, o.Data)
			if err != nil {
				b.Fatal(err)
			}
			for blk := range g.Blocks() {
				relocs += len(blk.Edges())
			}
		}
	}
	b.ReportMetric(float64(relocs)*float64(b.N)/b.Elapsed().Seconds(), "relocs/s")
}

// BenchmarkLinkSqlite parses and links every member of libsqlite3.a into
// dual-mapped memory (the in-process default), resolving the rest against
// this process (nothing is run).
func BenchmarkLinkSqlite(b *testing.B) {
	mm, err := memory.NewDualMapped(1 << 30)
	if err != nil {
		b.Fatal(err)
	}
	defer mm.Close()
	benchmarkLinkSqlite(b, mm)
}

// BenchmarkLinkSqliteSlab is BenchmarkLinkSqlite with the mprotect-based
// slab.
func BenchmarkLinkSqliteSlab(b *testing.B) {
	slab, err := memory.NewSlab(1 << 30)
	if err != nil {
		b.Fatal(err)
	}
	defer slab.Close()
	benchmarkLinkSqlite(b, slab)
}

func benchmarkLinkSqlite(b *testing.B, mm jitlink.MemoryManager) {
	objs, size := sqliteObjects(b)
	libm, err := native.Open("libm.so.6", native.RTLDNow)
	if err != nil {
		b.Fatal(err)
	}
	resolve := func(name string) (uint64, bool) {
		if a, ok := native.LookupDefault(name); ok {
			return a, true
		}
		return libm.Lookup(name)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	relocs := 0
	for b.Loop() {
		res, err := staticlink.Link(objs, nil, staticlink.Options{Memory: mm, Resolve: resolve})
		if err != nil {
			b.Fatal(err)
		}
		relocs = res.Relocations
		if err := mm.Deallocate(res.Allocs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(relocs)*float64(b.N)/b.Elapsed().Seconds(), "relocs/s")
	b.ReportMetric(float64(relocs), "relocs/op")
}

var _ = jitlink.Link
var _ = os.Getenv
