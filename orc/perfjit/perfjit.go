// Package perfjit makes JIT'd code visible to Linux perf: a plugin for the
// object linking layer that writes a jitdump file (the format perf's
// "perf inject --jit" reads) recording the name, address and bytes of every
// function linked into this process.
//
// Profile with the clock perf's jitdump support expects:
//
//	perf record -k mono ./program
//	perf inject --jit -i perf.data -o perf.jit.data
//	perf report -i perf.jit.data
//
// The dump goes to $JITDUMPDIR/.debug/jit/gorc-jit-DATE-RANDOM/jit-PID.dump
// ($HOME when JITDUMPDIR is unset). Line tables (debug-info records) and
// unwind records are not written: perf shows symbols, not source lines.
package perfjit

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/orc"
)

// Record kinds and constants of the jitdump format (version 1).
const (
	magic        = 0x4A695444 // "JiTD" in the writer's byte order
	version      = 1
	headerSize   = 40
	recCodeLoad  = 0
	recCodeClose = 3
	emX86_64     = 62
)

// Plugin writes a jitdump record for each function the layer links. Add it
// with [orc.ObjectLinkingLayer.AddPlugin]; Close it when linking is done.
type Plugin struct {
	orc.PluginBase
	mu      sync.Mutex
	f       *os.File
	w       *bufio.Writer
	marker  []byte // the mapping perf record sees, naming the dump file
	pid     int
	index   uint64
	pending map[*orc.MaterializationResponsibility][]codeLoad
	err     error
}

type codeLoad struct {
	name string
	addr uint64
	code []byte
}

// New creates the dump file for this process.
func New() (*Plugin, error) {
	if err := osSupport(); err != nil {
		return nil, err
	}
	base := os.Getenv("JITDUMPDIR")
	if base == "" {
		base = os.Getenv("HOME")
	}
	if base == "" {
		return nil, fmt.Errorf("perfjit: neither JITDUMPDIR nor HOME is set")
	}
	parent := filepath.Join(base, ".debug", "jit")
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("perfjit: %w", err)
	}
	dir, err := os.MkdirTemp(parent, "gorc-jit-"+time.Now().Format("20060102")+"-")
	if err != nil {
		return nil, fmt.Errorf("perfjit: %w", err)
	}
	pid := os.Getpid()
	path := filepath.Join(dir, fmt.Sprintf("jit-%d.dump", pid))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("perfjit: %w", err)
	}
	p := &Plugin{f: f, w: bufio.NewWriter(f), pid: pid, pending: map[*orc.MaterializationResponsibility][]codeLoad{}}
	// perf finds the dump through an executable mapping of it in the
	// process's mmap events.
	p.marker, err = mapMarker(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("perfjit: mapping %s: %w", path, err)
	}
	var h [headerSize]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], magic)
	le.PutUint32(h[4:], version)
	le.PutUint32(h[8:], headerSize)
	le.PutUint32(h[12:], emX86_64)
	le.PutUint32(h[20:], uint32(pid))
	le.PutUint64(h[24:], timestamp())
	p.w.Write(h[:])
	return p, nil
}

// Path returns the dump file's path.
func (p *Plugin) Path() string { return p.f.Name() }

// ModifyPassConfig collects the graph's functions once their bytes are
// final.
func (p *Plugin) ModifyPassConfig(mr *orc.MaterializationResponsibility, g *jitlink.LinkGraph, cfg *jitlink.PassConfig) error {
	cfg.PostFixup = append(cfg.PostFixup, func(g *jitlink.LinkGraph) error {
		var loads []codeLoad
		for s := range g.DefinedSymbols() {
			b := s.Block()
			if !s.HasName() || !s.IsCallable() || s.Size() == 0 || b == nil || b.Section().Prot()&jitlink.ProtExec == 0 || b.IsZeroFill() {
				continue
			}
			end := s.Offset() + s.Size()
			if end > uint64(len(b.Content())) {
				continue
			}
			loads = append(loads, codeLoad{s.Name(), s.Address(), b.Content()[s.Offset():end:end]})
		}
		if len(loads) > 0 {
			p.mu.Lock()
			p.pending[mr] = loads
			p.mu.Unlock()
		}
		return nil
	})
	return nil
}

// NotifyEmitted writes the records of a successful link.
func (p *Plugin) NotifyEmitted(mr *orc.MaterializationResponsibility) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	loads := p.pending[mr]
	delete(p.pending, mr)
	if p.w == nil {
		return nil
	}
	tid := threadID()
	for _, l := range loads {
		p.writeCodeLoad(tid, l)
	}
	// Flush so that a program that crashes or never returns still leaves
	// a usable dump.
	if err := p.w.Flush(); err != nil && p.err == nil {
		p.err = err
	}
	return nil
}

// NotifyFailed forgets a failed link's functions.
func (p *Plugin) NotifyFailed(mr *orc.MaterializationResponsibility) error {
	p.mu.Lock()
	delete(p.pending, mr)
	p.mu.Unlock()
	return nil
}

func (p *Plugin) writeCodeLoad(tid int, l codeLoad) {
	const fixed = 16 + 4 + 4 + 8*4
	size := fixed + len(l.name) + 1 + len(l.code)
	var h [fixed]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], recCodeLoad)
	le.PutUint32(h[4:], uint32(size))
	le.PutUint64(h[8:], timestamp())
	le.PutUint32(h[16:], uint32(p.pid))
	le.PutUint32(h[20:], uint32(tid))
	le.PutUint64(h[24:], l.addr) // vma
	le.PutUint64(h[32:], l.addr) // code address
	le.PutUint64(h[40:], uint64(len(l.code)))
	le.PutUint64(h[48:], p.index)
	p.index++
	p.w.Write(h[:])
	p.w.WriteString(l.name)
	p.w.WriteByte(0)
	p.w.Write(l.code)
}

// Close writes the closing record and closes the file.
func (p *Plugin) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.w == nil {
		return p.err
	}
	var h [16]byte
	binary.LittleEndian.PutUint32(h[0:], recCodeClose)
	binary.LittleEndian.PutUint32(h[4:], 16)
	binary.LittleEndian.PutUint64(h[8:], timestamp())
	p.w.Write(h[:])
	err := p.w.Flush()
	p.w = nil
	if merr := unmapMarker(p.marker); err == nil {
		err = merr
	}
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	if p.err != nil {
		err = p.err
	}
	if err != nil {
		return fmt.Errorf("perfjit: writing %s: %w", p.f.Name(), err)
	}
	return nil
}
