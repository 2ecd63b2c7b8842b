package elf

import (
	"encoding/binary"
	"fmt"

	"github.com/gorc-jit/gorc/jitlink/triple"
)

// Static TLS for JIT'd code: initial- and local-exec code reads its
// thread-locals at fixed offsets from the thread pointer, in the static
// TLS area every thread gets at creation. glibc keeps a small surplus
// there for libraries loaded later with static TLS, and gives a dlopen'd
// library a piece of it when the library has a TPOFF relocation; it then
// copies the library's TLS image into every thread, existing ones
// included. So a JIT'd module gets static TLS by dlopen'ing a generated
// library whose only content is that image and one TPOFF64-style
// relocation (the architecture's, see arch.tpoff64); the relocated word
// tells the module's offset.

// StaticTLSLibrary returns an ELF shared object for arch with a TLS segment
// (image, then zeroes up to size, aligned to align) and one relocation
// asking the loader for the segment's 64-bit offset from the thread
// pointer, and the file offset (= address) of the relocated word.
func StaticTLSLibrary(target triple.Arch, image []byte, size, align uint64) ([]byte, uint64, error) {
	a := archFor(func(a *arch) bool { return a.arch == target })
	if a == nil {
		return nil, 0, fmt.Errorf("static TLS: no ELF support for %s", target)
	}
	le := binary.LittleEndian
	const (
		ehsize, phsize, nph = 64, 56, 3
		symsize, relasize   = 24, 24
	)
	off := uint64(ehsize + phsize*nph)
	strtab := off // "\0"
	off += 8
	symtab := off // the null symbol and a local TLS symbol at 0
	off += 2 * symsize
	hash := off // nbucket 1, nchain 2, bucket, chain[2]
	off += 5 * 4
	off = (off + 7) &^ 7
	rela := off
	off += relasize
	slot := off // where the loader writes the module's thread-pointer offset
	off += 8
	dynamic := off
	dyn := [][2]uint64{
		{4, hash}, {5, strtab}, {6, symtab}, {10, 1}, {11, symsize}, // HASH, STRTAB, SYMTAB, STRSZ, SYMENT
		{7, rela}, {8, relasize}, {9, relasize}, // RELA, RELASZ, RELAENT
		{30, 0x10}, // FLAGS: DF_STATIC_TLS
		{0, 0},
	}
	off += uint64(len(dyn)) * 16
	align = max(align, 1)
	off = (off + align - 1) &^ (align - 1)
	tls := off
	off += uint64(len(image))

	b := make([]byte, off)
	copy(b, "\x7fELF\x02\x01\x01") // 64-bit, little-endian, version 1
	le.PutUint16(b[16:], 3)        // ET_DYN
	le.PutUint16(b[18:], uint16(a.machine))
	le.PutUint32(b[20:], 1)
	le.PutUint64(b[32:], ehsize) // program headers
	le.PutUint16(b[52:], ehsize)
	le.PutUint16(b[54:], phsize)
	le.PutUint16(b[56:], nph)
	le.PutUint16(b[58:], 64)
	ph := func(i int, typ, flags uint32, at, filesz, memsz, align uint64) {
		p := b[ehsize+i*phsize:]
		le.PutUint32(p[0:], typ)
		le.PutUint32(p[4:], flags)
		le.PutUint64(p[8:], at)  // offset
		le.PutUint64(p[16:], at) // vaddr
		le.PutUint64(p[24:], at) // paddr
		le.PutUint64(p[32:], filesz)
		le.PutUint64(p[40:], memsz)
		le.PutUint64(p[48:], align)
	}
	// Writable: the loader adjusts the dynamic section in place.
	ph(0, 1, 6, 0, off, off, 0x1000)                                  // PT_LOAD, RW
	ph(1, 2, 6, dynamic, uint64(len(dyn))*16, uint64(len(dyn))*16, 8) // PT_DYNAMIC
	ph(2, 7, 4, tls, uint64(len(image)), size, align)                 // PT_TLS
	sym := b[symtab+symsize:]
	sym[4] = 6                    // STT_TLS, STB_LOCAL
	le.PutUint16(sym[6:], 0xfff1) // defined (absolute), value 0
	le.PutUint32(b[hash:], 1)     // nbucket
	le.PutUint32(b[hash+4:], 2)   // nchain
	le.PutUint64(b[rela:], slot)
	le.PutUint64(b[rela+8:], 1<<32|uint64(a.tpoff64)) // symbol 1
	for i, d := range dyn {
		le.PutUint64(b[dynamic+uint64(i)*16:], d[0])
		le.PutUint64(b[dynamic+uint64(i)*16+8:], d[1])
	}
	copy(b[tls:], image)
	return b, slot, nil
}
