// SPDX-License-Identifier: GPL-2.0-only
/*
 * The device side of KVM ioregionfd, see include/ioregion_device.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "ioregion_device.h"

/* Move all @len bytes, across short transfers, signals and a nonblocking @fd. */
static int ioregion_device_xfer(int fd, void *buf, size_t len, bool out)
{
	struct pollfd pfd = { .fd = fd, .events = out ? POLLOUT : POLLIN };
	size_t done = 0;
	ssize_t ret;
	u8 *p = buf;

	while (done < len) {
		if (out)
			ret = write(fd, p + done, len - done);
		else
			ret = read(fd, p + done, len - done);

		if (ret > 0) {
			done += ret;
			continue;
		}
		if (!ret)
			return done ? -EPROTO : -EPIPE;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			return -errno;
	}
	return 0;
}

int ioregion_device_recv_cmd(int fd, struct ioregionfd_cmd *cmd)
{
	return ioregion_device_xfer(fd, cmd, sizeof(*cmd), false);
}

int ioregion_device_send_resp(int fd, u64 data)
{
	struct ioregionfd_resp resp;

	memset(&resp, 0, sizeof(resp));
	resp.data = data;
	return ioregion_device_xfer(fd, &resp, sizeof(resp), true);
}

int ioregion_device_serve(int cmd_fd, int resp_fd, ioregion_device_handler_t handler,
			  void *opaque)
{
	struct ioregionfd_cmd cmd;
	u64 data;
	int ret;

	for (;;) {
		ret = ioregion_device_recv_cmd(cmd_fd, &cmd);
		if (ret)
			return ret == -EPIPE ? 0 : ret;

		data = handler(opaque, &cmd);
		if (!(cmd.flags & IOREGIONFD_CMD_RESP))
			continue;

		ret = ioregion_device_send_resp(resp_fd, data);
		if (ret)
			return ret;
	}
}

void ioregion_regfile_init(struct ioregion_regfile *rf)
{
	memset(rf, 0, sizeof(*rf));
}

static bool ioregion_regfile_valid(const struct ioregionfd_cmd *cmd)
{
	/* Writes to a zero-length region may come without a size. */
	switch (cmd->size) {
	case 0:
		if (cmd->cmd != IOREGIONFD_CMD_WRITE)
			return false;
		break;
	case 1:
	case 2:
	case 4:
	case 8:
		break;
	default:
		return false;
	}

	return cmd->offset < IOREGION_REGFILE_SIZE && cmd->offset % 8 + cmd->size <= 8;
}

u64 ioregion_regfile_access(struct ioregion_regfile *rf, const struct ioregionfd_cmd *cmd)
{
	u64 mask = ioregion_size_mask(cmd->size);
	u32 shift = (cmd->offset % 8) * 8;
	bool doorbell;
	u64 *reg;

	if (!ioregion_regfile_valid(cmd)) {
		rf->bad++;
		return ~0ull;
	}

	reg = &rf->regs[cmd->offset / 8];
	doorbell = cmd->offset / 8 == IOREGION_REGFILE_DOORBELL / 8;
	if (cmd->cmd == IOREGIONFD_CMD_READ) {
		rf->reads++;
		return doorbell ? rf->doorbells & mask : (*reg >> shift) & mask;
	}

	rf->writes++;
	if (doorbell)
		rf->doorbells++;
	*reg = (*reg & ~(mask << shift)) | ((cmd->data & mask) << shift);
	return 0;
}

u64 ioregion_regfile_handler(void *opaque, const struct ioregionfd_cmd *cmd)
{
	return ioregion_regfile_access(opaque, cmd);
}
