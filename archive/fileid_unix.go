//go:build unix

package archive

import (
	"os"
	"syscall"
)

// fileID identifies a file independently of the path used to reach it.
type fileID struct{ dev, ino uint64 }

func fileIdentity(fi os.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{uint64(st.Dev), uint64(st.Ino)}, true
}
