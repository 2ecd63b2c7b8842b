package elfplatform

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/gorc-jit/gorc/jitlink"
)

// tlsModule is a graph's thread-local data: one module of the executor's
// TLS runtime, in static TLS if possible, else allocated per thread on
// first use.
type tlsModule struct {
	id          uint32
	size, align uint64
	blocks      []*jitlink.Block
	offsets     []uint64
	static      bool
}

// layoutTLS gives the graph's TLS data a module id and lays it out in the
// module's per-thread block (initialized data first), setting each TLS
// block's address to the TLS key of its offset. Post-allocation, so that the
// keys (not memory addresses) are what other graphs see.
func (p *Platform) layoutTLS(g *jitlink.LinkGraph) (*tlsModule, error) {
	var blocks []*jitlink.Block
	for _, sec := range g.Sections() {
		if sec.IsTLS() {
			blocks = append(blocks, sec.Blocks()...)
		}
	}
	if len(blocks) == 0 {
		return nil, nil
	}
	if p.regTLS == 0 {
		return nil, fmt.Errorf("%s: uses thread-local storage, but the executor has no TLS runtime", g.Name())
	}
	slices.SortStableFunc(blocks, func(a, b *jitlink.Block) int {
		if az, bz := a.IsZeroFill(), b.IsZeroFill(); az != bz {
			if az {
				return 1
			}
			return -1
		}
		if c := cmp.Compare(a.Section().Ordinal(), b.Section().Ordinal()); c != 0 {
			return c
		}
		return cmp.Compare(a.Address(), b.Address())
	})
	id, err := p.rt.ReserveTLSModule()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", g.Name(), err)
	}
	m := &tlsModule{id: id, align: 1, blocks: blocks}
	var off uint64
	for _, b := range blocks {
		a := b.Alignment()
		off = (off + a - 1) &^ (a - 1)
		if off+b.Size() > 1<<32-1 {
			return nil, fmt.Errorf("%s: thread-local data exceeds 4 GiB", g.Name())
		}
		m.offsets = append(m.offsets, off)
		b.SetAddress(jitlink.TLSKey(id, uint32(off)))
		off += b.Size()
		m.align = max(m.align, a)
	}
	m.size = off
	p.tryStaticTLS(g, m)
	return m, nil
}

// tryStaticTLS puts the module in static TLS when the runtime can and the
// initial image is final already (no relocations in it: the image is fixed
// when the space is reserved, before fixups). Every module that can goes
// there, so that initial-exec code in any graph finds the thread-locals it
// names; the rest (and all, once the small static area is full) get
// per-thread blocks, which only dynamic-model code can reach.
func (p *Platform) tryStaticTLS(g *jitlink.LinkGraph, m *tlsModule) {
	rt, ok := p.rt.(StaticTLSRuntime)
	if !ok {
		return
	}
	for _, b := range m.blocks {
		if len(b.Edges()) > 0 {
			return
		}
	}
	tpoff, err := rt.ReserveStaticTLS(m.id, m.size, m.align, m.image())
	if err != nil {
		return // full: dynamic TLS; initial-exec code will say so
	}
	m.static = true
	p.mu.Lock()
	p.staticTLS[m.id] = tpoff
	p.mu.Unlock()
}

// staticTPOff returns the thread-pointer offset of a TLS key in static
// TLS (for the target's TLS passes).
func (p *Platform) staticTPOff(key uint64) (int64, bool) {
	mod, off, ok := jitlink.DecodeTLSKey(key)
	if !ok {
		return 0, false
	}
	p.mu.Lock()
	tpoff, ok := p.staticTLS[mod]
	p.mu.Unlock()
	return tpoff + int64(off), ok
}

// image returns the module's initialized data (its blocks' content).
func (m *tlsModule) image() []byte {
	var image []byte
	for i, b := range m.blocks {
		if b.IsZeroFill() {
			break
		}
		end := m.offsets[i] + b.Size()
		if uint64(len(image)) < end {
			image = append(image, make([]byte, end-uint64(len(image)))...)
		}
		copy(image[m.offsets[i]:], b.Content())
	}
	return image
}

// addTLSActions registers the module's template (the fixed-up initialized
// data) when the graph is finalized, and deregisters it when the graph goes.
// A static module needs only the deregistration: its image is in place.
func (p *Platform) addTLSActions(g *jitlink.LinkGraph, m *tlsModule) {
	le := binary.LittleEndian
	dereg := jitlink.WrapperCall{Fn: p.deregTLS, Args: le.AppendUint64(nil, uint64(m.id))}
	if m.static {
		g.AllocActions = append(g.AllocActions, jitlink.AllocAction{Dealloc: dereg})
		return
	}
	image := m.image()
	args := le.AppendUint64(nil, uint64(m.id))
	args = le.AppendUint64(args, m.size)
	args = le.AppendUint64(args, m.align)
	args = le.AppendUint64(args, uint64(len(image)))
	args = append(args, image...)
	g.AllocActions = append(g.AllocActions, jitlink.AllocAction{
		Finalize: jitlink.WrapperCall{Fn: p.regTLS, Args: args},
		Dealloc:  dereg,
	})
}
