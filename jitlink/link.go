package jitlink

import (
	"cmp"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"
)

// Pass inspects or changes a graph during a link. A pass that returns an
// error fails the link.
type Pass func(g *LinkGraph) error

// PassConfig holds the pass lists of each phase of the link. Backends install
// their passes first, then the Context may add, reorder or drop passes.
type PassConfig struct {
	// PrePrune passes run before dead-stripping, on the graph as built.
	PrePrune []Pass
	// MarkLive runs after the pre-prune passes and marks the live roots. If
	// nil, every defined symbol is live.
	MarkLive Pass
	// PostPrune passes run after dead-stripping, before memory is allocated:
	// the last point where content can be added (GOT and PLT entries).
	PostPrune []Pass
	// PostAllocation passes run once blocks have their final addresses,
	// before the context learns of them.
	PostAllocation []Pass
	// PreFixup passes run once external symbols are resolved, before fixups
	// are applied (relaxation happens here).
	PreFixup []Pass
	// PostFixup passes see the final bytes before memory is finalized.
	PostFixup []Pass
}

// Context connects a link to its client: it provides memory, resolves
// external symbols and receives the result. Exactly one of NotifyFailed and
// NotifyEmitted is called for every link.
type Context interface {
	// MemoryManager returns the manager that allocates the graph's memory.
	MemoryManager() MemoryManager
	// Dylib identifies the simulated dylib being linked into (may be nil); it
	// is passed to the memory manager.
	Dylib() any
	// ModifyPassConfig lets the context install its own passes.
	ModifyPassConfig(g *LinkGraph, cfg *PassConfig) error
	// NotifyResolved is called once the graph's defined symbols have their
	// final addresses.
	NotifyResolved(g *LinkGraph) error
	// LookupExternals resolves the graph's external symbols. It calls done
	// with one address per symbol, in order, or an error; it may do so later
	// and from another goroutine. A weakly referenced symbol that has no
	// definition resolves to 0.
	LookupExternals(g *LinkGraph, symbols []*Symbol, done func(addrs []uint64, err error))
	// NotifyEmitted hands over the finalized allocation.
	NotifyEmitted(g *LinkGraph, alloc FinalizedAlloc)
	// NotifyFailed reports why the link failed. Any memory was released.
	NotifyFailed(g *LinkGraph, err error)
}

// PhaseTimer, if implemented by a Context, receives the time spent in each
// phase of the link. The "await externals" phase is time spent waiting for
// LookupExternals to answer, which for concurrent links overlaps with other
// graphs' work; the other phases are work on this graph.
type PhaseTimer interface {
	PhaseDone(g *LinkGraph, phase string, d time.Duration)
}

// Link links g, driving it through the phases of the generic link algorithm
// and reporting the outcome to ctx. Link returns once the link has finished or
// is waiting on the context (LookupExternals) or on finalization; the rest
// runs from the continuation.
func Link(g *LinkGraph, ctx Context) {
	l := &linker{g: g, ctx: ctx}
	l.timer, _ = ctx.(PhaseTimer)
	l.phase1()
}

type linker struct {
	g     *LinkGraph
	ctx   Context
	cfg   PassConfig
	alloc InFlightAlloc
	timer PhaseTimer
	start time.Time
}

func (l *linker) fail(err error) {
	if l.alloc != nil {
		if aerr := l.alloc.Abandon(); aerr != nil {
			err = fmt.Errorf("%w (and releasing its memory failed: %v)", err, aerr)
		}
		l.alloc = nil
	}
	l.ctx.NotifyFailed(l.g, err)
}

func (l *linker) mark(phase string) {
	if l.timer == nil {
		return
	}
	now := time.Now()
	l.timer.PhaseDone(l.g, phase, now.Sub(l.start))
	l.start = now
}

func runPasses(g *LinkGraph, passes []Pass) error {
	for _, p := range passes {
		if err := p(g); err != nil {
			return err
		}
	}
	return nil
}

func (l *linker) phase1() {
	g := l.g
	l.start = time.Now()
	if g.backend != nil {
		if err := g.backend.AddDefaultPasses(g, &l.cfg); err != nil {
			l.fail(err)
			return
		}
	}
	if err := l.ctx.ModifyPassConfig(g, &l.cfg); err != nil {
		l.fail(err)
		return
	}
	if err := runPasses(g, l.cfg.PrePrune); err != nil {
		l.fail(err)
		return
	}
	markLive := l.cfg.MarkLive
	if markLive == nil {
		markLive = MarkAllSymbolsLive
	}
	if err := markLive(g); err != nil {
		l.fail(err)
		return
	}
	l.mark("pre-prune")
	prune(g)
	l.mark("prune")
	if err := runPasses(g, l.cfg.PostPrune); err != nil {
		l.fail(err)
		return
	}
	l.mark("post-prune")

	layout := computeLayout(g)
	mm := l.ctx.MemoryManager()
	alloc, err := mm.Allocate(&AllocRequest{Graph: g, Dylib: l.ctx.Dylib(), Segments: layout.Requests()})
	if err != nil {
		l.fail(fmt.Errorf("%s: allocating memory: %w", g.name, err))
		return
	}
	l.alloc = alloc
	if err := layout.Apply(alloc.Segments()); err != nil {
		l.fail(fmt.Errorf("%s: %w", g.name, err))
		return
	}
	l.mark("allocate")
	if err := runPasses(g, l.cfg.PostAllocation); err != nil {
		l.fail(err)
		return
	}
	if err := l.ctx.NotifyResolved(g); err != nil {
		l.fail(err)
		return
	}
	l.mark("post-allocation")
	ext := g.externals
	l.ctx.LookupExternals(g, ext, func(addrs []uint64, err error) { l.phase2(ext, addrs, err) })
}

func (l *linker) phase2(ext []*Symbol, addrs []uint64, err error) {
	g := l.g
	if err == nil && len(addrs) != len(ext) {
		err = fmt.Errorf("%s: context resolved %d of %d external symbols", g.name, len(addrs), len(ext))
	}
	if err != nil {
		l.fail(err)
		return
	}
	for i, s := range ext {
		s.base.addr = addrs[i]
	}
	l.mark("await externals")
	if err := runPasses(g, l.cfg.PreFixup); err != nil {
		l.fail(err)
		return
	}
	if err := applyFixups(g); err != nil {
		l.fail(err)
		return
	}
	if err := runPasses(g, l.cfg.PostFixup); err != nil {
		l.fail(err)
		return
	}
	l.mark("fixup")
	alloc := l.alloc
	alloc.Finalize(g.AllocActions, l.phase3)
}

func (l *linker) phase3(fa FinalizedAlloc, err error) {
	// The memory manager owns the allocation now: a failed Finalize has
	// released it (see InFlightAlloc).
	l.alloc = nil
	if err != nil {
		l.fail(fmt.Errorf("%s: finalizing memory: %w", l.g.name, err))
		return
	}
	l.mark("finalize")
	l.ctx.NotifyEmitted(l.g, fa)
}

// applyFixups applies every relocation edge of g with its backend.
func applyFixups(g *LinkGraph) error {
	if g.backend == nil {
		return fmt.Errorf("%s: graph has no backend to apply fixups", g.name)
	}
	edges := 0
	for _, sec := range g.sections {
		for _, b := range sec.blocks {
			edges += len(b.edges)
		}
	}
	workers := min(runtime.GOMAXPROCS(0), edges/parallelFixupEdges)
	if workers < 2 {
		for _, sec := range g.sections {
			if err := fixupBlocks(g, sec.blocks); err != nil {
				return err
			}
		}
		return nil
	}
	// A large graph: blocks are independent, so fix them up on several
	// goroutines, each a run of blocks (from a section and block index to
	// another, walked in place) with about the same number of edges.
	errs := make([]error, workers)
	var wg sync.WaitGroup
	from, to := blockPos{}, blockPos{}
	done := 0
	for w := range workers {
		n := 0
		for to.sec < len(g.sections) && (w == workers-1 || n < (edges-done)/(workers-w)) {
			blocks := g.sections[to.sec].blocks
			if to.blk < len(blocks) {
				n += len(blocks[to.blk].edges)
				to.blk++
				continue
			}
			to = blockPos{to.sec + 1, 0}
		}
		start, end := from, to
		wg.Go(func() { errs[w] = fixupRange(g, start, end) })
		from, done = to, done+n
	}
	wg.Wait()
	// The first error in block order, as a sequential loop would return.
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// parallelFixupEdges is how many edges make it worth a goroutine to apply
// fixups (tens of microseconds of work against about one to start it).
const parallelFixupEdges = 4096

// blockPos is a block's place in its graph: section and block index.
type blockPos struct{ sec, blk int }

// fixupRange fixes up the blocks from start up to (not including) end.
func fixupRange(g *LinkGraph, start, end blockPos) error {
	for i := start.sec; i <= end.sec && i < len(g.sections); i++ {
		blocks := g.sections[i].blocks
		if i == end.sec {
			blocks = blocks[:end.blk]
		}
		if i == start.sec {
			blocks = blocks[start.blk:]
		}
		if err := fixupBlocks(g, blocks); err != nil {
			return err
		}
	}
	return nil
}

func fixupBlocks(g *LinkGraph, blocks []*Block) error {
	be := g.backend
	for _, b := range blocks {
		for i := range b.edges {
			e := &b.edges[i]
			if !e.IsRelocation() {
				continue
			}
			if err := be.ApplyFixup(g, b, e); err != nil {
				return err
			}
		}
	}
	return nil
}

// MarkAllSymbolsLive marks every defined symbol live.
func MarkAllSymbolsLive(g *LinkGraph) error {
	for _, sec := range g.sections {
		for _, s := range sec.symbols {
			s.set(symLive, true)
		}
	}
	return nil
}

// isExport says whether s is part of the graph's interface: named and
// visible outside it.
func isExport(s *Symbol) bool { return s.HasName() && s.scope != ScopeLocal }

// MarkExportsLive marks the named, non-local definitions live: everything
// another graph may refer to is kept, the rest only if reached from it.
func MarkExportsLive(g *LinkGraph) error {
	for s := range g.DefinedSymbols() {
		if isExport(s) {
			s.set(symLive, true)
		}
	}
	return nil
}

// ExternalizeLosers returns a pre-prune pass for links of several graphs:
// each named, non-local definition for which wins is false lost to a
// definition in another graph (a weak, common or COMDAT symbol) and becomes
// an external reference, resolved to the winner.
func ExternalizeLosers(wins func(*Symbol) bool) Pass {
	return func(g *LinkGraph) error {
		var lost []*Symbol
		for s := range g.DefinedSymbols() {
			if isExport(s) && !wins(s) {
				lost = append(lost, s)
			}
		}
		for _, s := range lost {
			g.MakeExternal(s)
		}
		return nil
	}
}

// prune dead-strips g: it removes every defined symbol and block not
// reachable from a live symbol, and every external or absolute symbol no
// live block references.
func prune(g *LinkGraph) {
	var work []*Block
	visit := func(s *Symbol) {
		if b := s.base.block; b != nil && !b.visited {
			b.visited = true
			work = append(work, b)
		}
	}
	for _, sec := range g.sections {
		for _, s := range sec.symbols {
			if s.is(symLive) {
				visit(s)
			}
		}
	}
	for len(work) > 0 {
		b := work[len(work)-1]
		work = work[:len(work)-1]
		for i := range b.edges {
			// Many edges share a target: test before writing, so that its
			// cache line stays clean.
			if t := b.edges[i].Target; !t.is(symLive) {
				t.set(symLive, true)
				visit(t)
			}
		}
	}
	for _, sec := range g.sections {
		sec.symbols = filterSymbols(sec.symbols, func(s *Symbol) bool { return s.is(symLive) })
		kept := sec.blocks[:0]
		for _, b := range sec.blocks {
			if b.visited {
				b.visited = false
				b.index = int32(len(kept))
				kept = append(kept, b)
			} else {
				b.edges = nil
			}
		}
		clear(sec.blocks[len(kept):])
		sec.blocks = kept
	}
	g.externals = filterSymbols(g.externals, func(s *Symbol) bool { return s.is(symLive) })
	g.absolutes = filterSymbols(g.absolutes, func(s *Symbol) bool { return s.is(symLive) })
}

func filterSymbols(list []*Symbol, keep func(*Symbol) bool) []*Symbol {
	kept := list[:0]
	for _, s := range list {
		if keep(s) {
			s.index = int32(len(kept))
			kept = append(kept, s)
		} else {
			s.set(symRemoved, true)
		}
	}
	clear(list[len(kept):])
	return kept
}

// graphLayout is the placement of a graph's blocks into segments.
type graphLayout struct {
	Segments []segmentLayout
}

// segmentLayout is one segment: its request and its blocks with their
// offsets from the segment start.
type segmentLayout struct {
	Request SegmentRequest
	Blocks  []*Block
	Offsets []uint64
}

type segKey struct {
	lifetime Lifetime
	rank     int
	prot     MemProt
}

// segment order within a lifetime: code, read-only data, writable data.
func protRank(p MemProt) int {
	switch {
	case p&ProtExec != 0:
		return 0
	case p&ProtWrite == 0:
		return 1
	}
	return 2
}

// computeLayout groups the graph's allocatable blocks into segments by
// protection and lifetime, ordered by section ordinal and then original
// address, content before zero-fill, honouring alignment.
func computeLayout(g *LinkGraph) *graphLayout {
	// A handful of segments: count each one's blocks, then carve their
	// lists out of one slice.
	type group struct {
		k    segKey
		n    int
		list []*Block
	}
	groups := make([]group, 0, 6)
	find := func(k segKey) *group {
		for i := range groups {
			if groups[i].k == k {
				return &groups[i]
			}
		}
		groups = append(groups, group{k: k})
		return &groups[len(groups)-1]
	}
	total := 0
	for _, sec := range g.sections {
		if sec.lifetime == LifetimeNoAlloc || len(sec.blocks) == 0 {
			continue
		}
		find(segKey{sec.lifetime, protRank(sec.prot), sec.prot}).n += len(sec.blocks)
		total += len(sec.blocks)
	}
	all := make([]*Block, 0, total)
	for i := range groups {
		n := len(all)
		groups[i].list, all = all[n:n:n+groups[i].n], all[:n+groups[i].n]
	}
	for _, sec := range g.sections {
		if sec.lifetime == LifetimeNoAlloc || len(sec.blocks) == 0 {
			continue
		}
		gr := find(segKey{sec.lifetime, protRank(sec.prot), sec.prot})
		gr.list = append(gr.list, sec.blocks...)
	}
	slices.SortFunc(groups, func(a, b group) int {
		if c := cmp.Compare(a.k.lifetime, b.k.lifetime); c != 0 {
			return c
		}
		if c := cmp.Compare(a.k.rank, b.k.rank); c != 0 {
			return c
		}
		return cmp.Compare(a.k.prot, b.k.prot)
	})
	lay := &graphLayout{Segments: make([]segmentLayout, 0, len(groups))}
	offsets := make([]uint64, total)
	for _, gr := range groups {
		k, blocks := gr.k, gr.list
		slices.SortStableFunc(blocks, func(a, b *Block) int {
			if az, bz := a.content == nil, b.content == nil; az != bz {
				if az {
					return 1
				}
				return -1
			}
			if c := cmp.Compare(a.section.ordinal, b.section.ordinal); c != 0 {
				return c
			}
			return cmp.Compare(a.addr, b.addr)
		})
		seg := segmentLayout{Blocks: blocks, Offsets: offsets[:len(blocks):len(blocks)]}
		offsets = offsets[len(blocks):]
		seg.Request.Prot, seg.Request.Lifetime, seg.Request.Align = k.prot, k.lifetime, 1
		var off uint64
		content := true
		for i, b := range blocks {
			if content && b.content == nil {
				seg.Request.ContentSize = off
				content = false
			}
			off = alignWithOffset(off, b.Alignment(), b.alignOffset)
			seg.Offsets[i] = off
			off += b.size
			if b.Alignment() > seg.Request.Align {
				seg.Request.Align = b.Alignment()
			}
		}
		if content {
			seg.Request.ContentSize = off
		} else {
			seg.Request.ZeroFillSize = off - seg.Request.ContentSize
		}
		lay.Segments = append(lay.Segments, seg)
	}
	return lay
}

func alignWithOffset(off, align, alignOff uint64) uint64 {
	if align <= 1 {
		return off
	}
	// Smallest x >= off with x % align == alignOff.
	x := off - off%align + alignOff
	if x < off {
		x += align
	}
	return x
}

// Requests returns the allocation request of each segment.
func (lay *graphLayout) Requests() []SegmentRequest {
	reqs := make([]SegmentRequest, len(lay.Segments))
	for i := range lay.Segments {
		reqs[i] = lay.Segments[i].Request
	}
	return reqs
}

// Apply assigns block addresses from the allocated segments and copies block
// content into working memory; blocks then point at their working memory.
func (lay *graphLayout) Apply(segs []SegmentAlloc) error {
	if len(segs) != len(lay.Segments) {
		return fmt.Errorf("memory manager returned %d segments for %d requested", len(segs), len(lay.Segments))
	}
	for i := range lay.Segments {
		seg := &lay.Segments[i]
		sa := segs[i]
		if uint64(len(sa.Working)) < seg.Request.ContentSize {
			return fmt.Errorf("memory manager returned %d bytes for a segment of %d content bytes", len(sa.Working), seg.Request.ContentSize)
		}
		if a := seg.Request.Align; a > 1 && sa.Addr%a != 0 {
			return fmt.Errorf("memory manager returned segment address %#x, not %d-aligned", sa.Addr, a)
		}
		for j, b := range seg.Blocks {
			off := seg.Offsets[j]
			b.addr = sa.Addr + off
			if b.content != nil {
				w := sa.Working[off : off+b.size : off+b.size]
				copy(w, b.content)
				b.content, b.mutable = w, true
			}
		}
	}
	return nil
}
