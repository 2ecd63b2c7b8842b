package aarch64

import (
	"encoding/binary"
	"fmt"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/triple"
)

// Target is the AArch64 jitlink.Target: what ORC, its platforms and the
// runtime need from the architecture beyond linking objects.
type Target struct{ triple triple.Triple }

var _ jitlink.Target = Target{}

// NewTarget returns the AArch64 target for t (whose Arch is AArch64).
func NewTarget(t triple.Triple) Target { return Target{t} }

// Triple returns the target's triple.
func (t Target) Triple() triple.Triple { return t.triple }

// PointerSize is 8.
func (Target) PointerSize() int { return 8 }

// Endianness is little-endian (gorc does not link big-endian aarch64_be).
func (Target) Endianness() binary.ByteOrder { return binary.LittleEndian }

// NewLinkGraph returns an empty AArch64 graph for the target's triple.
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

// AddTLSPasses installs BuildTLSEntries and LowerStaticTLS.
func (Target) AddTLSPasses(cfg *jitlink.PassConfig, staticTPOff func(key uint64) (int64, bool)) {
	cfg.PostPrune = append(cfg.PostPrune, BuildTLSEntries)
	cfg.PreFixup = append(cfg.PreFixup, LowerStaticTLS(staticTPOff))
}

// FlushInstructionCache cleans the data cache and invalidates the
// instruction cache over the range, as AArch64 requires after writing code
// (see flush_arm64.s; on other hosts no AArch64 code runs in this process).
func (Target) FlushInstructionCache(addr, size uint64) {
	if size != 0 {
		flushICache(addr, size)
	}
}

// TailCallThunk sets the argument registers x{keep+i} to the addresses of
// extra (0 for nil), then branches to callee. At most eight integer
// arguments are passed in registers.
func (Target) TailCallThunk(g *jitlink.LinkGraph, sec *jitlink.Section, keep int, extra []*jitlink.Symbol, callee *jitlink.Symbol) *jitlink.Block {
	if keep < 0 || keep+len(extra) > 8 {
		panic(fmt.Sprintf("aarch64.TailCallThunk: %d register arguments (at most 8)", keep+len(extra)))
	}
	var c code
	for i, s := range extra {
		r := uint32(keep + i)
		if s == nil {
			c.movImm64(r, 0)
			continue
		}
		c.address(r, s, 0)
	}
	c.withEdge(bImm, Branch26PCRel, callee, 0)
	return c.block(g, sec, 4)
}

// InitThunkGraph builds name(argc, argv, envp): it keeps its arguments in
// callee-saved x19-x21, registers a finalizer thunk with __cxa_atexit and
// calls each initializer through a table.
func (t Target) InitThunkGraph(name string, inits, finis []uint64) *jitlink.LinkGraph {
	g := t.NewLinkGraph("<" + name + ">")
	text := g.CreateSection(".text", jitlink.ProtRead|jitlink.ProtExec)
	ro := g.CreateSection(".rodata", jitlink.ProtRead)

	var a code
	a.inst(stpXPre(fp, lr, sp, -48))
	a.inst(addImm(fp, sp, 0)) // mov x29, sp
	a.inst(stpX(19, 20, sp, 16))
	a.inst(strX(21, sp, 32))
	a.inst(movRegW(19, 0))
	a.inst(movReg(20, 1))
	a.inst(movReg(21, 2))
	if len(finis) > 0 {
		finiTab := g.AddAnonymousSymbol(table(g, ro, finis), 0, uint64(8*len(finis)), jitlink.NoAttrs)
		var f code
		f.inst(stpXPre(fp, lr, sp, -16))
		f.inst(addImm(fp, sp, 0))
		for i := len(finis) - 1; i >= 0; i-- {
			f.load(ip0, finiTab, int64(8*i))
			f.inst(blr(ip0))
		}
		f.inst(ldpXPost(fp, lr, sp, 16))
		f.inst(ret)
		fini := g.AddAnonymousSymbol(f.block(g, text, 4), 0, uint64(len(f.b)), jitlink.Callable)
		a.address(0, fini, 0)
		a.movImm64(1, 0)
		a.address(2, g.AddExternalSymbol("__dso_handle", 0, jitlink.Strong), 0)
		a.withEdge(blImm, Branch26PCRel, g.AddExternalSymbol("__cxa_atexit", 0, jitlink.Strong), 0)
	}
	if len(inits) > 0 {
		initTab := g.AddAnonymousSymbol(table(g, ro, inits), 0, uint64(8*len(inits)), jitlink.NoAttrs)
		for i := range inits {
			a.inst(movRegW(0, 19))
			a.inst(movReg(1, 20))
			a.inst(movReg(2, 21))
			a.load(ip0, initTab, int64(8*i))
			a.inst(blr(ip0))
		}
	}
	a.inst(ldrX(21, sp, 32))
	a.inst(ldpX(19, 20, sp, 16))
	a.inst(ldpXPost(fp, lr, sp, 48))
	a.inst(movRegW(0, xzr)) // mov w0, wzr
	a.inst(ret)
	g.AddDefinedSymbol(a.block(g, text, 4), 0, name, uint64(len(a.b)), jitlink.Strong, jitlink.ScopeHidden, jitlink.Callable|jitlink.Live)
	return g
}

// table adds a read-only table of function pointers.
func table(g *jitlink.LinkGraph, sec *jitlink.Section, fns []uint64) *jitlink.Block {
	c := make([]byte, 8*len(fns))
	for i, fn := range fns {
		binary.LittleEndian.PutUint64(c[8*i:], fn)
	}
	return g.CreateContentBlock(sec, c, uint64(len(sec.Blocks()))<<16, 8, 0)
}
