// gorc's executor runtime (runtime.c).
#ifndef GORC_RUNTIME_H
#define GORC_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

// The C ABI of ORC wrapper functions: bytes in, bytes out. Results of up to
// a pointer's size are stored inline; larger ones (and out-of-band error
// strings, which have Size 0) are malloc'd.
typedef struct {
	union {
		char *ValuePtr;
		char Value[sizeof(char *)];
	} Data;
	size_t Size;
} gorc_wrapper_result;

// The argument of __tls_get_addr.
typedef struct {
	uint64_t module, offset;
} gorc_tls_index;

void *gorc_tls_get_addr(const gorc_tls_index *ti);
uint64_t gorc_tls_reserve_module(void);
int gorc_tls_is_reserved(uint64_t m);
int gorc_tls_set_static(uint64_t m, int64_t tpoff);
gorc_wrapper_result gorc_tls_register_wrapper(const char *args, size_t size);
gorc_wrapper_result gorc_tls_deregister_wrapper(const char *args, size_t size);
gorc_wrapper_result gorc_register_eh_frame_wrapper(const char *args, size_t size);
gorc_wrapper_result gorc_deregister_eh_frame_wrapper(const char *args, size_t size);
gorc_wrapper_result gorc_empty_wrapper(const char *args, size_t size);

// The names LLVM's controllers look up in an executor.
gorc_wrapper_result llvm_orc_registerEHFrameSectionWrapper(const char *args, uint64_t size);
gorc_wrapper_result llvm_orc_deregisterEHFrameSectionWrapper(const char *args, uint64_t size);
gorc_wrapper_result llvm_orc_registerJITLoaderGDBWrapper(const char *args, uint64_t size);

// gorc_jit_dispatch is how JIT'd code calls the controller (LLVM's
// __llvm_orc_SimpleRemoteEPC_dispatch_fn): ctx identifies the session,
// tag the controller's handler; the result is the handler's bytes, or an
// out-of-band error.
gorc_wrapper_result gorc_jit_dispatch(void *ctx, const void *tag, const char *data, size_t size);

// Called by a lazy call whose body failed to materialize; aborts.
void gorc_lazy_compile_failed(const char *msg);

// Register and deregister the names of JIT'd functions, for crash reports.
gorc_wrapper_result gorc_register_function_names_wrapper(const char *args, size_t size);
gorc_wrapper_result gorc_deregister_function_names_wrapper(const char *args, size_t size);

// Reports crashes of JIT'd code (one line, starting with prefix) and dies
// of the signal; faults in the executable's own code go to Go.
void gorc_install_crash_handler(const char *prefix);

#endif
