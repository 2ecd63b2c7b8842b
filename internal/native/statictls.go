//go:build linux

package native

/*
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include "runtime.h"

// gorc_static_tls_open loads the generated library and returns the module's
// offset from the thread pointer (written by the loader at slot), or NULL
// and the loader's message.
static const char *gorc_static_tls_open(const char *path, uint64_t slot, int64_t *tpoff) {
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return dlerror();
	struct link_map *lm = NULL;
	if (dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0 || !lm)
		return dlerror();
	*tpoff = *(int64_t *)(lm->l_addr + slot);
	return NULL;
}
*/
import "C"

import (
	"fmt"
	"os"
	"unsafe"

	"github.com/gorc-jit/gorc/jitlink/elf"
	"github.com/gorc-jit/gorc/jitlink/triple"
)

// ReserveStaticTLS gives TLS module m (reserved with ReserveTLSModule) a
// block in every thread's static TLS area, initialized with image and
// zeroes up to size, and returns its offset from the thread pointer. It
// fails when the static TLS surplus (about 1.5 KiB with glibc's defaults,
// shared by every such module) is used up; the space is never returned.
func ReserveStaticTLS(m uint64, size, align uint64, image []byte) (int64, error) {
	// Check first: static TLS given to a library cannot be taken back.
	if C.gorc_tls_is_reserved(C.uint64_t(m)) == 0 {
		return 0, fmt.Errorf("static TLS: module %d is not reserved", m)
	}
	lib, slot, err := elf.StaticTLSLibrary(triple.Host().Arch, image, size, align)
	if err != nil {
		return 0, err
	}
	// A file of a name of its own: the loader takes a second library of a
	// name it has loaded for the first.
	f, err := os.CreateTemp("", "gorc-static-tls-*.so")
	if err != nil {
		return 0, fmt.Errorf("static TLS: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(lib)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("static TLS: %w", err)
	}
	path := C.CString(f.Name())
	defer C.free(unsafe.Pointer(path))
	var tpoff C.int64_t
	if msg := C.gorc_static_tls_open(path, C.uint64_t(slot), &tpoff); msg != nil {
		return 0, fmt.Errorf("static TLS: %s", C.GoString(msg))
	}
	if C.gorc_tls_set_static(C.uint64_t(m), tpoff) == 0 {
		return 0, fmt.Errorf("static TLS: module %d is not reserved", m)
	}
	return int64(tpoff), nil
}
