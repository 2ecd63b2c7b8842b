package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/gorc-jit/gorc/internal/jitlinkcheck"
	"github.com/gorc-jit/gorc/internal/native"
	"github.com/gorc-jit/gorc/jitlink/object"
	"github.com/gorc-jit/gorc/orc/inprocess"
	"github.com/gorc-jit/gorc/rtdyld"
)

type options struct {
	execute, verify, printLine bool
	printAllocs                bool
	entry, triple              string
	checks                     []string
	mapSections                []string
	dummyExterns               []string
	addrStart, addrEnd, sep    uint64
	inputs, args, loads        []string
}

type listFlag struct{ l *[]string }

func (f listFlag) String() string     { return "" }
func (f listFlag) Set(v string) error { *f.l = append(*f.l, v); return nil }

type addrFlag struct{ v *uint64 }

func (f addrFlag) String() string { return "" }
func (f addrFlag) Set(s string) error {
	v, err := strconv.ParseUint(s, 0, 64)
	*f.v = v
	return err
}

// parse reads flags and inputs in any order, as LLVM's option parser does;
// -args ends them and passes the rest to the program.
func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{entry: "_main", addrStart: 4096, addrEnd: ^uint64(0)}
	fs := flag.NewFlagSet("gorc-rtdyld", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.execute, "execute", false, "load, resolve and run the entry point (the default)")
	fs.BoolVar(&o.verify, "verify", false, "load, map, resolve and evaluate the -check files")
	fs.BoolVar(&o.printLine, "printline", false, "load, resolve and list the functions")
	fs.BoolVar(&o.printAllocs, "print-alloc-requests", false, "print the sections' allocation requests (-verify, -printline)")
	fs.StringVar(&o.entry, "entry", o.entry, "entry point of -execute")
	fs.StringVar(&o.triple, "triple", "", "target triple (x86_64 ELF only)")
	fs.Var(listFlag{&o.checks}, "check", "file of '# rtdyld-check:' expressions (repeatable)")
	fs.Var(listFlag{&o.mapSections}, "map-section", "FILE,SECTION=ADDR: map a section to a target address (repeatable)")
	fs.Var(listFlag{&o.dummyExterns}, "dummy-extern", "NAME=ADDR: define an external symbol (repeatable)")
	fs.Var(addrFlag{&o.addrStart}, "target-addr-start", "first target address given to sections in -verify")
	fs.Var(addrFlag{&o.addrEnd}, "target-addr-end", "end of the target address range")
	fs.Var(addrFlag{&o.sep}, "target-section-sep", "gap between sections in the target")
	fs.Var(listFlag{&o.loads}, "load", "shared library to load into the process before -execute (repeatable)")
	for i, a := range args {
		if a == "-args" || a == "--args" {
			args, o.args = args[:i], args[i+1:]
			break
		}
	}
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		o.inputs = append(o.inputs, args[0])
		args = args[1:]
	}
	if len(o.inputs) == 0 {
		return nil, errors.New("no input files")
	}
	if o.triple != "" && !strings.HasPrefix(o.triple, "x86_64") {
		return nil, fmt.Errorf("target %s: only x86_64 is supported", o.triple)
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err == nil {
		var rc int
		switch {
		case o.verify:
			err = verify(o, stdout)
		case o.printLine:
			err = printLine(o, stdout)
		default:
			rc, err = execute(o)
		}
		if err == nil {
			return rc
		}
	}
	fmt.Fprintf(stderr, "gorc-rtdyld: %v\n", err)
	return 1
}

func parseAssign(s, what string) (string, uint64, error) {
	name, val, ok := strings.Cut(s, "=")
	if !ok {
		return "", 0, fmt.Errorf("%s %q: expected NAME=ADDR", what, s)
	}
	addr, err := strconv.ParseUint(val, 0, 64)
	if err != nil {
		return "", 0, fmt.Errorf("%s %q: bad address: %v", what, s, err)
	}
	return name, addr, nil
}

func load(d *rtdyld.Dyld, o *options) error {
	for _, in := range o.inputs {
		data, err := os.ReadFile(in)
		if err != nil {
			return err
		}
		if _, err := d.LoadObject(in, data); err != nil {
			return err
		}
	}
	return nil
}

// execute loads the objects into this process and runs the entry point.
func execute(o *options) (int, error) {
	// C++ code needs the unwinder that llvm-rtdyld (C++ itself) has.
	native.Open("libgcc_s.so.1", native.RTLDNow|native.RTLDGlobal)
	for _, l := range o.loads {
		if _, err := native.Open(l, native.RTLDNow|native.RTLDGlobal); err != nil {
			return 0, err
		}
	}
	var epcOpts []inprocess.Option
	for _, in := range o.inputs {
		// Code built without PIC links only into the low 2 GiB.
		if data, err := os.ReadFile(in); err == nil {
			if low, _ := object.NeedsLowAddresses(in, data); low {
				epcOpts = append(epcOpts, inprocess.Low2GB())
				break
			}
		}
	}
	epc := inprocess.New(epcOpts...)
	mm := rtdyld.NewExecutorMemoryManager(epc)
	if err := defineExterns(mm, o); err != nil {
		return 0, err
	}
	d := rtdyld.New(mm)
	if err := load(d, o); err != nil {
		return 0, err
	}
	if err := d.Finalize(); err != nil {
		return 0, err
	}
	entry, ok := d.Symbol(o.entry)
	if !ok {
		return 0, fmt.Errorf("entry point %s not found", o.entry)
	}
	native.InstallCrashHandler("gorc-rtdyld: " + o.inputs[0] + " crashed: ")
	return epc.RunAsMain(entry, append([]string{o.inputs[0]}, o.args...))
}

func defineExterns(mm interface{ DefineSymbol(string, uint64) }, o *options) error {
	for _, s := range o.dummyExterns {
		name, addr, err := parseAssign(s, "-dummy-extern")
		if err != nil {
			return err
		}
		mm.DefineSymbol(name, addr)
	}
	return nil
}

// printLine loads and resolves the objects and lists their functions.
func printLine(o *options, stdout io.Writer) error {
	mm := rtdyld.NewLocalMemoryManager()
	if err := defineExterns(mm, o); err != nil {
		return err
	}
	d := rtdyld.New(mm)
	if err := load(d, o); err != nil {
		return err
	}
	if err := d.ResolveRelocations(); err != nil {
		return err
	}
	for _, obj := range d.Objects() {
		for _, f := range obj.Functions() {
			fmt.Fprintf(stdout, "Function: %s, Size = %d, Address = %#x\n", f.Name, f.Size, f.Addr)
		}
	}
	return nil
}

// verify maps the sections to target addresses, resolves and checks.
func verify(o *options, stdout io.Writer) error {
	mm := rtdyld.NewLocalMemoryManager()
	if err := defineExterns(mm, o); err != nil {
		return err
	}
	d := rtdyld.New(mm)
	err := load(d, o)
	if o.printAllocs {
		fmt.Fprintln(stdout, strings.Join(mm.Allocs, "\n"))
	}
	if err != nil {
		return err
	}
	if err := mapSections(d, o); err != nil {
		return err
	}
	if err := d.ResolveRelocations(); err != nil {
		return fmt.Errorf("applying relocations: %w", err)
	}
	return check(d, o, stdout)
}

// mapSections gives each section its target address: the -map-section
// ones first, then the others one after another from -target-addr-start,
// around the explicitly mapped ranges.
func mapSections(d *rtdyld.Dyld, o *options) error {
	type span struct{ start, end uint64 }
	var taken []span
	explicit := make(map[rtdyld.SectionID]bool)
	for _, m := range o.mapSections {
		spec, addr, err := parseAssign(m, "-map-section")
		if err != nil {
			return err
		}
		file, secName, ok := strings.Cut(spec, ",")
		if !ok {
			return fmt.Errorf("-map-section %q: expected FILE,SECTION=ADDR", m)
		}
		sec, err := findSection(d, file, secName)
		if err != nil {
			return fmt.Errorf("-map-section %q: %w", m, err)
		}
		if err := d.MapSectionAddress(sec.ID, addr); err != nil {
			return err
		}
		explicit[sec.ID] = true
		taken = append(taken, span{addr, addr + uint64(len(sec.Local))})
	}
	next := o.addrStart
	for _, s := range d.Sections() {
		if explicit[s.ID] {
			continue
		}
		size := max(uint64(len(s.Local)), 1)
		addr := alignUp(next, s.Align)
		for moved := true; moved; {
			moved = false
			for _, t := range taken {
				if addr < t.end && t.start < addr+size {
					addr, moved = alignUp(t.end, s.Align), true
				}
			}
		}
		if addr+size < addr || addr+size > o.addrEnd {
			return fmt.Errorf("section %s of %s (%d bytes) does not fit below -target-addr-end %#x", s.Name, s.Object.Name, size, o.addrEnd)
		}
		if err := d.MapSectionAddress(s.ID, addr); err != nil {
			return err
		}
		taken = append(taken, span{addr, addr + size})
		next = addr + size + o.sep
	}
	return nil
}

func alignUp(x, a uint64) uint64 { a = max(a, 1); return (x + a - 1) / a * a }

func findObject(d *rtdyld.Dyld, file string) (*rtdyld.Object, error) {
	for _, o := range d.Objects() {
		if o.BaseName() == file || o.Name == file {
			return o, nil
		}
	}
	return nil, fmt.Errorf("no object %s is loaded", file)
}

func findSection(d *rtdyld.Dyld, file, name string) (*rtdyld.Section, error) {
	o, err := findObject(d, file)
	if err != nil {
		return nil, err
	}
	if s := o.Section(name); s != nil {
		return s, nil
	}
	return nil, fmt.Errorf("%s has no loaded section %s", file, name)
}

// check evaluates the rtdyld-check expressions of every -check file.
func check(d *rtdyld.Dyld, o *options, stdout io.Writer) error {
	env := &jitlinkcheck.Env{
		Symbol: d.Symbol,
		Read: func(addr uint64, n int) ([]byte, bool) {
			for _, s := range d.Sections() {
				if addr >= s.Addr && addr-s.Addr <= uint64(len(s.Local)) && uint64(len(s.Local))-(addr-s.Addr) >= uint64(n) {
					off := addr - s.Addr
					return s.Local[off : off+uint64(n)], true
				}
			}
			return nil, false
		},
		StubAddr: func(file, sym string) (uint64, error) {
			return table(d, file, sym, func(o *rtdyld.Object, sym string) (uint64, bool) { return o.StubAddr("", sym) }, "stub")
		},
		GOTAddr: func(file, sym string) (uint64, error) {
			return table(d, file, sym, (*rtdyld.Object).GOTAddr, "GOT entry")
		},
		SectionAddr: func(file, section string) (uint64, error) {
			s, err := findSection(d, file, section)
			if err != nil {
				return 0, err
			}
			return s.Addr, nil
		},
		SectionStubAddr: func(file, section, sym string) (uint64, error) {
			return table(d, file, sym, func(o *rtdyld.Object, sym string) (uint64, bool) { return o.StubAddr(section, sym) }, "stub in "+section)
		},
	}
	var failed []string
	for _, f := range o.checks {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		rules := jitlinkcheck.Rules(data, "rtdyld-check")
		if len(rules) == 0 {
			return fmt.Errorf("%s: no rtdyld-check expressions", f)
		}
		for _, r := range rules {
			lhs, rhs, err := jitlinkcheck.Eval(r.Expr, env)
			switch {
			case err != nil:
				failed = append(failed, fmt.Sprintf("%s:%d: %s: %v", filepath.Base(f), r.Line, r.Expr, err))
			case lhs != rhs:
				failed = append(failed, fmt.Sprintf("%s:%d: %s: %#x != %#x", filepath.Base(f), r.Line, r.Expr, lhs, rhs))
			}
		}
	}
	if len(failed) > 0 {
		sort.Strings(failed)
		return fmt.Errorf("%d checks failed:\n  %s", len(failed), strings.Join(failed, "\n  "))
	}
	return nil
}

func table(d *rtdyld.Dyld, file, sym string, f func(*rtdyld.Object, string) (uint64, bool), what string) (uint64, error) {
	o, err := findObject(d, file)
	if err != nil {
		return 0, err
	}
	a, ok := f(o, sym)
	if !ok {
		return 0, fmt.Errorf("%s has no %s for %s", file, what, sym)
	}
	return a, nil
}
