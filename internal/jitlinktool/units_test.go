package jitlinktool_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
)

// The archive members one lookup needs are linked as one graph. These
// programs run the same as natively linked, in process and out of it, and
// -show-stats counts every member though they share a graph.

const cryptoSrc = `#include <stdio.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
int main(void) {
	unsigned char md[64]; unsigned int n;
	SHA256((const unsigned char *)"abc", 3, md);
	for (int i = 0; i < 32; i++) printf("%02x", md[i]);
	printf("\n");
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	EVP_DigestInit_ex(c, EVP_sha512(), NULL);
	EVP_DigestUpdate(c, "abc", 3);
	EVP_DigestFinal_ex(c, md, &n);
	EVP_MD_CTX_free(c);
	for (unsigned i = 0; i < n; i++) printf("%02x", md[i]);
	printf("\n");
	return 0;
}
`

// main + Debian's libcrypto.a: hundreds of members, linked together.
func TestCryptoArchive(t *testing.T) {
	lib := testutil.NeedFile(t, "/usr/lib/x86_64-linux-gnu/libcrypto.a")
	testutil.NeedFile(t, "/usr/include/openssl/evp.h")
	dir := t.TempDir()
	obj := testutil.Compile(t, dir, "main.c", cryptoSrc, "-O2")
	got := same(t, dir, []string{obj}, []string{lib}, []string{"-show-stats", lib}, nil)
	var linked, graphs int
	stats := got.Stderr[strings.LastIndex(got.Stderr, "objects linked:"):]
	if _, err := fmt.Sscanf(stats, "objects linked: %d in %d graphs", &linked, &graphs); err != nil {
		t.Fatalf("no link statistics in %q", got.Stderr)
	}
	// main.o and one graph for the members (a few more if members with
	// thread-local data or weak references' lookups add some).
	if linked < 100 || graphs > 10 {
		t.Fatalf("linked %d objects in %d graphs, want the hundreds of members in a handful of graphs", linked, graphs)
	}
	same(t, dir, []string{obj}, []string{lib}, []string{"-oop-executor=" + executor, lib}, nil)
}

// C++ members that throw and catch across each other, and share inline
// functions (COMDAT groups), from one archive.
func TestCXXExceptionsInArchive(t *testing.T) {
	ar := testutil.NeedTool(t, "ar")
	dir := t.TempDir()
	common := `#include <stdexcept>
#include <string>
inline std::string label(int v) { return "value " + std::to_string(v); }
`
	thrower := testutil.Compile(t, dir, "thrower.cc", common+`
void check(int v) { if (v > 2) throw std::runtime_error(label(v) + " too big"); }
`, "-O2")
	catcher := testutil.Compile(t, dir, "catcher.cc", common+`#include <cstdio>
void check(int v);
int tryAll() {
	int caught = 0;
	for (int v = 0; v < 5; v++) {
		try { check(v); std::printf("%s ok\n", label(v).c_str()); }
		catch (const std::exception &e) { std::printf("caught: %s\n", e.what()); caught++; }
	}
	return caught;
}
`, "-O2")
	lib := filepath.Join(dir, "libcx.a")
	if out, err := exec.Command(ar, "rcs", lib, thrower, catcher).CombinedOutput(); err != nil {
		t.Fatalf("ar: %v %s", err, out)
	}
	main := testutil.Compile(t, dir, "main.cc", `int tryAll(); int main() { return tryAll(); }`, "-O2")
	for _, extra := range [][]string{nil, {"-oop-executor=" + executor}} {
		same(t, dir, []string{main}, []string{lib, "-lstdc++"}, append(extra, lib, "-lstdc++"), nil)
	}
}

// Initializers of members linked together run in priority order, as
// natively.
func TestArchiveInitializers(t *testing.T) {
	ar := testutil.NeedTool(t, "ar")
	dir := t.TempDir()
	a := testutil.Compile(t, dir, "a.c", `#include <stdio.h>
__attribute__((constructor(300))) static void late(void) { puts("a 300"); }
__attribute__((destructor(300))) static void bye(void) { puts("a fini 300"); }
int b(void); int a(void) { return b() + 1; }`)
	b := testutil.Compile(t, dir, "b.c", `#include <stdio.h>
__attribute__((constructor(101))) static void early(void) { puts("b 101"); }
__attribute__((destructor(101))) static void bye(void) { puts("b fini 101"); }
int b(void) { return 41; }`)
	lib := filepath.Join(dir, "libinit.a")
	if out, err := exec.Command(ar, "rcs", lib, a, b).CombinedOutput(); err != nil {
		t.Fatalf("ar: %v %s", err, out)
	}
	main := testutil.Compile(t, dir, "main.c", `#include <stdio.h>
int a(void); int main(void) { printf("main %d\n", a()); return 0; }`)
	// (Not -lazy: it links members on their first call, after
	// initialization, so their initializers never run; as before.)
	for _, extra := range [][]string{nil, {"-oop-executor=" + executor}} {
		same(t, dir, []string{main}, []string{lib}, append(extra, lib), nil)
	}
}

// -show-addrs lists each member of a merged graph under its own name, with
// its own sections.
func TestShowAddrsNamesMembers(t *testing.T) {
	ar := testutil.NeedTool(t, "ar")
	dir := t.TempDir()
	a := testutil.Compile(t, dir, "a.c", `int b(void); int a(void) { return b(); }`)
	b := testutil.Compile(t, dir, "b.c", `int b(void) { return 7; }`)
	lib := filepath.Join(dir, "libab.a")
	if out, err := exec.Command(ar, "rcs", lib, a, b).CombinedOutput(); err != nil {
		t.Fatalf("ar: %v %s", err, out)
	}
	main := testutil.Compile(t, dir, "main.c", `int a(void); int main(void) { return a(); }`)
	got := jit(t, "-noexec", "-show-addrs", main, lib)
	if got.ExitCode != 0 {
		t.Fatalf("exit %d: %s", got.ExitCode, got.Stderr)
	}
	out := got.Stdout + got.Stderr
	for _, want := range []string{"libab.a(a.o):\n  section .text", "libab.a(b.o):\n  section .text"} {
		if !strings.Contains(out, want) {
			t.Errorf("-show-addrs output lacks %q:\n%s", want, out)
		}
	}
}
