// Package jitlinktool implements gorc-jitlink, the llvm-jitlink-style tool:
// link objects and archives into this process (or an executor) and run them,
// or check the linked memory with jitlink-check expressions.
package jitlinktool

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
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
	noProcessSyms  bool
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
	numThreads     int
	perfSupport    bool
	lazy           bool // link objects on first call
	debugger       bool // register objects with debuggers
	showStats      bool
	oopExecutor    string // path of the executor to launch; "" for in process
	oopConnect     string // host:port or unix:PATH of a listening executor
	oopTokenFile   string // the listening executor's token
	sharedMemory   bool   // map JIT'd memory in both processes
	help           bool
}

type absDef struct {
	name string
	addr uint64
}

const usage = `usage: gorc-jitlink [options] inputs... [-args arg...]

Links ELF relocatable objects and static archives into this process and runs
the entry point with argv = [first input] + the -args, exiting with its result.

  -entry NAME             entry point (default main)
  -args ...               arguments for the entry point (the rest of the line)
  -noexec                 link and look up the entry point, do not run it
  -L DIR                  add DIR to the library search path
  -lNAME, -l NAME         link libNAME.so (dlopen) or libNAME.a (members on demand)
  -no-process-syms        hide this process's symbols (libc) from JIT'd code
  -abs NAME=ADDR          define NAME as an absolute symbol (alias -define-abs)
  -phony-externals        resolve undefined symbols to address 0
  -harness FILES...       link FILES as a test harness for the other inputs
  -check FILE             evaluate the jitlink-check expressions in FILE
  -check-name NAME        check lines are "# NAME: ..." (default jitlink-check)
  -slab-allocate SIZE     allocate from one slab of SIZE (e.g. 100Kb, 1Mb)
  -slab-address ADDR      place the slab at ADDR (for -noexec checks)
  -slab-page-size N       page size for slab layout
  -show-addrs             print the addresses of symbols and sections
  -show-graph             print each link graph after fixups
  -show-graphs REGEX      print the graphs whose names match REGEX
  -show-times             print the time spent in each phase
  -debug                  log the link on stderr
  -cpuprofile FILE        write a CPU profile of the tool (not of JIT'd code)
  -lazy                   link each object (and archive member) when one of its
                          functions is first called; calls between objects
                          go through stubs
  -show-stats             print how many objects were linked
  -debugger-support       register linked objects with debuggers (GDB JIT
                          interface), to debug code compiled with -g
  -perf-support           write a jitdump file for perf (see package perfjit)
  -oop-executor[=PATH]    run the code in an executor process (default: the
                          gorc-executor next to this tool)
  -oop-executor-connect=HOST:PORT, -oop-executor-connect=unix:PATH
                          run the code in the executor listening there
                          (waiting up to 2 s for it to start listening)
  -oop-executor-token-file=FILE
                          answer the listening executor's token challenge
                          with the token in FILE (default: the environment
                          variable GORC_EXECUTOR_TOKEN, if set)
  -use-shared-memory      with an executor on this machine, link into memory
                          mapped in both processes instead of copying it over
  -num-threads N          link on N goroutines (default 0: on the looking-up thread)
`

// flagOpts take no value.
var flagOpts = map[string]bool{
	"noexec": true, "no-process-syms": true, "no-process-symbols": true, "phony-externals": true,
	"harness": true, "show-addrs": true, "show-graph": true, "show-times": true, "debug": true, "perf-support": true, "use-shared-memory": true,
	"lazy": true, "show-stats": true, "debugger-support": true,
	"h": true, "help": true,
}

// valueOpts take a value (as "-opt value" or "-opt=value").
var valueOpts = map[string]bool{
	"entry": true, "L": true, "l": true, "abs": true, "define-abs": true, "check": true,
	"check-name": true, "slab-allocate": true, "slab-address": true, "slab-page-size": true,
	"cpuprofile": true, "num-threads": true, "show-graphs": true, "oop-executor-connect": true,
	"oop-executor-token-file": true,
}

func parseArgs(argv []string) (*options, error) {
	o := &options{entry: "main", checkName: "jitlink-check"}
	inHarness := false
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		if a == "-args" || a == "--args" {
			o.args = append(o.args, argv[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			if inHarness {
				o.harness = append(o.harness, a)
			} else {
				o.inputs = append(o.inputs, a)
			}
			continue
		}
		inHarness = false
		name := strings.TrimLeft(a, "-")
		value, hasValue := "", false
		if k, v, ok := strings.Cut(name, "="); ok {
			name, value, hasValue = k, v, true
		}
		// -lNAME and -LDIR carry their value attached.
		if !hasValue && len(name) > 1 && (name[0] == 'l' || name[0] == 'L') && !valueOpts[name] && !flagOpts[name] {
			name, value, hasValue = name[:1], name[1:], true
		}
		if name == "oop-executor" {
			// The value is optional, so only "-oop-executor=PATH" has one.
			o.oopExecutor = value
			if !hasValue {
				o.oopExecutor = defaultExecutor()
			}
			continue
		}
		if valueOpts[name] && !hasValue {
			if i+1 >= len(argv) {
				return nil, fmt.Errorf("option -%s needs a value", name)
			}
			i++
			value = argv[i]
		}
		var err error
		switch name {
		case "entry":
			o.entry = value
		case "noexec":
			o.noexec = true
		case "L":
			o.libDirs = append(o.libDirs, value)
		case "l":
			o.libs = append(o.libs, value)
		case "no-process-syms", "no-process-symbols":
			o.noProcessSyms = true
		case "abs", "define-abs":
			n, addr, ok := strings.Cut(value, "=")
			if !ok || n == "" {
				return nil, fmt.Errorf("-%s %q: want NAME=ADDRESS", name, value)
			}
			v, perr := strconv.ParseUint(addr, 0, 64)
			if perr != nil {
				return nil, fmt.Errorf("-%s %q: bad address %q", name, value, addr)
			}
			o.abs = append(o.abs, absDef{n, v})
		case "phony-externals":
			o.phonyExternals = true
		case "harness":
			inHarness = true
		case "check":
			o.checks = append(o.checks, value)
		case "check-name":
			o.checkName = value
		case "slab-allocate":
			o.slabSize, err = parseSize(value)
		case "slab-address":
			o.slabAddress, err = strconv.ParseUint(value, 0, 64)
			o.hasSlabAddress = true
		case "slab-page-size":
			o.slabPageSize, err = strconv.ParseUint(value, 0, 64)
		case "show-addrs":
			o.showAddrs = true
		case "show-graph":
			o.showGraphs = regexp.MustCompile("")
		case "show-graphs":
			o.showGraphs, err = regexp.Compile(value)
		case "show-times":
			o.showTimes = true
		case "debug":
			o.debug = true
		case "cpuprofile":
			o.cpuProfile = value
		case "oop-executor-connect":
			o.oopConnect = value
		case "oop-executor-token-file":
			o.oopTokenFile = value
		case "lazy":
			o.lazy = true
		case "debugger-support":
			o.debugger = true
		case "show-stats":
			o.showStats = true
		case "use-shared-memory":
			o.sharedMemory = true
		case "perf-support":
			o.perfSupport = true
		case "num-threads":
			o.numThreads, err = strconv.Atoi(value)
			if err == nil && o.numThreads < 0 {
				err = fmt.Errorf("negative")
			}
		case "h", "help":
			o.help = true
		default:
			return nil, fmt.Errorf("unknown option %s (see -help)", a)
		}
		if err != nil {
			return nil, fmt.Errorf("-%s %q: %v", name, value, err)
		}
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

// parseSize parses a size with an optional Kb, Mb or Gb suffix.
func parseSize(s string) (uint64, error) {
	mult := uint64(1)
	for suffix, m := range map[string]uint64{"Kb": 1 << 10, "Mb": 1 << 20, "Gb": 1 << 30, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30} {
		if v, ok := strings.CutSuffix(s, suffix); ok {
			s, mult = v, m
			break
		}
	}
	n, err := strconv.ParseUint(s, 0, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad size")
	}
	return n * mult, nil
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
