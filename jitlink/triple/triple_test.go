package triple

import "testing"

func TestParseAndPrint(t *testing.T) {
	for _, tc := range []struct {
		in, out string
		want    Triple
	}{
		{"x86_64-unknown-linux-gnu", "x86_64-unknown-linux-gnu", Triple{X86_64, UnknownVendor, Linux, "", GNU, ELF}},
		{"aarch64-linux-gnu", "aarch64-unknown-linux-gnu", Triple{AArch64, UnknownVendor, Linux, "", GNU, ELF}},
		{"x86_64-pc-freebsd", "x86_64-pc-freebsd", Triple{X86_64, PC, FreeBSD, "", NoEnvironment, ELF}},
		{"x86_64-unknown-freebsd", "x86_64-unknown-freebsd", Triple{X86_64, UnknownVendor, FreeBSD, "", NoEnvironment, ELF}},
		{"x86_64-linux", "x86_64-unknown-linux", Triple{X86_64, UnknownVendor, Linux, "", NoEnvironment, ELF}},
		{"arm64-apple-darwin23.1.0", "aarch64-apple-darwin23.1.0", Triple{AArch64, Apple, Darwin, "23.1.0", NoEnvironment, MachO}},
		{"x86_64-apple-macosx10.15", "x86_64-apple-macosx10.15", Triple{X86_64, Apple, MacOSX, "10.15", NoEnvironment, MachO}},
		{"x86_64-pc-windows-msvc", "x86_64-pc-windows-msvc", Triple{X86_64, PC, Windows, "", MSVC, COFF}},
		{"x86_64-pc-windows-msvc-elf", "x86_64-pc-windows-msvc-elf", Triple{X86_64, PC, Windows, "", MSVC, ELF}},
		{"amd64-unknown-openbsd", "x86_64-unknown-openbsd", Triple{X86_64, UnknownVendor, OpenBSD, "", NoEnvironment, ELF}},
		{"i686-pc-linux-gnu", "i386-pc-linux-gnu", Triple{X86, PC, Linux, "", GNU, ELF}},
		{"riscv64-unknown-linux-musl", "riscv64-unknown-linux-musl", Triple{RISCV64, UnknownVendor, Linux, "", Musl, ELF}},
		{"aarch64-linux-android21", "aarch64-unknown-linux-android21", Triple{AArch64, UnknownVendor, Linux, "", "android21", ELF}},
		{"armv7-unknown-linux-gnueabihf", "arm-unknown-linux-gnueabihf", Triple{ARM, UnknownVendor, Linux, "", "gnueabihf", ELF}},
		{"x86_64-none-elf", "x86_64-unknown-none", Triple{X86_64, UnknownVendor, NoOS, "", NoEnvironment, ELF}},
		{"x86_64-acme-plan9", "x86_64-acme-plan9", Triple{X86_64, "acme", "plan", "9", NoEnvironment, ELF}},
		{"x86_64", "x86_64-unknown-unknown", Triple{X86_64, UnknownVendor, UnknownOS, "", NoEnvironment, ELF}},
	} {
		got, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got != tc.want {
			t.Errorf("Parse(%q) = %#v, want %#v", tc.in, got, tc.want)
		}
		if s := got.String(); s != tc.out {
			t.Errorf("Parse(%q).String() = %q, want %q", tc.in, s, tc.out)
		}
		// The printed form reads back to the same triple and prints the same.
		again, err := Parse(got.String())
		if err != nil || again != got || again.String() != tc.out {
			t.Errorf("round trip of %q: %#v, %v", tc.out, again, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{"", "-linux", "z80-unknown-none"} {
		if tr, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", in, tr)
		}
	}
}

func TestForGo(t *testing.T) {
	for _, tc := range []struct{ goos, goarch, want string }{
		{"linux", "amd64", "x86_64-unknown-linux-gnu"},
		{"linux", "arm64", "aarch64-unknown-linux-gnu"},
		{"darwin", "arm64", "aarch64-apple-darwin"},
		{"windows", "amd64", "x86_64-pc-windows-msvc"},
		{"freebsd", "amd64", "x86_64-unknown-freebsd"},
	} {
		tr := ForGo(tc.goos, tc.goarch)
		if tr.String() != tc.want {
			t.Errorf("ForGo(%s, %s) = %s, want %s", tc.goos, tc.goarch, tr, tc.want)
		}
	}
	if h := Host(); h.Arch == UnknownArch || h.Arch.PointerSize() == 0 {
		t.Errorf("Host() = %v", h)
	}
}

func TestArchProperties(t *testing.T) {
	if X86_64.PointerSize() != 8 || !X86_64.LittleEndian() || X86.PointerSize() != 4 || S390X.LittleEndian() {
		t.Error("pointer size or byte order wrong")
	}
}
