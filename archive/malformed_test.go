package archive

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// rawHdr formats a member header from raw field values.
func rawHdr(name, size, fmag string) string {
	return fmt.Sprintf("%-16s%-12s%-6s%-6s%-8s%-10s%s", name, "0", "0", "0", "644", size, fmag)
}

// hdr formats a well-formed member header.
func hdr(name string, size int) string { return rawHdr(name, strconv.Itoa(size), headerMagic) }

// member formats a member with its header and padding.
func member(name, data string) string {
	s := hdr(name, len(data)) + data
	if len(data)%2 != 0 {
		s += "\n"
	}
	return s
}

func be32(v uint32) string { return string(binary.BigEndian.AppendUint32(nil, v)) }
func be64(v uint64) string { return string(binary.BigEndian.AppendUint64(nil, v)) }
func le32(v uint32) string { return string(binary.LittleEndian.AppendUint32(nil, v)) }
func le64(v uint64) string { return string(binary.LittleEndian.AppendUint64(nil, v)) }

// symArchive returns an archive whose first member is a symbol table named
// symName with contents body(off), followed by "a.o" at header offset off.
func symArchive(symName string, body func(off uint64) string) string {
	n := len(body(0)) // body's length does not depend on off
	off := uint64(len(archiveMagic) + headerSize + n + n%2)
	return archiveMagic + member(symName, body(off)) + member("a.o/", "hi")
}

func TestMalformed(t *testing.T) {
	const hdrOff = int64(len(archiveMagic)) // first header
	tests := []struct {
		name   string
		data   string
		thin   bool   // parse as with Open, members read from memory
		msg    string // substring of FormatError.Msg
		off    int64
		member string
	}{
		{name: "empty input", data: "", msg: "bad magic"},
		{name: "bad magic", data: "!<arch>X", msg: "bad magic"},
		{name: "short magic", data: "!<ar", msg: "bad magic"},
		{name: "thin needs Open", data: thinMagic, msg: "use Open"},
		{name: "truncated header", data: archiveMagic + hdr("a.o/", 2)[:30], msg: "truncated member header", off: hdrOff},
		{name: "trailing garbage", data: archiveMagic + member("a.o/", "hi") + "\n", msg: "truncated member header", off: hdrOff + 62},
		{name: "bad size", data: archiveMagic + rawHdr("a.o/", "12a", headerMagic) + "hi", msg: "bad size field", off: hdrOff, member: "a.o/"},
		{name: "empty size", data: archiveMagic + rawHdr("a.o/", "", headerMagic), msg: "bad size field", off: hdrOff},
		{name: "negative size", data: archiveMagic + rawHdr("a.o/", "-1", headerMagic), msg: "bad size field", off: hdrOff},
		{name: "space in size", data: archiveMagic + rawHdr("a.o/", "1 2", headerMagic), msg: "bad size field", off: hdrOff},
		{name: "size past end", data: archiveMagic + hdr("a.o/", 100) + "hi", msg: "extends past end", off: hdrOff, member: "a.o/"},
		{name: "huge size", data: archiveMagic + rawHdr("a.o/", "9999999999", headerMagic), msg: "extends past end", off: hdrOff},
		{name: "bad fmag", data: archiveMagic + rawHdr("a.o/", "2", "`X") + "hi", msg: "bad header terminator", off: hdrOff, member: "a.o/"},
		{name: "empty name", data: archiveMagic + member("", "x"), msg: "empty member name", off: hdrOff},

		// Long names.
		{name: "long name without table", data: archiveMagic + member("/0", "x"), msg: "without long-name table", off: hdrOff, member: "/0"},
		{name: "long name out of range", data: archiveMagic + member("//", "a.o/\n") + member("/10", "x"), msg: "out of range", off: hdrOff + 66, member: "/10"},
		{name: "long name at table end", data: archiveMagic + member("//", "a.o/\n") + member("/5", "x"), msg: "out of range", off: hdrOff + 66},
		{name: "long name unterminated", data: archiveMagic + member("//", "abc") + member("/0", "x"), msg: "unterminated long name", off: hdrOff + 64},
		{name: "bad long name reference", data: archiveMagic + member("//", "a.o/\n") + member("/1x", "x"), msg: "bad long name reference", off: hdrOff + 66},
		{name: "empty long name", data: archiveMagic + member("//", "/\n") + member("/0", "x"), msg: "empty member name", off: hdrOff + 62},
		{name: "duplicate long-name table", data: archiveMagic + member("//", "a/\n") + member("//", "b/\n"), msg: "duplicate long-name table", off: hdrOff + 64},
		{name: "BSD name length past size", data: archiveMagic + member("#1/10", "abc"), msg: "exceeds member size", off: hdrOff, member: "#1/10"},
		{name: "BSD name length bad", data: archiveMagic + member("#1/x", "abc"), msg: "bad BSD long name length", off: hdrOff},
		{name: "BSD empty name", data: archiveMagic + member("#1/3", "\x00\x00\x00"), msg: "empty member name", off: hdrOff},

		// GNU symbol tables.
		{name: "symtab not first", data: archiveMagic + member("a.o/", "hi") + member("/", be32(0)), msg: "not the first member", off: hdrOff + 62, member: "/"},
		{name: "two symtabs", data: archiveMagic + member("/", be32(0)) + member("/SYM64/", be64(0)), msg: "not the first member", off: hdrOff + 64},
		{name: "symtab too short", data: archiveMagic + member("/", "ab"), msg: "too short", off: hdrOff, member: "/"},
		{name: "symbol count overflow", data: symArchive("/", func(uint64) string { return be32(0xffffffff) + be32(0) + "a\x00" }), msg: "overflows", off: hdrOff},
		{name: "symbol count overflow by one", data: symArchive("/", func(off uint64) string { return be32(2) + be32(uint32(off)) }), msg: "overflows", off: hdrOff},
		{name: "sym64 count overflow", data: symArchive("/SYM64/", func(uint64) string { return be64(1<<63+1) + be64(0) + "a\x00" }), msg: "overflows", off: hdrOff, member: "/SYM64/"},
		{name: "missing names", data: symArchive("/", func(off uint64) string { return be32(2) + be32(uint32(off)) + be32(uint32(off)) + "a\x00b" }), msg: "fewer names", off: hdrOff},
		{name: "offset past end", data: symArchive("/", func(uint64) string { return be32(1) + be32(0xffffff00) + "a\x00" }), msg: `symbol "a": offset 0xffffff00 is not a member header`, off: hdrOff},
		{name: "offset inside member", data: symArchive("/", func(off uint64) string { return be32(1) + be32(uint32(off+1)) + "a\x00" }), msg: "not a member header", off: hdrOff},
		{name: "offset at symtab", data: symArchive("/", func(uint64) string { return be32(1) + be32(8) + "a\x00" }), msg: "not a member header", off: hdrOff},
		{name: "offset at end", data: symArchive("/", func(off uint64) string { return be32(1) + be32(uint32(off+62)) + "a\x00" }), msg: "not a member header", off: hdrOff},
		{name: "sym64 offset huge", data: symArchive("/SYM64/", func(uint64) string { return be64(1) + be64(1<<63) + "a\x00" }), msg: "not a member header", off: hdrOff},

		// BSD symbol tables.
		{name: "BSD symdef too short", data: archiveMagic + member("__.SYMDEF", "ab"), msg: "too short", off: hdrOff, member: "__.SYMDEF"},
		{name: "BSD ranlib size overflow", data: symArchive("__.SYMDEF", func(uint64) string { return le32(0xfffffff8) + le32(0) }), msg: "ranlib size 4294967288 overflows", off: hdrOff},
		{name: "BSD ranlib size odd", data: symArchive("__.SYMDEF", func(uint64) string { return le32(4) + le32(0) + le32(0) }), msg: "not a multiple of 8", off: hdrOff},
		{name: "BSD no string table size", data: symArchive("__.SYMDEF", func(off uint64) string { return le32(8) + le32(0) + le32(uint32(off)) }), msg: "too short for string table size", off: hdrOff},
		{name: "BSD string table overflow", data: symArchive("__.SYMDEF", func(off uint64) string { return le32(8) + le32(0) + le32(uint32(off)) + le32(100) + "a\x00" }), msg: "string table size 100 overflows", off: hdrOff},
		{name: "BSD name offset out of range", data: symArchive("__.SYMDEF", func(off uint64) string { return le32(8) + le32(2) + le32(uint32(off)) + le32(2) + "a\x00" }), msg: "name offset 2 out of range", off: hdrOff},
		{name: "BSD unterminated name", data: symArchive("__.SYMDEF", func(off uint64) string { return le32(8) + le32(0) + le32(uint32(off)) + le32(2) + "ab" }), msg: "unterminated name", off: hdrOff},
		{name: "BSD offset out of range", data: symArchive("__.SYMDEF SORTED", func(uint64) string { return le32(8) + le32(0) + le32(1<<31) + le32(2) + "a\x00" }), msg: "not a member header", off: hdrOff},
		{name: "BSD64 ranlib size overflow", data: symArchive("#1/12", func(uint64) string { return "__.SYMDEF_64" + le64(1<<63) + le64(0) }), msg: "overflows", off: hdrOff, member: "__.SYMDEF_64"},
		{name: "BSD64 offset out of range", data: symArchive("#1/20", func(uint64) string {
			return "__.SYMDEF_64 SORTED\x00" + le64(16) + le64(0) + le64(1<<40) + le64(2) + "a\x00"
		}), msg: "not a member header", off: hdrOff},

		// Thin archives.
		{name: "thin BSD name", data: thinMagic + hdr("#1/3", 3), thin: true, msg: "BSD long name in thin archive", off: hdrOff},
		{name: "thin bad nested offset", data: thinMagic + member("//", "a.a/\n") + hdr("/0:x", 1), thin: true, msg: "bad nested member offset", off: hdrOff + 66},
		{name: "thin nested offset not a member", data: thinMagic + member("//", "a.a/\n") + hdr("/0:9", 1), thin: true, msg: "no member header at offset 0x9", off: hdrOff + 66},
		{name: "thin truncated symtab", data: thinMagic + hdr("/", 10) + "ab", thin: true, msg: "extends past end", off: hdrOff},
	}
	// For thin archives, every member file holds this regular archive.
	nestedArchive := []byte(archiveMagic + member("a.o/", "hi"))
	load := func(string) ([]byte, error) { return nestedArchive, nil }

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.thin {
				_, err = parse("bad.a", []byte(tc.data), load)
			} else {
				_, err = Parse("bad.a", []byte(tc.data))
			}
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *FormatError", err)
			}
			if fe.Archive != "bad.a" || !strings.Contains(fe.Msg, tc.msg) || fe.Offset != tc.off {
				t.Errorf("err = %v (offset %#x), want %q at offset %#x", err, fe.Offset, tc.msg, tc.off)
			}
			if tc.member != "" && fe.Member != tc.member {
				t.Errorf("err.Member = %q, want %q", fe.Member, tc.member)
			}
			if !strings.HasPrefix(err.Error(), "bad.a: ") {
				t.Errorf("error %q does not start with the archive name", err)
			}
		})
	}
}

// TestLenient checks variations that real tools produce or linkers accept.
func TestLenient(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		members []string
	}{
		{"missing final pad", archiveMagic + hdr("a.o/", 1) + "x", []string{"a.o"}},
		{"pad byte not newline", archiveMagic + hdr("a.o/", 1) + "x\x00" + member("b.o/", "y"), []string{"a.o", "b.o"}},
		{"size with leading spaces", archiveMagic + rawHdr("a.o/", "  2", headerMagic) + "hi", []string{"a.o"}},
		{"GNU name with spaces", archiveMagic + member("a b.o/", "hi"), []string{"a b.o"}},
		{"BSD short name", archiveMagic + member("a.o", "hi"), []string{"a.o"}},
		{"BSD name with NUL padding", archiveMagic + member("#1/8", "a.o\x00\x00\x00\x00\x00hi"), []string{"a.o"}},
		{"long name with slashes", archiveMagic + member("//", "dir/x.o/\n") + member("/0", "x"), []string{"dir/x.o"}},
		{"empty symbol table", archiveMagic + member("/", be32(0)) + member("a.o/", "hi"), []string{"a.o"}},
		{"old Linux __.SYMDEF/", symArchive("__.SYMDEF/", func(off uint64) string {
			return le32(8) + le32(0) + le32(uint32(off)) + le32(2) + "f\x00"
		}), []string{"a.o"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Parse("ok.a", []byte(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if got := memberNames(a); strings.Join(got, ",") != strings.Join(tc.members, ",") {
				t.Errorf("members = %q, want %q", got, tc.members)
			}
		})
	}
}

func TestFormatErrorString(t *testing.T) {
	err := error(&FormatError{Archive: "libfoo.a", Offset: 0x88, Member: "x.o", Msg: "bad header"})
	if got, want := err.Error(), `libfoo.a: member "x.o" at offset 0x88: bad header`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	err = &FormatError{Archive: "libfoo.a", Offset: 8, Msg: "truncated member header"}
	if got, want := err.Error(), "libfoo.a: at offset 0x8: truncated member header"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
