// Package triple names targets the way LLVM does: a target triple such as
// "x86_64-unknown-linux-gnu" says which architecture, vendor, operating
// system and environment (C library, ABI) code is for, and so which object
// format it comes in. It is a leaf package: everything that needs to know
// what it links for can import it.
package triple

import (
	"fmt"
	"runtime"
	"strings"
)

// Arch is an architecture, named as in LLVM triples.
type Arch string

// The architectures gorc can name: those Go runs on, so that every executor
// can say what it is. Linking needs a target for the architecture too
// (jitlink/target).
const (
	UnknownArch Arch = "unknown"
	X86_64      Arch = "x86_64"
	X86         Arch = "i386"
	AArch64     Arch = "aarch64"
	ARM         Arch = "arm"
	RISCV64     Arch = "riscv64"
	PPC64       Arch = "powerpc64"
	PPC64LE     Arch = "powerpc64le"
	S390X       Arch = "s390x"
	LoongArch64 Arch = "loongarch64"
	MIPS        Arch = "mips"
	MIPSEL      Arch = "mipsel"
	MIPS64      Arch = "mips64"
	MIPS64EL    Arch = "mips64el"
	Wasm32      Arch = "wasm32"
)

// archAliases maps the other spellings LLVM accepts (and Go's GOARCH
// names) to one Arch.
var archAliases = map[string]Arch{
	"x86_64": X86_64, "amd64": X86_64, "x86-64": X86_64,
	"i386": X86, "i486": X86, "i586": X86, "i686": X86, "x86": X86, "386": X86,
	"aarch64": AArch64, "arm64": AArch64,
	"arm": ARM, "armv7": ARM, "armv7a": ARM, "armv6": ARM,
	"riscv64":   RISCV64,
	"powerpc64": PPC64, "ppc64": PPC64, "powerpc64le": PPC64LE, "ppc64le": PPC64LE,
	"s390x": S390X, "systemz": S390X,
	"loongarch64": LoongArch64, "loong64": LoongArch64,
	"mips": MIPS, "mipsel": MIPSEL, "mips64": MIPS64, "mips64el": MIPS64EL, "mipsle": MIPSEL, "mips64le": MIPS64EL,
	"wasm32": Wasm32, "wasm": Wasm32,
}

// PointerSize returns the size of a pointer in bytes, or 0 for an unknown
// architecture.
func (a Arch) PointerSize() int {
	switch a {
	case X86, ARM, MIPS, MIPSEL, Wasm32:
		return 4
	case UnknownArch:
		return 0
	}
	return 8
}

// LittleEndian reports whether the architecture stores the least
// significant byte first.
func (a Arch) LittleEndian() bool {
	switch a {
	case PPC64, S390X, MIPS, MIPS64:
		return false
	}
	return true
}

// Vendor is a triple's vendor part.
type Vendor string

// Common vendors.
const (
	UnknownVendor Vendor = "unknown"
	PC            Vendor = "pc"
	Apple         Vendor = "apple"
)

// OS is an operating system, without a version.
type OS string

// Common operating systems.
const (
	UnknownOS OS = "unknown"
	NoOS      OS = "none" // bare metal
	Linux     OS = "linux"
	Darwin    OS = "darwin"
	MacOSX    OS = "macosx"
	MacOS     OS = "macos"
	IOS       OS = "ios"
	FreeBSD   OS = "freebsd"
	NetBSD    OS = "netbsd"
	OpenBSD   OS = "openbsd"
	Windows   OS = "windows"
)

// knownOSes are names that can only be an OS: they tell "arch-os-env"
// apart from "arch-vendor-os".
var knownOSes = map[OS]bool{
	UnknownOS: true, NoOS: true, Linux: true, Darwin: true, MacOSX: true, MacOS: true, IOS: true,
	FreeBSD: true, NetBSD: true, OpenBSD: true, Windows: true,
	"tvos": true, "watchos": true, "dragonfly": true, "solaris": true, "illumos": true,
	"aix": true, "fuchsia": true, "haiku": true, "hurd": true, "wasi": true, "emscripten": true,
	"win32": true, "cygwin": true, "mingw32": true, "zos": true,
}

// Environment is a triple's environment part (C library or ABI).
type Environment string

// Common environments; "" is none.
const (
	NoEnvironment Environment = ""
	GNU           Environment = "gnu"
	Musl          Environment = "musl"
	Android       Environment = "android"
	MSVC          Environment = "msvc"
)

// ObjectFormat is the object file format of a target.
type ObjectFormat string

// Object formats.
const (
	UnknownFormat ObjectFormat = "unknown"
	ELF           ObjectFormat = "elf"
	MachO         ObjectFormat = "macho"
	COFF          ObjectFormat = "coff"
	Wasm          ObjectFormat = "wasm"
)

// Triple is a target: architecture, vendor, operating system (with an
// optional version, as in "macosx10.15"), environment and object format.
// Triples are comparable.
type Triple struct {
	Arch        Arch
	Vendor      Vendor
	OS          OS
	OSVersion   string
	Environment Environment
	Format      ObjectFormat
}

// New returns the triple of arch, vendor, os and env, with the OS's usual
// object format.
func New(arch Arch, vendor Vendor, os OS, env Environment) Triple {
	return Triple{Arch: arch, Vendor: vendor, OS: os, Environment: env, Format: defaultFormat(arch, os)}
}

// defaultFormat is the object format of an OS unless the triple says
// otherwise: Mach-O on Apple's systems, COFF on Windows, ELF elsewhere.
func defaultFormat(arch Arch, os OS) ObjectFormat {
	switch os {
	case Darwin, MacOSX, MacOS, IOS, "tvos", "watchos":
		return MachO
	case Windows, "win32", "cygwin", "mingw32":
		return COFF
	}
	if arch == Wasm32 {
		return Wasm
	}
	return ELF
}

// Parse reads an LLVM-style triple: "arch-vendor-os[-env]", or the shorter
// forms LLVM accepts ("aarch64-linux-gnu", "x86_64-linux"). An OS version
// is split off the OS ("darwin23.1.0"); a last part naming an object
// format ("elf", "macho", "coff") overrides the OS's usual one. Unknown
// vendors, OSes and environments are kept as written; an unknown
// architecture is an error, since nothing could be linked for it.
func Parse(s string) (Triple, error) {
	parts := strings.Split(s, "-")
	arch, ok := archAliases[strings.ToLower(parts[0])]
	if !ok {
		return Triple{}, fmt.Errorf("target triple %q: unknown architecture %q", s, parts[0])
	}
	t := Triple{Arch: arch, Vendor: UnknownVendor, OS: UnknownOS}
	rest := parts[1:]
	if n := len(rest); n > 0 {
		switch ObjectFormat(rest[n-1]) {
		case ELF, MachO, COFF, Wasm:
			t.Format = ObjectFormat(rest[n-1])
			rest = rest[:n-1]
		}
	}
	// Without a vendor, the part after the arch is already the OS.
	if len(rest) > 0 && (len(rest) == 1 || len(rest) == 2) && isOS(rest[0]) && (len(rest) == 1 || !isOS(rest[1])) {
		rest = append([]string{string(UnknownVendor)}, rest...)
	}
	if len(rest) > 0 && rest[0] != "" {
		t.Vendor = Vendor(rest[0])
	}
	if len(rest) > 1 && rest[1] != "" {
		t.OS, t.OSVersion = splitVersion(rest[1])
	}
	if len(rest) > 2 {
		t.Environment = Environment(strings.Join(rest[2:], "-"))
	}
	if t.Format == "" {
		t.Format = defaultFormat(t.Arch, t.OS)
	}
	return t, nil
}

// MustParse is Parse for triples written in the program; it panics on an
// unknown architecture.
func MustParse(s string) Triple {
	t, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return t
}

func isOS(s string) bool {
	os, _ := splitVersion(s)
	return knownOSes[os]
}

// splitVersion splits "macosx10.15" into "macosx" and "10.15".
func splitVersion(s string) (OS, string) {
	i := strings.IndexAny(s, "0123456789")
	if i <= 0 {
		return OS(s), ""
	}
	return OS(s[:i]), s[i:]
}

// String prints the triple in LLVM's normalized form,
// "arch-vendor-os[version][-env]", with the object format appended when it
// is not the OS's usual one. Parse reads it back to the same Triple.
func (t Triple) String() string {
	if t == (Triple{}) {
		return ""
	}
	var b strings.Builder
	b.WriteString(string(orUnknown(string(t.Arch))))
	b.WriteByte('-')
	b.WriteString(orUnknown(string(t.Vendor)))
	b.WriteByte('-')
	b.WriteString(orUnknown(string(t.OS)))
	b.WriteString(t.OSVersion)
	if t.Environment != NoEnvironment {
		b.WriteByte('-')
		b.WriteString(string(t.Environment))
	}
	if t.Format != "" && t.Format != defaultFormat(t.Arch, t.OS) {
		b.WriteByte('-')
		b.WriteString(string(t.Format))
	}
	return b.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// Host returns the triple of the machine this program runs on, as far as
// Go tells it (GOOS and GOARCH): Linux is taken as glibc ("-gnu").
func Host() Triple {
	return ForGo(runtime.GOOS, runtime.GOARCH)
}

// ForGo returns the triple of a Go platform (GOOS, GOARCH).
func ForGo(goos, goarch string) Triple {
	arch, ok := archAliases[goarch]
	if !ok {
		arch = UnknownArch
	}
	switch goos {
	case "linux":
		return New(arch, UnknownVendor, Linux, GNU)
	case "android":
		return New(arch, UnknownVendor, Linux, Android)
	case "darwin":
		return New(arch, Apple, Darwin, NoEnvironment)
	case "ios":
		return New(arch, Apple, IOS, NoEnvironment)
	case "windows":
		return New(arch, PC, Windows, MSVC)
	}
	return New(arch, UnknownVendor, OS(goos), NoEnvironment)
}
