// Package jitlinktest helps test JITLink passes and backends: it links a
// graph synchronously into plain Go memory at chosen target addresses, so a
// test can check the exact bytes a link produces without running them.
package jitlinktest

import (
	"fmt"
	"slices"

	"github.com/gorc-jit/gorc/jitlink"
)

// Memory is a MemoryManager that lays segments out from Base, each on its
// own Page-aligned range, followed by Gap bytes. Working memory is ordinary
// Go memory: the result can be inspected but not run.
type Memory struct {
	Base uint64
	Page uint64 // default 4096
	Gap  uint64
	next uint64
	// Segments records every allocated segment's target address and
	// working memory, in allocation order.
	Segments []jitlink.SegmentAlloc
}

// Allocate places the request's segments.
func (m *Memory) Allocate(req *jitlink.AllocRequest) (jitlink.InFlightAlloc, error) {
	page := m.Page
	if page == 0 {
		page = 4096
	}
	if m.next == 0 {
		m.next = m.Base
	}
	a := &alloc{}
	for _, r := range req.Segments {
		if r.Align > page {
			return nil, fmt.Errorf("segment alignment %d exceeds the page size %d", r.Align, page)
		}
		addr := (m.next + page - 1) &^ (page - 1)
		s := jitlink.SegmentAlloc{Addr: addr, Working: make([]byte, r.Size())}
		a.segs = append(a.segs, s)
		m.Segments = append(m.Segments, s)
		m.next = addr + (r.Size()+page-1)&^(page-1) + m.Gap
	}
	return a, nil
}

// Deallocate does nothing: the memory is garbage collected.
func (m *Memory) Deallocate([]jitlink.FinalizedAlloc) error { return nil }

type alloc struct{ segs []jitlink.SegmentAlloc }

func (a *alloc) Segments() []jitlink.SegmentAlloc { return a.segs }
func (a *alloc) Abandon() error                   { return nil }
func (a *alloc) Finalize(actions []jitlink.AllocAction, done func(jitlink.FinalizedAlloc, error)) {
	var addr uint64
	if len(a.segs) > 0 {
		addr = a.segs[0].Addr
	}
	done(jitlink.FinalizedAlloc{Addr: addr, Impl: a}, nil)
}

// Options configure Link.
type Options struct {
	// Memory defaults to a Memory based at 0x10000.
	Memory jitlink.MemoryManager
	// Externals resolves external symbols by name.
	Externals map[string]uint64
	// Passes adds passes to the link.
	Passes func(cfg *jitlink.PassConfig)
}

// Link links g synchronously and returns the error the link reported.
func Link(g *jitlink.LinkGraph, opts Options) error {
	if opts.Memory == nil {
		opts.Memory = &Memory{Base: 0x10000}
	}
	c := &ctx{opts: opts}
	jitlink.Link(g, c)
	if !c.done {
		return fmt.Errorf("link of %s did not complete synchronously", g.Name())
	}
	return c.err
}

type ctx struct {
	opts Options
	done bool
	err  error
}

func (c *ctx) MemoryManager() jitlink.MemoryManager { return c.opts.Memory }
func (c *ctx) Dylib() any                           { return nil }
func (c *ctx) NotifyResolved(*jitlink.LinkGraph) error {
	return nil
}
func (c *ctx) ModifyPassConfig(g *jitlink.LinkGraph, cfg *jitlink.PassConfig) error {
	if c.opts.Passes != nil {
		c.opts.Passes(cfg)
	}
	return nil
}

func (c *ctx) LookupExternals(g *jitlink.LinkGraph, syms []*jitlink.Symbol, done func([]uint64, error)) {
	addrs := make([]uint64, len(syms))
	var missing []string
	for i, s := range syms {
		a, ok := c.opts.Externals[s.Name()]
		if !ok && !s.IsWeaklyReferenced() {
			missing = append(missing, s.Name())
		}
		addrs[i] = a
	}
	if missing != nil {
		slices.Sort(missing)
		done(nil, &jitlink.UndefinedSymbolsError{Graph: g.Name(), Names: missing})
		return
	}
	done(addrs, nil)
}

func (c *ctx) NotifyEmitted(*jitlink.LinkGraph, jitlink.FinalizedAlloc) { c.done = true }
func (c *ctx) NotifyFailed(_ *jitlink.LinkGraph, err error)             { c.done, c.err = true, err }
