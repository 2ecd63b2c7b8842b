package main

import "golang.org/x/sys/unix"

// socketPeerPID returns the process at the other end of a Unix socket
// (SO_PEERCRED); 0 if it cannot.
func socketPeerPID(fd uintptr) int {
	cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return 0
	}
	return int(cred.Pid)
}
