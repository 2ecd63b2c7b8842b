package remote

import (
	"os"

	"golang.org/x/sys/unix"
)

// pipeSize is the buffer asked for the pipes to a launched executor: a
// finalize that copies segments (1.3 MB for main + libsqlite3.a) then
// crosses in one or two writes, each waking the reader once, rather than
// in 64 KiB pieces (the default) with a wake-up of both processes each.
// 1 MiB is the default limit for an unprivileged process
// (/proc/sys/fs/pipe-max-size); a smaller limit leaves the default.
const pipeSize = 1 << 20

// growPipe enlarges the pipe of f, where Linux allows it.
func growPipe(f *os.File) {
	unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, pipeSize)
}
