package jitlinktool_test

import (
	"testing"

	"github.com/gorc-jit/gorc/internal/testutil"
)

// Representatives of the failure classes the C test corpora (c-testsuite,
// gcc's torture tests) found; scripts/corpus.sh runs the corpora
// themselves.

// A global register variable is legal C: main returns with rbx (r12...)
// changed, and the host must not care.
const globalRegisterSrc = `#include <stdio.h>
register long acc asm("rbx");
register long steps asm("r12");
__attribute__((noinline)) static void add(long n) { acc += n; steps++; }
int main(int argc, char **argv) {
	acc = argc;
	steps = 0;
	for (int i = 0; i < 100; i++)
		add(i);
	printf("%ld %ld\n", acc, steps);
	return (int)(acc & 0x3f);
}
`

func TestGlobalRegisterVariable(t *testing.T) {
	dir := t.TempDir()
	for _, flags := range [][]string{{"-O0"}, {"-O2"}} {
		obj := testutil.Compile(t, dir, "globalreg.c", globalRegisterSrc, flags...)
		same(t, dir, []string{obj}, nil, nil, []string{"a", "b"})
		same(t, dir, []string{obj}, nil, []string{"-oop-executor=" + executor}, []string{"a"})
	}
}
