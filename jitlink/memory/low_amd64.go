package memory

import "golang.org/x/sys/unix"

// lowMapFlag returns the mmap flag that places a mapping in the low 2 GiB.
func lowMapFlag() (int, error) { return unix.MAP_32BIT, nil }
