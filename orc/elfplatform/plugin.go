package elfplatform

import (
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/ehframe"
	"github.com/gorc-jit/gorc/jitlink/elf"
	"github.com/gorc-jit/gorc/orc"
)

// plugin adds the platform's passes to every link.
type plugin struct {
	orc.PluginBase
	p *Platform
}

func (pl *plugin) ModifyPassConfig(mr *orc.MaterializationResponsibility, g *jitlink.LinkGraph, cfg *jitlink.PassConfig) error {
	p := pl.p
	if init := mr.InitSymbol(); !init.IsZero() {
		cfg.PrePrune = append(cfg.PrePrune, defineInitSymbol(init.String()))
	}
	// Unwinders walk a registered .eh_frame up to a zero terminator.
	cfg.PostPrune = append(cfg.PostPrune, ehframe.AddNullTerminator(".eh_frame"))
	var tls *tlsModule
	cfg.PostAllocation = append(cfg.PostAllocation, func(g *jitlink.LinkGraph) error {
		var err error
		tls, err = p.layoutTLS(g)
		return err
	}, p.addEHFrameActions)
	if g.Arch() == p.target.Triple().Arch {
		p.target.AddTLSPasses(cfg, p.staticTPOff)
	}
	cfg.PostFixup = append(cfg.PostFixup, func(g *jitlink.LinkGraph) error {
		if tls != nil {
			p.addTLSActions(g, tls)
		}
		p.recordInits(mr, g)
		return nil
	})
	return nil
}

// defineInitSymbol is a pre-prune pass that names the first initializer
// section's block name, so that looking the name up links the object (and
// keeps its initializers live).
func defineInitSymbol(name string) jitlink.Pass {
	return func(g *jitlink.LinkGraph) error {
		for _, sec := range g.Sections() {
			if elf.IsInitSection(sec.Name()) && len(sec.Blocks()) > 0 {
				g.AddDefinedSymbol(sec.Blocks()[0], 0, name, 0, jitlink.Strong, jitlink.ScopeHidden, jitlink.Live)
				return nil
			}
		}
		return nil
	}
}
