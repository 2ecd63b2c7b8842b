package sysmem

import "golang.org/x/sys/unix"

// mapLow is the mmap flag that places a mapping in the low 2 GiB.
const mapLow = unix.MAP_32BIT
