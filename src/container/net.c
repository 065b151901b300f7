/* SPDX-License-Identifier: MIT */
/* Child side: the network namespace. A new one has only "lo", down; the default mode
 * brings it up (an ioctl suffices for that, no netlink needed). */
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "container/plan.h"

int vz_ctr_setup_net(const struct vz_ctr_plan *plan, const struct vz_child_chan *ch)
{
	struct ifreq ifr;
	int fd, rc;

	if (plan->cfg->network != VZ_NET_LOOPBACK)
		return 0;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return vz_ctr_fail(ch, "loopback: socket", "");
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
	if (rc == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		rc = ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	if (rc < 0) {
		int err = errno;
		close(fd);
		errno = err;
		return vz_ctr_fail(ch, "loopback: bring up lo", "");
	}
	close(fd);
	return 0;
}
