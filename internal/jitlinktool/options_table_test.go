package jitlinktool

import (
	"slices"
	"strings"
	"testing"
)

// -help lists every option of the table, and options parse in the forms
// the table allows.
func TestOptionTable(t *testing.T) {
	help := usage()
	for _, opt := range optionTable(&options{}, new(bool)) {
		for _, n := range opt.Names {
			if !strings.Contains(help, "-"+n) {
				t.Errorf("-help does not mention -%s", n)
			}
		}
	}
	o, err := parseArgs([]string{"-lm", "-l", "z", "-L/usr/lib", "-L", "lib", "-entry=start", "-abs", "x=0x10",
		"-define-abs=y=2", "-no-process-symbols", "-num-threads", "3", "-slab-allocate", "100Kb", "a.o",
		"-harness", "h1.o", "h2.o", "-noexec", "b.o", "-args", "-x", "y"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(o.libs, []string{"m", "z"}) || !slices.Equal(o.libDirs, []string{"/usr/lib", "lib"}) || o.entry != "start" ||
		!slices.Equal(o.abs, []absDef{{"x", 0x10}, {"y", 2}}) || !o.noProcessSyms || o.numThreads != 3 || o.slabSize != 100<<10 ||
		!slices.Equal(o.inputs, []string{"a.o", "b.o"}) || !slices.Equal(o.harness, []string{"h1.o", "h2.o"}) || !o.noexec ||
		!slices.Equal(o.args, []string{"-x", "y"}) {
		t.Fatalf("parsed %+v", o)
	}
	if o, err := parseArgs([]string{"-oop-executor=/bin/exec", "a.o"}); err != nil || o.oopExecutor != "/bin/exec" {
		t.Fatalf("-oop-executor=PATH: %v, %+v", err, o)
	}
	if o, err := parseArgs([]string{"-oop-executor", "a.o"}); err != nil || o.oopExecutor == "" || !slices.Equal(o.inputs, []string{"a.o"}) {
		t.Fatalf("-oop-executor without a value takes the default and leaves a.o an input: %v, %+v", err, o)
	}
	if o, err := parseArgs([]string{"-oop-executor", "a.o"}); err != nil || !o.sharedMemory {
		t.Fatalf("a launched executor shares memory by default: %v, %+v", err, o)
	}
	if o, err := parseArgs([]string{"-oop-executor", "-use-shared-memory=false", "a.o"}); err != nil || o.sharedMemory {
		t.Fatalf("-use-shared-memory=false copies: %v, %+v", err, o)
	}
	for args, want := range map[string]string{
		"-entry":               "option -entry needs a value (see -help)",
		"-noexec=1 a.o":        "option -noexec takes no value",
		"-bogus a.o":           "unknown option -bogus (see -help)",
		"-abs x a.o":           `-abs "x": want NAME=ADDRESS`,
		"-num-threads -1 a.o":  `-num-threads "-1": negative`,
		"-slab-allocate 0 a.o": `-slab-allocate "0": bad size`,
		"":                     "no input files",
	} {
		if _, err := parseArgs(strings.Fields(args)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", args, err, want)
		}
	}
}
