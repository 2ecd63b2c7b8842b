package jitlinktool_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
)

// tool is the gorc-jitlink binary, built once for the tests, with
// executor (gorc-executor) beside it.
var tool, executor string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "gorc-jitlink-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tool = filepath.Join(dir, "gorc-jitlink")
	executor = filepath.Join(dir, "gorc-executor")
	for bin, pkg := range map[string]string{tool: "cmd/gorc-jitlink", executor: "cmd/gorc-executor"} {
		build := exec.Command("go", "build", "-o", bin, "github.com/gorc-jit/gorc/"+pkg)
		if out, err := build.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n%s", pkg, err, out)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// jit runs gorc-jitlink with the given arguments.
func jit(t *testing.T, args ...string) testutil.Outcome {
	t.Helper()
	return testutil.Run(t, exec.Command(tool, args...))
}

// same runs a program natively and under gorc-jitlink and requires the same
// output and exit status. objs are linked natively with ldflags and given
// to the tool with toolArgs (libraries); args go to the program.
func same(t *testing.T, dir string, objs, ldflags, toolArgs, args []string) testutil.Outcome {
	t.Helper()
	want := testutil.Native(t, dir, objs, ldflags, args...)
	cmd := append(append(append([]string{}, toolArgs...), objs...), "-args")
	got := jit(t, append(cmd, args...)...)
	// argv[0] differs: the native program's path vs the first object.
	if got.Stdout != want.Stdout || got.ExitCode != want.ExitCode {
		t.Fatalf("gorc-jitlink %s differs from native:\n--- native (exit %d)\n%s--- gorc-jitlink (exit %d)\n%s--- stderr\n%s",
			strings.Join(cmd, " "), want.ExitCode, want.Stdout, got.ExitCode, got.Stdout, got.Stderr)
	}
	return got
}

const initFiniSrc = `#include <stdio.h>
#include <stdlib.h>
static void init_array_plain(void) { puts("init_array"); }
static void init_array_101(void) { puts("init_array.101"); }
static void init_array_65000(void) { puts("init_array.65000"); }
static void ctors_a(void) { puts("ctors a"); }
static void ctors_b(void) { puts("ctors b"); }
static void fini_array_plain(void) { puts("fini_array"); }
static void fini_array_200(void) { puts("fini_array.200"); }
__attribute__((section(".init_array"), used)) static void (*ia)(void) = init_array_plain;
__attribute__((section(".init_array.00101"), used)) static void (*ia101)(void) = init_array_101;
__attribute__((section(".init_array.65000"), used)) static void (*ia65000)(void) = init_array_65000;
__attribute__((section(".ctors"), used)) static void (*c[])(void) = {ctors_a, ctors_b};
__attribute__((section(".fini_array"), used)) static void (*fa)(void) = fini_array_plain;
__attribute__((section(".fini_array.00200"), used)) static void (*fa200)(void) = fini_array_200;
__attribute__((constructor(150))) static void ctor150(void) { puts("constructor 150"); }
__attribute__((constructor)) static void ctor(void) { puts("constructor"); }
__attribute__((destructor(150))) static void dtor150(void) { puts("destructor 150"); }
__attribute__((destructor)) static void dtor(void) { puts("destructor"); }
static void handler1(void) { puts("atexit 1"); }
static void handler2(void) { puts("atexit 2"); }
int main(int argc, char **argv) {
	atexit(handler1);
	atexit(handler2);
	printf("main argc=%d", argc);
	for (int i = 1; i < argc; i++) printf(" [%s]", argv[i]);
	printf("\n");
	if (argc > 2) exit(7); /* exit from inside main: handlers still run */
	return 5;
}
`

// Initializers and finalizers run in the order of a static link and the
// dynamic loader; exit handlers run before finalizers; exit status and
// arguments reach the program. (Raw .dtors arrays are left out: a modern
// static link turns them into a .fini_array the dynamic loader crashes on.)
func TestInitFiniOrder(t *testing.T) {
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "initfini.c", initFiniSrc, "-O1")
	same(t, dir, []string{obj}, nil, nil, []string{"one"})
	same(t, dir, []string{obj}, nil, nil, []string{"one", "two words"})
	// Out of process the executor ends as the native program does, through
	// exit(main's status) there (returning from main and exiting in it).
	oop := []string{"-oop-executor=" + executor}
	same(t, dir, []string{obj}, nil, oop, []string{"one"})
	same(t, dir, []string{obj}, nil, oop, []string{"one", "two words"})
	same(t, dir, []string{obj}, nil, append(oop, "-use-shared-memory=false"), []string{"one"})
}

const multiMain = `#include <stdio.h>
#include <string.h>
extern int counter;
int apply(int, int, int);
const char *name(void);
int main(int argc, char **argv) {
	counter += argc;
	printf("%s %d %d %d\n", name(), apply(0, 3, 4), apply(1, 3, 4), counter);
	return strlen(name());
}
`
const multiLib = `int counter = 10;
static int add(int a, int b) { return a + b; }
static int mul(int a, int b) { return a * b; }
static int (*const ops[])(int, int) = {add, mul};
int apply(int op, int a, int b) { return ops[op](a, b); }
__attribute__((weak)) const char *name(void) { return "weak"; }
`
const multiStrong = `const char *name(void) { return "strong"; }
`

func TestMultiObjectAndArchive(t *testing.T) {
	ar := testutil.NeedTool(t, "ar")
	for _, flags := range [][]string{{"-O0"}, {"-O2", "-fPIC"}, {"-O2", "-mcmodel=large"}, {"-O2", "-fno-pic", "-fno-pie"}} {
		t.Run(strings.Join(flags, ""), func(t *testing.T) {
			dir := t.TempDir()
			main := testutil.Compile(t, dir, "main.c", multiMain, flags...)
			lib := testutil.Compile(t, dir, "lib.c", multiLib, flags...)
			strong := testutil.Compile(t, dir, "strong.c", multiStrong, flags...)
			var ldflags []string
			if slices.Contains(flags, "-fno-pie") {
				// Absolute 32-bit addresses: the tool puts memory below
				// 2 GiB, as -no-pie does the program.
				ldflags = []string{"-no-pie"}
			}
			same(t, dir, []string{main, lib, strong}, ldflags, nil, []string{"x", "y"})
			// The same library as an archive, found with -L and -l.
			if out, err := exec.Command(ar, "rcs", filepath.Join(dir, "libmulti.a"), lib).CombinedOutput(); err != nil {
				t.Fatalf("ar: %v %s", err, out)
			}
			want := testutil.Native(t, dir, []string{main}, append([]string{"-L" + dir, "-lmulti"}, ldflags...))
			got := jit(t, main, "-L", dir, "-lmulti")
			if got.Stdout != want.Stdout || got.ExitCode != want.ExitCode {
				t.Fatalf("with -lmulti: native %q (%d), jit %q (%d) %s", want.Stdout, want.ExitCode, got.Stdout, got.ExitCode, got.Stderr)
			}
		})
	}
}

const cxxSrc = `#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <mutex>
#include <vector>
#include <map>
#include <memory>
#include <typeinfo>
#include <cstdio>
#include <cstdlib>

struct Tracer {
	std::string name;
	Tracer(const char *n) : name(n) { std::printf("construct %s\n", name.c_str()); }
	~Tracer() { std::printf("destruct %s\n", name.c_str()); }
};
static Tracer global_a("a");
Tracer global_b("b");

struct Shape { virtual ~Shape() {} virtual double area() const = 0; virtual const char *name() const { return "shape"; } };
struct Square : Shape { double s; Square(double s) : s(s) {} double area() const override { return s * s; } const char *name() const override { return "square"; } };
struct Circle : Shape { double r; Circle(double r) : r(r) {} double area() const override { return 3.0 * r * r; } };
struct MyError : std::runtime_error { int code; MyError(int c) : std::runtime_error("mine"), code(c) {} };

thread_local int tl_counter = 100;
thread_local std::string tl_name = "main-thread";
static std::mutex mu;

static void worker(int id, std::vector<int> *out) {
	tl_counter += id;
	tl_name = "worker" + std::to_string(id);
	std::lock_guard<std::mutex> lock(mu);
	(*out)[id] = tl_counter;
}

static int thrower(int x) {
	if (x == 3) throw std::runtime_error("too big: " + std::to_string(x));
	if (x == 4) throw MyError(44);
	return x * 10;
}

static void at_exit_handler() { std::printf("atexit handler\n"); }

int main(int argc, char **argv) {
	std::atexit(at_exit_handler);
	std::cout << "hello from iostream " << 42 << std::endl;
	std::vector<std::unique_ptr<Shape>> shapes;
	shapes.emplace_back(new Square(3));
	shapes.emplace_back(new Circle(2));
	for (auto &s : shapes)
		std::cout << s->name() << " " << s->area() << " " << (dynamic_cast<Square *>(s.get()) ? "is" : "isn't")
		          << " a Square, typeid " << typeid(*s).name() << "\n";
	for (int i = 0; i < 5; i++) {
		try { std::cout << "thrower(" << i << ") = " << thrower(i) << "\n"; }
		catch (const MyError &e) { std::cout << "caught MyError " << e.code << "\n"; }
		catch (const std::exception &e) { std::cout << "caught " << typeid(e).name() << ": " << e.what() << "\n"; }
	}
	try { std::vector<int>().at(5); } catch (const std::out_of_range &e) { std::cout << "out_of_range from libstdc++\n"; }
	std::map<std::string, int> m{{"x", 1}, {"y", 2}};
	std::ostringstream os;
	for (auto &kv : m) os << kv.first << "=" << kv.second << ";";
	std::cout << os.str() << "\n";
	std::vector<int> results(4);
	std::vector<std::thread> ts;
	for (int i = 1; i < 4; i++) ts.emplace_back(worker, i, &results);
	for (auto &t : ts) t.join();
	std::cout << "threads: " << results[1] << " " << results[2] << " " << results[3] << " main " << tl_counter << " " << tl_name << "\n";
	return 3;
}
`

// A C++ program: static constructors and destructors, iostreams, virtual
// calls, RTTI, exceptions thrown in JIT'd code and in libstdc++,
// thread_local and std::thread, against libstdc++.so and libstdc++.a.
func TestCxxProgram(t *testing.T) {
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "prog.cc", cxxSrc, "-O1", "-fPIC")
	t.Run("shared-libstdc++", func(t *testing.T) {
		out := same(t, dir, []string{obj}, []string{"-lstdc++"}, []string{"-lstdc++"}, nil)
		for _, want := range []string{"caught St13runtime_error: too big: 3", "caught MyError 44", "threads: 101 102 103 main 100 main-thread", "destruct a"} {
			if !strings.Contains(out.Stdout, want) {
				t.Errorf("output lacks %q", want)
			}
		}
	})
	t.Run("static-libstdc++", func(t *testing.T) {
		libstdcxx := testutil.NeedFile(t, gxxFile(t, "libstdc++.a"))
		same(t, dir, []string{obj}, []string{"-static-libstdc++", "-lstdc++"}, []string{libstdcxx, "-lm"}, nil)
	})
}

// gxxFile asks g++ where one of its files is.
func gxxFile(t *testing.T, name string) string {
	out, err := exec.Command(testutil.NeedTool(t, "g++"), "-print-file-name="+name).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

const tlsSrc = `#include <pthread.h>
#include <stdio.h>
__thread int gd_counter = 7;
static __thread int ld_a = 1, ld_b;
__thread char big[4096];
extern __thread int other_tls;
int bump(int by) { ld_b += by; big[by] = (char)by; return gd_counter += by; }
static void *thread(void *arg) {
	int id = (int)(long)arg;
	bump(id);
	printf("thread %d: gd=%d ld=%d,%d big=%d other=%d\n", id, gd_counter, ld_a, ld_b, big[id], other_tls);
	other_tls = id;
	return 0;
}
int main(void) {
	pthread_t t[3];
	for (long i = 0; i < 3; i++) {
		pthread_create(&t[i], 0, thread, (void *)(i + 1));
		pthread_join(t[i], 0); /* in order, for a deterministic output */
	}
	bump(10);
	printf("main: gd=%d ld=%d,%d big=%d other=%d\n", gd_counter, ld_a, ld_b, big[10], other_tls);
	return 0;
}
`

// Thread-locals across objects and threads: general- and local-dynamic
// code (-fPIC), and initial- and local-exec code (gcc's default, PIE), in
// process and out.
func TestThreadLocal(t *testing.T) {
	dir := t.TempDir()
	main := testutil.Compile(t, dir, "tls.c", tlsSrc, "-O1", "-fPIC")
	other := testutil.Compile(t, dir, "other.c", "__thread int other_tls = 42;", "-O1", "-fPIC")
	same(t, dir, []string{main, other}, []string{"-pthread"}, nil, nil)

	// The same program the default way, minus the 4 KiB array: static TLS
	// is small.
	small := strings.ReplaceAll(tlsSrc, "__thread char big[4096];", "__thread char big[64];")
	for _, opt := range []string{"-O0", "-O2"} {
		pieMain := testutil.Compile(t, dir, "tls_pie.c", small, opt)
		pieOther := testutil.Compile(t, dir, "other_pie.c", "__thread int other_tls = 42;", opt)
		same(t, dir, []string{pieMain, pieOther}, []string{"-pthread"}, nil, nil)
		same(t, dir, []string{pieMain, pieOther}, []string{"-pthread"}, []string{"-oop-executor"}, nil)
	}

	// Initial-exec code whose thread-locals do not fit in static TLS gets
	// one error saying so.
	big := testutil.Compile(t, dir, "big.c", "__thread char v[65536]; int main(void) { return v[1]; }", "-O1")
	got := jit(t, big)
	if got.ExitCode != 1 || !strings.Contains(got.Stderr, "not in static TLS") || !strings.Contains(got.Stderr, "-fPIC") || strings.Count(got.Stderr, "\n") != 1 {
		t.Fatalf("want one error line about static TLS, got exit %d:\n%s", got.ExitCode, got.Stderr)
	}
}

const sqliteSrc = `#include <stdio.h>
#include <sqlite3.h>
static int row(void *a, int n, char **v, char **c) {
	for (int i = 0; i < n; i++) printf("%s=%s ", c[i], v[i] ? v[i] : "NULL");
	printf("\n");
	return 0;
}
int main(void) {
	sqlite3 *db;
	char *err = 0;
	sqlite3_open(":memory:", &db);
	if (sqlite3_exec(db,
	    "create table t(id integer primary key, name text, score real);"
	    "insert into t(name, score) values ('ada', 91.5), ('bob', 78.25), ('cy', null);"
	    "select id, name, score from t order by id;"
	    "select count(*), round(avg(score), 3), group_concat(name, '+') from t;"
	    "select printf('%08.3f', 3.14159), upper('mixed Case'), exp(1.0) > 2.718, sqrt(2.0) > 1.41;"
	    "with recursive c(x) as (select 1 union all select x*2 from c where x < 1000) select sum(x) from c;",
	    row, 0, &err))
		printf("error: %s\n", err);
	printf("%s\n", sqlite3_libversion());
	return sqlite3_close(db);
}
`

// main + Debian's libsqlite3.a (members on demand) + -lm.
func TestSqlite(t *testing.T) {
	lib := testutil.NeedFile(t, "/usr/lib/x86_64-linux-gnu/libsqlite3.a")
	testutil.NeedFile(t, "/usr/include/sqlite3.h")
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "main.c", sqliteSrc, "-O2")
	out := same(t, dir, []string{obj}, []string{lib, "-lm"}, []string{lib, "-lm"}, nil)
	if !strings.Contains(out.Stdout, "name=ada") {
		t.Fatalf("unexpected output %q", out.Stdout)
	}
	// Linking the members on a pool of goroutines gives the same program.
	same(t, dir, []string{obj}, []string{lib, "-lm"}, []string{"-num-threads", "2", lib, "-lm"}, nil)
}

const zlibSrc = `#include <stdio.h>
#include <string.h>
#include <zlib.h>
int main(void) {
	const char *text = "gorc gorc gorc gorc gorc gorc gorc gorc, links and runs";
	unsigned char packed[256], unpacked[256];
	uLongf plen = sizeof packed, ulen = sizeof unpacked;
	if (compress2(packed, &plen, (const Bytef *)text, strlen(text) + 1, 9) != Z_OK) return 1;
	if (uncompress(unpacked, &ulen, packed, plen) != Z_OK) return 2;
	printf("%s: %lu -> %lu bytes, crc %08lx, %s\n", zlibVersion(), (unsigned long)strlen(text) + 1,
	       (unsigned long)plen, (unsigned long)crc32(0, (const Bytef *)text, strlen(text)), (char *)unpacked);
	return 0;
}
`

// main + Debian's libz.a.
func TestZlib(t *testing.T) {
	lib := testutil.NeedFile(t, "/usr/lib/x86_64-linux-gnu/libz.a")
	testutil.NeedFile(t, "/usr/include/zlib.h")
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "main.c", zlibSrc, "-O2")
	same(t, dir, []string{obj}, []string{lib}, []string{lib}, nil)
}

// Programs compiled by clang run the same as natively.
func TestClangPrograms(t *testing.T) {
	clang := testutil.NeedTool(t, "clang-19", "clang")
	clangxx := testutil.NeedTool(t, "clang++-19", "clang++")
	dir := t.TempDir()
	for _, flags := range [][]string{{"-O0"}, {"-O2", "-fPIC"}, {"-O3"}} {
		objs := []string{
			testutil.CompileWith(t, clang, dir, "main.c", multiMain, flags...),
			testutil.CompileWith(t, clang, dir, "lib.c", multiLib, flags...),
			testutil.CompileWith(t, clang, dir, "strong.c", multiStrong, flags...),
		}
		same(t, dir, objs, nil, nil, []string{"a"})
	}
	obj := testutil.CompileWith(t, clangxx, dir, "prog.cc", cxxSrc, "-O2", "-fPIC")
	same(t, dir, []string{obj}, []string{"-lstdc++"}, []string{"-lstdc++"}, nil)
	initfini := testutil.CompileWith(t, clang, dir, "initfini.c", initFiniSrc, "-O1")
	same(t, dir, []string{initfini}, nil, nil, []string{"x"})
}

const pieDataSrc = `#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
extern char **environ;
int main(int argc, char **argv) {
	int n = 0;
	for (char **e = environ; *e; e++) n++;
	fprintf(stdout, "stdout %d %s\n", argc, n > 0 ? "env" : "noenv");
	fputs("to stderr\n", stderr);
	fflush(stderr);
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("optind %d\n", optind);
	return 0;
}
`

const coutSrc = `#include <iostream>
int main() { std::cout << "cout " << 42 << std::endl; std::cerr << "cerr\n"; return 0; }
`

// Code compiled the default way (PIE) reads libc's and libstdc++'s data
// with 32-bit PC-relative loads: JIT memory must lie within reach.
func TestPIEDataReferences(t *testing.T) {
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "pie.c", pieDataSrc)
	same(t, dir, []string{obj}, nil, nil, []string{"x"})
	cout := testutil.Compile(t, dir, "cout.cc", coutSrc)
	same(t, dir, []string{cout}, []string{"-lstdc++"}, []string{"-lstdc++"}, nil)
}

// -lazy links each object and archive member on the first call into it:
// the programs run as natively, and fewer objects are linked.
func TestLazyLinking(t *testing.T) {
	dir := t.TempDir()
	lib := testutil.NeedFile(t, "/usr/lib/x86_64-linux-gnu/libsqlite3.a")
	obj := testutil.Compile(t, dir, "main.c", sqliteSrc, "-O2")
	linked := func(stderr string) int {
		var n int
		if _, err := fmt.Sscanf(stderr[strings.LastIndex(stderr, "objects linked:"):], "objects linked: %d", &n); err != nil {
			t.Fatalf("no statistics in %q", stderr)
		}
		return n
	}
	eager := same(t, dir, []string{obj}, []string{lib, "-lm"}, []string{"-show-stats", lib, "-lm"}, nil)
	lazy := same(t, dir, []string{obj}, []string{lib, "-lm"}, []string{"-lazy", "-show-stats", lib, "-lm"}, nil)
	if linked(lazy.Stderr) >= linked(eager.Stderr) {
		t.Errorf("-lazy linked %d objects, the eager run %d", linked(lazy.Stderr), linked(eager.Stderr))
	}
	// The rest of the corpus, in process and out.
	cxx := testutil.Compile(t, dir, "prog.cc", cxxSrc, "-O1", "-fPIC")
	same(t, dir, []string{cxx}, []string{"-lstdc++"}, []string{"-lazy", "-lstdc++"}, nil)
	initfini := testutil.Compile(t, dir, "initfini.c", initFiniSrc, "-O1")
	multi := []string{
		testutil.Compile(t, dir, "m.c", multiMain, "-O2", "-fPIC"),
		testutil.Compile(t, dir, "lib.c", multiLib, "-O2", "-fPIC"),
		testutil.Compile(t, dir, "strong.c", multiStrong, "-O2", "-fPIC"),
	}
	for _, extra := range [][]string{nil, {"-oop-executor"}} {
		same(t, dir, []string{initfini}, nil, append([]string{"-lazy"}, extra...), []string{"x"})
		same(t, dir, multi, nil, append([]string{"-lazy"}, extra...), []string{"a", "b"})
		same(t, dir, []string{obj}, []string{lib, "-lm"}, append([]string{"-lazy", lib, "-lm"}, extra...), nil)
	}
}
