	.text
	.globl start
start:
	movq ext@GOTPCREL(%rip), %rax
	call *ext2@GOTPCREL(%rip)
	jmp *ext3@GOTPCREL(%rip)
	call fn@PLT
	leaq local(%rip), %rcx
	movw $local, %ax
	.byte 0xeb, local2 - . - 1
local2: ret
	.weak weak_ref
	.quad weak_ref
	.section .text.g,"axG",@progbits,grp,comdat
	.globl grp_fn
grp_fn: ret
	.data
local: .quad start, sym_size@SIZE
	.long start - .
	.set abs_val, 0x42
	.globl abs_val
	.comm comm_sym, 16, 8
	.section .rodata.str1.1,"aMS",@progbits,1
	.string "merged"
	.section .init_array,"aw"
	.quad start
	.section .note.GNU-stack,"",@progbits
