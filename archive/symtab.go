package archive

import (
	"encoding/binary"
	"slices"
	"strings"
)

// symbols decodes the symbol table symtab (the data of the member at
// tableOff named tableName) and fills a.symbols and a.first.
func (p *parser) symbols(a *Archive, symtab []byte, kind memberKind, tableOff int64, tableName string) error {
	bad := func(format string, args ...any) error {
		return p.errorf(tableOff, tableName, "symbol table: "+format, args...)
	}
	lastOff, lastJ := uint64(0), -1
	add := func(name string, offset uint64) error {
		// Offsets must name a regular member's header: a linker would
		// otherwise load garbage, or a symbol or long-name table.
		j, ok := lastJ, lastJ >= 0 && offset == lastOff // tables group symbols by member
		if !ok && offset <= uint64(len(p.data)) {
			j, ok = a.memberAt(int64(offset))
		}
		if !ok {
			return bad("symbol %q: offset %#x is not a member header", name, offset)
		}
		lastOff, lastJ = offset, j
		a.symbols = append(a.symbols, symbol{name: name, member: j})
		if _, dup := a.first[name]; !dup {
			a.first[name] = j
		}
		return nil
	}
	switch kind {
	case kindGNUSym32:
		return gnuSymtab(a, symtab, 4, add, bad)
	case kindGNUSym64:
		return gnuSymtab(a, symtab, 8, add, bad)
	case kindBSDSym32:
		return bsdSymtab(a, symtab, 4, add, bad)
	default:
		return bsdSymtab(a, symtab, 8, add, bad)
	}
}

type (
	addFunc func(name string, offset uint64) error
	badFunc func(format string, args ...any) error
)

// gnuSymtab decodes a GNU/System V symbol table with big-endian words of
// size w (4 for "/", 8 for "/SYM64/"): a count, count member header
// offsets, and count NUL-terminated names.
func gnuSymtab(a *Archive, b []byte, w int, add addFunc, bad badFunc) error {
	if len(b) < w {
		return bad("too short for symbol count")
	}
	count := readWord(b, w, binary.BigEndian)
	// Compare before multiplying: count comes from the input.
	if count > uint64((len(b)-w)/w) {
		return bad("symbol count %d overflows table of %d bytes", count, len(b))
	}
	n := int(count)
	offsets := b[w : w+n*w]
	// One string for all names: the map keys share it instead of being
	// allocated one by one.
	strtab := string(b[w+n*w:])
	// Checking first keeps allocations proportional to the real table.
	if strings.Count(strtab, "\x00") < n {
		return bad("%d symbols but fewer names", n)
	}
	a.symbols = make([]symbol, 0, n)
	a.first = make(map[string]int, n)
	for i := range n {
		end := strings.IndexByte(strtab, 0)
		if err := add(strtab[:end], readWord(offsets[i*w:], w, binary.BigEndian)); err != nil {
			return err
		}
		strtab = strtab[end+1:]
	}
	return nil
}

// bsdSymtab decodes a BSD "__.SYMDEF" table with little-endian words of
// size w (4, or 8 for "__.SYMDEF_64"): the byte size of an array of
// (name offset, member header offset) pairs, the array, the byte size of
// the string table, and the string table.
func bsdSymtab(a *Archive, b []byte, w int, add addFunc, bad badFunc) error {
	le := binary.LittleEndian
	if len(b) < w {
		return bad("too short for ranlib size")
	}
	ranSize := readWord(b, w, le)
	if ranSize > uint64(len(b)-w) {
		return bad("ranlib size %d overflows table of %d bytes", ranSize, len(b))
	}
	if ranSize%uint64(2*w) != 0 {
		return bad("ranlib size %d is not a multiple of %d", ranSize, 2*w)
	}
	ranlib := b[w : w+int(ranSize)]
	rest := b[w+int(ranSize):]
	if len(rest) < w {
		return bad("too short for string table size")
	}
	strSize := readWord(rest, w, le)
	if strSize > uint64(len(rest)-w) {
		return bad("string table size %d overflows table of %d bytes", strSize, len(b))
	}
	strtab := string(rest[w : w+int(strSize)])

	// Entries point anywhere into the string table, so scanning for each
	// name's NUL could take quadratic time on hostile input; index the
	// NULs once instead.
	var nuls []int
	for i := 0; ; {
		j := strings.IndexByte(strtab[i:], 0)
		if j < 0 {
			break
		}
		nuls = append(nuls, i+j)
		i += j + 1
	}

	n := len(ranlib) / (2 * w)
	a.symbols = make([]symbol, 0, n)
	a.first = make(map[string]int, n)
	for i := range n {
		strx := readWord(ranlib[2*i*w:], w, le)
		if strx >= uint64(len(strtab)) {
			return bad("entry %d: name offset %d out of range (string table size %d)", i, strx, len(strtab))
		}
		k, _ := slices.BinarySearch(nuls, int(strx))
		if k == len(nuls) {
			return bad("entry %d: unterminated name", i)
		}
		if err := add(strtab[strx:nuls[k]], readWord(ranlib[(2*i+1)*w:], w, le)); err != nil {
			return err
		}
	}
	return nil
}

// readWord reads a w-byte (4 or 8) unsigned integer from b.
func readWord(b []byte, w int, order binary.ByteOrder) uint64 {
	if w == 4 {
		return uint64(order.Uint32(b))
	}
	return order.Uint64(b)
}
