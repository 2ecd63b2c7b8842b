package x86_64

// PreservingCallStub returns the machine code of a function
//
//	uint64_t stub(uint64_t fn, const uint64_t args[6])
//
// that calls fn with the six integer arguments and returns what fn returns
// in rax and rdx, and that itself saves and restores everything the SysV
// ABI makes callee-saved: rbx, rbp, r12-r15, the MXCSR and the x87 control
// word (and clears the direction flag). Hosts call JIT'd entry points
// through it, so that code that breaks the ABI on return (legal C such as
// a global register variable in rbx) cannot corrupt the caller.
// The code is position-independent and needs no relocation.
func PreservingCallStub() []byte {
	return []byte{
		0x55,             // push rbp
		0x48, 0x89, 0xe5, // mov rbp, rsp
		0x53,       // push rbx
		0x41, 0x54, // push r12
		0x41, 0x55, // push r13
		0x41, 0x56, // push r14
		0x41, 0x57, // push r15
		0x48, 0x83, 0xec, 0x08, // sub rsp, 8 (keeps rsp 16-aligned at the call)
		0x0f, 0xae, 0x1c, 0x24, // stmxcsr [rsp]
		0xd9, 0x7c, 0x24, 0x04, // fnstcw [rsp+4]
		0x48, 0x89, 0xf8, // mov rax, rdi (fn)
		0x49, 0x89, 0xf2, // mov r10, rsi (args)
		0x49, 0x8b, 0x3a, // mov rdi, [r10]
		0x49, 0x8b, 0x72, 0x08, // mov rsi, [r10+8]
		0x49, 0x8b, 0x52, 0x10, // mov rdx, [r10+16]
		0x49, 0x8b, 0x4a, 0x18, // mov rcx, [r10+24]
		0x4d, 0x8b, 0x42, 0x20, // mov r8, [r10+32]
		0x4d, 0x8b, 0x4a, 0x28, // mov r9, [r10+40]
		0xff, 0xd0, // call rax
		0xfc,                   // cld
		0x0f, 0xae, 0x14, 0x24, // ldmxcsr [rsp]
		0xd9, 0x6c, 0x24, 0x04, // fldcw [rsp+4]
		0x48, 0x83, 0xc4, 0x08, // add rsp, 8
		0x41, 0x5f, // pop r15
		0x41, 0x5e, // pop r14
		0x41, 0x5d, // pop r13
		0x41, 0x5c, // pop r12
		0x5b, // pop rbx
		0x5d, // pop rbp
		0xc3, // ret
	}
}
