package remote

import (
	"errors"

	"github.com/gorc-jit/gorc/jitlink"
)

func newSharedManager(e *EPC) (jitlink.MemoryManager, error) {
	return nil, errors.New("TODO")
}
