//go:build linux

// gorc's executor runtime: what JIT'd code needs at run time that the C
// library does not provide. Thread-local storage for JIT'd modules (a
// __tls_get_addr for them), and wrapper functions (bytes in, bytes out, the
// ORC runtime's calling convention) that register and deregister eh-frames
// and TLS templates, run as allocation actions.

#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime.h"

// ---- Wrapper function results ----

static gorc_wrapper_result gorc_result_empty(void) {
	gorc_wrapper_result r;
	memset(&r, 0, sizeof r);
	return r;
}

// gorc_result_error returns an out-of-band error (Size 0, message pointer).
static gorc_wrapper_result gorc_result_error(const char *msg) {
	gorc_wrapper_result r;
	r.Size = 0;
	r.Data.ValuePtr = strdup(msg);
	return r;
}

// gorc_result_sps_error returns an SPS-encoded Error: a bool "has error",
// then a string (uint64 length + bytes) if set.
static gorc_wrapper_result gorc_result_sps_error(const char *msg) {
	gorc_wrapper_result r;
	if (!msg) {
		r.Size = 1;
		r.Data.Value[0] = 0;
		return r;
	}
	size_t n = strlen(msg);
	r.Size = 1 + 8 + n;
	char *p = malloc(r.Size);
	if (!p)
		return gorc_result_error("out of memory");
	p[0] = 1;
	uint64_t len = n;
	memcpy(p + 1, &len, 8);
	memcpy(p + 9, msg, n);
	r.Data.ValuePtr = p;
	return r;
}

static int read_u64(const char **p, size_t *left, uint64_t *v) {
	if (*left < 8)
		return 0;
	memcpy(v, *p, 8);
	*p += 8;
	*left -= 8;
	return 1;
}

// ---- eh-frame registration ----

typedef void (*frame_fn)(const void *);

// frame_function finds the unwinder's registration functions in the global
// scope, loading libgcc_s (the unwinder C++ code uses) if needed.
static frame_fn frame_function(const char *name) {
	frame_fn f = (frame_fn)dlsym(RTLD_DEFAULT, name);
	if (!f) {
		void *h = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_GLOBAL);
		if (h)
			f = (frame_fn)dlsym(h, name);
	}
	return f;
}

// Args: SPS ExecutorAddrRange (uint64 start, uint64 end). Result: SPS Error.
static gorc_wrapper_result eh_frame_wrapper(const char *args, size_t size, const char *fn) {
	uint64_t start, end;
	if (!read_u64(&args, &size, &start) || !read_u64(&args, &size, &end))
		return gorc_result_sps_error("eh-frame registration: malformed arguments");
	if (start == end)
		return gorc_result_sps_error(NULL);
	frame_fn f = frame_function(fn);
	if (!f)
		return gorc_result_sps_error("eh-frame registration: no unwinder (libgcc_s) in the process");
	f((const void *)(uintptr_t)start);
	return gorc_result_sps_error(NULL);
}

gorc_wrapper_result gorc_register_eh_frame_wrapper(const char *args, size_t size) {
	return eh_frame_wrapper(args, size, "__register_frame");
}

gorc_wrapper_result gorc_deregister_eh_frame_wrapper(const char *args, size_t size) {
	return eh_frame_wrapper(args, size, "__deregister_frame");
}

// ---- Thread-local storage ----
//
// Each JIT'd TLS module has an id, a template (initialized bytes, then
// zeroes up to its size) and an alignment. Each thread allocates its copy
// of a module's block on first access. A module id can be reused once its
// module is deregistered: generations tell a thread its old block is stale.
// Modules live in fixed chunks that never move, so the fast path reads them
// without a lock.

enum { TLS_FREE, TLS_RESERVED, TLS_LIVE, TLS_STATIC };

typedef struct {
	char *image;
	size_t image_size, size, align;
	uint64_t gen; // changes whenever the module id gets a new module
	int state;
	int64_t tpoff; // TLS_STATIC: the block's offset from the thread pointer
} tls_module;

#define TLS_CHUNK 256
#define TLS_MAX_MODULES 0x10000

typedef struct {
	void *block;
	uint64_t gen;
} tls_slot;

static pthread_mutex_t tls_lock = PTHREAD_MUTEX_INITIALIZER;
static tls_module *tls_chunks[TLS_MAX_MODULES / TLS_CHUNK];
static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;

static __thread tls_slot *tls_slots;
static __thread size_t tls_nslots;

static tls_module *tls_mod(size_t m) {
	tls_module *c = __atomic_load_n(&tls_chunks[m / TLS_CHUNK], __ATOMIC_ACQUIRE);
	return c ? &c[m % TLS_CHUNK] : NULL;
}

static void tls_thread_exit(void *arg) {
	(void)arg;
	for (size_t i = 0; i < tls_nslots; i++)
		free(tls_slots[i].block);
	free(tls_slots);
	tls_slots = NULL;
	tls_nslots = 0;
}

static void tls_init_key(void) { pthread_key_create(&tls_key, tls_thread_exit); }

static void *tls_slow(const gorc_tls_index *ti) {
	size_t m = ti->module;
	if (m == 0 || m >= TLS_MAX_MODULES)
		return NULL;
	pthread_mutex_lock(&tls_lock);
	tls_module *mod = tls_mod(m);
	if (!mod || mod->state != TLS_LIVE) {
		pthread_mutex_unlock(&tls_lock);
		return NULL;
	}
	if (m >= tls_nslots) {
		size_t n = m + 8;
		tls_slot *s = realloc(tls_slots, n * sizeof *s);
		if (!s) {
			pthread_mutex_unlock(&tls_lock);
			return NULL;
		}
		memset(s + tls_nslots, 0, (n - tls_nslots) * sizeof *s);
		tls_slots = s;
		tls_nslots = n;
	}
	size_t align = mod->align < sizeof(void *) ? sizeof(void *) : mod->align;
	void *block = NULL;
	if (posix_memalign(&block, align, mod->size ? mod->size : 1) != 0) {
		pthread_mutex_unlock(&tls_lock);
		return NULL;
	}
	memcpy(block, mod->image, mod->image_size);
	memset((char *)block + mod->image_size, 0, mod->size - mod->image_size);
	uint64_t gen = mod->gen;
	pthread_mutex_unlock(&tls_lock);
	pthread_once(&tls_once, tls_init_key);
	pthread_setspecific(tls_key, (void *)1); // run tls_thread_exit at exit
	free(tls_slots[m].block);
	tls_slots[m].block = block;
	tls_slots[m].gen = gen;
	return (char *)block + ti->offset;
}

// gorc_tls_get_addr is __tls_get_addr for JIT'd modules.
void *gorc_tls_get_addr(const gorc_tls_index *ti) {
	size_t m = ti->module;
	if (m > 0 && m < TLS_MAX_MODULES) {
		tls_module *mod = tls_mod(m);
		if (mod && __atomic_load_n(&mod->state, __ATOMIC_ACQUIRE) == TLS_STATIC)
			return (char *)__builtin_thread_pointer() + mod->tpoff + ti->offset;
	}
	if (m < tls_nslots && tls_slots[m].block) {
		tls_module *mod = tls_mod(m);
		if (mod && tls_slots[m].gen == __atomic_load_n(&mod->gen, __ATOMIC_ACQUIRE))
			return (char *)tls_slots[m].block + ti->offset;
	}
	return tls_slow(ti);
}

// gorc_tls_reserve_module returns a free module id (0 if none is left).
uint64_t gorc_tls_reserve_module(void) {
	pthread_mutex_lock(&tls_lock);
	for (size_t m = 1; m < TLS_MAX_MODULES; m++) {
		tls_module *mod = tls_mod(m);
		if (!mod) {
			mod = calloc(TLS_CHUNK, sizeof *mod);
			if (!mod)
				break;
			__atomic_store_n(&tls_chunks[m / TLS_CHUNK], mod, __ATOMIC_RELEASE);
			mod = tls_mod(m);
		}
		if (mod->state == TLS_FREE) {
			mod->state = TLS_RESERVED;
			pthread_mutex_unlock(&tls_lock);
			return m;
		}
	}
	pthread_mutex_unlock(&tls_lock);
	return 0;
}

// gorc_tls_is_reserved reports whether module m is reserved and not yet
// given a template or static block.
int gorc_tls_is_reserved(uint64_t m) {
	pthread_mutex_lock(&tls_lock);
	tls_module *mod = m > 0 && m < TLS_MAX_MODULES ? tls_mod(m) : NULL;
	int ok = mod && mod->state == TLS_RESERVED;
	pthread_mutex_unlock(&tls_lock);
	return ok;
}

// gorc_tls_set_static makes a reserved module one with a block in static
// TLS at tpoff from the thread pointer. It returns 0 if the module was not
// reserved.
int gorc_tls_set_static(uint64_t m, int64_t tpoff) {
	pthread_mutex_lock(&tls_lock);
	tls_module *mod = m > 0 && m < TLS_MAX_MODULES ? tls_mod(m) : NULL;
	int ok = mod && mod->state == TLS_RESERVED;
	if (ok) {
		mod->tpoff = tpoff;
		__atomic_add_fetch(&mod->gen, 1, __ATOMIC_RELEASE);
		__atomic_store_n(&mod->state, TLS_STATIC, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&tls_lock);
	return ok;
}

// Args: SPS (uint64 module, uint64 size, uint64 align, seq<char> image).
// Result: SPS Error.
gorc_wrapper_result gorc_tls_register_wrapper(const char *args, size_t size) {
	uint64_t m, total, align, n;
	if (!read_u64(&args, &size, &m) || !read_u64(&args, &size, &total) || !read_u64(&args, &size, &align) ||
	    !read_u64(&args, &size, &n) || n > size || n > total || (align & (align - 1)) != 0)
		return gorc_result_sps_error("TLS registration: malformed arguments");
	char *image = malloc(n ? n : 1);
	if (!image)
		return gorc_result_sps_error("TLS registration: out of memory");
	memcpy(image, args, n);
	pthread_mutex_lock(&tls_lock);
	tls_module *mod = m > 0 && m < TLS_MAX_MODULES ? tls_mod(m) : NULL;
	if (!mod || mod->state != TLS_RESERVED) {
		pthread_mutex_unlock(&tls_lock);
		free(image);
		return gorc_result_sps_error("TLS registration: module id not reserved");
	}
	mod->image = image;
	mod->image_size = n;
	mod->size = total;
	mod->align = align ? align : 1;
	mod->state = TLS_LIVE;
	__atomic_add_fetch(&mod->gen, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&tls_lock);
	return gorc_result_sps_error(NULL);
}

// Args: SPS uint64 module. Result: SPS Error. Threads' copies are freed
// when the thread exits or reuses the id; the id becomes free.
gorc_wrapper_result gorc_tls_deregister_wrapper(const char *args, size_t size) {
	uint64_t m;
	if (!read_u64(&args, &size, &m))
		return gorc_result_sps_error("TLS deregistration: malformed arguments");
	pthread_mutex_lock(&tls_lock);
	tls_module *mod = m > 0 && m < TLS_MAX_MODULES ? tls_mod(m) : NULL;
	if (mod && mod->state != TLS_FREE) {
		free(mod->image);
		mod->image = NULL;
		__atomic_store_n(&mod->state, TLS_FREE, __ATOMIC_RELEASE);
		__atomic_add_fetch(&mod->gen, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&tls_lock);
	return gorc_result_sps_error(NULL);
}

// gorc_empty_wrapper is a no-op wrapper function, for tests.
gorc_wrapper_result gorc_empty_wrapper(const char *args, size_t size) {
	(void)args;
	(void)size;
	return gorc_result_empty();
}

// ---- Names LLVM's controller looks up in an executor ----
//
// llvm-jitlink-14 finds these through the dylib manager and uses them as
// allocation actions or calls them directly.

gorc_wrapper_result llvm_orc_registerEHFrameSectionWrapper(const char *args, uint64_t size) {
	return gorc_register_eh_frame_wrapper(args, size);
}

gorc_wrapper_result llvm_orc_deregisterEHFrameSectionWrapper(const char *args, uint64_t size) {
	return gorc_deregister_eh_frame_wrapper(args, size);
}

// ---- The GDB JIT interface ----
//
// Debuggers set a breakpoint on __jit_debug_register_code and read the
// in-memory object files listed in __jit_debug_descriptor.

struct jit_code_entry {
	struct jit_code_entry *next_entry, *prev_entry;
	const char *symfile_addr;
	uint64_t symfile_size;
};

struct jit_descriptor {
	uint32_t version, action_flag;
	struct jit_code_entry *relevant_entry, *first_entry;
};

struct jit_descriptor __jit_debug_descriptor = {1, 0, 0, 0};

void __attribute__((noinline, used)) __jit_debug_register_code(void) { __asm__ volatile(""); }

static pthread_mutex_t gdb_lock = PTHREAD_MUTEX_INITIALIZER;

// Args: SPS ExecutorAddrRange of an in-memory debug object, then (in LLVM
// 15 and later) a bool saying whether to notify the debugger. Result: SPS
// Error.
gorc_wrapper_result llvm_orc_registerJITLoaderGDBWrapper(const char *args, uint64_t size) {
	uint64_t start, end;
	size_t left = size;
	if (!read_u64(&args, &left, &start) || !read_u64(&args, &left, &end) || end < start)
		return gorc_result_sps_error("GDB JIT registration: malformed arguments");
	int notify = left == 0 || args[0] != 0;
	struct jit_code_entry *e = calloc(1, sizeof *e);
	if (!e)
		return gorc_result_sps_error("GDB JIT registration: out of memory");
	e->symfile_addr = (const char *)(uintptr_t)start;
	e->symfile_size = end - start;
	pthread_mutex_lock(&gdb_lock);
	e->next_entry = __jit_debug_descriptor.first_entry;
	if (e->next_entry)
		e->next_entry->prev_entry = e;
	__jit_debug_descriptor.first_entry = e;
	__jit_debug_descriptor.relevant_entry = e;
	__jit_debug_descriptor.action_flag = 1; // JIT_REGISTER_FN
	if (notify)
		__jit_debug_register_code();
	pthread_mutex_unlock(&gdb_lock);
	return gorc_result_sps_error(NULL);
}

// ---- Calls from JIT'd code to the controller ----

extern void gorcDispatch(uintptr_t ctx, uintptr_t tag, char *data, size_t size, gorc_wrapper_result *out);

gorc_wrapper_result gorc_jit_dispatch(void *ctx, const void *tag, const char *data, size_t size) {
	gorc_wrapper_result r = gorc_result_empty();
	gorcDispatch((uintptr_t)ctx, (uintptr_t)tag, (char *)data, size, &r);
	return r;
}

// ---- Lazy compilation ----

#include <stdio.h>

// gorc_lazy_compile_failed is where a lazy call goes when its body could
// not be materialized and no handler was given: it reports the error and
// aborts, as a call into missing code must not return.
void gorc_lazy_compile_failed(const char *msg) {
	fprintf(stderr, "gorc: lazy compilation failed: %s\n", msg ? msg : "(no message)");
	fflush(stderr);
	abort();
}

// ---- Names of JIT'd functions, for crash reports ----
//
// Each linked graph registers its functions' ranges and names (an
// allocation action) and deregisters them when its memory is released.
// The crash handler reads the list without a lock: nodes are pushed with a
// compare-and-swap and never freed (a deregistered node is marked dead), so
// a reader sees a consistent list at any moment.

typedef struct fn_range {
	uintptr_t start, end;
	struct fn_range *next;
	int live;
	char name[];
} fn_range;

static fn_range *fn_ranges;
// fn_lock orders writers; the crash handler reads without it.
static pthread_mutex_t fn_lock = PTHREAD_MUTEX_INITIALIZER;

// Args: repeated (uint64 start, uint64 size, uint64 name length, name bytes).
// Result: SPS Error.
gorc_wrapper_result gorc_register_function_names_wrapper(const char *args, size_t size) {
	uint64_t start, len, n;
	while (size > 0) {
		if (!read_u64(&args, &size, &start) || !read_u64(&args, &size, &len) || !read_u64(&args, &size, &n) || n > size)
			return gorc_result_sps_error("function names: malformed arguments");
		fn_range *r = malloc(sizeof *r + n + 1);
		if (!r)
			return gorc_result_sps_error("function names: out of memory");
		r->start = start;
		r->end = start + (len ? len : 1);
		memcpy(r->name, args, n);
		r->name[n] = 0;
		args += n;
		size -= n;
		__atomic_store_n(&r->live, 1, __ATOMIC_RELAXED);
		pthread_mutex_lock(&fn_lock);
		r->next = fn_ranges;
		__atomic_store_n(&fn_ranges, r, __ATOMIC_RELEASE);
		pthread_mutex_unlock(&fn_lock);
	}
	return gorc_result_sps_error(NULL);
}

// Args: as for registration; the ranges starting at those addresses die.
// Each entry kills the newest live range starting there and unlinks it,
// so the list holds live ranges only: walking past every range ever
// registered made releasing N objects cost O(N^2) (minutes at 100,000).
// Entries go newest first (the reverse of registration), so a graph's
// ranges, and the newest graph's when a session closes, are found at the
// head. Unlinked nodes are not freed: the crash handler may be reading one,
// and its next pointer stays valid.
gorc_wrapper_result gorc_deregister_function_names_wrapper(const char *args, size_t size) {
	uint64_t start, len, n;
	size_t count = 0, cap = 0;
	uint64_t *starts = NULL;
	while (size > 0) {
		if (!read_u64(&args, &size, &start) || !read_u64(&args, &size, &len) || !read_u64(&args, &size, &n) || n > size) {
			free(starts);
			return gorc_result_sps_error("function names: malformed arguments");
		}
		args += n;
		size -= n;
		if (count == cap) {
			cap = cap ? 2 * cap : 64;
			uint64_t *grown = realloc(starts, cap * sizeof *starts);
			if (!grown) {
				free(starts);
				return gorc_result_sps_error("function names: out of memory");
			}
			starts = grown;
		}
		starts[count++] = start;
	}
	pthread_mutex_lock(&fn_lock);
	while (count > 0) {
		start = starts[--count];
		for (fn_range **p = &fn_ranges, *r; (r = *p) != NULL; p = &r->next) {
			if (r->start == start && __atomic_load_n(&r->live, __ATOMIC_RELAXED)) {
				__atomic_store_n(&r->live, 0, __ATOMIC_RELAXED);
				__atomic_store_n(p, r->next, __ATOMIC_RELEASE);
				break;
			}
		}
	}
	pthread_mutex_unlock(&fn_lock);
	free(starts);
	return gorc_result_sps_error(NULL);
}

// function_at returns the live range holding pc, or NULL (async-signal-safe).
static const fn_range *function_at(uintptr_t pc) {
	for (fn_range *r = __atomic_load_n(&fn_ranges, __ATOMIC_ACQUIRE); r; r = r->next)
		if (pc >= r->start && pc < r->end && __atomic_load_n(&r->live, __ATOMIC_RELAXED))
			return r;
	return NULL;
}

// ---- Crashes in JIT'd code ----
//
// The Go runtime turns SIGSEGV and friends into a stack dump of the Go
// program. A JIT'd program that crashes should instead die of its signal,
// as it would natively, after one line saying so. Faults in the
// executable's own code (Go and cgo) still go to Go's handler.

#include <signal.h>
#include <ucontext.h>
#include <unistd.h>

extern char __executable_start[], etext[];

static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP};
#define NCRASH (sizeof crash_signals / sizeof crash_signals[0])
static struct sigaction crash_old[NCRASH];
static char crash_prefix[256];

static void put_str(const char *s) {
	size_t n = strlen(s);
	while (n > 0) {
		ssize_t w = write(2, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= w;
	}
}

static void put_hex(uintptr_t v) {
	char buf[19] = "0x";
	int i = 2;
	for (int shift = 60; shift >= 0; shift -= 4) {
		int d = (v >> shift) & 0xf;
		if (i == 2 && d == 0 && shift > 0)
			continue;
		buf[i++] = "0123456789abcdef"[d];
	}
	buf[i] = 0;
	put_str(buf);
}

static const char *signal_name(int sig) {
	switch (sig) {
	case SIGSEGV: return "SIGSEGV (segmentation fault)";
	case SIGBUS: return "SIGBUS (bus error)";
	case SIGILL: return "SIGILL (illegal instruction)";
	case SIGFPE: return "SIGFPE (arithmetic exception)";
	case SIGABRT: return "SIGABRT (aborted)";
	case SIGTRAP: return "SIGTRAP (trap)";
	}
	return "a signal";
}

static void crash_handler(int sig, siginfo_t *info, void *ctx) {
	ucontext_t *uc = ctx;
#if defined(__aarch64__)
	uintptr_t pc = uc->uc_mcontext.pc;
#else
	uintptr_t pc = uc->uc_mcontext.gregs[REG_RIP];
#endif
	size_t i;
	for (i = 0; i < NCRASH && crash_signals[i] != sig; i++)
		;
	if (i < NCRASH && pc >= (uintptr_t)__executable_start && pc < (uintptr_t)etext) {
		// The tool's own code: Go's business.
		struct sigaction *old = &crash_old[i];
		if (old->sa_flags & SA_SIGINFO)
			old->sa_sigaction(sig, info, ctx);
		else if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN)
			old->sa_handler(sig);
		return;
	}
	put_str(crash_prefix);
	put_str(signal_name(sig));
	if (sig == SIGSEGV || sig == SIGBUS) {
		put_str(" at address ");
		put_hex((uintptr_t)info->si_addr);
	}
	put_str(", pc ");
	put_hex(pc);
	const fn_range *fn = function_at(pc);
	if (fn) {
		put_str(" in ");
		put_str(fn->name);
		put_str("+");
		put_hex(pc - fn->start);
	}
	put_str("\n");
	// Die of the signal, as the program would natively.
	signal(sig, SIG_DFL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	_exit(128 + sig);
}

void gorc_install_crash_handler(const char *prefix) {
	strncpy(crash_prefix, prefix, sizeof crash_prefix - 1);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = crash_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	for (size_t i = 0; i < NCRASH; i++)
		sigaction(crash_signals[i], &sa, &crash_old[i]);
}
