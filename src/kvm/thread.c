/* SPDX-License-Identifier: MIT */
/* vCPU threads without libc: see sys.h for why. */
#include <sched.h>

#include "kvm/sys.h"

/* long vz_thread_clone(unsigned long flags, void *stack, volatile int *tid,
 *                      void (*fn)(void *), void *arg)
 * The new thread finds fn and arg on its stack, calls fn(arg), then exits (the thread
 * only). Both the parent and the thread get the thread id in *tid before either runs
 * on (CLONE_PARENT_SETTID), and the kernel clears it at exit (CLONE_CHILD_CLEARTID). */
__asm__(".text\n"
	".globl vz_thread_clone\n"
	".hidden vz_thread_clone\n"
	".type vz_thread_clone,@function\n"
	"vz_thread_clone:\n"
	"	and $-16, %rsi\n"
	"	sub $16, %rsi\n"
	"	mov %rcx, 0(%rsi)\n"
	"	mov %r8, 8(%rsi)\n"
	"	mov %rdx, %r10\n" /* child_tid */
	"	xor %r8d, %r8d\n" /* tls: unchanged */
	"	mov $56, %eax\n"  /* SYS_clone(flags, stack, parent_tid, child_tid, tls) */
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jnz 1f\n"
	"	xor %ebp, %ebp\n"
	"	pop %rax\n"
	"	pop %rdi\n"
	"	call *%rax\n"
	"	mov $60, %eax\n" /* SYS_exit: this thread only */
	"	xor %edi, %edi\n"
	"	syscall\n"
	"	ud2\n"
	"1:	ret\n"
	".size vz_thread_clone, .-vz_thread_clone\n");

long vz_thread_clone(unsigned long flags, void *stack, volatile int *tid, void (*fn)(void *),
		     void *arg);

long vz_thread_spawn(void *stack_top, volatile int *ctid, void (*fn)(void *), void *arg)
{
	unsigned long flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
			      CLONE_SYSVSEM | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
	return vz_thread_clone(flags, stack_top, ctid, fn, arg);
}
