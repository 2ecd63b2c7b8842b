// Command kaleidoscope is a REPL for the Kaleidoscope language of LLVM's
// tutorials, built on gorc's lazy JIT: each definition becomes an LLVM IR
// module whose functions are compiled (with llc) only when first called,
// and each top-level expression is compiled and run at once.
//
//	$ go run ./examples/kaleidoscope
//	def fib(n) if n < 3 then 1 else fib(n-1) + fib(n-2)
//	fib(20)
//	Evaluated to 6765.000000
//	extern putchard(c)
//	for i = 1, i < 4 in putchard(64 + i)
//	ABCDEvaluated to 0.000000
//
// One form per line. Host functions: putchard, printd, and the C math
// library (extern sin(x)). -oop runs the code in a gorc-executor process.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/gorc-jit/gorc/lljit"
	"github.com/gorc-jit/gorc/orc/compile"
	"github.com/gorc-jit/gorc/orc/remote"
)

// runtimeSrc is the host side of the language, compiled with the C layer.
const runtimeSrc = `#include <stdio.h>
double putchard(double c) { putchar((int)c); fflush(stdout); return 0; }
double printd(double x) { printf("%f\n", x); fflush(stdout); return 0; }
void kal_show(double v) { printf("Evaluated to %f\n", v); fflush(stdout); }
`

func main() {
	oop := flag.String("oop", "", "run the code in this executor (e.g. gorc-executor)")
	flag.Parse()
	if err := run(os.Stdin, os.Stderr, *oop); err != nil {
		fmt.Fprintln(os.Stderr, "kaleidoscope:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, errs io.Writer, executor string) error {
	b := &lljit.LazyBuilder{}
	if executor != "" {
		epc, err := remote.Launch(executor)
		if err != nil {
			return err
		}
		b.EPC = epc
	}
	j, err := b.Create()
	if err != nil {
		return err
	}
	defer j.Close()
	if err := j.LoadDylib("libm.so.6"); err != nil {
		return err
	}
	cc, err := compile.FindCC()
	if err != nil {
		return err
	}
	if err := compile.NewCLayer(j.ObjectLinkingLayer(), cc).Add(j.MainJITDylib().DefaultResourceTracker(), "runtime.c", []byte(runtimeSrc)); err != nil {
		return err
	}
	g := newCodegen()
	for _, host := range []string{"putchard", "printd"} {
		g.protos[host] = &prototype{name: host, params: []string{"x"}}
	}
	sc := bufio.NewScanner(in)
	for n := 0; sc.Scan(); {
		it, err := parse(sc.Text())
		if err == nil && it != nil {
			err = eval(j, g, it, &n)
		}
		if err != nil {
			fmt.Fprintln(errs, "error:", err)
		}
	}
	return sc.Err()
}

// eval handles one top-level form.
func eval(j *lljit.LLLazyJIT, g *codegen, it *item, n *int) error {
	switch {
	case it.extern != nil:
		g.protos[it.extern.name] = it.extern
		return nil
	case it.def != nil:
		if _, dup := g.protos[it.def.name]; dup {
			return fmt.Errorf("%s is already defined", it.def.name)
		}
		g.protos[it.def.name] = it.def // before codegen: it may recurse
		ir, err := g.function(it.def, it.body, "double")
		if err != nil {
			delete(g.protos, it.def.name)
			return err
		}
		// Compiled when first called.
		return j.AddLazyIRModule(nil, compile.Module{Name: it.def.name + ".ll", IR: []byte(ir)})
	}
	*n++
	name := fmt.Sprintf("__anon_expr_%d", *n)
	ir, err := g.function(&prototype{name: name}, it.body, "void")
	if err != nil {
		return err
	}
	if err := j.AddIRModule(nil, compile.Module{Name: name + ".ll", IR: []byte(ir)}); err != nil {
		return err
	}
	addr, err := j.Lookup(context.Background(), name)
	if err != nil {
		return err
	}
	return j.ExecutorProcessControl().RunAsVoidFunction(addr)
}
