//go:build ignore

// Gen writes the hand-made archive fixtures in this directory, covering
// formats that GNU ar does not write: BSD and Darwin archives ("#1/NN"
// names, "__.SYMDEF" tables), GNU "/SYM64/" tables, and a thin archive
// with a nested member. Member contents are short texts, not objects: the
// archive package does not look inside members.
//
// Run it in this directory: go run gen.go
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log"
	"os"
	"strings"
)

type member struct {
	name string
	data string
}

// sym says that member index member defines name.
type sym struct {
	name   string
	member int
}

func main() {
	log.SetFlags(0)
	members := []member{
		{"short.o", "short member\n"}, // odd size: padded
		{"a_long_member_name_over_16.o", "long member data"},
		{"padded.o", "x"},
	}
	syms := []sym{{"alpha", 0}, {"beta", 1}, {"delta", 2}, {"dup", 0}, {"dup", 2}}
	write("bsd.a", bsd(4, "__.SYMDEF", false, members, syms))
	write("darwin64.a", bsd(8, "__.SYMDEF_64", true, members, syms))
	gnu64, offsets := gnu("!<arch>\n", 8, members, syms, nil)
	write("gnu64.a", gnu64)

	// thin.a refers to member.txt, and to padded.o inside gnu64.a.
	thinMembers := []member{{"member.txt", "thin member\n"}, {"gnu64.a", ""}}
	write("member.txt", []byte(thinMembers[0].data))
	nested := map[int]int64{1: offsets[2]}
	thin, _ := gnu("!<thin>\n", 4, thinMembers, []sym{{"text", 0}, {"delta", 1}}, nested)
	write("thin.a", thin)
}

func write(name string, data []byte) {
	if err := os.WriteFile(name, data, 0o644); err != nil {
		log.Fatal(err)
	}
}

// header formats a 60-byte member header.
func header(name string, size int) string {
	h := fmt.Sprintf("%-16s%-12d%-6d%-6d%-8o%-10d`\n", name, 0, 0, 0, 0o644, size)
	if len(h) != 60 {
		log.Fatalf("header for %q is %d bytes", name, len(h))
	}
	return h
}

// pad appends the '\n' that keeps members 2-byte aligned.
func pad(b *bytes.Buffer) {
	if b.Len()%2 != 0 {
		b.WriteByte('\n')
	}
}

func putWord(b []byte, w int, order binary.ByteOrder, v uint64) {
	if w == 4 {
		order.PutUint32(b, uint32(v))
	} else {
		order.PutUint64(b, v)
	}
}

// gnu writes a GNU archive (or, with magic "!<thin>\n", a thin archive)
// with a symbol table of w-byte words ("/" or "/SYM64/") and a "//" table
// for names that do not fit in a header. In a thin archive, nested maps a
// member index to the header offset of a member of the archive it names.
// It returns the archive and the members' header offsets.
func gnu(magic string, w int, members []member, syms []sym, nested map[int]int64) ([]byte, []int64) {
	thin := magic == "!<thin>\n"
	var long strings.Builder
	names := make([]string, len(members))
	for i, m := range members {
		if len(m.name) < 16 && !thin {
			names[i] = m.name + "/"
			continue
		}
		names[i] = fmt.Sprintf("/%d", long.Len())
		if off, ok := nested[i]; ok {
			names[i] += fmt.Sprintf(":%d", off)
		}
		long.WriteString(m.name + "/\n")
	}

	var strtab bytes.Buffer
	for _, s := range syms {
		strtab.WriteString(s.name + "\x00")
	}
	symSize := w + len(syms)*w + strtab.Len()
	symName := "/"
	if w == 8 {
		symName = "/SYM64/"
	}

	// Lay out the members to learn their offsets.
	off := int64(len(magic)) + 60 + int64(symSize+symSize%2)
	if long.Len() > 0 {
		off += 60 + int64(long.Len()+long.Len()%2)
	}
	offsets := make([]int64, len(members))
	for i, m := range members {
		offsets[i] = off
		off += 60
		if !thin {
			off += int64(len(m.data) + len(m.data)%2)
		}
	}

	var b bytes.Buffer
	b.WriteString(magic)
	b.WriteString(header(symName, symSize))
	word := make([]byte, w)
	putWord(word, w, binary.BigEndian, uint64(len(syms)))
	b.Write(word)
	for _, s := range syms {
		putWord(word, w, binary.BigEndian, uint64(offsets[s.member]))
		b.Write(word)
	}
	b.Write(strtab.Bytes())
	pad(&b)
	if long.Len() > 0 {
		b.WriteString(header("//", long.Len()))
		b.WriteString(long.String())
		pad(&b)
	}
	for i, m := range members {
		if int64(b.Len()) != offsets[i] {
			log.Fatalf("member %q at %d, want %d", m.name, b.Len(), offsets[i])
		}
		if thin {
			b.WriteString(header(names[i], len(m.data)))
			continue
		}
		b.WriteString(header(names[i], len(m.data)))
		b.WriteString(m.data)
		pad(&b)
	}
	return b.Bytes(), offsets
}

// bsd writes a BSD archive with a symbol table named symdef of w-byte
// little-endian words. Names that do not fit, and all names if darwin is
// set, are written as "#1/NN"; darwin also pads them with NULs to a
// multiple of 8 bytes, as Darwin's ar does.
func bsd(w int, symdef string, darwin bool, members []member, syms []sym) []byte {
	nameField := func(name string) (field, prefix string) {
		if !darwin && len(name) <= 16 && !strings.Contains(name, " ") {
			return name, ""
		}
		if darwin {
			name += strings.Repeat("\x00", 8-len(name)%8)
		}
		return fmt.Sprintf("#1/%d", len(name)), name
	}

	var strtab bytes.Buffer
	strx := make([]int, len(syms))
	for i, s := range syms {
		strx[i] = strtab.Len()
		strtab.WriteString(s.name + "\x00")
	}
	for strtab.Len()%w != 0 {
		strtab.WriteByte(0)
	}
	symField, symPrefix := nameField(symdef)
	symSize := len(symPrefix) + w + len(syms)*2*w + w + strtab.Len()

	off := int64(8 + 60 + symSize + symSize%2)
	offsets := make([]int64, len(members))
	for i, m := range members {
		offsets[i] = off
		_, prefix := nameField(m.name)
		size := len(prefix) + len(m.data)
		off += int64(60 + size + size%2)
	}

	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	b.WriteString(header(symField, symSize))
	b.WriteString(symPrefix)
	word := make([]byte, w)
	le := binary.LittleEndian
	putWord(word, w, le, uint64(len(syms)*2*w))
	b.Write(word)
	for i, s := range syms {
		putWord(word, w, le, uint64(strx[i]))
		b.Write(word)
		putWord(word, w, le, uint64(offsets[s.member]))
		b.Write(word)
	}
	putWord(word, w, le, uint64(strtab.Len()))
	b.Write(word)
	b.Write(strtab.Bytes())
	pad(&b)
	for i, m := range members {
		if int64(b.Len()) != offsets[i] {
			log.Fatalf("member %q at %d, want %d", m.name, b.Len(), offsets[i])
		}
		field, prefix := nameField(m.name)
		b.WriteString(header(field, len(prefix)+len(m.data)))
		b.WriteString(prefix)
		b.WriteString(m.data)
		pad(&b)
	}
	return b.Bytes()
}
