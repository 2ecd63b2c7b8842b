// Package archive reads Unix static archives (".a" files) so that a JIT
// linker can load members on demand, the way a static linker does.
//
// It understands the common ar dialects:
//
//   - GNU/System V: symbol tables "/" and "/SYM64/", the long-name table
//     "//" with "/123" references, and "name/" short names;
//   - BSD and Darwin: "#1/NN" names stored in front of the member data,
//     and the symbol tables "__.SYMDEF", "__.SYMDEF SORTED",
//     "__.SYMDEF_64" and "__.SYMDEF_64 SORTED" (read as little-endian);
//   - GNU thin archives ("!<thin>\n"), whose members live in separate
//     files; these are read by [Open] only.
//
// Archives are untrusted input: any malformation is reported as a
// [*FormatError], and the work and memory spent grow linearly with the size
// of the input. Parsing copies no member data: it allocates only the member
// list, the member names and the symbol index.
package archive

import (
	"bytes"
	"cmp"
	"fmt"
	"iter"
	"path/filepath"
	"slices"
	"strings"
)

const (
	archiveMagic = "!<arch>\n"
	thinMagic    = "!<thin>\n"
	headerSize   = 60
	headerMagic  = "`\n"
)

// Archive is a parsed static archive. It references the input bytes: member
// data is never copied, so the input must not be modified while the Archive
// is in use. An Archive is immutable and safe for concurrent use.
type Archive struct {
	name      string
	members   []Member
	hasSymtab bool
	symbols   []symbol       // symbol table in table order
	first     map[string]int // symbol name -> index of the first member defining it
	unmap     func() error   // releases a mapped file (from Open)
}

type symbol struct {
	name   string
	member int
}

// Member is one member file of an archive.
type Member struct {
	// Name is the member's file name, with long names resolved and the
	// GNU terminating '/' removed. In a thin archive it is the path as
	// recorded, relative to the archive's directory; a member of a regular
	// archive nested in a thin archive is named "path(member)".
	Name string
	// Offset is the offset of the member's header in the archive.
	Offset int64
	// Data is the member's contents: a subslice of the archive bytes (for
	// BSD "#1/NN" members, without the name in front), or for a thin
	// archive the contents read from the member's file.
	Data []byte
}

// FormatError reports a malformed archive.
type FormatError struct {
	Archive string // archive name as given to Parse or Open
	Offset  int64  // offset of the offending header or table
	Member  string // member name, if known
	Msg     string
}

func (e *FormatError) Error() string {
	if e.Member != "" {
		return fmt.Sprintf("%s: member %q at offset %#x: %s", e.Archive, e.Member, e.Offset, e.Msg)
	}
	return fmt.Sprintf("%s: at offset %#x: %s", e.Archive, e.Offset, e.Msg)
}

// Parse parses an archive held in memory; name is used in error messages
// (typically the file path). The returned Archive refers to data.
//
// Parse does not accept thin archives, whose members must be read from
// other files: it returns a *FormatError for them; use [Open] instead.
func Parse(name string, data []byte) (*Archive, error) {
	return parse(name, data, nil)
}

// Name returns the archive name given to Parse or Open.
func (a *Archive) Name() string { return a.name }

// Members returns the archive's members in archive order, excluding the
// symbol table and the long-name table. The slice is shared: callers must
// not modify it.
func (a *Archive) Members() []Member { return slices.Clip(a.members) }

// HasSymbolTable reports whether the archive has a symbol table. Without
// one, [Archive.Lookup] always fails and callers must scan the members.
func (a *Archive) HasSymbolTable() bool { return a.hasSymtab }

// Symbols iterates over the archive symbol table in table order, yielding
// each symbol name with the index in [Archive.Members] of the member that
// defines it. A name may appear several times (for example weak
// definitions in several members).
func (a *Archive) Symbols() iter.Seq2[string, int] {
	return func(yield func(string, int) bool) {
		for _, s := range a.symbols {
			if !yield(s.name, s.member) {
				return
			}
		}
	}
}

// Lookup returns the member that the symbol table says defines symbol; if
// several do, the first one in table order, as a static linker picks it.
func (a *Archive) Lookup(symbol string) (Member, bool) {
	i, ok := a.first[symbol]
	if !ok {
		return Member{}, false
	}
	return a.members[i], true
}

// LookupIndex is Lookup returning the member's index in [Archive.Members].
func (a *Archive) LookupIndex(symbol string) (int, bool) {
	i, ok := a.first[symbol]
	return i, ok
}

// MemberName returns "archive(member)" for messages, using the base name
// of the archive, e.g. "libsqlite3.a(alter.o)".
func (a *Archive) MemberName(m Member) string {
	return filepath.Base(a.name) + "(" + m.Name + ")"
}

// memberKind classifies an archive member by its header name.
type memberKind int

const (
	kindRegular   memberKind = iota
	kindGNUSym32             // "/"
	kindGNUSym64             // "/SYM64/"
	kindBSDSym32             // "__.SYMDEF", "__.SYMDEF SORTED"
	kindBSDSym64             // "__.SYMDEF_64", "__.SYMDEF_64 SORTED"
	kindLongNames            // "//"
)

// parser holds the state of one parse call.
type parser struct {
	name      string
	data      []byte
	thin      bool
	longNames []byte // contents of "//", once seen
	haveLong  bool
	external  []externalRef // thin archives: where each member's data lives
}

// externalRef locates the data of a thin-archive member.
type externalRef struct {
	path   string
	nested int64 // header offset inside the archive at path, or -1
}

// loadFunc returns the contents of the file that a thin archive refers to
// by path (as recorded in the archive).
type loadFunc func(path string) ([]byte, error)

func (p *parser) errorf(off int64, member, format string, args ...any) error {
	return &FormatError{Archive: p.name, Offset: off, Member: member, Msg: fmt.Sprintf(format, args...)}
}

// parse parses data; load reads thin-archive members and is nil for Parse.
func parse(name string, data []byte, load loadFunc) (*Archive, error) {
	p := &parser{name: name, data: data}
	switch {
	case bytes.HasPrefix(data, []byte(archiveMagic)):
	case bytes.HasPrefix(data, []byte(thinMagic)):
		if load == nil {
			return nil, p.errorf(0, "", "thin archive: members are stored in separate files; use Open")
		}
		p.thin = true
	default:
		return nil, p.errorf(0, "", "not an archive: bad magic")
	}

	a := &Archive{name: name}
	var (
		symtab     []byte
		symtabKind memberKind
		symtabOff  int64
		symtabName string
	)
	off := int64(len(archiveMagic))
	for first := true; off < int64(len(data)); first = false {
		hdrOff := off
		m, kind, next, err := p.member(off)
		if err != nil {
			return nil, err
		}
		off = next
		switch kind {
		case kindRegular:
			a.members = append(a.members, m)
		case kindLongNames:
			if p.haveLong {
				return nil, p.errorf(hdrOff, m.Name, "duplicate long-name table")
			}
			p.longNames, p.haveLong = m.Data, true
		default:
			// Linkers only look for the symbol table in the first member;
			// one elsewhere is a corrupt or unsupported archive.
			if !first {
				return nil, p.errorf(hdrOff, m.Name, "symbol table is not the first member")
			}
			symtab, symtabKind, symtabOff, symtabName = m.Data, kind, hdrOff, m.Name
			a.hasSymtab = true
		}
	}

	if a.hasSymtab {
		if err := p.symbols(a, symtab, symtabKind, symtabOff, symtabName); err != nil {
			return nil, err
		}
	}
	if p.thin {
		if err := p.loadExternal(a, load); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// member parses the member header at off. It returns the member (Name is
// the raw name for special members), its kind, and the offset of the next
// header.
func (p *parser) member(off int64) (m Member, kind memberKind, next int64, err error) {
	data := p.data
	if int64(len(data))-off < headerSize {
		return m, 0, 0, p.errorf(off, "", "truncated member header (%d bytes left)", int64(len(data))-off)
	}
	hdr := data[off : off+headerSize]
	rawName := string(bytes.TrimRight(hdr[:16], " "))
	if string(hdr[58:60]) != headerMagic {
		return m, 0, 0, p.errorf(off, rawName, "bad header terminator %q", hdr[58:60])
	}
	size, ok := parseDecimal(string(hdr[48:58]))
	if !ok {
		return m, 0, 0, p.errorf(off, rawName, "bad size field %q", hdr[48:58])
	}

	kind = kindRegular
	switch rawName {
	case "/":
		kind = kindGNUSym32
	case "/SYM64/":
		kind = kindGNUSym64
	case "//":
		kind = kindLongNames
	}

	start := off + headerSize
	m.Offset = off
	// A thin archive stores only its symbol and long-name tables inline.
	if p.thin && kind == kindRegular {
		next = start
	} else {
		if size > int64(len(data))-start {
			return m, 0, 0, p.errorf(off, rawName, "size %d extends past end of archive", size)
		}
		m.Data = data[start : start+size : start+size]
		// Members are 2-byte aligned; tolerate a missing final pad byte.
		next = min(start+size+(size&1), int64(len(data)))
	}

	if kind != kindRegular {
		m.Name = rawName
		return m, kind, next, nil
	}
	name, nested, err := p.memberName(off, rawName, &m)
	if err != nil {
		return m, 0, 0, err
	}
	if name == "" {
		return m, 0, 0, p.errorf(off, rawName, "empty member name")
	}
	m.Name = name
	if p.thin {
		p.external = append(p.external, externalRef{path: name, nested: nested})
		return m, kind, next, nil
	}
	// Any name style will do: GNU ld also accepts "__.SYMDEF/", found in
	// old Linux archives.
	switch name {
	case "__.SYMDEF", "__.SYMDEF SORTED":
		kind = kindBSDSym32
	case "__.SYMDEF_64", "__.SYMDEF_64 SORTED":
		kind = kindBSDSym64
	}
	return m, kind, next, nil
}

// memberName resolves the name of a regular member from its raw header
// name (trailing spaces removed). For BSD "#1/NN" names it strips the name
// from m.Data. For thin archives it also returns the header offset inside a
// nested archive ("/N:OFF" names), or -1.
func (p *parser) memberName(off int64, raw string, m *Member) (name string, nested int64, err error) {
	nested = -1
	switch {
	case len(raw) > 3 && raw[:3] == "#1/":
		if p.thin {
			return "", 0, p.errorf(off, raw, "BSD long name in thin archive")
		}
		n, ok := parseDecimal(raw[3:])
		if !ok {
			return "", 0, p.errorf(off, raw, "bad BSD long name length")
		}
		if n > int64(len(m.Data)) {
			return "", 0, p.errorf(off, raw, "BSD long name length %d exceeds member size %d", n, len(m.Data))
		}
		// Darwin pads the name with NULs to align the data that follows.
		name = string(bytes.TrimRight(m.Data[:n], "\x00"))
		m.Data = m.Data[n:]
		return name, nested, nil

	case len(raw) > 1 && raw[0] == '/':
		ref := raw[1:]
		if p.thin {
			// GNU ar refers to a member of a regular archive added to a thin
			// archive as "/N:OFF": long name N, header offset OFF inside it.
			if i := strings.IndexByte(ref, ':'); i >= 0 {
				v, ok := parseDecimal(ref[i+1:])
				if !ok {
					return "", 0, p.errorf(off, raw, "bad nested member offset")
				}
				ref, nested = ref[:i], v
			}
		}
		i, ok := parseDecimal(ref)
		if !ok {
			return "", 0, p.errorf(off, raw, "bad long name reference")
		}
		if !p.haveLong {
			return "", 0, p.errorf(off, raw, "long name reference without long-name table")
		}
		if i >= int64(len(p.longNames)) {
			return "", 0, p.errorf(off, raw, "long name offset %d out of range (table size %d)", i, len(p.longNames))
		}
		entry := p.longNames[i:]
		end := bytes.IndexByte(entry, '\n')
		if end < 0 {
			return "", 0, p.errorf(off, raw, "unterminated long name")
		}
		// GNU terminates long names with "/\n".
		return string(bytes.TrimSuffix(entry[:end], []byte("/"))), nested, nil

	default:
		// GNU terminates short names with '/', which allows trailing spaces;
		// BSD names are padded with spaces only.
		return strings.TrimSuffix(raw, "/"), nested, nil
	}
}

// loadExternal reads the data of thin-archive members via load.
func (p *parser) loadExternal(a *Archive, load loadFunc) error {
	// Keyed by the loaded bytes, so that members reaching one file by
	// different paths share one parse.
	nestedArchives := map[*byte]*Archive{}
	for i := range a.members {
		m := &a.members[i]
		ref := p.external[i]
		data, err := load(ref.path)
		if err != nil {
			return fmt.Errorf("%s: member %q at offset %#x: %w", p.name, m.Name, m.Offset, err)
		}
		if ref.nested < 0 {
			m.Data = data
			continue
		}
		// Thin archives nest only regular archives (GNU ar flattens thin
		// ones), so Parse, which refuses thin archives, is what we want.
		if len(data) == 0 {
			return p.errorf(m.Offset, m.Name, "nested archive is empty")
		}
		inner, ok := nestedArchives[&data[0]]
		if !ok {
			inner, err = Parse(ref.path, data)
			if err != nil {
				return fmt.Errorf("%s: member %q at offset %#x: %w", p.name, m.Name, m.Offset, err)
			}
			nestedArchives[&data[0]] = inner
		}
		j, found := inner.memberAt(ref.nested)
		if !found {
			return p.errorf(m.Offset, m.Name, "no member header at offset %#x in nested archive", ref.nested)
		}
		m.Name = ref.path + "(" + inner.members[j].Name + ")"
		m.Data = inner.members[j].Data
	}
	return nil
}

// memberAt returns the index of the member whose header is at off.
func (a *Archive) memberAt(off int64) (int, bool) {
	// Members are appended in file order, so offsets are increasing.
	return slices.BinarySearchFunc(a.members, off, func(m Member, off int64) int {
		return cmp.Compare(m.Offset, off)
	})
}

// parseDecimal parses an ASCII decimal header field padded with spaces.
func parseDecimal(s string) (int64, bool) {
	s = strings.Trim(s, " ")
	// Header fields are at most 16 bytes, so 18 digits cannot overflow;
	// the check keeps that true if the function is reused.
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var v int64
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}
