package cli

import (
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	var libs, inputs, rest []string
	var entry, exec string
	var noexec bool
	table := []Option{
		{Names: []string{"l"}, Value: "NAME", Attached: true, Help: "a library", Set: Append(&libs)},
		{Names: []string{"entry", "e"}, Value: "NAME", Help: "the entry point", Set: String(&entry)},
		{Names: []string{"noexec"}, Help: "do not run", Set: Flag(&noexec)},
		{Names: []string{"exec"}, Value: "PATH", Optional: true, Help: "an executor", Set: func(v string) error {
			exec = v
			if v == "" {
				exec = "default"
			}
			return nil
		}},
		{Names: []string{"args"}, Value: "...", Rest: true, Help: "the rest", Set: func(v string) error { rest = append(rest, v); return nil }},
	}
	arg := func(a string) error { inputs = append(inputs, a); return nil }
	err := Parse(table, []string{"-lm", "-l", "z", "--entry=start", "a.o", "-noexec", "-exec", "b.o", "-args", "-x", "y"}, arg)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(libs, []string{"m", "z"}) || entry != "start" || !noexec || exec != "default" ||
		!slices.Equal(inputs, []string{"a.o", "b.o"}) || !slices.Equal(rest, []string{"-x", "y"}) {
		t.Fatalf("libs %v entry %q noexec %v exec %q inputs %v rest %v", libs, entry, noexec, exec, inputs, rest)
	}
	if err := Parse(table, []string{"-exec=/bin/x", "-e", "main2"}, arg); err != nil || exec != "/bin/x" || entry != "main2" {
		t.Fatalf("-exec=PATH, alias -e: %v, %q, %q", err, exec, entry)
	}
	for args, want := range map[string]string{
		"-entry":    "option -entry needs a value",
		"-noexec=1": "option -noexec takes no value",
		"-bogus":    "unknown option -bogus",
		"--bogus=3": "unknown option --bogus=3",
	} {
		if err := Parse(table, strings.Fields(args), arg); err == nil || err.Error() != want {
			t.Errorf("%q: %v, want %q", args, err, want)
		}
	}
	help := Usage(table)
	for _, want := range []string{"  -l NAME                 a library\n", "  -entry NAME             the entry point (also -e)\n", "  -exec[=PATH]"} {
		if !strings.Contains(help, want) {
			t.Errorf("usage lacks %q:\n%s", want, help)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]uint64{"4096": 4096, "512M": 512 << 20, "1t": 1 << 40, "64G": 64 << 30,
		"100Kb": 100 << 10, "1mb": 1 << 20, "0x1000": 0x1000, "0xab": 0xab} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "G", "1.5G", "-1", "99999999999T", "12X", "Kb"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) succeeded", in)
		}
	}
}
