package native

/*
#include "ccall.h"
int gorc_callback_slots(void);
uintptr_t gorc_callback_entry(int slot, int ret);
*/
import "C"

import (
	"fmt"
	"os"
	"runtime/debug"
	"sync"
)

// A Callback is Go code that C calls through a C function pointer.
type Callback struct {
	Name    string // for reports
	Classes []Class
	Ret     Class
	// Fn gets the arguments as Call passes them and returns the result's
	// bits.
	Fn func(args []uint64) uint64
}

// callbacks is the pool of trampoline slots. It is process-wide because
// the trampolines are: C function pointers cannot carry a context.
var callbacks struct {
	sync.RWMutex
	slots []*Callback
}

// NewCallback gives cb a C function pointer until release is called (C
// must not call it after that).
func NewCallback(cb *Callback) (addr uint64, release func(), err error) {
	if err := checkClasses(cb.Classes); err != nil {
		return 0, nil, err
	}
	n := int(C.gorc_callback_slots())
	callbacks.Lock()
	defer callbacks.Unlock()
	if callbacks.slots == nil {
		callbacks.slots = make([]*Callback, n)
	}
	for i, s := range callbacks.slots {
		if s == nil {
			callbacks.slots[i] = cb
			var once sync.Once
			return uint64(C.gorc_callback_entry(C.int(i), C.int(cb.Ret))), func() {
				once.Do(func() {
					callbacks.Lock()
					callbacks.slots[i] = nil
					callbacks.Unlock()
				})
			}, nil
		}
	}
	return 0, nil, fmt.Errorf("all %d Go callback slots are in use", n)
}

//export gorcGoCallback
func gorcGoCallback(slot C.int, frame *C.gorc_call_frame, result *C.uint64_t) {
	callbacks.RLock()
	cb := callbacks.slots[slot]
	callbacks.RUnlock()
	if cb == nil {
		fmt.Fprintf(os.Stderr, "gorc: C called Go callback slot %d after it was released\n", slot)
		os.Exit(2)
	}
	defer func() {
		// A panic cannot unwind the C frames between here and the Go
		// code that called C: end the process, as an unrecovered panic
		// would, naming the callback.
		if p := recover(); p != nil {
			fmt.Fprintf(os.Stderr, "gorc: panic in Go callback %s: %v\n%s", cb.Name, p, debug.Stack())
			os.Exit(2)
		}
	}()
	args, _ := frameArgs(frame, cb.Classes)
	*result = C.uint64_t(cb.Fn(args))
}
