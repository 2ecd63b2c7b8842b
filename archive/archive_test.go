package archive

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/gorc-jit/gorc/internal/testutil"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const sqlitePath = "/usr/lib/x86_64-linux-gnu/libsqlite3.a"

// run runs a command in dir and returns its standard output.
func run(t testing.TB, dir string, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(testutil.NeedTool(t, name), args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.Bytes())
	}
	return out
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Sources of the test objects. dup is weak in both b.o and the long-named
// object, so the symbol table lists it twice.
var testSources = map[string]string{
	"a.c":                             "int foo(void) { return 1; }\nint bss_var;\n",
	"b.c":                             "int bar(void) { return 2; }\n__attribute__((weak)) int dup(void) { return 3; }\n",
	"averyveryverylongname_file.c":    "__attribute__((weak)) int dup(void) { return 4; }\nint long_fn(void) { return 5; }\n",
	"sub dir/with space.c":            "int spaced(void) { return 6; }\n",
	"exactly15chars.c":                "int fifteen(void) { return 8; }\n", // "exactly15chars.o/" overflows the name field
	"z_object_with_a_long_name_too.c": "int last(void) { return 9; }\n",
}

// compile compiles testSources in dir and returns the object paths (relative
// to dir) in a fixed order.
func compile(t testing.TB, dir string) []string {
	t.Helper()
	var objs []string
	for _, src := range slices.Sorted(maps.Keys(testSources)) {
		writeFile(t, filepath.Join(dir, src), []byte(testSources[src]))
		obj := strings.TrimSuffix(src, ".c") + ".o"
		run(t, dir, "gcc", "-c", "-o", obj, src)
		objs = append(objs, obj)
	}
	return objs
}

// armapEntry is one line of nm's "Archive index".
type armapEntry struct{ sym, member string }

// nmArmap returns the symbol table of the archive at path as GNU nm reads it.
func nmArmap(t testing.TB, path string) []armapEntry {
	t.Helper()
	out := run(t, filepath.Dir(path), "nm", "--print-armap", filepath.Base(path))
	_, index, ok := bytes.Cut(out, []byte("Archive index:\n"))
	if !ok {
		return nil
	}
	index, _, _ = bytes.Cut(index, []byte("\n\n"))
	var entries []armapEntry
	for line := range strings.Lines(string(index)) {
		sym, member, ok := strings.Cut(strings.TrimSuffix(line, "\n"), " in ")
		if !ok {
			t.Fatalf("unexpected nm line %q", line)
		}
		entries = append(entries, armapEntry{sym, member})
	}
	return entries
}

// symbolTable returns a's symbol table with member names.
func symbolTable(a *Archive) []armapEntry {
	var entries []armapEntry
	for sym, i := range a.Symbols() {
		entries = append(entries, armapEntry{sym, a.Members()[i].Name})
	}
	return entries
}

func memberNames(a *Archive) []string {
	var names []string
	for _, m := range a.Members() {
		names = append(names, m.Name)
	}
	return names
}

// checkLookup checks that each symbol resolves to the member named want.
func checkLookup(t *testing.T, a *Archive, want map[string]string) {
	t.Helper()
	for sym, member := range want {
		m, ok := a.Lookup(sym)
		switch {
		case member == "" && ok:
			t.Errorf("Lookup(%q) = %q, want not found", sym, m.Name)
		case member != "" && !ok:
			t.Errorf("Lookup(%q) not found, want %q", sym, member)
		case member != "" && m.Name != member:
			t.Errorf("Lookup(%q) = %q, want %q", sym, m.Name, member)
		}
		if i, iok := a.LookupIndex(sym); iok != ok || ok && a.Members()[i].Offset != m.Offset {
			t.Errorf("LookupIndex(%q) = %d, %v; Lookup found %q at %#x", sym, i, iok, m.Name, m.Offset)
		}
	}
}

var wantLookups = map[string]string{
	"foo":      "a.o",
	"bss_var":  "a.o",
	"bar":      "b.o",
	"dup":      "averyveryverylongname_file.o", // first in table order
	"long_fn":  "averyveryverylongname_file.o",
	"spaced":   "with space.o",
	"fifteen":  "exactly15chars.o",
	"last":     "z_object_with_a_long_name_too.o",
	"missing":  "",
	"":         "",
	"dup\x00x": "",
}

func TestGNUArchive(t *testing.T) {
	dir := t.TempDir()
	objs := compile(t, dir)
	// Data files cover odd, even and empty sizes and names that fill the
	// 16-byte field exactly ("fifteen_chars.x/") or just overflow it.
	files := map[string]string{
		"odd.txt":          "odd",
		"even.txt":         "even",
		"empty":            "",
		"fifteen_chars.x":  "15",
		"sixteen_chars.xy": "sixteen\n",
	}
	args := append([]string{"rcs", "lib.a"}, objs...)
	var wantNames []string
	for _, o := range objs {
		wantNames = append(wantNames, filepath.Base(o))
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		writeFile(t, filepath.Join(dir, name), []byte(files[name]))
		args = append(args, name)
		wantNames = append(wantNames, name)
	}
	run(t, dir, "ar", args...)

	path := filepath.Join(dir, "lib.a")
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name() != path {
		t.Errorf("Name() = %q, want %q", a.Name(), path)
	}
	if got := memberNames(a); !slices.Equal(got, wantNames) {
		t.Fatalf("members = %q, want %q", got, wantNames)
	}
	for i, m := range a.Members() {
		src := args[2+i]
		if want := readFile(t, filepath.Join(dir, src)); !bytes.Equal(m.Data, want) {
			t.Errorf("member %q: data differs from %s (%d vs %d bytes)", m.Name, src, len(m.Data), len(want))
		}
	}
	if !a.HasSymbolTable() {
		t.Fatal("HasSymbolTable() = false")
	}
	if got, want := symbolTable(a), nmArmap(t, path); !slices.Equal(got, want) {
		t.Errorf("symbol table:\n got %v\nwant %v", got, want)
	}
	checkLookup(t, a, wantLookups)
	if got, want := a.MemberName(a.Members()[0]), "lib.a(a.o)"; got != want {
		t.Errorf("MemberName = %q, want %q", got, want)
	}

	// Without a symbol table ('S'), lookups fail and members remain.
	run(t, dir, "ar", "rcS", "nosym.a", objs[0], objs[1])
	a, err = Open(filepath.Join(dir, "nosym.a"))
	if err != nil {
		t.Fatal(err)
	}
	if a.HasSymbolTable() {
		t.Error("nosym.a: HasSymbolTable() = true")
	}
	if m, ok := a.Lookup("foo"); ok {
		t.Errorf("nosym.a: Lookup(foo) = %q, want not found", m.Name)
	}
	if got := memberNames(a); !slices.Equal(got, []string{"a.o", "averyveryverylongname_file.o"}) {
		t.Errorf("nosym.a: members = %q", got)
	}
}

func TestThinArchive(t *testing.T) {
	dir := t.TempDir()
	objs := compile(t, filepath.Join(dir, "objs"))
	var args []string
	for _, o := range objs {
		args = append(args, filepath.Join("objs", o))
	}
	if err := os.Mkdir(filepath.Join(dir, "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, dir, "ar", append([]string{"rcsT", "lib/thin.a"}, args...)...)

	path := filepath.Join(dir, "lib", "thin.a")
	if _, err := Parse(path, readFile(t, path)); err == nil || !strings.Contains(err.Error(), "use Open") {
		t.Errorf("Parse(thin) error = %v, want one saying to use Open", err)
	}
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// Thin members are named by their paths relative to the archive.
	for i, m := range a.Members() {
		if want := "../objs/" + objs[i]; m.Name != want {
			t.Errorf("member %d = %q, want %q", i, m.Name, want)
		}
		if !bytes.Equal(m.Data, readFile(t, filepath.Join(dir, "objs", objs[i]))) {
			t.Errorf("member %q: data differs from the object file", m.Name)
		}
	}
	if !a.HasSymbolTable() {
		t.Fatal("HasSymbolTable() = false")
	}
	want := map[string]string{}
	for sym, member := range wantLookups {
		if member != "" {
			i := slices.IndexFunc(objs, func(o string) bool { return filepath.Base(o) == member })
			member = "../objs/" + objs[i]
		}
		want[sym] = member
	}
	checkLookup(t, a, want)

	// A regular archive added to a thin archive is referenced as nested.
	run(t, dir, "ar", "rc", "lib/plain.a", args[0], args[1])
	run(t, dir, "ar", "rcsT", "lib/nested.a", "lib/plain.a")
	a, err = Open(filepath.Join(dir, "lib", "nested.a"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := memberNames(a), []string{"plain.a(a.o)", "plain.a(averyveryverylongname_file.o)"}; !slices.Equal(got, want) {
		t.Fatalf("nested members = %q, want %q", got, want)
	}
	if !bytes.Equal(a.Members()[0].Data, readFile(t, filepath.Join(dir, args[0]))) {
		t.Error("nested member data differs from the object file")
	}
	checkLookup(t, a, map[string]string{"foo": "plain.a(a.o)", "long_fn": "plain.a(averyveryverylongname_file.o)", "bar": ""})

	// A missing member file is an error naming the archive and member.
	writeFile(t, filepath.Join(dir, "gone.o"), readFile(t, filepath.Join(dir, args[0])))
	run(t, dir, "ar", "rcsT", "gone.a", "gone.o")
	if err := os.Remove(filepath.Join(dir, "gone.o")); err != nil {
		t.Fatal(err)
	}
	_, err = Open(filepath.Join(dir, "gone.a"))
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), `gone.a: member "gone.o"`) {
		t.Errorf("Open with missing member: %v", err)
	}
}

// TestThinNotRegular checks that thin members must be regular files, so a
// hostile archive cannot make Open read a device or directory.
func TestThinNotRegular(t *testing.T) {
	for _, target := range []string{"/dev/zero", "/"} {
		data := []byte(thinMagic + member("//", target+"/\n") + hdr("/0", 1))
		path := filepath.Join(t.TempDir(), "thin.a")
		writeFile(t, path, data)
		if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("member %s: err = %v, want not a regular file", target, err)
		}
	}
}

// TestThinSharedFiles checks that a file referenced by several members, by
// whatever path, is read (and for nested archives parsed) once.
func TestThinSharedFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "x.o"), []byte("object"))
	writeFile(t, filepath.Join(dir, "n.a"), []byte(archiveMagic+member("in.o/", "inner")))
	var names strings.Builder
	var headers []string
	for _, p := range []string{"x.o", "./x.o", "sub/../x.o", filepath.Join(dir, "x.o"), "n.a:8", ".//n.a:8"} {
		p, nested, _ := strings.Cut(p, ":")
		ref := fmt.Sprintf("/%d", names.Len())
		if nested != "" {
			ref += ":" + nested
		}
		headers = append(headers, hdr(ref, 6))
		names.WriteString(p + "/\n")
	}
	path := filepath.Join(dir, "thin.a")
	writeFile(t, path, []byte(thinMagic+member("//", names.String())+strings.Join(headers, "")))
	a, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ms := a.Members()
	if len(ms) != 6 {
		t.Fatalf("%d members, want 6", len(ms))
	}
	for i, m := range ms {
		want := ms[0]
		if i >= 4 {
			want = ms[4]
		}
		if string(m.Data) != string(want.Data) || &m.Data[0] != &want.Data[0] {
			t.Errorf("member %q: data %q not shared with %q", m.Name, m.Data, want.Name)
		}
	}
	if ms[4].Name != "n.a(in.o)" || string(ms[4].Data) != "inner" {
		t.Errorf("nested member = %q, %q", ms[4].Name, ms[4].Data)
	}
}

// fixture describes a hand-made archive in testdata (see testdata/gen.go).
type fixture struct {
	file    string
	members []string
	data    []string
	symbols []armapEntry
}

var fixtureSymbols = []armapEntry{
	{"alpha", "short.o"},
	{"beta", "a_long_member_name_over_16.o"},
	{"delta", "padded.o"},
	{"dup", "short.o"},
	{"dup", "padded.o"},
}

var fixtures = []fixture{
	{
		file:    "bsd.a",
		members: []string{"short.o", "a_long_member_name_over_16.o", "padded.o"},
		data:    []string{"short member\n", "long member data", "x"},
		symbols: fixtureSymbols,
	},
	{
		file:    "darwin64.a",
		members: []string{"short.o", "a_long_member_name_over_16.o", "padded.o"},
		data:    []string{"short member\n", "long member data", "x"},
		symbols: fixtureSymbols,
	},
	{
		file:    "gnu64.a",
		members: []string{"short.o", "a_long_member_name_over_16.o", "padded.o"},
		data:    []string{"short member\n", "long member data", "x"},
		symbols: fixtureSymbols,
	},
	{
		file:    "thin.a",
		members: []string{"member.txt", "gnu64.a(padded.o)"},
		data:    []string{"thin member\n", "x"},
		symbols: []armapEntry{{"text", "member.txt"}, {"delta", "gnu64.a(padded.o)"}},
	},
}

func TestFixtures(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.file, func(t *testing.T) {
			path := filepath.Join("testdata", f.file)
			a, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := memberNames(a); !slices.Equal(got, f.members) {
				t.Errorf("members = %q, want %q", got, f.members)
			}
			for i, m := range a.Members() {
				if i < len(f.data) && string(m.Data) != f.data[i] {
					t.Errorf("member %q: data = %q, want %q", m.Name, m.Data, f.data[i])
				}
			}
			if !a.HasSymbolTable() {
				t.Error("HasSymbolTable() = false")
			}
			if got := symbolTable(a); !slices.Equal(got, f.symbols) {
				t.Errorf("symbols = %v, want %v", got, f.symbols)
			}
			for _, s := range f.symbols {
				if m, ok := a.Lookup(s.sym); !ok || m.Name != firstMember(f.symbols, s.sym) {
					t.Errorf("Lookup(%q) = %q, %v", s.sym, m.Name, ok)
				}
			}
			if got, want := a.MemberName(a.Members()[0]), f.file+"("+f.members[0]+")"; got != want {
				t.Errorf("MemberName = %q, want %q", got, want)
			}
		})
	}
}

func firstMember(entries []armapEntry, sym string) string {
	for _, e := range entries {
		if e.sym == sym {
			return e.member
		}
	}
	return ""
}

// TestNoCopy checks that member data aliases the input rather than being
// copied.
func TestNoCopy(t *testing.T) {
	for _, file := range []string{"bsd.a", "darwin64.a", "gnu64.a"} {
		data := readFile(t, filepath.Join("testdata", file))
		a, err := Parse(file, data)
		if err != nil {
			t.Fatal(err)
		}
		clear(data)
		for _, m := range a.Members() {
			if len(m.Data) == 0 || bytes.Count(m.Data, []byte{0}) != len(m.Data) {
				t.Errorf("%s: member %q data = %q: not aliasing the input", file, m.Name, m.Data)
			}
		}
	}
}

func TestEmptyArchive(t *testing.T) {
	a, err := Parse("empty.a", []byte(archiveMagic))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Members()) != 0 || a.HasSymbolTable() {
		t.Errorf("empty archive: %d members, symbol table %v", len(a.Members()), a.HasSymbolTable())
	}
	if _, ok := a.Lookup("x"); ok {
		t.Error("Lookup in empty archive succeeded")
	}
}

// TestLLVMFormats checks archives written by llvm-ar in the formats GNU ar
// cannot write.
func TestLLVMFormats(t *testing.T) {
	llvmAr := testutil.NeedTool(t, "llvm-ar", "llvm-ar-14")
	dir := t.TempDir()
	objs := compile(t, dir)
	for _, tc := range []struct {
		name, format string
		sym64        bool
	}{
		{"bsd", "bsd", false},
		{"darwin", "darwin", false},
		{"darwin64", "darwin", true},
		{"gnu", "gnu", false},
		{"gnu64", "gnu", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".a")
			cmd := exec.Command(llvmAr, append([]string{"rcs", "--format=" + tc.format, path}, objs...)...)
			cmd.Dir = dir
			if tc.sym64 {
				// llvm-ar's testing hook to force 64-bit symbol tables.
				cmd.Env = append(os.Environ(), "SYM64_THRESHOLD=0")
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("llvm-ar: %v\n%s", err, out)
			}
			if tc.sym64 && !bytes.Contains(readFile(t, path)[:100], []byte("64")) {
				t.Fatal("llvm-ar ignored SYM64_THRESHOLD: no 64-bit symbol table to test")
			}
			a, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			for i, m := range a.Members() {
				if !bytes.Equal(m.Data, readFile(t, filepath.Join(dir, objs[i]))) {
					t.Errorf("member %q: data differs from %s", m.Name, objs[i])
				}
			}
			checkLookup(t, a, wantLookups)
		})
	}
}

func TestSqlite(t *testing.T) {
	a, err := Open(testutil.NeedFile(t, sqlitePath))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(a.Members()); n < 80 || n > 150 {
		t.Errorf("%d members, want about 100", n)
	}
	for _, m := range a.Members() {
		if !bytes.HasPrefix(m.Data, []byte("\x7fELF")) {
			t.Errorf("member %s is not an ELF object", a.MemberName(m))
		}
	}
	m, ok := a.Lookup("sqlite3_open")
	if !ok || m.Name != "main.o" {
		t.Fatalf("Lookup(sqlite3_open) = %q, %v; want main.o", m.Name, ok)
	}
	if got, want := a.MemberName(m), "libsqlite3.a(main.o)"; got != want {
		t.Errorf("MemberName = %q, want %q", got, want)
	}
	if got, want := symbolTable(a), nmArmap(t, sqlitePath); !slices.Equal(got, want) {
		t.Errorf("symbol table differs from nm's: %d vs %d entries", len(got), len(want))
	}
	if err := a.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestOpenNotArchive checks that Open reports what is wrong with files it
// cannot map or parse.
func TestOpenNotArchive(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.a")
	writeFile(t, empty, nil)
	for _, path := range []string{empty, dir} {
		if a, err := Open(path); err == nil {
			a.Close()
			t.Errorf("Open(%s) succeeded", path)
		} else if !strings.Contains(err.Error(), path) {
			t.Errorf("Open(%s): error %q does not name the file", path, err)
		}
	}
}

func BenchmarkParseSqlite(b *testing.B) {
	data, err := os.ReadFile(testutil.NeedFile(b, sqlitePath))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(sqlitePath, data); err != nil {
			b.Fatal(err)
		}
	}
}
