/* SPDX-License-Identifier: MIT */
/* Child -> parent protocol [crun sync socket]. The supervised child reports start-up
 * phase marks and set-up errors over a close-on-exec pipe (EOF there means the workload
 * has been executed), and its final outcome over the status socket. Messages are fixed
 * size and smaller than PIPE_BUF, so each write is atomic. The child side is
 * async-signal-safe: it runs after clone() in a copy of a possibly multithreaded parent. */
#ifndef VZ_COMMON_IPC_H
#define VZ_COMMON_IPC_H

#include <stdint.h>

enum vz_ipc_type {
	VZ_IPC_PHASE = 1, /* a start-up phase ended at t_ns (CLOCK_MONOTONIC) */
	VZ_IPC_ERROR = 2, /* set-up failed: code, os_errno, text */
	VZ_IPC_EXIT = 3,  /* the workload ended: value1 = vz_reason, value2 = code or signal */
	VZ_IPC_READY = 4, /* the workload runs (for children that do not exec, e.g. a VMM) */
	VZ_IPC_PREPARED = 5, /* sync pipe: set up, waiting for VZ_IPC_GO (vz_sandbox_prepare) */
	VZ_IPC_GO = 6,	     /* status socket, parent -> child: run it; t_ns = deadline or 0 */
};

struct vz_ipc_msg {
	uint32_t type;
	int32_t code;	  /* VZ_IPC_ERROR: negative vz_status */
	int32_t os_errno; /* VZ_IPC_ERROR: errno, appended by the parent as text */
	int32_t value1;
	int32_t value2;
	uint32_t pad;
	uint64_t t_ns;
	char name[16];	/* phase name */
	char text[448]; /* error context or crash text, NUL-terminated */
};

/* Child side; all async-signal-safe, errno-free (callable from the VMM's bare vCPU
 * threads), errors ignored (the parent sees EOF or a crash). */
void vz_ipc_phase(int fd, const char *name);
/* Text is the concatenation of up to three parts ("mount ", "/proc", NULL). */
void vz_ipc_error(int fd, int code, int os_errno, const char *a, const char *b, const char *c);
void vz_ipc_exit(int fd, int reason, int value, const char *text);
void vz_ipc_send(int fd, const struct vz_ipc_msg *m);

/* Append @s to the NUL-terminated @buf of @size bytes (async-signal-safe). */
void vz_strlcat(char *buf, const char *s, size_t size);
/* Decimal rendering of @v into @buf (at least 24 bytes); returns buf. */
char *vz_fmt_u64(char *buf, uint64_t v);

#endif
