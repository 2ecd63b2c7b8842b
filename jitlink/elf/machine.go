package elf

import (
	"debug/elf"
	"encoding/binary"
	"fmt"

	"github.com/gorc-jit/gorc/jitlink"
	"github.com/gorc-jit/gorc/jitlink/triple"
)

// CheckMachine returns an error naming the file and its machine unless the
// ELF object in data is for the architecture of target (the JIT's triple),
// so that a foreign object is refused when it is added rather than when
// it is first linked. Data that is not ELF passes: parsing reports it.
func CheckMachine(name string, data []byte, target triple.Triple) error {
	m, ok := machine(data)
	if !ok {
		return nil
	}
	if a := archFor(func(a *arch) bool { return a.machine == m }); a != nil && a.arch == target.Arch {
		return nil
	}
	return fmt.Errorf("%s: ELF machine %s, but the JIT targets %s", name, m, target)
}

// Arch returns the architecture of the ELF object in data, or an error
// naming the file and its machine if gorc does not link for it.
func Arch(name string, data []byte) (triple.Arch, error) {
	m, ok := machine(data)
	if !ok {
		return triple.UnknownArch, &jitlink.MalformedError{File: name, Offset: -1, Msg: "not an ELF file"}
	}
	if a := archFor(func(a *arch) bool { return a.machine == m }); a != nil {
		return a.arch, nil
	}
	return triple.UnknownArch, &jitlink.UnsupportedError{File: name, Offset: -1, What: "ELF machine " + m.String()}
}

// machine reads e_machine, false if data is not ELF.
func machine(data []byte) (elf.Machine, bool) {
	if len(data) < 20 || string(data[:4]) != elf.ELFMAG {
		return 0, false
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if elf.Data(data[elf.EI_DATA]) == elf.ELFDATA2MSB {
		bo = binary.BigEndian
	}
	return elf.Machine(bo.Uint16(data[18:])), true
}
