package jitlinktool

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gorc-jit/gorc/jitlink/elf"
	"github.com/gorc-jit/gorc/orc"
)

// withCXXRuntime returns libs with the C++ runtime g++ links (libstdc++,
// libm, libgcc_s) appended when an input object refers to it and the
// command line does not link a libstdc++ already.
func withCXXRuntime(libs, inputs []string) []string {
	if slices.Contains(libs, "stdc++") {
		return libs
	}
	needed := false
	for _, in := range inputs {
		if strings.HasPrefix(filepath.Base(in), "libstdc++") {
			return libs
		}
		if !needed && strings.HasSuffix(in, ".o") {
			needed = needsCXXRuntime(in)
		}
	}
	if !needed {
		return libs
	}
	return append(slices.Clone(libs), "stdc++", "m", "gcc_s")
}

// needsCXXRuntime reports whether the object at path refers to a C++
// runtime symbol.
func needsCXXRuntime(path string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false // the input's own error is reported when it is added
	}
	iface, err := elf.ReadInterface(path, data)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(iface.Undefined, orc.IsCXXRuntimeSymbol)
}
