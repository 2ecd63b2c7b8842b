//go:build unix && !(linux && amd64)

package sysmem

// mapLow is zero where mmap has no flag placing memory in the low 2 GiB.
const mapLow = 0
