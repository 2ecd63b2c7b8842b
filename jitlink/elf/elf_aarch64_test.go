package elf_test

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/arch/arm64/arm64asm"

	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/aarch64"
	gelf "github.com/gorc-jit/gorc/jitlink/elf"
	"github.com/gorc-jit/gorc/jitlink/jitlinktest"
)

// aarch64Object compiles or assembles src (by name's extension) for
// aarch64-linux-gnu with clang-19 and returns the object's path.
func aarch64Object(t *testing.T, dir, name, src string, flags ...string) string {
	t.Helper()
	return testutil.CompileWith(t, "clang-19", dir, name, src, append([]string{"--target=aarch64-linux-gnu"}, flags...)...)
}

// relocsAsm uses every relocation whose result does not depend on where a
// linker puts its GOT or stubs, between symbols of the object.
const relocsAsm = `
	.text
	.globl	_start
	.p2align 2
_start:
	bl	func
	b	func
	b.eq	func
	cbz	x0, func
	tbnz	w1, #3, func
	adrp	x0, var
	add	x0, x0, :lo12:var
	adrp	x0, var8
	ldrb	w1, [x0, :lo12:var8]
	ldrh	w1, [x0, :lo12:var16]
	ldr	w1, [x0, :lo12:var32]
	ldr	x1, [x0, :lo12:var64]
	str	x1, [x0, :lo12:var64]
	ldr	q1, [x0, :lo12:var128]
	adrp	x0, var+0x10
	add	x0, x0, :lo12:var+0x10
	ldr	x2, lit
	ldr	w2, lit
	adr	x3, func
	adr	x3, var
	movz	x4, #:abs_g3:var
	movk	x4, #:abs_g2_nc:var
	movk	x4, #:abs_g1_nc:var
	movk	x4, #:abs_g0_nc:var
	movz	x5, #:abs_g1:var
	movz	x5, #:abs_g2:var
	movz	x5, #:abs_g0_s:small
	movz	x6, #:prel_g3:var
	movk	x6, #:prel_g2_nc:var
	movk	x6, #:prel_g1_nc:var
	movk	x6, #:prel_g0_nc:var
	movz	x7, #:prel_g1:func
	movz	x7, #:prel_g0:func
	ret
	.p2align 3
lit:	.quad	var
func:	ret

	.data
	.p2align 4
var:	.quad	func
	.quad	var + 0x1234
	.word	func
	.word	func - .
	.quad	func - .
	.hword	var8 - .
	.hword	small
var8:	.byte	1
	.p2align 1
var16:	.hword	2
	.p2align 2
var32:	.word	3
	.p2align 3
var64:	.quad	4
	.p2align 4
var128:	.quad	5, 6
	.set	small, 0x1234
`

// The fixups of every non-GOT relocation are byte for byte what lld-19
// writes for the same object at the same addresses.
func TestAArch64FixupsMatchLLD(t *testing.T) {
	lld := testutil.NeedTool(t, "ld.lld-19", "ld.lld")
	dir := t.TempDir()
	obj := aarch64Object(t, dir, "relocs.s", relocsAsm)
	g := graphOf(t, obj)
	if err := jitlinktest.Link(g, jitlinktest.Options{Memory: &jitlinktest.Memory{Base: 0x200000}}); err != nil {
		t.Fatal(err)
	}
	// Link the same object with lld at the addresses gorc chose.
	got := map[string][]byte{}
	args := []string{"-static", "--no-relax", "-e", "_start", "-o", filepath.Join(dir, "relocs"), obj}
	for _, name := range []string{".text", ".data"} {
		sec := g.FindSection(name)
		if sec == nil || len(sec.Blocks()) != 1 {
			t.Fatalf("graph has no single block for %s", name)
		}
		b := sec.Blocks()[0]
		got[name] = b.Content()
		args = append(args, fmt.Sprintf("--section-start=%s=%#x", name, b.Address()))
	}
	if out, err := exec.Command(lld, args...).CombinedOutput(); err != nil {
		t.Fatalf("ld.lld %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	exe, err := elf.Open(filepath.Join(dir, "relocs"))
	if err != nil {
		t.Fatal(err)
	}
	defer exe.Close()
	for name, mine := range got {
		want, err := exe.Section(name).Data()
		if err != nil {
			t.Fatal(err)
		}
		if len(want) != len(mine) {
			t.Fatalf("%s: %d bytes, lld's has %d", name, len(mine), len(want))
		}
		for i := 0; i+4 <= len(want); i += 4 {
			w, m := binary.LittleEndian.Uint32(want[i:]), binary.LittleEndian.Uint32(mine[i:])
			if w == m {
				continue
			}
			if name == ".text" {
				wi, _ := arm64asm.Decode(want[i:])
				mi, _ := arm64asm.Decode(mine[i:])
				t.Errorf("%s+%#x: %#08x %v, lld wrote %#08x %v", name, i, m, mi, w, wi)
			} else {
				t.Errorf("%s+%#x: %#08x, lld wrote %#08x", name, i, m, w)
			}
		}
	}
}

// mem reads linked memory of a jitlinktest.Memory.
func mem(t *testing.T, m *jitlinktest.Memory, addr uint64, n int) []byte {
	t.Helper()
	for _, s := range m.Segments {
		if addr >= s.Addr && addr+uint64(n) <= s.Addr+uint64(len(s.Working)) {
			return s.Working[addr-s.Addr:][:n]
		}
	}
	t.Fatalf("no linked memory at %#x", addr)
	return nil
}

// pageLoad follows "adrp xN, page; ldr xN, [xN, off]" at addr and returns
// the address it loads from.
func pageLoad(t *testing.T, m *jitlinktest.Memory, addr uint64) uint64 {
	t.Helper()
	adrp, err := arm64asm.Decode(mem(t, m, addr, 4))
	if err != nil || adrp.Op != arm64asm.ADRP {
		t.Fatalf("at %#x: %v is not ADRP (%v)", addr, adrp, err)
	}
	page := addr&^0xfff + uint64(int64(adrp.Args[1].(arm64asm.PCRel)))
	w := binary.LittleEndian.Uint32(mem(t, m, addr+4, 4))
	return page + uint64(w>>10&0xfff)<<(w>>30)
}

// A GOT load of a target within reach is relaxed to compute its address
// (nop; adr, or adrp; add); one out of reach loads the GOT entry, which holds
// the target's address. Calls to external functions reach them directly or
// through a stub. The small PIC model's LD64_GOTPAGE_LO15 counts from the
// GOT base's page.
func TestAArch64GOTAndCalls(t *testing.T) {
	dir := t.TempDir()
	obj := aarch64Object(t, dir, "got.s", `
	.text
	.globl	f
f:	adrp	x0, :got:ext
	ldr	x0, [x0, :got_lo12:ext]
	adrp	x1, :got:var
	ldr	x1, [x1, :got_lo12:var]
	adrp	x2, _GLOBAL_OFFSET_TABLE_
	ldr	x2, [x2, #:gotpage_lo15:ext]
	bl	ext
	b	far
	adrp	x3, :got:far
	ldr	x3, [x3, :got_lo12:far]
	adrp	x4, :got:mid
	ldr	x4, [x4, :got_lo12:mid]
	adrp	x5, :got:ext
	ldr	x6, [x5, :got_lo12:ext]
	ret
	.data
var:	.quad 0
`)
	g := graphOf(t, obj)
	m := &jitlinktest.Memory{Base: 0x200000}
	const ext, mid, far = 0x300000, 0x80000000, 0x7f0000000000
	if err := jitlinktest.Link(g, jitlinktest.Options{Memory: m, Externals: map[string]uint64{"ext": ext, "mid": mid, "far": far}}); err != nil {
		t.Fatal(err)
	}
	f := symbol(g, "f").Address()
	le := binary.LittleEndian
	decode := func(at uint64) arm64asm.Inst {
		inst, err := arm64asm.Decode(mem(t, m, at, 4))
		if err != nil {
			t.Fatal(err)
		}
		return inst
	}
	pcrel := func(at uint64, arg int) uint64 { return at + uint64(int64(decode(at).Args[arg].(arm64asm.PCRel))) }
	adrpPage := func(at uint64) uint64 { return at&^0xfff + uint64(int64(decode(at).Args[1].(arm64asm.PCRel))) }
	// nop; adr xN, target (within 1 MiB).
	for i, want := range []uint64{ext, symbol(g, "var").Address()} {
		at := f + uint64(8*i)
		if decode(at).Op != arm64asm.NOP || decode(at+4).Op != arm64asm.ADR || pcrel(at+4, 1) != want {
			t.Errorf("GOT load at %#x is %v; %v, want nop; adr to %#x", at, decode(at), decode(at+4), want)
		}
	}
	// adrp; add (within 4 GiB).
	if at := f + 40; decode(at+4).Op != arm64asm.ADD || adrpPage(at)+uint64(le.Uint32(mem(t, m, at+4, 4))>>10&0xfff) != mid {
		t.Errorf("GOT load of mid is %v; %v, want adrp; add of %#x", decode(at), decode(at+4), uint64(mid))
	}
	// Out of reach, and a load into another register: the GOT entry.
	if got := le.Uint64(mem(t, m, pageLoad(t, m, f+32), 8)); got != far {
		t.Errorf("GOT load of far reads %#x, want %#x", got, uint64(far))
	}
	if got := le.Uint64(mem(t, m, pageLoad(t, m, f+48), 8)); got != ext {
		t.Errorf("GOT load of ext into x6 reads %#x, want %#x", got, uint64(ext))
	}
	// gotpage_lo15: the entry's offset from the GOT base's page.
	if slot := pageLoad(t, m, f+16); le.Uint64(mem(t, m, slot, 8)) != ext {
		t.Errorf("gotpage_lo15 load reads %#x, which does not hold ext", slot)
	}
	if got := pcrel(f+24, 0); got != ext {
		t.Errorf("bl ext goes to %#x, want %#x directly (in range)", got, uint64(ext))
	}
	if stub := pcrel(f+28, 0); stub == far || le.Uint64(mem(t, m, pageLoad(t, m, stub), 8)) != far {
		t.Errorf("b far (1 TiB away) does not go through a veneer to it")
	}
}

// C compiled by clang and gcc for aarch64 in each code model and PIC mode
// links (no executor: the addresses are not run).
func TestAArch64CompiledObjectsLink(t *testing.T) {
	src := `
#include <stdarg.h>
extern int printf(const char *, ...);
extern void *malloc(unsigned long);
static int counter;
int table[64];
__thread int tlsv;
static __thread int tlsl = 3;
int (*fp)(const char *, ...) = printf;
static double ld = 1.5;
int f(int n) {
	for (int i = 0; i < n; i++) table[i & 63] += i;
	counter++;
	tlsv += tlsl;
	char *p = malloc(n);
	if (p) p[0] = (char)ld;
	return fp("%d %d\n", table[n & 63], counter + tlsv);
}
`
	type compiler struct{ cc, target string }
	ccs := []compiler{{"clang-19", "--target=aarch64-linux-gnu"}}
	if _, err := exec.LookPath("aarch64-linux-gnu-gcc"); err == nil || testutil.InCI() {
		ccs = append(ccs, compiler{"aarch64-linux-gnu-gcc", ""})
	}
	for _, c := range ccs {
		for _, flags := range [][]string{{"-O0"}, {"-O2"}, {"-O2", "-fPIC"}, {"-O2", "-fpic"}, {"-O2", "-fno-pic"},
			{"-O2", "-fno-pic", "-mcmodel=large"}, {"-O1", "-mcmodel=tiny"}, {"-O1", "-mcmodel=tiny", "-fPIC"},
			{"-O2", "-fPIC", "-ftls-model=initial-exec"}, {"-O2", "-fPIC", "-mtls-dialect=trad"}} {
			if c.cc == "clang-19" && (slices.Contains(flags, "-fpic") || slices.Contains(flags, "-mtls-dialect=trad")) {
				continue // clang treats -fpic as -fPIC, and has only TLS descriptors
			}
			name := c.cc + strings.Join(flags, "")
			t.Run(name, func(t *testing.T) {
				args := append([]string{"-ffreestanding"}, flags...)
				if c.target != "" {
					args = append(args, c.target)
				}
				obj := testutil.CompileWith(t, c.cc, t.TempDir(), "t.c", src, args...)
				data, err := os.ReadFile(obj)
				if err != nil {
					t.Fatal(err)
				}
				g, err := gelf.NewLinkGraph(obj, data)
				if err != nil {
					t.Fatal(err)
				}
				keys := map[*jitlink.Symbol]bool{}
				err = jitlinktest.Link(g, jitlinktest.Options{
					Externals: map[string]uint64{"printf": 0x7f0000001000, "malloc": 0x7f0000002000, "__tls_get_addr": 0x7f0000003000},
					Passes: func(cfg *jitlink.PassConfig) {
						// A stand-in TLS platform: thread-locals get TLS
						// keys, each in static TLS at 16 + its offset.
						cfg.PostPrune = append(cfg.PostPrune, aarch64.BuildTLSEntries)
						cfg.PostAllocation = append(cfg.PostAllocation, func(g *jitlink.LinkGraph) error {
							for _, sec := range g.Sections() {
								if !sec.IsTLS() {
									continue
								}
								start, _ := sec.Range()
								for _, b := range sec.Blocks() {
									b.SetAddress(jitlink.TLSKey(1, uint32(b.Address()-start)))
								}
								for _, s := range sec.Symbols() {
									keys[s] = true
								}
							}
							return nil
						})
						cfg.PreFixup = append(cfg.PreFixup, aarch64.LowerStaticTLS(func(key uint64) (int64, bool) {
							_, off, ok := jitlink.DecodeTLSKey(key)
							return 16 + int64(off), ok
						}))
					},
				})
				if err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// .eh_frame is split into a CIE and an FDE per function; each function
// keeps its FDE alive, and the FDE's PC-begin (R_AARCH64_PREL32) points at
// the function.
func TestAArch64EHFrame(t *testing.T) {
	obj := aarch64Object(t, t.TempDir(), "eh.c", "int f(int x) { return x + 1; }\nint g(int x) { return f(x) * 2; }\n", "-O1", "-fasynchronous-unwind-tables")
	g := graphOf(t, obj)
	m := &jitlinktest.Memory{Base: 0x200000}
	if err := jitlinktest.Link(g, jitlinktest.Options{Memory: m}); err != nil {
		t.Fatal(err)
	}
	eh := g.FindSection(".eh_frame")
	if eh == nil || len(eh.Blocks()) < 3 {
		t.Fatalf("eh_frame not split into a CIE and two FDEs: %v", eh)
	}
	// Both functions are in .text: its block keeps both FDEs alive.
	begins := map[uint64]bool{}
	for _, e := range symbol(g, "f").Block().Edges() {
		if e.Kind != jitlink.KeepAlive || e.Target.Block() == nil || e.Target.Block().Section() != eh {
			continue
		}
		// PC begin is at offset 8 of the FDE: PREL32 to the function.
		fde := e.Target.Block()
		begins[fde.Address()+8+uint64(int64(int32(binary.LittleEndian.Uint32(fde.Content()[8:]))))] = true
	}
	if len(begins) != 2 || !begins[symbol(g, "f").Address()] || !begins[symbol(g, "g").Address()] {
		t.Errorf("FDEs kept alive by .text begin at %v, want f %#x and g %#x", begins, symbol(g, "f").Address(), symbol(g, "g").Address())
	}
}
