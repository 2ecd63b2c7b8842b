package elfplatform

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/gorc-jit/gorc/jitlink"
)

// tlsModule is a graph's thread-local data: one module of the executor's
// TLS runtime.
type tlsModule struct {
	id          uint32
	size, align uint64
	blocks      []*jitlink.Block
	offsets     []uint64
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
	return m, nil
}

// addTLSActions registers the module's template (the fixed-up initialized
// data) when the graph is finalized, and deregisters it when the graph goes.
func (p *Platform) addTLSActions(g *jitlink.LinkGraph, m *tlsModule) {
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
	le := binary.LittleEndian
	args := le.AppendUint64(nil, uint64(m.id))
	args = le.AppendUint64(args, m.size)
	args = le.AppendUint64(args, m.align)
	args = le.AppendUint64(args, uint64(len(image)))
	args = append(args, image...)
	g.AllocActions = append(g.AllocActions, jitlink.AllocAction{
		Finalize: jitlink.WrapperCall{Fn: p.regTLS, Args: args},
		Dealloc:  jitlink.WrapperCall{Fn: p.deregTLS, Args: le.AppendUint64(nil, uint64(m.id))},
	})
}
