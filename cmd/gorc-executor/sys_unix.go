//go:build unix

package main

import "golang.org/x/sys/unix"

func setNonblock(fd int) error { return unix.SetNonblock(fd, true) }

// privateUmask makes the files created until restore is called readable
// and writable by this user only.
func privateUmask() (restore func()) {
	old := unix.Umask(0o177)
	return func() { unix.Umask(old) }
}
