/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/ipc.h"
#include "common/syscalls.h"
#include "common/util.h"

void vz_strlcat(char *buf, const char *s, size_t size)
{
	size_t n = strnlen(buf, size);
	if (!s || n + 1 >= size)
		return;
	while (*s && n + 1 < size)
		buf[n++] = *s++;
	buf[n] = '\0';
}

char *vz_fmt_u64(char *buf, uint64_t v)
{
	char tmp[24];
	int i = 0, j = 0;
	do {
		tmp[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (i)
		buf[j++] = tmp[--i];
	buf[j] = '\0';
	return buf;
}

/* Messages are smaller than PIPE_BUF, so one write is all or nothing. The raw call
 * leaves errno alone, so any thread may send, a bare vCPU thread included. */
void vz_ipc_send(int fd, const struct vz_ipc_msg *m)
{
	if (fd >= 0)
		while (vz_rsys6(SYS_write, fd, (long)m, (long)sizeof(*m), 0, 0, 0) == -EINTR)
			;
}

void vz_ipc_phase(int fd, const char *name)
{
	struct vz_ipc_msg m = { .type = VZ_IPC_PHASE, .t_ns = vz_now_ns() };
	vz_strlcat(m.name, name, sizeof(m.name));
	vz_ipc_send(fd, &m);
}

void vz_ipc_error(int fd, int code, int os_errno, const char *a, const char *b, const char *c)
{
	struct vz_ipc_msg m = { .type = VZ_IPC_ERROR, .code = code, .os_errno = os_errno };
	vz_strlcat(m.text, a, sizeof(m.text));
	vz_strlcat(m.text, b, sizeof(m.text));
	vz_strlcat(m.text, c, sizeof(m.text));
	vz_ipc_send(fd, &m);
}

void vz_ipc_exit(int fd, int reason, int value, const char *text)
{
	struct vz_ipc_msg m = { .type = VZ_IPC_EXIT, .value1 = reason, .value2 = value };
	vz_strlcat(m.text, text, sizeof(m.text));
	vz_ipc_send(fd, &m);
}
