package jitlinktool

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gorc-jit/gorc/jitlink/triple"
)

// systemLibDirs are searched after the -L directories, as by the system's
// linker for the executor's architecture (Debian's multiarch directories,
// such as aarch64-linux-gnu); gcc's own directories (libstdc++, libgcc)
// come last.
func systemLibDirs(t triple.Triple) []string {
	tuple := string(t.Arch) + "-linux-gnu"
	dirs := []string{
		"/usr/local/lib/" + tuple, "/lib/" + tuple, "/usr/lib/" + tuple,
		"/usr/local/lib", "/lib64", "/usr/lib64", "/lib", "/usr/lib",
	}
	return append(dirs, gccDirs(tuple)...)
}

// gccDirs are gcc's library directories for a GNU tuple (such as
// x86_64-linux-gnu), newest version first.
func gccDirs(tuple string) []string {
	gcc, _ := filepath.Glob("/usr/lib/gcc/" + tuple + "/*")
	slices.SortFunc(gcc, func(a, b string) int { return compareVersions(filepath.Base(b), filepath.Base(a)) })
	return gcc
}

// compareVersions orders dotted version numbers numerically.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		var x, y int
		fmt.Sscan(as[i], &x)
		fmt.Sscan(bs[i], &y)
		if x != y {
			return x - y
		}
	}
	return len(as) - len(bs)
}

// findLibrary finds libNAME.so, else libNAME.a, in the first directory
// that has either, as ld does.
func findLibrary(name string, dirs []string) (string, error) {
	for _, d := range dirs {
		for _, ext := range []string{".so", ".a"} {
			if p := filepath.Join(d, "lib"+name+ext); isFile(p) {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("library -l%s not found (searched %s)", name, strings.Join(dirs, ", "))
}

// scriptFile finds a file a linker script (at script) names as ld does:
// -lNAME as -l; a path as it is, else relative names in the library search
// path, then beside the script (libgcc_s.so names libgcc_s.so.1, which
// lies in another directory).
func scriptFile(script, name string, dirs []string) (string, error) {
	if l, ok := strings.CutPrefix(name, "-l"); ok {
		return findLibrary(l, dirs)
	}
	if isFile(name) || filepath.IsAbs(name) {
		return name, nil
	}
	for _, d := range append(slices.Clone(dirs), filepath.Dir(script)) {
		if p := filepath.Join(d, name); isFile(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %s not found (searched the current directory, %s and the script's directory)", script, name, strings.Join(dirs, ", "))
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// libgccPath returns the libgcc.a of the compiler for t: what gcc (or the
// cross compiler TUPLE-gcc) -print-libgcc-file-name says, else the newest
// in gcc's directories for t, else "".
func libgccPath(t triple.Triple) string {
	tuple := string(t.Arch) + "-linux-gnu"
	for _, cc := range []string{"gcc", tuple + "-gcc"} {
		out, err := exec.Command(cc, "-print-libgcc-file-name").Output()
		if p := strings.TrimSpace(string(out)); err == nil && filepath.IsAbs(p) && strings.Contains(p, "/"+tuple+"/") && isFile(p) {
			return p
		}
	}
	if p, err := findLibrary("gcc", gccDirs(tuple)); err == nil && strings.HasSuffix(p, ".a") {
		return p
	}
	return ""
}

// sniff reports what the file at path holds from its first bytes, so that
// archives and shared libraries are not read twice (archive.Open and dlopen
// read them themselves).
func sniff(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var head [18]byte
	n, err := io.ReadFull(f, head[:])
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return "", err
	}
	return fileKind(head[:n]), nil
}

// fileKind tells objects, shared libraries, archives and (anything else)
// linker scripts apart by their first bytes.
func fileKind(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("\x7fELF")):
		if len(data) > 16 && data[16] == 3 { // ET_DYN
			return "shared"
		}
		return "object"
	case bytes.HasPrefix(data, []byte("!<arch>\n")), bytes.HasPrefix(data, []byte("!<thin>\n")):
		return "archive"
	}
	return "script"
}

// scriptInputs reads a GNU ld linker script (such as libc.so or libm.so on
// glibc) and returns the files it names in INPUT and GROUP, including those
// in AS_NEEDED, and -l names.
func scriptInputs(path string, data []byte) ([]string, error) {
	text := string(data)
	// Drop comments.
	for {
		i := strings.Index(text, "/*")
		if i < 0 {
			break
		}
		j := strings.Index(text[i:], "*/")
		if j < 0 {
			return nil, fmt.Errorf("%s: unterminated comment in linker script", path)
		}
		text = text[:i] + " " + text[i+j+2:]
	}
	tokens := strings.FieldsFunc(text, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '(' || r == ')' || r == ','
	})
	var out []string
	inList := false
	for _, tok := range tokens {
		switch tok {
		case "GROUP", "INPUT":
			inList = true
		case "AS_NEEDED":
		case "OUTPUT_FORMAT", "OUTPUT_ARCH", "SEARCH_DIR", "ENTRY":
			inList = false
		default:
			if inList {
				out = append(out, tok)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: not an object, archive, shared library or linker script with inputs", path)
	}
	return out, nil
}
