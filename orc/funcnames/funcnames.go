// Package funcnames registers the names and ranges of linked functions
// with the executor's runtime, so that a crash report of JIT'd code names
// the function and offset ("pc 0x7f... in crash_here+0x4"), in process and
// in gorc-executor.
package funcnames

import (
	"encoding/binary"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/orc"
)

// The runtime's wrapper functions (internal/native/runtime.c).
const (
	RegisterFunction   = "gorc_register_function_names_wrapper"
	DeregisterFunction = "gorc_deregister_function_names_wrapper"
)

// Plugin adds, to each linked graph, allocation actions that register its
// named functions while its memory is live.
type Plugin struct {
	orc.PluginBase
	reg, dereg uint64
}

// New returns the plugin for an executor whose runtime offers the
// registration functions; ok is false if it does not (LLVM's executor).
func New(rt orc.RuntimeSymbols) (p *Plugin, ok bool, err error) {
	reg, ok1, err := orc.RuntimeFunction(rt, RegisterFunction)
	if err != nil {
		return nil, false, err
	}
	dereg, ok2, err := orc.RuntimeFunction(rt, DeregisterFunction)
	if err != nil || !ok1 || !ok2 {
		return nil, false, err
	}
	return &Plugin{reg: reg, dereg: dereg}, true, nil
}

// ModifyPassConfig adds the actions once the functions have addresses.
func (p *Plugin) ModifyPassConfig(_ *orc.MaterializationResponsibility, _ *jitlink.LinkGraph, cfg *jitlink.PassConfig) error {
	cfg.PostAllocation = append(cfg.PostAllocation, p.addActions)
	return nil
}

// addActions encodes (start, size, name length, name) for each named
// callable symbol. Deregistering needs only the starts: its entries have
// no names, so an executor process receives and keeps the names once.
func (p *Plugin) addActions(g *jitlink.LinkGraph) error {
	le := binary.LittleEndian
	var args, dereg []byte
	for s := range g.DefinedSymbols() {
		if !s.IsCallable() || s.Name() == "" {
			continue
		}
		size := s.Size()
		if b := s.Block(); size == 0 && b != nil {
			size = b.Size() - s.Offset() // assembly without .size: to the block's end
		}
		args = le.AppendUint64(args, s.Address())
		args = le.AppendUint64(args, size)
		dereg = append(dereg, args[len(args)-16:]...)
		dereg = le.AppendUint64(dereg, 0)
		args = le.AppendUint64(args, uint64(len(s.Name())))
		args = append(args, s.Name()...)
	}
	if len(args) == 0 {
		return nil
	}
	g.AllocActions = append(g.AllocActions, jitlink.AllocAction{
		Finalize: jitlink.WrapperCall{Fn: p.reg, Args: args},
		Dealloc:  jitlink.WrapperCall{Fn: p.dereg, Args: dereg},
	})
	return nil
}
