package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/gorc-jit/gorc/internal/native"
	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/mcjit"
	"github.com/gorc-jit/gorc/orc/compile"
	"github.com/gorc-jit/gorc/orc/remote"
)

type options struct {
	jitKind, entry, relocModel, codeModel, cacheDir, remoteProcess string
	platform                                                       string
	extraModules, extraObjects, extraArchives, loads               []string
	o                                                              [4]bool
	cacheManager, remoteMCJIT, stats                               bool
	input                                                          string
	args                                                           []string
}

type listFlag struct{ l *[]string }

func (f listFlag) String() string     { return "" }
func (f listFlag) Set(v string) error { *f.l = append(*f.l, v); return nil }

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{jitKind: "orc", entry: "main"}
	fs := flag.NewFlagSet("gorc-lli", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.jitKind, "jit-kind", o.jitKind, "engine: mcjit, orc or orc-lazy (-remote-mcjit: mcjit)")
	fs.StringVar(&o.entry, "entry-function", o.entry, "function to run as main")
	fs.StringVar(&o.relocModel, "relocation-model", "", "llc relocation model (pic, static, dynamic-no-pic)")
	fs.StringVar(&o.codeModel, "code-model", "", "llc code model (small, medium, large)")
	fs.Var(listFlag{&o.extraModules}, "extra-module", "another IR module to load (repeatable)")
	fs.Var(listFlag{&o.extraObjects}, "extra-object", "an object file to load (repeatable)")
	fs.Var(listFlag{&o.extraArchives}, "extra-archive", "a static archive to link from (repeatable)")
	fs.Var(listFlag{&o.loads}, "load", "shared library to load (repeatable)")
	for i := range o.o {
		fs.BoolVar(&o.o[i], fmt.Sprintf("O%d", i), false, fmt.Sprintf("optimization level %d", i))
	}
	fs.BoolVar(&o.cacheManager, "enable-cache-manager", false, "keep generated objects in an on-disk cache")
	fs.StringVar(&o.cacheDir, "object-cache-dir", "", "directory of the object cache (default: the user cache directory)")
	fs.BoolVar(&o.remoteMCJIT, "remote-mcjit", false, "run the program in an executor process")
	fs.StringVar(&o.remoteProcess, "mcjit-remote-process", "", "executor program for -remote-mcjit (default gorc-executor)")
	fs.StringVar(&o.platform, "lljit-platform", "Auto", "orc platform: Auto or Inactive (no initializers, eh-frames, TLS)")
	fs.BoolVar(&o.stats, "stats", false, "print how many modules were compiled to stderr")
	// lli options that change nothing here.
	for _, name := range []string{"disable-lazy-compilation", "verify-machineinstrs", "use-mcjit"} {
		fs.Bool(name, false, "accepted for lli compatibility; no effect")
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() == 0 {
		return nil, errors.New("no input module")
	}
	o.input, o.args = fs.Arg(0), fs.Args()[1:]
	kindSet := false
	fs.Visit(func(f *flag.Flag) { kindSet = kindSet || f.Name == "jit-kind" })
	if o.remoteMCJIT && !kindSet {
		o.jitKind = "mcjit"
	}
	switch o.jitKind {
	case "mcjit", "orc", "orc-lazy":
	default:
		return nil, fmt.Errorf("-jit-kind=%s: want mcjit, orc or orc-lazy", o.jitKind)
	}
	if o.platform != "Auto" && o.platform != "Inactive" {
		return nil, fmt.Errorf("-lljit-platform=%s: want Auto or Inactive", o.platform)
	}
	if o.remoteMCJIT && o.jitKind != "mcjit" {
		return nil, errors.New("-remote-mcjit needs -jit-kind=mcjit")
	}
	return o, nil
}

func (o *options) optLevel() *int {
	for i := len(o.o) - 1; i >= 0; i-- {
		if o.o[i] {
			return &i
		}
	}
	return nil
}

func run(args []string, stderr io.Writer) int {
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	rc := 0
	if err == nil {
		if o.jitKind == "mcjit" {
			rc, err = runMCJIT(o, stderr)
		} else {
			rc, err = runORC(o)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "gorc-lli: %v\n", err)
		return 1
	}
	return rc
}

func (o *options) modules() ([]compile.Module, error) {
	var ms []compile.Module
	for _, p := range append([]string{o.input}, o.extraModules...) {
		m, err := mcjit.ReadModule(p)
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	return ms, nil
}

func (o *options) loadLibraries() error {
	// C++ programs need the unwinder and the standard library that lli
	// (C++ itself) carries.
	for _, l := range []string{"libgcc_s.so.1", "libstdc++.so.6"} {
		native.Open(l, native.RTLDNow|native.RTLDGlobal)
	}
	for _, l := range o.loads {
		if _, err := native.Open(l, native.RTLDNow|native.RTLDGlobal); err != nil {
			return err
		}
	}
	return nil
}

// executorPath finds gorc-executor next to this program or on PATH.
func executorPath(name string) (string, error) {
	if name == "" {
		name = "gorc-executor"
		if self, err := os.Executable(); err == nil {
			if p := filepath.Join(filepath.Dir(self), name); fileExists(p) {
				return p, nil
			}
		}
	}
	return exec.LookPath(name)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func runMCJIT(o *options, stderr io.Writer) (int, error) {
	ms, err := o.modules()
	if err != nil {
		return 0, err
	}
	b := &mcjit.Builder{OptLevel: o.optLevel(), CodeModel: o.codeModel, RelocationModel: o.relocModel}
	if o.cacheManager {
		c, err := mcjit.NewDiskCache(o.cacheDir)
		if err != nil {
			return 0, err
		}
		b.ObjectCache = c
	}
	var epc *remote.EPC
	if o.remoteMCJIT {
		path, err := executorPath(o.remoteProcess)
		if err != nil {
			return 0, err
		}
		epc, err = remote.Launch(path)
		if err != nil {
			return 0, err
		}
		defer epc.Close()
		b.EPC = epc
		if len(o.loads) > 0 {
			return 0, errors.New("-load is not supported with -remote-mcjit")
		}
	} else if err := o.loadLibraries(); err != nil {
		return 0, err
	}
	e, err := b.Create(ms...)
	if err != nil {
		return 0, err
	}
	for _, p := range o.extraObjects {
		data, err := os.ReadFile(p)
		if err != nil {
			return 0, err
		}
		e.AddObject(p, data)
	}
	for _, p := range o.extraArchives {
		if err := e.AddArchive(p); err != nil {
			return 0, err
		}
	}
	if err := e.FinalizeObject(); err != nil {
		return 0, err
	}
	if o.stats {
		fmt.Fprintf(stderr, "gorc-lli: %d code generations\n", e.CodeGenerations)
	}
	if err := e.RunStaticConstructorsDestructors(false); err != nil {
		return 0, err
	}
	if !o.remoteMCJIT {
		native.InstallCrashHandler("gorc-lli: " + o.input + " crashed: ")
	}
	rc, err := e.RunFunctionAsMain(o.entry, append([]string{o.input}, o.args...))
	if err != nil {
		var exit *remote.ExitError
		if errors.As(err, &exit) {
			fmt.Fprintln(stderr, "gorc-lli:", err)
			return exit.Code, nil
		}
		return 0, err
	}
	if err := e.RunStaticConstructorsDestructors(true); err != nil {
		return 0, err
	}
	return rc, nil
}

func runORC(o *options) (int, error) {
	ms, err := o.modules()
	if err != nil {
		return 0, err
	}
	if err := o.loadLibraries(); err != nil {
		return 0, err
	}
	lb := &lljit.LazyBuilder{}
	lb.NoPlatform = o.platform == "Inactive"
	var flags []string // llc's; later ones override the defaults
	if lvl := o.optLevel(); lvl != nil {
		flags = append(flags, fmt.Sprintf("-O%d", *lvl))
	}
	if o.relocModel != "" {
		flags = append(flags, "-relocation-model="+o.relocModel)
	}
	if o.codeModel != "" {
		flags = append(flags, "-code-model="+o.codeModel)
	}
	if len(flags) > 0 {
		l, err := compile.FindLLVM()
		if err != nil {
			return 0, err
		}
		lb.Compiler = l.Compiler(flags...)
	}
	if o.cacheManager {
		c, err := compile.NewCache(o.cacheDir)
		if err != nil {
			return 0, err
		}
		lb.Cache = c
	}
	j, err := lb.Create()
	if err != nil {
		return 0, err
	}
	add := j.AddIRModule
	if o.jitKind == "orc-lazy" {
		add = j.AddLazyIRModule
	}
	for _, m := range ms {
		if err := add(nil, m); err != nil {
			return 0, err
		}
	}
	for _, p := range o.extraObjects {
		if err := j.AddObjectFile(nil, p); err != nil {
			return 0, err
		}
	}
	for _, p := range o.extraArchives {
		if err := j.AddArchive(nil, p); err != nil {
			return 0, err
		}
	}
	ctx := context.Background()
	argv := append([]string{o.input}, o.args...)
	addr, err := j.Lookup(ctx, o.entry)
	if err != nil {
		return 0, err
	}
	if err := j.Initialize(ctx, j.MainJITDylib(), argv); err != nil {
		return 0, err
	}
	native.InstallCrashHandler("gorc-lli: " + o.input + " crashed: ")
	// Exit handlers, static destructors included, run when the process
	// exits (the platform registered them with the C runtime).
	return j.ExecutorProcessControl().RunAsMain(addr, argv)
}
