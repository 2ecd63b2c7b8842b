package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc"
)

// The ORC benchmarks do the work ../shared/anchors/orc_lookup_bench.cpp
// measures in LLVM's ORC (orc_compare.sh runs both): define 100,000
// absolute symbols (interning included), one lookup of all of them, and
// single lookups of ready symbols.

const nSyms = 100000

func defineAbsolutes(b *testing.B, jd *orc.JITDylib) []orc.Name {
	names := make([]orc.Name, 0, nSyms)
	syms := make(orc.SymbolMap, nSyms)
	buf := []byte("sym_")
	for i := 0; i < nSyms; i++ {
		n := orc.Intern(string(strconv.AppendInt(buf[:4], int64(i), 10)))
		names = append(names, n)
		syms[n] = orc.Symbol{Addr: 0x1000 + uint64(i)*16, Flags: orc.Exported}
	}
	if err := jd.Define(orc.AbsoluteSymbols(syms)); err != nil {
		b.Fatal(err)
	}
	return names
}

func newJD(b *testing.B) (*orc.ExecutionSession, *orc.JITDylib) {
	es := orc.NewExecutionSession()
	jd, err := es.CreateJITDylib("main")
	if err != nil {
		b.Fatal(err)
	}
	return es, jd
}

func BenchmarkDefine100kAbsolute(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		es, jd := newJD(b)
		b.StartTimer()
		defineAbsolutes(b, jd)
		b.StopTimer()
		es.Close()
		b.StartTimer()
	}
}

func BenchmarkLookup100k(b *testing.B) {
	for b.Loop() {
		b.StopTimer()
		es, jd := newJD(b)
		names := defineAbsolutes(b, jd)
		b.StartTimer()
		set := make(orc.LookupSet, len(names))
		for i, n := range names {
			set[i] = orc.LookupEntry{Name: n}
		}
		m, err := es.Lookup(context.Background(), orc.Search(jd), set, orc.Ready)
		if err != nil || len(m) != nSyms {
			b.Fatal(err, len(m))
		}
		b.StopTimer()
		es.Close()
		b.StartTimer()
	}
}

func BenchmarkSingleLookupReady(b *testing.B) {
	es, jd := newJD(b)
	defer es.Close()
	names := defineAbsolutes(b, jd)
	order := orc.Search(jd)
	ctx := context.Background()
	var acc uint64
	i := 0
	for b.Loop() {
		s, err := es.LookupSymbol(ctx, order, names[(i*7919)%nSyms])
		if err != nil {
			b.Fatal(err)
		}
		acc += s.Addr
		i++
	}
	_ = acc
}

// Parallel single lookups (use -cpu 1,2).
func BenchmarkParallelLookupReady(b *testing.B) {
	es, jd := newJD(b)
	defer es.Close()
	names := defineAbsolutes(b, jd)
	order := orc.Search(jd)
	var seed atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(seed.Add(1)) * 1000
		for pb.Next() {
			if _, err := es.LookupSymbol(context.Background(), order, names[(i*7919)%nSyms]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// smallObjects compiles 1,000 tiny independent objects.
var smallObjects = sync.OnceValues(func() ([][]byte, error) {
	dir, err := os.MkdirTemp("", "gorc-bench")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	t := &testing.T{}
	var objs [][]byte
	for i := 0; i < 1000; i++ {
		src := fmt.Sprintf("static int v = %d; int f%d(int x) { return x * v + %d; }", i, i, i)
		p := testutil.Compile(t, dir, fmt.Sprintf("f%d.c", i), src, "-O1", "-fno-asynchronous-unwind-tables")
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		objs = append(objs, data)
	}
	return objs, nil
})

// Materializing 1,000 small independent objects through LLJIT with 1 and 2
// compile workers: one lookup of all their functions.
func BenchmarkMaterialize1000Objects(b *testing.B) {
	testutil.NeedTool(b, "gcc")
	objs, err := smallObjects()
	if err != nil {
		b.Fatal(err)
	}
	names := make([]string, len(objs))
	for i := range objs {
		names[i] = fmt.Sprintf("f%d", i)
	}
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				j, err := (&lljit.Builder{NumCompileThreads: workers}).Create()
				if err != nil {
					b.Fatal(err)
				}
				set := make(orc.LookupSet, len(objs))
				for i, o := range objs {
					if err := j.AddObject(nil, names[i]+".o", o); err != nil {
						b.Fatal(err)
					}
					set[i] = orc.LookupEntry{Name: orc.Intern(names[i])}
				}
				b.StartTimer()
				m, err := j.Session().Lookup(context.Background(), j.MainJITDylib().LinkOrder(), set, orc.Ready)
				if err != nil || len(m) != len(objs) {
					b.Fatal(err)
				}
				b.StopTimer()
				j.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(len(objs))*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
		})
	}
}

// BenchmarkLLJITSqlite does what `gorc-jitlink -noexec main.o
// libsqlite3.a -lm` does, through LLJIT: the archive's members are linked on
// demand as main's references need them.
func BenchmarkLLJITSqlite(b *testing.B) {
	obj := sqliteMainObject(b)
	for b.Loop() {
		j := linkSqliteMain(b, &lljit.Builder{}, obj)
		b.StopTimer()
		j.Close()
		b.StartTimer()
	}
}

// sqliteMainObject compiles a main that opens an in-memory database.
func sqliteMainObject(b *testing.B) []byte {
	testutil.NeedFile(b, sqliteArchive)
	mainObj := testutil.Compile(b, b.TempDir(), "main.c", `#include <sqlite3.h>
int main(void) { sqlite3 *db; sqlite3_open(":memory:", &db); sqlite3_exec(db, "select 1", 0, 0, 0); return sqlite3_close(db); }`, "-O2")
	obj, err := os.ReadFile(mainObj)
	if err != nil {
		b.Fatal(err)
	}
	return obj
}

// linkSqliteMain links main + libsqlite3.a + libm with the builder's JIT
// and looks up main.
func linkSqliteMain(b *testing.B, bld *lljit.Builder, obj []byte) *lljit.LLJIT {
	j, err := bld.Create()
	if err != nil {
		b.Fatal(err)
	}
	if err := j.AddObject(nil, "main.o", obj); err != nil {
		b.Fatal(err)
	}
	if err := j.AddArchive(nil, sqliteArchive); err != nil {
		b.Fatal(err)
	}
	if err := j.LoadDylib("libm.so.6"); err != nil {
		b.Fatal(err)
	}
	if _, err := j.Lookup(b.Context(), "main"); err != nil {
		b.Fatal(err)
	}
	return j
}
