package archive

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "*.a"))
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range seeds {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(archiveMagic))
	f.Add([]byte(archiveMagic + member("//", "long_member_name.o/\n") + member("/0", "x") + member("#1/4", "b.o\x00yz")))

	// Thin archives are parsed as Open would, with every member file
	// holding this small regular archive, so nested references resolve.
	nested := []byte(archiveMagic + member("a.o/", "hi") + member("b.o/", "xyz"))
	load := func(string) ([]byte, error) { return nested, nil }

	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := parse("fuzz.a", data, load)
		// Parse differs only in refusing thin archives.
		if _, perr := Parse("fuzz.a", data); (perr == nil) != (err == nil) && !bytes.HasPrefix(data, []byte(thinMagic)) {
			t.Fatalf("Parse error %v, but parse error %v", perr, err)
		}
		if err != nil {
			if fe := (*FormatError)(nil); !errors.As(err, &fe) {
				t.Fatalf("error is not a *FormatError: %v", err)
			}
			return
		}
		members := a.Members()
		for i, m := range members {
			if i > 0 && m.Offset <= members[i-1].Offset {
				t.Fatalf("member %d offset %#x not increasing", i, m.Offset)
			}
			if m.Name == "" || a.MemberName(m) == "" {
				t.Fatalf("member %d has no name", i)
			}
		}
		if !a.HasSymbolTable() {
			for range a.Symbols() {
				t.Fatal("symbols without a symbol table")
			}
		}
		first := map[string]int{}
		for sym, i := range a.Symbols() {
			if i < 0 || i >= len(members) {
				t.Fatalf("symbol %q: member index %d out of range", sym, i)
			}
			if _, ok := first[sym]; !ok {
				first[sym] = i
			}
		}
		for sym, i := range first {
			// Table order, not archive order, decides between definitions.
			if m, ok := a.Lookup(sym); !ok || m.Offset != members[i].Offset {
				t.Fatalf("Lookup(%q) = %q, %v; want the first definition in the table, %q", sym, m.Name, ok, members[i].Name)
			}
		}
	})
}
