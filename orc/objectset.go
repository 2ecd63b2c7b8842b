package orc

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/object"
)

// Object is a relocatable object to add to a JITDylib.
type Object struct {
	Name string
	Data []byte
	// Interface is the object's interface if the caller has read it
	// already (object.ReadInterface), else nil.
	Interface *jitlink.Interface
}

// ObjectSetLayer is an ObjectLayer that can also add several objects as
// one unit, linked together (ObjectLinkingLayer).
type ObjectSetLayer interface {
	ObjectLayer
	AddObjects(rt *ResourceTracker, name string, objs []Object) error
}

// AddObjects adds objects owned by rt as one unit named name: looking up
// any of their symbols links them all, as one graph (jitlink.MergeGraphs),
// with one allocation, one lookup of their externals and one finalization.
// A static library generator adds the archive members one lookup needs
// this way; their interfaces combine as if they were added one by one
// (strong beats weak, the first weak definition wins) except that two
// strong definitions are an error naming both objects.
//
// An object stays a unit of its own, as Add would make it, when it has
// thread-local data (a linked graph is one TLS module), or for all objects
// when a plugin must see each object's bytes (an ObjectPlugin, such as a
// debugger's).
func (l *ObjectLinkingLayer) AddObjects(rt *ResourceTracker, name string, objs []Object) error {
	perObject := false
	for _, p := range l.pluginList() {
		if _, ok := p.(ObjectPlugin); ok {
			perObject = true
		}
	}
	epc := l.es.ExecutorProcessControl()
	var set []Object
	for _, o := range objs {
		if o.Interface == nil {
			iface, err := object.ReadInterface(o.Name, o.Data)
			if err != nil {
				return err
			}
			o.Interface = iface
		}
		if perObject || o.Interface.HasTLS {
			if err := l.AddWithInterface(rt, o.Name, o.Data, InterfaceFlags(o.Interface), o.Interface.HasInitializers); err != nil {
				return err
			}
			continue
		}
		if epc != nil {
			if err := object.CheckArch(o.Name, o.Data, epc.TargetTriple()); err != nil {
				return err
			}
		}
		set = append(set, o)
	}
	switch len(set) {
	case 0:
		return nil
	case 1:
		o := set[0]
		return l.AddWithInterface(rt, o.Name, o.Data, InterfaceFlags(o.Interface), o.Interface.HasInitializers)
	}
	flags, inits, err := setInterface(set)
	if err != nil {
		return err
	}
	u := &setUnit{linkedUnit: l.newLinkedUnit(name, flags, inits), objs: set}
	err = rt.jd.DefineWithTracker(u, rt)
	if de := (*DuplicateDefinitionError)(nil); errors.As(err, &de) {
		if i := owner(set, de.Name.String()); i >= 0 {
			return fmt.Errorf("%s: %w", set[i].Name, err) // which member
		}
	}
	return err
}

// setInterface combines the objects' interfaces as JITDylib.Define would
// if they were added one by one, and as jitlink.MergeGraphs resolves their
// definitions.
func setInterface(objs []Object) (flags SymbolFlagsMap, inits bool, err error) {
	n := 0
	for _, o := range objs {
		n += len(o.Interface.Symbols)
	}
	flags = make(SymbolFlagsMap, n+1)
	for i, o := range objs {
		inits = inits || o.Interface.HasInitializers
		for _, s := range o.Interface.Symbols {
			name := Intern(s.Name)
			f := interfaceFlags(s)
			old, ok := flags[name]
			switch {
			case !ok, old&Weak != 0 && f&Weak == 0:
				flags[name] = f
			case old&Weak == 0 && f&Weak == 0:
				return nil, false, &jitlink.DuplicateSymbolError{Name: s.Name, First: objs[owner(objs[:i], s.Name)].Name, Second: o.Name}
			}
		}
	}
	return flags, inits, nil
}

// owner returns the index of the object whose definition of name wins
// (the first strong one, else the first), or -1. Only errors need it, so
// it is searched for rather than kept for every name.
func owner(objs []Object, name string) int {
	first := -1
	for i, o := range objs {
		for _, s := range o.Interface.Symbols {
			if s.Name != name {
				continue
			}
			if s.Linkage != jitlink.Weak {
				return i
			}
			if first < 0 {
				first = i
			}
		}
	}
	return first
}

// setUnit is a set of objects added with AddObjects and not yet linked.
type setUnit struct {
	linkedUnit
	objs []Object
}

func (u *setUnit) Materialize(mr *MaterializationResponsibility) {
	start := time.Now()
	// The graphs hold what the link needs of the objects: their
	// interfaces (and what reading them decoded) go as each is built.
	objs := u.objs
	u.objs = nil
	graphs, err := buildGraphs(objs)
	if err != nil {
		mr.FailMaterialization(err)
		return
	}
	built := time.Now()
	g, err := jitlink.MergeGraphs(u.name, graphs)
	if err != nil {
		mr.FailMaterialization(err)
		return
	}
	u.layer.mu.Lock()
	timer := u.layer.timer
	u.layer.mu.Unlock()
	if timer != nil {
		timer(g, "build graphs", built.Sub(start))
		timer(g, "merge graphs", time.Since(built))
	}
	u.layer.Emit(mr, g)
}

// buildGraphs builds the objects' graphs (in parallel: building is
// independent per object and most of a large set's cost), each from what
// reading its interface decoded, and clears objs[i] once its graph is
// built. The first failure in object order is returned.
func buildGraphs(objs []Object) ([]*jitlink.LinkGraph, error) {
	graphs := make([]*jitlink.LinkGraph, len(objs))
	errs := make([]error, len(objs))
	forEach(len(objs), func(i int) {
		graphs[i], errs[i] = object.NewLinkGraphWith(objs[i].Name, objs[i].Data, objs[i].Interface)
		objs[i] = Object{}
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return graphs, nil
}

// forEach calls f(0) ... f(n-1), on as many goroutines as may run at once
// when there is enough work to pay for them.
func forEach(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n/4)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		})
	}
	wg.Wait()
}
