// Package cli parses the command lines of gorc's tools from one table of
// options: each option's names, value, help and action are written once,
// and the parser and -help's text both come from the table.
package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Option is one command-line option.
type Option struct {
	// Names are the option's names without the dash; the first is the one
	// -help shows, the rest are aliases.
	Names []string
	// Value names the option's value in -help; "" for an option that
	// takes none.
	Value string
	// Optional: the value may be left out, and is given only as
	// -name=value (Set gets "" without one).
	Optional bool
	// Attached: the value may follow a one-letter name directly (-lm).
	Attached bool
	// Rest: the option takes the rest of the command line; Set gets each
	// argument that follows.
	Rest bool
	Help string
	// Set does what the option says, with its value.
	Set func(value string) error
}

// Parse reads args: options as the table says (-name value, -name=value,
// one or two dashes) and, through arg, every other argument in order.
// Errors name the option.
func Parse(table []Option, args []string, arg func(string) error) error {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") || a == "-" {
			if err := arg(a); err != nil {
				return err
			}
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		opt := find(table, name)
		if opt == nil && !hasValue && len(name) > 1 {
			if short := find(table, name[:1]); short != nil && short.Attached {
				opt, value, hasValue = short, name[1:], true
			}
		}
		switch {
		case opt == nil:
			return fmt.Errorf("unknown option %s", a)
		case opt.Rest:
			for _, r := range args[i+1:] {
				if err := opt.Set(r); err != nil {
					return err
				}
			}
			return nil
		case opt.Value == "" && hasValue:
			return fmt.Errorf("option -%s takes no value", name)
		case opt.Value != "" && !opt.Optional && !hasValue:
			if i+1 == len(args) {
				return fmt.Errorf("option -%s needs a value", name)
			}
			i++
			value = args[i]
		}
		if err := opt.Set(value); err != nil {
			if opt.Value == "" {
				return fmt.Errorf("-%s: %w", name, err)
			}
			return fmt.Errorf("-%s %q: %w", name, value, err)
		}
	}
	return nil
}

func find(table []Option, name string) *Option {
	for i := range table {
		for _, n := range table[i].Names {
			if n == name {
				return &table[i]
			}
		}
	}
	return nil
}

// Usage formats the table for -help: one entry an option, its help
// wrapped at 80 columns from column 26.
func Usage(table []Option) string {
	const col, width = 26, 80
	var b strings.Builder
	for _, opt := range table {
		head := "  -" + opt.Names[0]
		switch {
		case opt.Optional:
			head += "[=" + opt.Value + "]"
		case opt.Value != "":
			head += " " + opt.Value
		}
		help := opt.Help
		if len(opt.Names) > 1 {
			help += " (also -" + strings.Join(opt.Names[1:], ", -") + ")"
		}
		if len(head) >= col-1 {
			b.WriteString(head + "\n")
			head = ""
		}
		line := head + strings.Repeat(" ", col-len(head))
		for _, w := range strings.Fields(help) {
			if len(line) > col && len(line)+1+len(w) > width {
				b.WriteString(line + "\n")
				line = strings.Repeat(" ", col)
			}
			if len(line) > col {
				line += " "
			}
			line += w
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// Flag is the action of an option without a value: it sets *p.
func Flag(p *bool) func(string) error {
	return func(string) error { *p = true; return nil }
}

// String is the action of an option whose value is any string: it sets *p.
func String(p *string) func(string) error {
	return func(v string) error { *p = v; return nil }
}

// Append is the action of an option that may be repeated: it adds the
// value to *p.
func Append(p *[]string) func(string) error {
	return func(v string) error { *p = append(*p, v); return nil }
}

// ParseSize reads a byte count: a number (decimal, or 0x hexadecimal) with
// an optional binary suffix K, M, G or T, upper or lower case, optionally
// followed by b or B (llvm-jitlink's "100Kb").
func ParseSize(s string) (uint64, error) {
	num := s
	if n := len(num); n >= 2 && num[n-1]|0x20 == 'b' && strings.IndexByte("kmgt", num[n-2]|0x20) >= 0 {
		num = num[:n-1]
	}
	shift := 0
	if n := len(num); n > 0 {
		if i := strings.IndexByte("kmgt", num[n-1]|0x20); i >= 0 {
			shift, num = 10*(i+1), num[:n-1]
		}
	}
	n, err := strconv.ParseUint(num, 0, 64)
	if err != nil {
		return 0, errors.New("bad size")
	}
	if n > (1<<64-1)>>shift {
		return 0, errors.New("too large")
	}
	return n << shift, nil
}
