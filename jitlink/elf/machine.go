package elf

import (
	"debug/elf"
	"encoding/binary"
	"fmt"
	"strings"
)

// archFor returns the architecture of ELF machine m, nil if unsupported.
func archFor(m elf.Machine) *arch {
	switch m {
	case elf.EM_X86_64:
		return archX86_64
	}
	return nil
}

// CheckMachine returns an error naming the file and its machine unless the
// ELF object in data is for the architecture of target (the JIT's triple),
// so that a foreign object is refused when it is added rather than when
// it is first linked. Data that is not ELF passes: parsing reports it.
func CheckMachine(name string, data []byte, target string) error {
	if len(data) < 20 || string(data[:4]) != elf.ELFMAG {
		return nil
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if elf.Data(data[elf.EI_DATA]) == elf.ELFDATA2MSB {
		bo = binary.BigEndian
	}
	m := elf.Machine(bo.Uint16(data[18:]))
	a := archFor(m)
	if a != nil && tripleArch(a.triple) == tripleArch(target) {
		return nil
	}
	return fmt.Errorf("%s: ELF machine %s, but the JIT targets %s", name, m, target)
}

// tripleArch is the architecture part of a target triple.
func tripleArch(triple string) string {
	arch, _, _ := strings.Cut(triple, "-")
	return arch
}
