package bench

import (
	"encoding/binary"
	"fmt"
	"os"
	"testing"

	"github.com/gorc-jit/gorc/archive"
	"github.com/gorc-jit/gorc/internal/testutil"
	"github.com/gorc-jit/gorc/lljit"
)

// The floor of a link: what no JIT linker can skip. BenchmarkLinkFloor
// opens the archive, pulls the members main's references need (following
// their references in turn), copies their allocatable sections into one
// buffer and applies their relocations, with nothing else: no graph, no
// GOT or stubs, no session, no dependency tracking, libc's symbols left at
// 0. BenchmarkLinkWhole does the same link through LLJIT (what
// `gorc-jitlink -noexec main.o lib.a` does, without process start-up).
// Their ratio is how far gorc's bookkeeping is from the bytes.

const cryptoArchive = "/usr/lib/x86_64-linux-gnu/libcrypto.a"

// floorCases returns main objects and their archives: sqlite and libcrypto.
func floorCases(b *testing.B) map[string][2]string {
	dir := b.TempDir()
	cases := map[string][2]string{}
	if _, err := os.Stat(sqliteArchive); err == nil {
		cases["sqlite"] = [2]string{testutil.Compile(b, dir, "sqlite.c", `#include <sqlite3.h>
int main(void) { sqlite3 *db; sqlite3_open(":memory:", &db); sqlite3_exec(db, "select 1", 0, 0, 0); return sqlite3_close(db); }`, "-O2"), sqliteArchive}
	}
	if _, err := os.Stat("/usr/include/openssl/evp.h"); err == nil {
		cases["crypto"] = [2]string{testutil.Compile(b, dir, "crypto.c", `#include <openssl/evp.h>
#include <openssl/sha.h>
int main(void) { unsigned char md[32]; SHA256((const unsigned char *)"abc", 3, md);
EVP_MD_CTX *c = EVP_MD_CTX_new(); EVP_DigestInit_ex(c, EVP_sha512(), NULL); EVP_MD_CTX_free(c); return md[0] != 0xba; }`, "-O2"), cryptoArchive}
	}
	if len(cases) == 0 {
		testutil.NeedFile(b, sqliteArchive)
	}
	return cases
}

func BenchmarkLinkFloor(b *testing.B) {
	for name, c := range floorCases(b) {
		main, err := os.ReadFile(c[0])
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			var st floorStats
			for b.Loop() {
				if st, err = floorLink(main, c[1]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(st.members), "members")
			b.ReportMetric(float64(st.relocs), "relocs")
			b.ReportMetric(float64(st.bytes), "bytes")
		})
	}
}

func BenchmarkLinkWhole(b *testing.B) {
	for name, c := range floorCases(b) {
		main, err := os.ReadFile(c[0])
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				j, err := (&lljit.Builder{}).Create()
				if err != nil {
					b.Fatal(err)
				}
				if err := j.AddObject(nil, "main.o", main); err != nil {
					b.Fatal(err)
				}
				if err := j.AddArchive(nil, c[1]); err != nil {
					b.Fatal(err)
				}
				if err := j.LoadDylib("libm.so.6"); err != nil {
					b.Fatal(err)
				}
				if _, err := j.Lookup(b.Context(), "main"); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				j.Close()
				b.StartTimer()
			}
		})
	}
}

type floorStats struct{ members, relocs, bytes int }

// floorObj is one object's sections as the floor link sees them.
type floorObj struct {
	data  []byte
	shdrs []floorShdr
	syms  []byte // .symtab
	strs  []byte // its string table
}

type floorShdr struct {
	typ, link, info uint32
	flags           uint64
	off, size       uint64
	align, entsize  uint64
	base            int // in the output buffer, or -1
}

func floorLink(main []byte, lib string) (floorStats, error) {
	a, err := archive.Open(lib)
	if err != nil {
		return floorStats{}, err
	}
	defer a.Close()
	var objs []*floorObj
	defined := map[string]bool{}
	var undefined []string
	add := func(data []byte) error {
		o, err := floorParse(data)
		if err != nil {
			return err
		}
		objs = append(objs, o)
		o.eachGlobal(func(name string, shndx uint16, _ uint64) {
			if shndx != 0 {
				defined[name] = true
			} else {
				undefined = append(undefined, name)
			}
		})
		return nil
	}
	if err := add(main); err != nil {
		return floorStats{}, err
	}
	loaded := map[int]bool{}
	for len(undefined) > 0 {
		name := undefined[len(undefined)-1]
		undefined = undefined[:len(undefined)-1]
		if defined[name] {
			continue
		}
		m, ok := a.Lookup(name)
		if !ok || loaded[int(m.Offset)] {
			continue
		}
		loaded[int(m.Offset)] = true
		if err := add(m.Data); err != nil {
			return floorStats{}, err
		}
	}
	// Lay out and copy the allocatable sections.
	size := 0
	for _, o := range objs {
		for i := range o.shdrs {
			s := &o.shdrs[i]
			s.base = -1
			if s.flags&2 == 0 || s.size == 0 {
				continue
			}
			al := max(int(s.align), 1)
			size = (size + al - 1) &^ (al - 1)
			s.base = size
			size += int(s.size)
		}
	}
	out := make([]byte, size)
	for _, o := range objs {
		for _, s := range o.shdrs {
			if s.base >= 0 && s.typ != 8 { // not NOBITS
				copy(out[s.base:], o.data[s.off:s.off+s.size])
			}
		}
	}
	// Global addresses, then relocations.
	addrs := map[string]uint64{}
	for _, o := range objs {
		o.eachGlobal(func(name string, shndx uint16, value uint64) {
			if shndx != 0 && int(shndx) < len(o.shdrs) && o.shdrs[shndx].base >= 0 {
				addrs[name] = uint64(o.shdrs[shndx].base) + value
			}
		})
	}
	relocs := 0
	for _, o := range objs {
		for _, r := range o.shdrs {
			if r.typ != 4 || int(r.info) >= len(o.shdrs) || o.shdrs[r.info].base < 0 {
				continue
			}
			target := o.shdrs[r.info]
			rel := o.data[r.off : r.off+r.size]
			for len(rel) >= 24 {
				off := binary.LittleEndian.Uint64(rel)
				info := binary.LittleEndian.Uint64(rel[8:])
				addend := binary.LittleEndian.Uint64(rel[16:])
				rel = rel[24:]
				s := o.symAddr(uint32(info>>32), addrs)
				p := uint64(target.base) + off
				v := s + addend
				switch uint32(info) {
				case 1: // R_X86_64_64
					binary.LittleEndian.PutUint64(out[p:], v)
				case 2, 4, 9, 41, 42: // PC32, PLT32, GOTPCREL, GOTPCRELX, REX_GOTPCRELX
					binary.LittleEndian.PutUint32(out[p:], uint32(v-p))
				case 10, 11: // 32, 32S
					binary.LittleEndian.PutUint32(out[p:], uint32(v))
				case 24: // PC64
					binary.LittleEndian.PutUint64(out[p:], v-p)
				}
				relocs++
			}
		}
	}
	return floorStats{members: len(objs) - 1, relocs: relocs, bytes: size}, nil
}

func floorParse(data []byte) (*floorObj, error) {
	le := binary.LittleEndian
	if len(data) < 64 || string(data[:4]) != "\x7fELF" {
		return nil, fmt.Errorf("not ELF")
	}
	shoff, shnum := le.Uint64(data[40:]), int(le.Uint16(data[60:]))
	o := &floorObj{data: data, shdrs: make([]floorShdr, shnum)}
	for i := range shnum {
		h := data[shoff+uint64(i)*64:]
		o.shdrs[i] = floorShdr{typ: le.Uint32(h[4:]), flags: le.Uint64(h[8:]), off: le.Uint64(h[24:]), size: le.Uint64(h[32:]),
			link: le.Uint32(h[40:]), info: le.Uint32(h[44:]), align: le.Uint64(h[48:]), entsize: le.Uint64(h[56:])}
		if o.shdrs[i].typ == 2 { // SYMTAB
			o.syms = data[o.shdrs[i].off : o.shdrs[i].off+o.shdrs[i].size]
		}
	}
	for _, s := range o.shdrs {
		if s.typ == 2 {
			st := o.shdrs[s.link]
			o.strs = data[st.off : st.off+st.size]
		}
	}
	return o, nil
}

func (o *floorObj) name(off uint32) string {
	end := off
	for int(end) < len(o.strs) && o.strs[end] != 0 {
		end++
	}
	return string(o.strs[off:end])
}

// eachGlobal calls f for every global or weak symbol.
func (o *floorObj) eachGlobal(f func(name string, shndx uint16, value uint64)) {
	le := binary.LittleEndian
	for i := 24; i+24 <= len(o.syms); i += 24 {
		s := o.syms[i:]
		if s[4]>>4 == 0 { // STB_LOCAL
			continue
		}
		f(o.name(le.Uint32(s)), le.Uint16(s[6:]), le.Uint64(s[8:]))
	}
}

// symAddr is symbol i's address: its section's for a local, the global's
// for a global (0 when outside, such as libc's).
func (o *floorObj) symAddr(i uint32, addrs map[string]uint64) uint64 {
	le := binary.LittleEndian
	s := o.syms[int(i)*24:]
	shndx := le.Uint16(s[6:])
	if s[4]>>4 == 0 && shndx != 0 && int(shndx) < len(o.shdrs) {
		if b := o.shdrs[shndx].base; b >= 0 {
			return uint64(b) + le.Uint64(s[8:])
		}
		return 0
	}
	return addrs[o.name(le.Uint32(s))]
}
