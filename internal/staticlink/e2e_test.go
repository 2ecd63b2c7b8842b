package staticlink_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/archive"
	"github.com/gorc-jit/gorc/internal/native"
	"github.com/gorc-jit/gorc/internal/staticlink"
	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/memory"
)

// The end-to-end tests link C programs with JITLink in a child process (the
// test binary re-run with GORC_STATICLINK_CHILD set), so that the JIT'd
// program's output, exit status and crashes are its own.

const childEnv = "GORC_STATICLINK_CHILD"

func TestMain(m *testing.M) { testutil.Main(m, map[string]func() int{childEnv: child}) }

// child links the objects and archives named in the environment and runs
// their main.
func child() int {
	split := func(k string) []string {
		if v := os.Getenv(k); v != "" {
			return strings.Split(v, "\n")
		}
		return nil
	}
	var objs []staticlink.Object
	for _, p := range split("GORC_OBJS") {
		data, err := os.ReadFile(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 125
		}
		objs = append(objs, staticlink.Object{Name: p, Data: data})
	}
	var archives []*archive.Archive
	for _, p := range split("GORC_ARCHIVES") {
		a, err := archive.Open(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 125
		}
		archives = append(archives, a)
	}
	var libs []*native.Library
	for _, p := range split("GORC_LIBS") {
		lib, err := native.Open(p, native.RTLDNow|native.RTLDGlobal)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 125
		}
		libs = append(libs, lib)
	}
	var mm jitlink.MemoryManager = memory.NewInProcess()
	if os.Getenv("GORC_LOW") != "" {
		mm = memory.NewInProcess(memory.Low2GB())
	}
	if os.Getenv("GORC_SLAB") != "" {
		slab, err := memory.NewSlab(256 << 20)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 125
		}
		mm = slab
	}
	res, err := staticlink.Link(objs, archives, staticlink.Options{
		Memory: mm,
		Resolve: func(name string) (uint64, bool) {
			for _, l := range libs {
				if a, ok := l.Lookup(name); ok {
					return a, true
				}
			}
			return native.LookupDefault(name)
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "gorc:", err)
		return 126
	}
	main, ok := res.Symbols["main"]
	if !ok {
		fmt.Fprintln(os.Stderr, "gorc: no main")
		return 126
	}
	args := append([]string{objs[0].Name}, split("GORC_ARGS")...)
	rc := native.CallMain(main, args)
	native.FlushStdio()
	return rc
}

type program struct {
	objs     []string
	archives []string
	libs     []string // shared libraries to dlopen in the JIT process
	ldflags  []string // for the native reference link
	env      []string
	args     []string
}

// jit links and runs the program in a child process.
func jit(t *testing.T, p program) testutil.Outcome {
	t.Helper()
	env := append([]string{childEnv + "=1",
		"GORC_OBJS=" + strings.Join(p.objs, "\n"),
		"GORC_ARCHIVES=" + strings.Join(p.archives, "\n"),
		"GORC_LIBS=" + strings.Join(p.libs, "\n"),
		"GORC_ARGS=" + strings.Join(p.args, "\n")}, p.env...)
	return testutil.Run(t, testutil.Child(env...))
}

// compare runs the program natively and under the JIT and requires the same
// output and exit status.
func compare(t *testing.T, dir string, p program) testutil.Outcome {
	t.Helper()
	want := testutil.Native(t, dir, p.objs, p.ldflags, p.args...)
	// argv[0] differs between the two runs; programs here do not print it.
	got := jit(t, p)
	if got.ExitCode == 126 || got.ExitCode == 125 {
		t.Fatalf("JIT link failed:\n%s", got.Stderr)
	}
	if got.Stdout != want.Stdout || got.ExitCode != want.ExitCode {
		t.Fatalf("JIT'd program differs from native:\n--- native (exit %d)\n%s\n--- jit (exit %d)\n%s\nstderr: %s",
			want.ExitCode, want.Stdout, got.ExitCode, got.Stdout, got.Stderr)
	}
	return got
}

const helloSrc = `#include <stdio.h>
int main(void) { printf("hello, world\n"); return 3; }
`

func TestHelloWorld(t *testing.T) {
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "hello.c", helloSrc)
	out := compare(t, dir, program{objs: []string{obj}})
	if out.Stdout != "hello, world\n" || out.ExitCode != 3 {
		t.Fatalf("got %q exit %d", out.Stdout, out.ExitCode)
	}
}

// A program over several objects: weak and strong definitions, common and
// static data, tables of function pointers, varargs and string literals.
// (Constructors are the platform layer's job and are tested there.)
var multiSrcs = map[string]string{
	"main.c": `#include <stdio.h>
#include <stdarg.h>
#include <string.h>
extern int counter;              /* common, defined in data.c */
extern int table_sum(void);
extern const char *greeting(void);
extern int weak_value(void);
extern long big_table[];
extern int apply(int op, int a, int b);
static int statics[4] = {1, 2, 3, 4};
static int sum(int n, ...) {
	va_list ap; va_start(ap, n);
	int s = 0;
	for (int i = 0; i < n; i++) s += va_arg(ap, int);
	va_end(ap);
	return s;
}
static double avg(int n, ...) {
	va_list ap; va_start(ap, n);
	double s = 0;
	for (int i = 0; i < n; i++) s += va_arg(ap, double);
	va_end(ap);
	return s / n;
}
int main(int argc, char **argv) {
	counter += 5;
	printf("%s, counter=%d\n", greeting(), counter);
	printf("table_sum=%d weak=%d\n", table_sum(), weak_value());
	printf("sum=%d avg=%.3f\n", sum(5, 1, 2, 3, 4, 5), avg(3, 1.5, 2.5, 3.25));
	for (int i = 0; i < 4; i++) printf("apply(%d)=%d ", i, apply(i, 12, 5));
	printf("\nbig=%ld %ld statics=%d\n", big_table[0], big_table[9999], statics[2]);
	char buf[64]; snprintf(buf, sizeof buf, "%s|%d|%x", "fmt", 42, 255);
	printf("%s len=%zu\n", buf, strlen(buf));
	return counter;
}
`,
	"data.c": `int counter;                     /* tentative: common with -fcommon */
static int hidden_state = 10;
long big_table[10000] = {7, [9999] = 9};
__attribute__((weak)) int weak_value(void) { return -1; }
int state(void) { return hidden_state++; }
`,
	"ops.c": `static int add(int a, int b) { return a + b; }
static int sub(int a, int b) { return a - b; }
static int mul(int a, int b) { return a * b; }
int state(void);
static int st(int a, int b) { return state() + a - b; }
static int (*const ops[])(int, int) = {add, sub, mul, st};
int apply(int op, int a, int b) { return ops[op](a, b); }
int table_sum(void) { int s = 0; for (int i = 0; i < 4; i++) s += ops[i](3, 2); return s; }
const char *greeting(void) { static const char *g[] = {"hello", "multi-object"}; return g[1]; }
`,
	"strong.c": `int weak_value(void) { return 77; }
`,
}

func compileMulti(t *testing.T, dir string, flags ...string) []string {
	var objs []string
	for _, name := range []string{"main.c", "data.c", "ops.c", "strong.c"} {
		objs = append(objs, testutil.Compile(t, dir, name, multiSrcs[name], append([]string{"-fcommon"}, flags...)...))
	}
	return objs
}

func TestMultiObject(t *testing.T) {
	for _, tc := range []struct {
		name    string
		flags   []string
		env     []string
		ldflags []string
	}{
		{"O0", []string{"-O0"}, nil, nil},
		{"O2", []string{"-O2"}, nil, nil},
		{"O2-fPIC", []string{"-O2", "-fPIC"}, nil, nil},
		{"O0-fPIC", []string{"-O0", "-fPIC"}, nil, nil},
		{"O2-nopic", []string{"-O2", "-fno-pic", "-fno-pie"}, []string{"GORC_LOW=1"}, []string{"-no-pie"}},
		{"O2-large", []string{"-O2", "-mcmodel=large"}, nil, nil},
		{"O2-large-fPIC", []string{"-O2", "-mcmodel=large", "-fPIC"}, nil, nil},
		{"O2-medium-fPIC", []string{"-O2", "-mcmodel=medium", "-fPIC"}, nil, nil},
		{"O2-slab", []string{"-O2", "-fPIC"}, []string{"GORC_SLAB=1"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			objs := compileMulti(t, dir, tc.flags...)
			compare(t, dir, program{objs: objs, env: tc.env, ldflags: tc.ldflags})
		})
	}
}

const sqliteMain = `#include <stdio.h>
#include <sqlite3.h>
static int row(void *arg, int n, char **vals, char **cols) {
	for (int i = 0; i < n; i++) printf("%s=%s%s", cols[i], vals[i] ? vals[i] : "NULL", i + 1 < n ? " " : "\n");
	return 0;
}
int main(void) {
	sqlite3 *db;
	char *err = 0;
	if (sqlite3_open(":memory:", &db) != SQLITE_OK) { printf("open failed\n"); return 1; }
	const char *sql =
		"CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, score REAL);"
		"INSERT INTO t(name, score) VALUES ('ada', 91.5), ('bob', 78.25), ('cy', NULL);"
		"SELECT id, name, score FROM t ORDER BY id;"
		"SELECT count(*) AS n, round(avg(score), 3) AS avg, group_concat(name, '+') AS names FROM t;"
		"SELECT printf('%08.3f', 3.14159) AS p, upper('mixed Case') AS u, length(zeroblob(1000)) AS z;"
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x*2 FROM c WHERE x < 1000) SELECT sum(x) AS s FROM c;";
	if (sqlite3_exec(db, sql, row, 0, &err) != SQLITE_OK) { printf("error: %s\n", err); return 2; }
	printf("version %s\n", sqlite3_libversion());
	sqlite3_close(db);
	return 0;
}
`

func TestSqliteArchive(t *testing.T) {
	lib := testutil.NeedFile(t, "/usr/lib/x86_64-linux-gnu/libsqlite3.a")
	testutil.NeedFile(t, "/usr/include/sqlite3.h")
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "main.c", sqliteMain, "-O2")
	// The archive's own dependencies come from the process and libm.
	p := program{
		objs:     []string{obj},
		archives: []string{lib},
		libs:     []string{"libm.so.6"},
		ldflags:  []string{lib, "-lm"},
	}
	out := compare(t, dir, p)
	if !strings.Contains(out.Stdout, "name=ada") {
		t.Fatalf("unexpected output:\n%s", out.Stdout)
	}
}

func TestUndefinedSymbolFails(t *testing.T) {
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "u.c", `int missing_fn(int); int main(void) { return missing_fn(1); }`)
	got := jit(t, program{objs: []string{obj}})
	if got.ExitCode != 126 || !strings.Contains(got.Stderr, "undefined symbol: missing_fn") ||
		!strings.Contains(got.Stderr, filepath.Base(obj)) {
		t.Fatalf("want an undefined-symbol error naming the object, got exit %d:\n%s", got.ExitCode, got.Stderr)
	}
}
