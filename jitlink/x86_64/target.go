package x86_64

import (
	"encoding/binary"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/triple"
)

// Target is the x86-64 jitlink.Target: what ORC, its platforms and the
// runtime need from the architecture beyond linking objects.
type Target struct{ triple triple.Triple }

var _ jitlink.Target = Target{}

// NewTarget returns the x86-64 target for t (whose Arch is X86_64).
func NewTarget(t triple.Triple) Target { return Target{t} }

// Triple returns the target's triple.
func (t Target) Triple() triple.Triple { return t.triple }

// PointerSize is 8.
func (Target) PointerSize() int { return 8 }

// Endianness is little-endian.
func (Target) Endianness() binary.ByteOrder { return binary.LittleEndian }

// NewLinkGraph returns an empty x86-64 graph for the target's triple.
func (t Target) NewLinkGraph(name string) *jitlink.LinkGraph {
	return jitlink.NewLinkGraph(name, t.triple, &Backend{})
}

// PointerEdge is Pointer64.
func (Target) PointerEdge() jitlink.EdgeKind { return Pointer64 }

// GOTEntryTarget returns what a GOT entry points at.
func (Target) GOTEntryTarget(s *jitlink.Symbol) *jitlink.Symbol { return tableLayout.GOTEntryTarget(s) }

// StubTarget returns the function a PLT stub jumps to (through its GOT
// entry).
func (Target) StubTarget(s *jitlink.Symbol) *jitlink.Symbol { return tableLayout.StubTarget(s) }

// AddTLSPasses installs BuildTLSIndexes and LowerStaticTLS. The second
// runs only if the first saw an edge for it: no pass in between makes
// initial- or local-exec edges, and most graphs have none.
func (Target) AddTLSPasses(cfg *jitlink.PassConfig, staticTPOff func(key uint64) (int64, bool)) {
	var staticTLS bool
	lower := LowerStaticTLS(staticTPOff)
	cfg.PostPrune = append(cfg.PostPrune, func(g *jitlink.LinkGraph) error {
		staticTLS = buildTLSIndexes(g)
		return nil
	})
	cfg.PreFixup = append(cfg.PreFixup, func(g *jitlink.LinkGraph) error {
		if !staticTLS {
			return nil
		}
		return lower(g)
	})
}

// FlushInstructionCache does nothing: x86-64 keeps instruction fetch
// coherent with stores.
func (Target) FlushInstructionCache(addr, size uint64) {}

// argRegs are the System V integer argument registers, as the reg field
// of a ModRM byte plus a REX.R bit.
var argRegs = [...]struct{ reg, rexR byte }{{7, 0}, {6, 0}, {2, 0}, {1, 0}, {0, 1}, {1, 1}} // rdi rsi rdx rcx r8 r9

// TailCallThunk writes "lea extra_i(%rip), arg_{keep+i}" (or "xor arg,
// arg" for nil) for each extra, then "jmp callee". At most six integer
// arguments are passed in registers.
func (Target) TailCallThunk(g *jitlink.LinkGraph, sec *jitlink.Section, keep int, extra []*jitlink.Symbol, callee *jitlink.Symbol) *jitlink.Block {
	if keep < 0 || keep+len(extra) > len(argRegs) {
		panic("x86_64.TailCallThunk: more than six register arguments")
	}
	var c code
	for i, s := range extra {
		r := argRegs[keep+i]
		if s == nil {
			if r.rexR != 0 {
				c.emit(0x45) // REX.RB
			}
			c.emit(0x31, 0xc0|r.reg<<3|r.reg) // xor r32, r32 (zero-extends)
			continue
		}
		c.emit(0x48|r.rexR<<2, 0x8d, 0x05|r.reg<<3) // lea disp32(%rip), r64
		c.rel32Edge(Delta32, s)
	}
	c.emit(0xe9) // jmp rel32
	c.rel32Edge(BranchPCRel32, callee)
	return c.block(g, sec, 16)
}

// code is a small assembler buffer: bytes and the edges into them.
type code struct {
	b     []byte
	edges []jitlink.Edge
}

func (c *code) emit(b ...byte) { c.b = append(c.b, b...) }

// imm64 appends a 64-bit immediate and returns its offset.
func (c *code) imm64(v uint64) int {
	at := len(c.b)
	c.b = binary.LittleEndian.AppendUint64(c.b, v)
	return at
}

// rel32Edge appends a 32-bit PC-relative field to target that ends the
// instruction (the addend is -4, or -4+off for target+off).
func (c *code) rel32Edge(kind jitlink.EdgeKind, target *jitlink.Symbol) *jitlink.Edge {
	c.edges = append(c.edges, jitlink.Edge{Kind: kind, Offset: uint32(len(c.b)), Target: target, Addend: -4})
	c.emit(0, 0, 0, 0)
	return &c.edges[len(c.edges)-1]
}

// jcc appends a conditional jump with a rel32 to patch.
func (c *code) jcc(op byte) int {
	c.emit(0x0f, op, 0, 0, 0, 0)
	return len(c.b) - 4
}

// patch points the rel32 at at to the current end.
func (c *code) patch(at int) {
	binary.LittleEndian.PutUint32(c.b[at:], uint32(int32(len(c.b)-(at+4))))
}

// rel32 appends a rel32 to the offset target in the same code.
func (c *code) rel32(target int) {
	c.b = binary.LittleEndian.AppendUint32(c.b, uint32(int32(target-(len(c.b)+4))))
}

// block adds the code to sec as a block aligned to align, after the
// section's other blocks.
func (c *code) block(g *jitlink.LinkGraph, sec *jitlink.Section, align uint64) *jitlink.Block {
	b := g.CreateContentBlock(sec, c.b, uint64(len(sec.Blocks()))<<16, align, 0)
	b.SetEdges(c.edges)
	return b
}

// PreservingCallStub returns the package's PreservingCallStub.
func (Target) PreservingCallStub() []byte { return PreservingCallStub() }

// AddFarExternalPasses installs FarExternals' passes: its post-prune pass
// builds the stubs and copies, its pre-fixup pass redirects references.
func (Target) AddFarExternalPasses(cfg *jitlink.PassConfig, fe jitlink.FarExternals) error {
	postPrune, preFixup := FarExternals(fe).Passes()
	cfg.PostPrune = append(cfg.PostPrune, postPrune)
	cfg.PreFixup = append(cfg.PreFixup, preFixup)
	return nil
}

// GOTSectionName is GOTSectionName.
func (Target) GOTSectionName() string { return GOTSectionName }

// IsBranch reports whether kind is BranchPCRel32 (call and jmp rel32).
func (Target) IsBranch(kind jitlink.EdgeKind) bool { return kind == BranchPCRel32 }

// BlockStubs appends "jmp *entry(%rip)" stubs (AppendStub) through the
// GOT entries of one Tables of g.
func (Target) BlockStubs(g *jitlink.LinkGraph) func(b *jitlink.Block, callee *jitlink.Symbol) *jitlink.Symbol {
	var tables *Tables
	return func(b *jitlink.Block, callee *jitlink.Symbol) *jitlink.Symbol {
		if tables == nil {
			tables = NewTables(g, len(g.ExternalSymbols()))
		}
		off := AppendStub(b, tables.GOTEntry(callee))
		return g.AddAnonymousSymbol(b, off, StubSize, jitlink.Callable)
	}
}
