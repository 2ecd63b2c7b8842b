package jitlinktool

import (
	"cmp"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"sync"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/target"
	"github.com/gorc-jit/gorc/orc"
)

// recorder remembers what every link produced (after fixups): sections,
// symbols, GOT entries, stubs and memory, for -check and -show-addrs.
type recorder struct {
	orc.PluginBase
	mu      sync.Mutex
	files   map[string]*fileInfo
	symbols map[string]uint64
	mem     []memBlock // sorted by address once linking is done
}

type fileInfo struct {
	name     string
	sections map[string][2]uint64 // start, end
	symbols  map[string]uint64
	got      map[string]uint64 // target name -> entry address
	stubs    map[string]uint64 // target name -> stub address
}

type memBlock struct {
	addr uint64
	data []byte
}

func newRecorder() *recorder {
	return &recorder{files: map[string]*fileInfo{}, symbols: map[string]uint64{}}
}

func (r *recorder) ModifyPassConfig(mr *orc.MaterializationResponsibility, g *jitlink.LinkGraph, cfg *jitlink.PassConfig) error {
	// Checks may name any label, used or not: keep them all.
	cfg.PrePrune = append(cfg.PrePrune, func(g *jitlink.LinkGraph) error {
		for s := range g.DefinedSymbols() {
			if s.HasName() {
				s.SetLive(true)
			}
		}
		return nil
	})
	cfg.PostFixup = append(cfg.PostFixup, r.record)
	return nil
}

// record notes what g's link produced, per object: a graph of archive
// members linked together records each member under its own name (its
// sections and symbols; the GOT and stubs, which its members share, under
// every one).
func (r *recorder) record(g *jitlink.LinkGraph) error {
	got, stubs := map[string]uint64{}, map[string]uint64{}
	files := map[string]*fileInfo{}
	var order []string // object order, for which local symbol wins below
	file := func(sec *jitlink.Section) *fileInfo {
		name := filepath.Base(g.Name())
		if sec != nil {
			name = filepath.Base(g.SectionObject(sec))
		}
		fi := files[name]
		if fi == nil {
			fi = &fileInfo{name: name, sections: map[string][2]uint64{}, symbols: map[string]uint64{}, got: got, stubs: stubs}
			files[name] = fi
			order = append(order, name)
		}
		return fi
	}
	file(nil)
	var mem []memBlock
	tgt, _ := target.For(g.TargetTriple()) // nil only for an architecture nothing links
	for _, sec := range g.Sections() {
		if len(sec.Blocks()) == 0 {
			continue
		}
		fi := file(sec)
		start, end := sec.Range()
		fi.sections[sec.Name()] = [2]uint64{start, end}
		for _, b := range sec.Blocks() {
			// Empty blocks (such as the one _GLOBAL_OFFSET_TABLE_ may
			// mark) would hide the block that shares their address.
			if sec.Lifetime() == jitlink.LifetimeNoAlloc && !sec.IsTLS() || b.Size() == 0 {
				continue
			}
			data := make([]byte, b.Size())
			copy(data, b.Content())
			mem = append(mem, memBlock{b.Address(), data})
		}
		for _, s := range sec.Symbols() {
			if tgt != nil {
				if t := tgt.GOTEntryTarget(s); t != nil && t.HasName() {
					got[t.Name()] = s.Address()
				} else if t := tgt.StubTarget(s); t != nil && t.HasName() {
					stubs[t.Name()] = s.Address()
				}
			}
			if s.HasName() {
				fi.symbols[s.Name()] = s.Address()
			}
		}
	}
	for _, s := range g.AbsoluteSymbols() {
		if s.HasName() {
			file(nil).symbols[s.Name()] = s.Address()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, name := range order {
		fi := files[name]
		if len(files) > 1 && name == filepath.Base(g.Name()) && len(fi.sections) == 0 && len(fi.symbols) == 0 {
			continue // a merged graph's own name, with nothing of its own
		}
		r.files[name] = fi
		for n, a := range fi.symbols {
			if _, ok := r.symbols[n]; !ok {
				r.symbols[n] = a
			}
		}
	}
	r.mem = append(r.mem, mem...)
	return nil
}

// seal sorts the recorded memory for reads.
func (r *recorder) seal() {
	r.mu.Lock()
	defer r.mu.Unlock()
	slices.SortFunc(r.mem, func(a, b memBlock) int { return cmp.Compare(a.addr, b.addr) })
}

func (r *recorder) read(addr uint64, n int) ([]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := sort.Search(len(r.mem), func(i int) bool { return r.mem[i].addr > addr }) - 1
	if i < 0 {
		return nil, false
	}
	m := r.mem[i]
	if addr+uint64(n) > m.addr+uint64(len(m.data)) {
		return nil, false
	}
	return m.data[addr-m.addr : addr-m.addr+uint64(n)], true
}

func (r *recorder) file(name string) (*fileInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if fi := r.files[name]; fi != nil {
		return fi, nil
	}
	return nil, fmt.Errorf("no linked file named %s", name)
}

func (r *recorder) stubAddr(file, sym string) (uint64, error) {
	fi, err := r.file(file)
	if err != nil {
		return 0, err
	}
	if a, ok := fi.stubs[sym]; ok {
		return a, nil
	}
	return 0, fmt.Errorf("%s has no stub for %s", file, sym)
}

func (r *recorder) gotAddr(file, sym string) (uint64, error) {
	fi, err := r.file(file)
	if err != nil {
		return 0, err
	}
	if a, ok := fi.got[sym]; ok {
		return a, nil
	}
	return 0, fmt.Errorf("%s has no GOT entry for %s", file, sym)
}

func (r *recorder) sectionAddr(file, sec string) (uint64, error) {
	fi, err := r.file(file)
	if err != nil {
		return 0, err
	}
	if s, ok := fi.sections[sec]; ok {
		return s[0], nil
	}
	return 0, fmt.Errorf("%s has no section %s", file, sec)
}

// print writes the recorded addresses (-show-addrs).
func (r *recorder) print(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.files))
	for n := range r.files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		fi := r.files[n]
		fmt.Fprintf(w, "%s:\n", n)
		secs := make([]string, 0, len(fi.sections))
		for s := range fi.sections {
			secs = append(secs, s)
		}
		slices.SortFunc(secs, func(a, b string) int { return cmp.Compare(fi.sections[a][0], fi.sections[b][0]) })
		for _, s := range secs {
			fmt.Fprintf(w, "  section %-24s %#x-%#x\n", s, fi.sections[s][0], fi.sections[s][1])
		}
		printMap(w, "symbol", fi.symbols)
		printMap(w, "got", fi.got)
		printMap(w, "stub", fi.stubs)
	}
}

func printMap(w io.Writer, what string, m map[string]uint64) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(m[a], m[b]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	for _, k := range keys {
		fmt.Fprintf(w, "  %-6s %#018x %s\n", what, m[k], k)
	}
}
