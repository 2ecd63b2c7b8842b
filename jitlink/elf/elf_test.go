package elf_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/elf"
	"github.com/gorc-jit/gorc/jitlink/jitlinktest"
	"github.com/gorc-jit/gorc/jitlink/triple"
	"github.com/gorc-jit/gorc/jitlink/x86_64"
)

func graphOf(t *testing.T, obj string) *jitlink.LinkGraph {
	t.Helper()
	data, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	g, err := elf.NewLinkGraph(obj, data)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func cGraph(t *testing.T, src string, flags ...string) *jitlink.LinkGraph {
	t.Helper()
	return graphOf(t, testutil.CompileFor(t, "x86_64", t.TempDir(), "t.c", src, flags...))
}

func asmGraph(t *testing.T, src string) *jitlink.LinkGraph {
	t.Helper()
	return graphOf(t, testutil.Assemble(t, t.TempDir(), "t.s", src))
}

func symbol(g *jitlink.LinkGraph, name string) *jitlink.Symbol {
	for s := range g.DefinedSymbols() {
		if s.Name() == name {
			return s
		}
	}
	for _, s := range g.ExternalSymbols() {
		if s.Name() == name {
			return s
		}
	}
	for _, s := range g.AbsoluteSymbols() {
		if s.Name() == name {
			return s
		}
	}
	return nil
}

func mustSymbol(t *testing.T, g *jitlink.LinkGraph, name string) *jitlink.Symbol {
	t.Helper()
	s := symbol(g, name)
	if s == nil {
		t.Fatalf("no symbol %s in %s", name, g.Name())
	}
	return s
}

// link links g at fixed addresses with every external resolved to a
// distinct address near the code.
func link(t *testing.T, g *jitlink.LinkGraph, passes func(*jitlink.PassConfig)) {
	t.Helper()
	ext := map[string]uint64{}
	for i, s := range g.ExternalSymbols() {
		ext[s.Name()] = 0x100000 + uint64(i)*0x100
	}
	// Low addresses keep 16- and 32-bit absolute relocations in range.
	mem := &jitlinktest.Memory{Base: 0x1000}
	if err := jitlinktest.Link(g, jitlinktest.Options{Memory: mem, Externals: ext, Passes: passes}); err != nil {
		t.Fatal(err)
	}
}

func TestSymbolsAndScopes(t *testing.T) {
	g := asmGraph(t, `
	.text
	.globl def_fn
	.type def_fn, @function
def_fn: ret
	.size def_fn, 1
	.globl hid
	.hidden hid
hid: ret
	.globl intern
	.internal intern
intern: ret
	.globl prot
	.protected prot
prot: ret
	.weak wk
wk: ret
local_fn: call undef_fn
	call weak_ref
	.weak weak_ref
	.globl abs_sym
	.set abs_sym, 0x1234
	.data
	.quad local_fn
`)
	for _, tc := range []struct {
		name    string
		scope   jitlink.Scope
		linkage jitlink.Linkage
	}{
		{"def_fn", jitlink.ScopeDefault, jitlink.Strong},
		{"hid", jitlink.ScopeHidden, jitlink.Strong},
		{"intern", jitlink.ScopeHidden, jitlink.Strong},
		{"prot", jitlink.ScopeDefault, jitlink.Strong},
		{"wk", jitlink.ScopeDefault, jitlink.Weak},
		{"local_fn", jitlink.ScopeLocal, jitlink.Strong},
	} {
		s := mustSymbol(t, g, tc.name)
		if s.Scope() != tc.scope || s.Linkage() != tc.linkage || !s.IsDefined() {
			t.Errorf("%s: scope %v linkage %v, want %v %v", tc.name, s.Scope(), s.Linkage(), tc.scope, tc.linkage)
		}
	}
	if s := mustSymbol(t, g, "def_fn"); !s.IsCallable() || s.Size() != 1 {
		t.Errorf("def_fn: callable %v size %d", s.IsCallable(), s.Size())
	}
	if s := mustSymbol(t, g, "undef_fn"); !s.IsExternal() || s.IsWeaklyReferenced() {
		t.Error("undef_fn must be a strong external")
	}
	if s := mustSymbol(t, g, "weak_ref"); !s.IsExternal() || !s.IsWeaklyReferenced() {
		t.Error("weak_ref must be a weak external")
	}
	if s := mustSymbol(t, g, "abs_sym"); !s.IsAbsolute() || s.Address() != 0x1234 {
		t.Errorf("abs_sym: %v", s)
	}
}

func TestCommonSymbols(t *testing.T) {
	g := cGraph(t, "int c1; long c2[100]; int defined = 1;", "-fcommon")
	for name, size := range map[string]uint64{"c1": 4, "c2": 800} {
		s := mustSymbol(t, g, name)
		b := s.Block()
		if b == nil || !b.IsZeroFill() || b.Size() != size || s.Linkage() != jitlink.Weak || b.Section().Name() != ".common" {
			t.Errorf("%s: want a weak zero-fill %d-byte block in .common, got %v", name, size, s)
		}
	}
	if mustSymbol(t, g, "defined").Linkage() != jitlink.Strong {
		t.Error("defined must be strong")
	}
}

func TestComdat(t *testing.T) {
	// Two groups with the same signature in one object: the second is
	// dropped with its sections. The assembler merges same-signature
	// sections into one group, so the object is made with two signatures
	// and the second renamed to the first.
	obj := testutil.Assemble(t, t.TempDir(), "c.s", `
	.section .text.dup,"axG",@progbits,sigA,comdat
	.globl dup
dup: mov $1, %eax
	ret
	.section .text.dup2,"axG",@progbits,sigB,comdat
	.globl dup2
dup2: mov $2, %eax
	ret
	.section .text.other,"axG",@progbits,other,comdat
	.globl other
other: ret
	.text
	.globl user
user: call dup
	ret
`)
	data, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.Replace(data, []byte("sigB\x00"), []byte("sigA\x00"), 1)
	g, err := elf.NewLinkGraph(obj, data)
	if err != nil {
		t.Fatal(err)
	}
	if symbol(g, "dup2") != nil || g.FindSection(".text.dup2") != nil {
		t.Error("the duplicate group's section and symbol must be dropped")
	}
	for _, name := range []string{"dup", "other"} {
		if s := mustSymbol(t, g, name); s.Linkage() != jitlink.Weak {
			t.Errorf("%s: COMDAT members must be weak, got %v", name, s.Linkage())
		}
	}
	if mustSymbol(t, g, "user").Linkage() != jitlink.Strong {
		t.Error("user is not in a group and must stay strong")
	}
	// C++ inline functions land in COMDAT groups.
	cg := graphOf(t, testutil.CompileFor(t, "x86_64", t.TempDir(), "t.cc", "inline int twice(int x) { return 2*x; }\nint f(int x) { return twice(x); }", "-O0"))
	if s := mustSymbol(t, cg, "_Z5twicei"); s.Linkage() != jitlink.Weak || s.Block().Section().Name() != ".text._Z5twicei" {
		t.Errorf("inline function: %v", s)
	}
}

func TestInitSectionsAreKept(t *testing.T) {
	g := cGraph(t, `
	static void ctor(void) {}
	static void dtor(void) {}
	__attribute__((section(".ctors"))) static void (*c)(void) = ctor;
	__attribute__((section(".dtors"))) static void (*d)(void) = dtor;
	__attribute__((constructor(200))) static void prio(void) {}
	__attribute__((destructor)) static void fini(void) {}
	int unused_data = 5;
	`, "-O0")
	// Only the init sections are live roots here.
	link(t, g, func(cfg *jitlink.PassConfig) {
		cfg.MarkLive = func(*jitlink.LinkGraph) error { return nil }
	})
	for _, name := range []string{".init_array.00200", ".fini_array", ".ctors", ".dtors"} {
		sec := g.FindSection(name)
		if sec == nil || len(sec.Blocks()) == 0 {
			t.Errorf("section %s was not kept", name)
		}
	}
	if s := g.FindSection(".data"); s != nil && len(s.Blocks()) != 0 {
		t.Error(".data has no live root and should have been dead-stripped")
	}
	// The code the tables point at survives too (the tables refer to it
	// through the section symbol, so the static functions' names go).
	if text := g.FindSection(".text"); text == nil || len(text.Blocks()) != 1 {
		t.Error(".text must be kept alive by the init and fini tables")
	}
}

func TestNonAllocSectionsAreSkipped(t *testing.T) {
	g := cGraph(t, "int f(int x) { return x + 1; }", "-g", "-O1")
	for _, sec := range g.Sections() {
		if strings.HasPrefix(sec.Name(), ".debug") || sec.Name() == ".comment" || sec.Name() == ".note.GNU-stack" {
			t.Errorf("non-alloc section %s is in the graph", sec.Name())
		}
	}
	g = asmGraph(t, `
	.section .excluded,"ae",@progbits
	.quad 1
	.text
	ret
`)
	if g.FindSection(".excluded") != nil {
		t.Error("SHF_EXCLUDE section is in the graph")
	}
}

// Each FDE becomes its own block with an edge to its CIE, and is kept alive
// exactly by the code it describes.
func TestEHFrameSplit(t *testing.T) {
	g := cGraph(t, `
	__attribute__((noinline)) int used(int x) { return x * 3; }
	int unused(int x) { return x * 5; }
	int root(int x) { return used(x) + 1; }
	`, "-O1", "-ffunction-sections")
	link(t, g, func(cfg *jitlink.PassConfig) {
		cfg.MarkLive = func(g *jitlink.LinkGraph) error {
			symbol(g, "root").SetLive(true)
			return nil
		}
	})
	if symbol(g, "unused") != nil {
		t.Fatal("unused was not dead-stripped")
	}
	eh := g.FindSection(".eh_frame")
	if eh == nil {
		t.Fatal("no .eh_frame")
	}
	var cies, fdes int
	var cieAddr uint64
	for _, b := range eh.Blocks() {
		c := b.Content()
		if binary.LittleEndian.Uint32(c[4:]) == 0 {
			cies++
			cieAddr = b.Address()
			continue
		}
		fdes++
		// After fixups, each FDE's CIE pointer leads back to the CIE.
		if b.Address()+4-uint64(binary.LittleEndian.Uint32(c[4:])) != cieAddr && cieAddr != 0 {
			t.Errorf("FDE at %#x does not point at the CIE at %#x", b.Address(), cieAddr)
		}
		// pc_begin points at a live function.
		pc := int64(b.Address()+8) + int64(int32(binary.LittleEndian.Uint32(c[8:])))
		if pc != int64(mustSymbol(t, g, "used").Address()) && pc != int64(mustSymbol(t, g, "root").Address()) {
			t.Errorf("FDE at %#x describes %#x, which is neither used nor root", b.Address(), pc)
		}
	}
	if cies != 1 || fdes != 2 {
		t.Fatalf("got %d CIEs and %d FDEs, want 1 and 2 (unused's FDE must go with it)", cies, fdes)
	}
}

func TestMergeableStrings(t *testing.T) {
	g := cGraph(t, `const char *a(void) { return "alpha"; } const char *b(void) { return "beta"; }`, "-O2")
	sec := g.FindSection(".rodata.str1.1")
	if sec == nil || len(sec.Blocks()) != 1 || !bytes.Contains(sec.Blocks()[0].Content(), []byte("alpha\x00beta")) {
		t.Fatalf("mergeable string section not loaded as content")
	}
	link(t, g, nil)
	// lea .LC(%rip): the fixed-up displacement reaches "beta".
	fn := mustSymbol(t, g, "b")
	code := fn.Block().Content()[fn.Offset():]
	i := bytes.Index(code, []byte{0x48, 0x8d, 0x05})
	if i < 0 {
		t.Fatalf("no lea in b: % x", code[:16])
	}
	target := fn.Address() + uint64(i) + 7 + uint64(int64(int32(binary.LittleEndian.Uint32(code[i+3:]))))
	blk := sec.Blocks()[0]
	if got := blk.Content()[target-blk.Address():][:4]; string(got) != "beta" {
		t.Fatalf("lea points at %q", got)
	}
}

// More than 65280 sections: section indices go through SHT_SYMTAB_SHNDX.
func TestExtendedSectionIndices(t *testing.T) {
	var src strings.Builder
	for i := 0; i < 66000; i++ {
		fmt.Fprintf(&src, ".section .data.%d,\"aw\"\n.byte %d\n", i, i%256)
	}
	src.WriteString(".section .data.last,\"aw\"\n.globl last\nlast: .quad 0x1122334455667788\n")
	g := asmGraph(t, src.String())
	s := mustSymbol(t, g, "last")
	if s.Block() == nil || s.Block().Section().Name() != ".data.last" ||
		binary.LittleEndian.Uint64(s.Block().Content()) != 0x1122334455667788 {
		t.Fatalf("symbol in section index > 0xff00 resolved wrongly: %v", s)
	}
}

// TLS of every model builds, and needs a TLS platform to link: general- and
// local-dynamic (-fPIC), initial- and local-exec (-fpie, gcc's default).
func TestTLSRelocations(t *testing.T) {
	dir := t.TempDir()
	src := "__thread int tv; static __thread int lv; int get(void) { return tv + lv++; }"
	gd := graphOf(t, testutil.CompileFor(t, "x86_64", dir, "gd.c", src, "-fPIC", "-O1"))
	if s := mustSymbol(t, gd, "tv"); !s.Block().Section().IsTLS() {
		t.Fatal("tv is not in a TLS section")
	}
	ext := map[string]uint64{"__tls_get_addr": 0x5000}
	err := jitlinktest.Link(gd, jitlinktest.Options{Externals: ext})
	if err == nil || !strings.Contains(err.Error(), "TLS platform") {
		t.Fatalf("linking TLS without a TLS platform: want an error saying so, got %v", err)
	}
	src += "\nextern __thread int xv; int getx(void) { return xv; }"
	le := graphOf(t, testutil.CompileFor(t, "x86_64", dir, "le.c", src, "-fpie", "-O1"))
	kinds := map[string]bool{}
	for b := range le.Blocks() {
		for _, e := range b.Edges() {
			kinds[x86_64.KindName(e.Kind)] = true
		}
	}
	if !kinds["TPOff32"] || !kinds["RequestGOTTPOFFAndTransformToDelta32"] {
		t.Fatalf("local- and initial-exec edges missing: %v", kinds)
	}
	err = jitlinktest.Link(le, jitlinktest.Options{Externals: map[string]uint64{"xv": 0x5000}})
	if err == nil || !strings.Contains(err.Error(), "TLS platform") {
		t.Fatalf("linking exec-model TLS without a TLS platform: want an error saying so, got %v", err)
	}
}

func TestUnknownRelocationIsReported(t *testing.T) {
	dir := t.TempDir()
	// R_X86_64_GOT32 is valid ELF but not something compilers emit for
	// x86-64; gorc does not support it.
	obj := testutil.Assemble(t, dir, "g.s", ".text\nnop\nmovl foo@GOT, %eax\n")
	data, _ := os.ReadFile(obj)
	_, err := elf.NewLinkGraph(obj, data)
	var ue *jitlink.UnsupportedError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "R_X86_64_GOT32") || ue.Section != ".text" || ue.Offset != 4 {
		t.Fatalf("want an UnsupportedError naming R_X86_64_GOT32 at .text+0x4, got %v", err)
	}
}

// Every relocation type gcc emits in the small, medium and large code
// models, PIC or not, becomes an edge the x86-64 backend can apply.
func TestCodeModelRelocations(t *testing.T) {
	src := `
	extern int ext_data; extern int ext_fn(int);
	static int sdata = 3; int gdata = 4; static char big[1 << 20];
	int (*fp)(int) = ext_fn;
	int f(int x) { big[x] = 1; return ext_fn(x) + ext_data + sdata + gdata + sizeof(big) + fp(x); }
	`
	for _, flags := range [][]string{
		{"-O2"}, {"-O2", "-fPIC"}, {"-O2", "-fno-pic", "-fno-pie"},
		{"-O2", "-mcmodel=medium"}, {"-O2", "-mcmodel=medium", "-fPIC"},
		{"-O2", "-mcmodel=large"}, {"-O2", "-mcmodel=large", "-fPIC"},
	} {
		t.Run(strings.Join(flags, ""), func(t *testing.T) {
			g := cGraph(t, src, flags...)
			// Low addresses keep the non-PIC absolute relocations in range.
			link(t, g, nil)
		})
	}
}

func TestMalformed(t *testing.T) {
	obj := testutil.CompileFor(t, "x86_64", t.TempDir(), "m.c", "int x = 1; int f(void) { return x; }", "-O1")
	good, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	le := binary.LittleEndian
	shoff := le.Uint64(good[40:])
	shnum := int(le.Uint16(good[60:]))
	// section returns the header of the first section of the given type.
	section := func(data []byte, typ uint32) []byte {
		for i := 0; i < shnum; i++ {
			h := data[shoff+uint64(i)*64:][:64]
			if le.Uint32(h[4:]) == typ {
				return h
			}
		}
		t.Fatalf("no section of type %d", typ)
		return nil
	}
	const shtSymtab, shtRela = 2, 4
	for _, tc := range []struct {
		name   string
		mutate func(d []byte) []byte
		want   string
	}{
		{"empty", func(d []byte) []byte { return nil }, "not an ELF file"},
		{"bad magic", func(d []byte) []byte { d[1] = 'X'; return d }, "not an ELF file"},
		{"32-bit", func(d []byte) []byte { d[4] = 1; return d }, "ELFCLASS32"},
		{"big-endian", func(d []byte) []byte { d[5] = 2; return d }, "ELFDATA2MSB"},
		{"executable", func(d []byte) []byte { le.PutUint16(d[16:], 2); return d }, "ET_EXEC"},
		{"other machine", func(d []byte) []byte { le.PutUint16(d[18:], 243); return d }, "EM_RISCV"},
		{"truncated headers", func(d []byte) []byte { return d[:shoff+10] }, "section header table"},
		{"section past end", func(d []byte) []byte { le.PutUint64(section(d, 1)[32:], 1<<40); return d }, "extend past the end"},
		{"bad shstrndx", func(d []byte) []byte { le.PutUint16(d[62:], 0x7000); return d }, "out of range"},
		{"bad symtab entsize", func(d []byte) []byte { le.PutUint64(section(d, shtSymtab)[56:], 23); return d }, "entry size"},
		{"reloc symbol out of range", func(d []byte) []byte {
			h := section(d, shtRela)
			le.PutUint32(d[le.Uint64(h[24:])+12:], 0xfffff)
			return d
		}, "refers to symbol"},
		{"reloc past section end", func(d []byte) []byte {
			h := section(d, shtRela)
			le.PutUint64(d[le.Uint64(h[24:]):], 0xffffff)
			return d
		}, "past the end of the section"},
		{"bad symbol name", func(d []byte) []byte {
			h := section(d, shtSymtab)
			le.PutUint32(d[le.Uint64(h[24:])+24:], 0xfffffff)
			return d
		}, "name offset"},
		{"bad alignment", func(d []byte) []byte { le.PutUint64(section(d, 1)[48:], 3); return d }, "power of two"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.mutate(bytes.Clone(good))
			_, err := elf.NewLinkGraph("m.o", d)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "m.o") {
				t.Fatalf("error %q: want it to start with the file name and mention %q", err, tc.want)
			}
			var me *jitlink.MalformedError
			var ue *jitlink.UnsupportedError
			if !errors.As(err, &me) && !errors.As(err, &ue) {
				t.Fatalf("error %T is neither MalformedError nor UnsupportedError", err)
			}
		})
	}
}

// The GOT base symbol is defined in the graph, never looked up outside.
func TestGOTSymbolIsLocal(t *testing.T) {
	g := cGraph(t, "extern int e; int f(void) { return e; }", "-O2", "-mcmodel=large", "-fPIC")
	if s := symbol(g, x86_64.GOTSymbolName); s == nil || !s.IsExternal() {
		t.Fatalf("expected an external %s before linking", x86_64.GOTSymbolName)
	}
	link(t, g, nil)
	s := mustSymbol(t, g, x86_64.GOTSymbolName)
	if !s.IsDefined() || s.Scope() != jitlink.ScopeLocal || s.Block().Section().Name() != x86_64.GOTSectionName {
		t.Fatalf("GOT symbol after link: %v", s)
	}
}

// TestTripleFromOSABI checks that the graph's triple names the OS the
// object's header gives: FreeBSD's OS ABI, or Linux for System V and GNU.
func TestTripleFromOSABI(t *testing.T) {
	obj := testutil.Assemble(t, t.TempDir(), "t.s", "\t.text\nf: ret\n")
	data, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	for abi, want := range map[byte]string{0: "x86_64-unknown-linux-gnu", 3: "x86_64-unknown-linux-gnu", 9: "x86_64-unknown-freebsd"} {
		data[7] = abi
		g, err := elf.NewLinkGraph(obj, data)
		if err != nil {
			t.Fatal(err)
		}
		if g.TargetTriple().String() != want {
			t.Errorf("OS ABI %d: triple %s, want %s", abi, g.TargetTriple(), want)
		}
	}
}

// TestNeedsLowAddresses: code built without PIC in the small code model
// needs low memory; debug info's 32-bit relocations do not count.
func TestNeedsLowAddresses(t *testing.T) {
	dir := t.TempDir()
	src := "static int v; int *addr(void) { return &v; }"
	for _, tc := range []struct {
		flags []string
		want  bool
	}{
		{[]string{"-O1", "-fno-pic", "-fno-pie"}, true},
		{[]string{"-O1", "-fPIC", "-g"}, false},
		{[]string{"-O1", "-fpie", "-g"}, false},
	} {
		obj := testutil.CompileFor(t, "x86_64", dir, "v.c", src, tc.flags...)
		data, _ := os.ReadFile(obj)
		if got, err := elf.NeedsLowAddresses(obj, data); err != nil || got != tc.want {
			t.Errorf("%v: NeedsLowAddresses = %v, %v; want %v", tc.flags, got, err, tc.want)
		}
	}
	if _, err := elf.NeedsLowAddresses("junk.o", []byte("junk")); err == nil {
		t.Error("junk accepted")
	}
}

// CheckMachine accepts an object of the target's architecture only,
// naming the file and the machine otherwise, and leaves non-ELF data to
// the parser.
func TestCheckMachine(t *testing.T) {
	obj := testutil.CompileFor(t, "x86_64", t.TempDir(), "m.c", "int f(void) { return 1; }", "-O1")
	good, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	aarch64 := bytes.Clone(good)
	binary.LittleEndian.PutUint16(aarch64[18:], 183)
	for _, tc := range []struct {
		data   []byte
		target triple.Triple
		want   string // "": accepted
	}{
		{good, x86_64.Triple, ""},
		{good, triple.MustParse("aarch64-unknown-linux-gnu"), "m.o: ELF machine EM_X86_64, but the JIT targets aarch64-unknown-linux-gnu"},
		{aarch64, x86_64.Triple, "m.o: ELF machine EM_AARCH64, but the JIT targets " + x86_64.Triple.String()},
		{[]byte("!<arch>\n"), x86_64.Triple, ""},
	} {
		err := elf.CheckMachine("m.o", tc.data, tc.target)
		if (tc.want == "" && err != nil) || (tc.want != "" && (err == nil || err.Error() != tc.want)) {
			t.Errorf("CheckMachine(%s) = %v, want %q", tc.target, err, tc.want)
		}
	}
}

// NewLinkGraphWith builds from the string tables ReadInterface kept the
// same graph NewLinkGraph builds, and ignores an interface read from other
// bytes, even of the same size (their tables would give wrong names).
func TestNewLinkGraphWithInterface(t *testing.T) {
	dir := t.TempDir()
	read := func(name, src string) []byte {
		data, err := os.ReadFile(testutil.CompileFor(t, "x86_64", dir, name, src, "-O1"))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	a := read("a.c", "static int hidden_counter; int alpha_one(int x) { return x + hidden_counter++; }\nint alpha_two(void) { return alpha_one(2); }\nextern int beta(void); int call_beta(void) { return beta(); }\n")
	// A copy with one name changed: tables of the same sizes.
	b := bytes.ReplaceAll(a, []byte("alpha_one"), []byte("alpha_ONE"))
	names := func(g *jitlink.LinkGraph) []string {
		var out []string
		for s := range g.DefinedSymbols() {
			if s.Name() != "" {
				out = append(out, fmt.Sprintf("%s/%v/%v", s.Name(), s.Linkage(), s.Scope()))
			}
		}
		for _, s := range g.ExternalSymbols() {
			if s.Name() != "" {
				out = append(out, fmt.Sprintf("%s/%v/%v", s.Name(), s.Linkage(), s.Scope()))
			}
		}
		slices.Sort(out)
		return out
	}
	ifaceA, err := elf.ReadInterface("a.o", a)
	if err != nil {
		t.Fatal(err)
	}
	ifaceB, err := elf.ReadInterface("a.o", b)
	if err != nil {
		t.Fatal(err)
	}
	want, err := elf.NewLinkGraph("a.o", a)
	if err != nil {
		t.Fatal(err)
	}
	for _, iface := range []*jitlink.Interface{ifaceA, ifaceB, nil} {
		g, err := elf.NewLinkGraphWith("a.o", a, iface)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := names(g), names(want); !slices.Equal(got, want) {
			t.Errorf("with the interface of %v: symbols %v, want %v", iface == ifaceA, got, want)
		}
	}
	if len(names(want)) < 4 {
		t.Fatalf("symbols %v: want alpha_one, alpha_two, call_beta, beta, hidden_counter", names(want))
	}
}

// NewLinkGraph splits .eh_frame as it builds (archive members are built in
// parallel and merged after): the graph holds a CIE and an FDE per
// function, each FDE kept alive by its function's block, before any pass.
func TestEHFrameSplitAtBuild(t *testing.T) {
	g := cGraph(t, "int f(int x) { return x + 1; }\nint g(int x) { return f(x) * 2; }\n", "-O1", "-ffunction-sections", "-fasynchronous-unwind-tables")
	eh := g.FindSection(".eh_frame")
	if eh == nil || len(eh.Blocks()) != 3 {
		t.Fatalf(".eh_frame not split into a CIE and two FDEs at build: %v", eh)
	}
	for _, name := range []string{"f", "g"} {
		keeps := 0
		for _, e := range mustSymbol(t, g, name).Block().Edges() {
			if e.Kind == jitlink.KeepAlive && e.Target.Block() != nil && e.Target.Block().Section() == eh {
				keeps++
			}
		}
		if keeps != 1 {
			t.Errorf("%s's block keeps %d FDEs alive, want 1", name, keeps)
		}
	}
}
