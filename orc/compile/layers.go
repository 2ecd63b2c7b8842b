package compile

import (
	"context"
	"fmt"
	"strings"

	"github.com/gorc-jit/gorc/jitlink/object"
	"github.com/gorc-jit/gorc/orc"
)

// Transform rewrites a module before it is compiled (ORC's transform
// layer), e.g. to instrument or optimize it. It returns the module to
// compile.
type Transform func(Module) (Module, error)

// IRLayer compiles IR modules when one of their symbols is first looked
// up, and links the objects through the object linking layer. Compiles run
// on the session's dispatcher, so a pool compiles several at once.
type IRLayer struct {
	objects   *orc.ObjectLinkingLayer
	llvm      *LLVM
	compiler  Compiler
	transform Transform
}

// NewIRLayer returns a layer compiling with compiler (nil: llvm's llc); a
// nil transform leaves modules as they are.
func NewIRLayer(objects *orc.ObjectLinkingLayer, llvm *LLVM, compiler Compiler, transform Transform) *IRLayer {
	if compiler == nil {
		compiler = llvm.Compiler()
	}
	return &IRLayer{objects: objects, llvm: llvm, compiler: compiler, transform: transform}
}

// Add adds a module to rt's JITDylib: its definitions are defined there
// now, and compiled when first looked up.
func (l *IRLayer) Add(rt *orc.ResourceTracker, m Module) error {
	text, err := l.llvm.Text(context.Background(), m)
	if err != nil {
		return err
	}
	syms, err := Interface(text)
	if err != nil {
		return fmt.Errorf("%s: %w", m.Name, err)
	}
	u := &irUnit{l: l, m: Module{Name: m.Name, IR: text}, symbols: orc.SymbolFlagsMap{}}
	for _, s := range syms {
		if !s.Local {
			u.symbols[orc.Intern(s.Name)] = s.flags()
		}
	}
	if hasInitializers(text) {
		u.init = l.objects.NewInitSymbol(m.Name)
		u.symbols[u.init] = 0
	}
	return rt.JITDylib().DefineWithTracker(u, rt)
}

// flags are the ORC flags of an IR definition.
func (s IRSymbol) flags() orc.SymbolFlags {
	var f orc.SymbolFlags
	if !s.Local && !s.Hidden {
		f |= orc.Exported
	}
	if s.Function {
		f |= orc.Callable
	}
	if s.Weak {
		f |= orc.Weak
	}
	return f
}

// hasInitializers reports whether a module has static constructors or
// destructors.
func hasInitializers(ir []byte) bool {
	s := string(ir)
	return strings.Contains(s, "@llvm.global_ctors") || strings.Contains(s, "@llvm.global_dtors")
}

// compile transforms and compiles m.
func (l *IRLayer) compile(m Module) ([]byte, error) {
	if l.transform != nil {
		var err error
		if m, err = l.transform(m); err != nil {
			return nil, fmt.Errorf("transforming %s: %w", m.Name, err)
		}
	}
	obj, err := l.compiler.Compile(context.Background(), m.IR)
	if err != nil {
		return nil, fmt.Errorf("compiling %s: %w", m.Name, err)
	}
	return obj, nil
}

type irUnit struct {
	l       *IRLayer
	m       Module
	symbols orc.SymbolFlagsMap
	init    orc.Name
}

func (u *irUnit) Name() string                         { return u.m.Name }
func (u *irUnit) Symbols() orc.SymbolFlagsMap          { return u.symbols }
func (u *irUnit) InitSymbol() orc.Name                 { return u.init }
func (u *irUnit) Discard(jd *orc.JITDylib, n orc.Name) { delete(u.symbols, n) }

func (u *irUnit) Materialize(mr *orc.MaterializationResponsibility) {
	obj, err := u.l.compile(u.m)
	if err != nil {
		mr.FailMaterialization(err)
		return
	}
	u.l.objects.EmitObject(mr, u.m.Name+".o", obj)
}

// CLayer compiles C source with the C compiler and adds the objects to
// the object linking layer. It compiles when a source is added, not when
// it is looked up: a C file's definitions are known only from its object.
// Linking still waits for a lookup.
type CLayer struct {
	objects  *orc.ObjectLinkingLayer
	compiler Compiler
}

// NewCLayer returns a layer compiling with compiler (e.g. FindCC, maybe
// Cached).
func NewCLayer(objects *orc.ObjectLinkingLayer, compiler Compiler) *CLayer {
	return &CLayer{objects: objects, compiler: compiler}
}

// Add compiles src and adds the object to rt's JITDylib.
func (l *CLayer) Add(rt *orc.ResourceTracker, name string, src []byte) error {
	obj, err := l.Compile(name, src)
	if err != nil {
		return err
	}
	return l.objects.AddWithTracker(rt, name+".o", obj)
}

// Compile compiles src, checking that the result is an object.
func (l *CLayer) Compile(name string, src []byte) ([]byte, error) {
	obj, err := l.compiler.Compile(context.Background(), src)
	if err != nil {
		return nil, fmt.Errorf("compiling %s: %w", name, err)
	}
	if _, err := object.ReadInterface(name, obj); err != nil {
		return nil, err
	}
	return obj, nil
}
