/* SPDX-License-Identifier: MIT */
/* Child side: identity inside the namespaces (user id maps, host name). */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/error.h"
#include "common/ipc.h"
#include "common/util.h"
#include "container/plan.h"

int vz_ctr_fail(const struct vz_child_chan *ch, const char *what, const char *arg)
{
	vz_ipc_error(ch->sync_fd, VZ_ECHILD, errno, what, arg, NULL);
	return -1;
}

char *vz_ctr_path(char *buf, const char *a, const char *b)
{
	buf[0] = '\0';
	vz_strlcat(buf, a, VZ_CTR_PATH_MAX);
	vz_strlcat(buf, b, VZ_CTR_PATH_MAX);
	return buf;
}

/* A process may map its own ids into a user namespace it created without help from
 * the parent (one id each, setgroups denied first); that is all libvz needs, since the
 * sandbox runs as one user. Wider maps would need newuidmap or a privileged parent. */
static int write_maps(const struct vz_ctr_plan *plan, const struct vz_child_chan *ch)
{
	if (vz_write_file_at(AT_FDCWD, "/proc/self/setgroups", "deny") < 0 && errno != ENOENT)
		return vz_ctr_fail(ch, "write /proc/self/setgroups", "");
	if (vz_write_file_at(AT_FDCWD, "/proc/self/uid_map", plan->uid_map) < 0)
		return vz_ctr_fail(ch, "write /proc/self/uid_map ", plan->uid_map);
	if (vz_write_file_at(AT_FDCWD, "/proc/self/gid_map", plan->gid_map) < 0)
		return vz_ctr_fail(ch, "write /proc/self/gid_map ", plan->gid_map);
	return 0;
}

int vz_ctr_setup_ids(const struct vz_ctr_plan *plan, const struct vz_child_chan *ch)
{
	const char *h = plan->cfg->hostname;

	if (plan->userns && write_maps(plan, ch))
		return -1;
	if (sethostname(h, strlen(h)) < 0)
		return vz_ctr_fail(ch, "sethostname ", h);
	return 0;
}
