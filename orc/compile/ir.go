package compile

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Module is an LLVM IR module: text (.ll) or bitcode (.bc).
type Module struct {
	Name string
	IR   []byte
}

// IsBitcode reports whether the module is bitcode rather than text.
func (m Module) IsBitcode() bool {
	return bytes.HasPrefix(m.IR, []byte("BC\xc0\xde")) || bytes.HasPrefix(m.IR, []byte{0xde, 0xc0, 0x17, 0x0b})
}

// Text returns the module as IR text, disassembling bitcode with
// llvm-dis.
func (l *LLVM) Text(ctx context.Context, m Module) ([]byte, error) {
	if !m.IsBitcode() {
		return m.IR, nil
	}
	return l.run(ctx, m.IR, l.Dis, "-o", "-", "-")
}

// ExtractFunction returns a module holding only the definition of fn, with
// everything it uses declared (llvm-extract makes internal symbols hidden,
// so partitions of one module link against each other).
func (l *LLVM) ExtractFunction(ctx context.Context, ir []byte, fn string) ([]byte, error) {
	return l.run(ctx, ir, l.Extract, "-func="+fn, "-S", "-o", "-", "-")
}

// ExtractGlobals returns a module holding the module's global variables
// and aliases, with the functions they refer to declared.
func (l *LLVM) ExtractGlobals(ctx context.Context, ir []byte) ([]byte, error) {
	args := []string{"--rglob=.*", "-S", "-o", "-", "-"}
	if hasAliases(ir) {
		// llvm-extract fails on a pattern that matches nothing.
		args = append(args, "--ralias=.*")
	}
	return l.run(ctx, ir, l.Extract, args...)
}

// hasAliases reports whether IR text (or, conservatively, bitcode) may
// define an alias.
func hasAliases(ir []byte) bool {
	if (Module{IR: ir}).IsBitcode() {
		return true
	}
	for _, line := range strings.Split(string(ir), "\n") {
		if strings.HasPrefix(line, "@") && strings.Contains(line, " alias ") {
			return true
		}
	}
	return false
}

func (l *LLVM) run(ctx context.Context, in []byte, tool string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %s", tool, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// IRSymbol is a definition in an IR module.
type IRSymbol struct {
	Name     string
	Function bool
	Local    bool // internal or private linkage
	Hidden   bool // hidden or protected visibility
	Weak     bool // weak, linkonce or common linkage
}

// Linkage and visibility keywords that may precede a definition's type.
var (
	localLinkage = map[string]bool{"internal": true, "private": true}
	weakLinkage  = map[string]bool{"weak": true, "weak_odr": true, "linkonce": true, "linkonce_odr": true, "common": true}
	notDefined   = map[string]bool{"external": true, "extern_weak": true, "available_externally": true}
)

// Interface lists the functions and global variables an IR text module
// defines (not those it only declares), in order.
func Interface(ir []byte) ([]IRSymbol, error) {
	var syms []IRSymbol
	for i, line := range strings.Split(string(ir), "\n") {
		switch {
		case strings.HasPrefix(line, "define "):
			at := strings.Index(line, "@")
			if at < 0 {
				return nil, fmt.Errorf("IR line %d: function definition without a name", i+1)
			}
			name, ok := identifier(line[at+1:])
			if !ok {
				return nil, fmt.Errorf("IR line %d: bad function name", i+1)
			}
			s := IRSymbol{Name: name, Function: true}
			s.classify(strings.Fields(line[len("define "):at]))
			if !s.skip() {
				syms = append(syms, s)
			}
		case strings.HasPrefix(line, "@"):
			name, ok := identifier(line[1:])
			if !ok {
				return nil, fmt.Errorf("IR line %d: bad global name", i+1)
			}
			if strings.HasPrefix(name, "llvm.") {
				continue // llvm.global_ctors, llvm.used...: read by llc, never symbols
			}
			rest := line[1:]
			eq := strings.Index(rest, "=")
			if eq < 0 {
				continue
			}
			words := strings.Fields(rest[eq+1:])
			s := IRSymbol{Name: name}
			s.classify(words)
			if s.skip() {
				continue
			}
			kind := ""
			for _, w := range words {
				if w == "global" || w == "constant" || w == "alias" || w == "ifunc" {
					kind = w
					break
				}
			}
			if kind == "" {
				continue
			}
			if kind == "ifunc" {
				s.Function = true
			}
			syms = append(syms, s)
		}
	}
	return syms, nil
}

// notDefinition marks a declaration ("external" linkage).
const notDefinition = "\x00"

func (s *IRSymbol) classify(words []string) {
	for _, w := range words {
		switch {
		case localLinkage[w]:
			s.Local = true
		case weakLinkage[w]:
			s.Weak = true
		case w == "hidden" || w == "protected":
			s.Hidden = true
		case notDefined[w]:
			s.Name = notDefinition
		}
	}
}

func (s *IRSymbol) skip() bool { return s.Name == notDefinition }

// identifier reads an IR identifier after its sigil: a run of
// [-a-zA-Z$._0-9], or a quoted name.
func identifier(s string) (string, bool) {
	if strings.HasPrefix(s, "\"") {
		end := strings.Index(s[1:], "\"")
		if end < 0 {
			return "", false
		}
		return s[1 : 1+end], true
	}
	n := 0
	for n < len(s) {
		c := s[n]
		if c == '-' || c == '$' || c == '.' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			n++
			continue
		}
		break
	}
	return s[:n], n > 0
}

// Calls returns the names of the functions an IR module calls directly
// ("call ... @name(" and "invoke ... @name("), for speculation.
func Calls(ir []byte) []string {
	seen := map[string]bool{}
	var out []string
	for _, line := range strings.Split(string(ir), "\n") {
		t := strings.TrimSpace(line)
		if !strings.Contains(t, "call ") && !strings.Contains(t, "invoke ") {
			continue
		}
		for i := 0; i < len(t); i++ {
			if t[i] != '@' {
				continue
			}
			name, ok := identifier(t[i+1:])
			end := i + 1 + len(name)
			if strings.HasPrefix(t[i+1:], "\"") {
				end += 2
			}
			if ok && end < len(t) && t[end] == '(' && !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	return out
}
