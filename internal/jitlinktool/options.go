// Package jitlinktool implements gorc-jitlink, the llvm-jitlink-style tool:
// link objects and archives into this process (or an executor) and run them,
// or check the linked memory with jitlink-check expressions.
package jitlinktool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/gorc-jit/gorc/internal/cli"
)

// options are the tool's command line.
type options struct {
	inputs         []string
	harness        []string
	entry          string
	args           []string
	noexec         bool
	libDirs        []string
	libs           []string
	noStdlibCXX    bool // do not add the C++ runtime for C++ inputs
	noProcessSyms  bool
	noLibgcc       bool // no fallback to the compiler's libgcc.a
	abs            []absDef
	phonyExternals bool
	checks         []string
	checkName      string
	slabSize       uint64
	slabAddress    uint64
	hasSlabAddress bool
	slabPageSize   uint64
	showAddrs      bool
	showGraphs     *regexp.Regexp // graphs to print; nil: none
	showTimes      bool
	debug          bool
	cpuProfile     string
	memProfile     string
	numThreads     int
	perfSupport    bool
	lazy           bool // link objects on first call
	debugger       bool // register objects with debuggers
	showStats      bool
	oopExecutor    string // path of the executor to launch; "" for in process
	oopConnect     string // host:port or unix:PATH of a listening executor
	oopTokenFile   string // the listening executor's token
	sharedMemory   bool   // map JIT'd memory in both processes
	shareGiven     bool   // -use-shared-memory was given (true or false)
	help           bool
}

type absDef struct {
	name string
	addr uint64
}

// optionTable is the tool's options: names, value, help and what each
// does to o. inHarness is set by -harness: the inputs that follow are the
// harness's.
func optionTable(o *options, inHarness *bool) []cli.Option {
	uint := func(p *uint64) func(string) error {
		return func(v string) (err error) { *p, err = strconv.ParseUint(v, 0, 64); return err }
	}
	return []cli.Option{
		{Names: []string{"entry"}, Value: "NAME", Help: "entry point (default main)", Set: cli.String(&o.entry)},
		{Names: []string{"args"}, Value: "...", Rest: true, Help: "arguments for the entry point (the rest of the line)", Set: cli.Append(&o.args)},
		{Names: []string{"noexec"}, Help: "link and look up the entry point, do not run it", Set: cli.Flag(&o.noexec)},
		{Names: []string{"L"}, Value: "DIR", Attached: true, Help: "add DIR to the library search path", Set: cli.Append(&o.libDirs)},
		{Names: []string{"l"}, Value: "NAME", Attached: true, Help: "link libNAME.so (dlopen) or libNAME.a (members on demand); also -lNAME", Set: cli.Append(&o.libs)},
		{Names: []string{"nostdlib++"}, Help: "do not link libstdc++, libm and libgcc_s when an input object needs the C++ runtime (as g++ does; never with -noexec, -check or -phony-externals)", Set: cli.Flag(&o.noStdlibCXX)},
		{Names: []string{"no-libgcc"}, Help: "do not fall back to the compiler's libgcc.a for symbols nothing else defines (gcc links it always)", Set: cli.Flag(&o.noLibgcc)},
		{Names: []string{"no-process-syms", "no-process-symbols"}, Help: "hide this process's symbols (libc) from JIT'd code", Set: cli.Flag(&o.noProcessSyms)},
		{Names: []string{"abs", "define-abs"}, Value: "NAME=ADDR", Help: "define NAME as an absolute symbol", Set: func(v string) error {
			n, addr, ok := strings.Cut(v, "=")
			if !ok || n == "" {
				return errors.New("want NAME=ADDRESS")
			}
			a, err := strconv.ParseUint(addr, 0, 64)
			if err != nil {
				return fmt.Errorf("bad address %q", addr)
			}
			o.abs = append(o.abs, absDef{n, a})
			return nil
		}},
		{Names: []string{"phony-externals"}, Help: "resolve undefined symbols to address 0", Set: cli.Flag(&o.phonyExternals)},
		{Names: []string{"harness"}, Help: "link the inputs that follow as a test harness for the others", Set: cli.Flag(inHarness)},
		{Names: []string{"check"}, Value: "FILE", Help: "evaluate the jitlink-check expressions in FILE", Set: cli.Append(&o.checks)},
		{Names: []string{"check-name"}, Value: "NAME", Help: `check lines are "# NAME: ..." (default jitlink-check)`, Set: cli.String(&o.checkName)},
		{Names: []string{"slab-allocate"}, Value: "SIZE", Help: "allocate from one slab of SIZE (e.g. 100Kb, 1Mb)", Set: func(v string) (err error) {
			if o.slabSize, err = cli.ParseSize(v); err == nil && o.slabSize == 0 {
				err = errors.New("bad size")
			}
			return err
		}},
		{Names: []string{"slab-address"}, Value: "ADDR", Help: "place the slab at ADDR (for -noexec checks)", Set: func(v string) error {
			o.hasSlabAddress = true
			return uint(&o.slabAddress)(v)
		}},
		{Names: []string{"slab-page-size"}, Value: "N", Help: "page size for slab layout", Set: uint(&o.slabPageSize)},
		{Names: []string{"show-addrs"}, Help: "print the addresses of symbols and sections", Set: cli.Flag(&o.showAddrs)},
		{Names: []string{"show-graph"}, Help: "print each link graph after fixups", Set: func(string) error {
			o.showGraphs = regexp.MustCompile("")
			return nil
		}},
		{Names: []string{"show-graphs"}, Value: "REGEX", Help: "print the graphs whose names match REGEX", Set: func(v string) (err error) {
			o.showGraphs, err = regexp.Compile(v)
			return err
		}},
		{Names: []string{"show-times"}, Help: "print the time spent in each phase", Set: cli.Flag(&o.showTimes)},
		{Names: []string{"show-stats"}, Help: "print how many objects were linked", Set: cli.Flag(&o.showStats)},
		{Names: []string{"debug"}, Help: "log the link on stderr", Set: cli.Flag(&o.debug)},
		{Names: []string{"cpuprofile"}, Value: "FILE", Help: "write a CPU profile of the tool (not of JIT'd code)", Set: cli.String(&o.cpuProfile)},
		{Names: []string{"memprofile"}, Value: "FILE", Help: "write an allocation profile of the tool (every 4 KiB sampled)", Set: cli.String(&o.memProfile)},
		{Names: []string{"lazy"}, Help: "link each object (and archive member) when one of its functions is first called; calls between objects go through stubs", Set: cli.Flag(&o.lazy)},
		{Names: []string{"debugger-support"}, Help: "register linked objects with debuggers (GDB JIT interface), to debug code compiled with -g", Set: cli.Flag(&o.debugger)},
		{Names: []string{"perf-support"}, Help: "write a jitdump file for perf (see package perfjit)", Set: cli.Flag(&o.perfSupport)},
		{Names: []string{"oop-executor"}, Value: "PATH", Optional: true, Help: "run the code in an executor process (default: the gorc-executor next to this tool)", Set: func(v string) error {
			if v == "" {
				v = defaultExecutor()
			}
			o.oopExecutor = v
			return nil
		}},
		{Names: []string{"oop-executor-connect"}, Value: "HOST:PORT|unix:PATH", Help: "run the code in the executor listening there (waiting up to 2 s for it to start listening)", Set: cli.String(&o.oopConnect)},
		{Names: []string{"oop-executor-token-file"}, Value: "FILE", Help: "answer the listening executor's token challenge with the token in FILE (default: the environment variable GORC_EXECUTOR_TOKEN, if set)", Set: cli.String(&o.oopTokenFile)},
		{Names: []string{"use-shared-memory"}, Value: "false", Optional: true, Help: "with an executor on this machine, link into memory mapped in both processes instead of copying it over (the default with -oop-executor, unless -debugger-support; =false copies)", Set: func(v string) (err error) {
			o.sharedMemory, o.shareGiven = true, true
			if v != "" {
				o.sharedMemory, err = strconv.ParseBool(v)
			}
			return err
		}},
		{Names: []string{"num-threads"}, Value: "N", Help: "link on N goroutines (default 0: on the looking-up thread)", Set: func(v string) (err error) {
			if o.numThreads, err = strconv.Atoi(v); err == nil && o.numThreads < 0 {
				err = errors.New("negative")
			}
			return err
		}},
		{Names: []string{"help", "h"}, Help: "print this help", Set: cli.Flag(&o.help)},
	}
}

// usage is -help's text.
func usage() string {
	return `usage: gorc-jitlink [options] inputs... [-args arg...]

Links ELF relocatable objects and static archives into this process and runs
the entry point with argv = [first input] + the -args, exiting with its result.

` + cli.Usage(optionTable(&options{}, new(bool)))
}

func parseArgs(argv []string) (*options, error) {
	o := &options{entry: "main", checkName: "jitlink-check"}
	inHarness := false
	table := optionTable(o, &inHarness)
	// Any other option ends the harness's inputs.
	for i := range table {
		if set := table[i].Set; table[i].Names[0] != "harness" {
			table[i].Set = func(v string) error { inHarness = false; return set(v) }
		}
	}
	err := cli.Parse(table, argv, func(a string) error {
		if inHarness {
			o.harness = append(o.harness, a)
		} else {
			o.inputs = append(o.inputs, a)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w (see -help)", err)
	}
	if o.oopExecutor != "" || o.oopConnect != "" {
		if o.slabSize > 0 || o.hasSlabAddress {
			return nil, fmt.Errorf("the -slab options apply to in-process linking, not to -oop-executor")
		}
		if o.perfSupport {
			return nil, fmt.Errorf("-perf-support records code run in this process, not with -oop-executor")
		}
	}
	if o.oopTokenFile != "" && o.oopConnect == "" {
		return nil, fmt.Errorf("-oop-executor-token-file is for an executor reached with -oop-executor-connect")
	}
	if !o.shareGiven && o.oopExecutor != "" && !o.debugger {
		// A launched executor is on this machine: share memory with it
		// rather than copy (the manager copies if the executor cannot
		// share). Not for -oop-executor-connect: it may be elsewhere.
		o.sharedMemory = true
	}
	if o.sharedMemory && o.oopExecutor == "" && o.oopConnect == "" {
		// In process there is nothing to share: say so rather than ignore
		// it, as llvm-jitlink does.
		return nil, fmt.Errorf("-use-shared-memory applies to an executor process: use it with -oop-executor or -oop-executor-connect")
	}
	if o.debugger && o.sharedMemory {
		return nil, fmt.Errorf("-debugger-support needs code a debugger can patch, and -use-shared-memory maps it shared")
	}
	if o.lazy && len(o.harness) > 0 {
		return nil, fmt.Errorf("-lazy and -harness cannot be combined")
	}
	if !o.help && len(o.inputs) == 0 {
		return nil, fmt.Errorf("no input files (see -help)")
	}
	return o, nil
}

// defaultExecutor is the gorc-executor next to this tool, or else the one
// on $PATH.
func defaultExecutor() string {
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "gorc-executor")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "gorc-executor"
}
