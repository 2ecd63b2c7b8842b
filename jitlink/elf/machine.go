package elf

import (
	"debug/elf"
	"encoding/binary"
	"fmt"

	"github.com/gorc-jit/gorc/jitlink/triple"
)

// CheckMachine returns an error naming the file and its machine unless the
// ELF object in data is for the architecture of target (the JIT's triple),
// so that a foreign object is refused when it is added rather than when
// it is first linked. Data that is not ELF passes: parsing reports it.
func CheckMachine(name string, data []byte, target triple.Triple) error {
	if len(data) < 20 || string(data[:4]) != elf.ELFMAG {
		return nil
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if elf.Data(data[elf.EI_DATA]) == elf.ELFDATA2MSB {
		bo = binary.BigEndian
	}
	m := elf.Machine(bo.Uint16(data[18:]))
	if a := archFor(func(a *arch) bool { return a.machine == m }); a != nil && a.arch == target.Arch {
		return nil
	}
	return fmt.Errorf("%s: ELF machine %s, but the JIT targets %s", name, m, target)
}
