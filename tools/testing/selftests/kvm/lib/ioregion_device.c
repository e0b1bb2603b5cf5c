// SPDX-License-Identifier: GPL-2.0-only
/*
 * The device side of KVM ioregionfd, see include/ioregion_device.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "ioregion_device.h"

/* Commands that ioregion_device_serve() takes with one read. */
#define IOREGION_DEVICE_BATCH	64

/* Write to a socket without SIGPIPE, or to another file as usual. */
static ssize_t ioregion_device_write(int fd, const void *buf, size_t len)
{
	ssize_t ret = send(fd, buf, len, MSG_NOSIGNAL);

	return ret < 0 && errno == ENOTSOCK ? write(fd, buf, len) : ret;
}

/*
 * Move at least one byte and at most @len, across signals and a nonblocking
 * @fd.  Return the bytes moved, 0 on end of file, or a negative errno.
 */
static ssize_t ioregion_device_io(int fd, void *buf, size_t len, bool out)
{
	struct pollfd pfd = { .fd = fd, .events = out ? POLLOUT : POLLIN };
	ssize_t ret;

	for (;;) {
		ret = out ? ioregion_device_write(fd, buf, len) : read(fd, buf, len);
		if (ret >= 0)
			return ret;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			return -errno;
	}
}

/* Move all @len bytes: 0, -EPIPE on end of file at once, -EPROTO later. */
static int ioregion_device_xfer(int fd, void *buf, size_t len, bool out)
{
	size_t done = 0;
	ssize_t ret;

	while (done < len) {
		ret = ioregion_device_io(fd, (u8 *)buf + done, len - done, out);
		if (ret < 0)
			return ret;
		if (!ret)
			return done ? -EPROTO : -EPIPE;
		done += ret;
	}
	return 0;
}

int ioregion_device_recv_cmd(int fd, struct ioregionfd_cmd *cmd)
{
	return ioregion_device_xfer(fd, cmd, sizeof(*cmd), false);
}

int ioregion_device_send_status(int fd, u64 data, u32 status)
{
	struct ioregionfd_resp resp;

	memset(&resp, 0, sizeof(resp));
	resp.data = data;
	resp.status = status;
	return ioregion_device_xfer(fd, &resp, sizeof(resp), true);
}

int ioregion_device_send_resp(int fd, u64 data)
{
	return ioregion_device_send_status(fd, data, IOREGIONFD_RESP_DONE);
}

static int ioregion_device_handle(const struct ioregionfd_cmd *cmd, int resp_fd,
				  ioregion_device_handler_t handler, void *opaque)
{
	u64 data = handler(opaque, cmd);

	if (!(cmd->flags & IOREGIONFD_CMD_RESP))
		return 0;
	return ioregion_device_send_resp(resp_fd, data);
}

int ioregion_device_serve(int cmd_fd, int resp_fd, ioregion_device_handler_t handler,
			  void *opaque)
{
	struct ioregionfd_cmd cmds[IOREGION_DEVICE_BATCH];
	size_t have = 0, n, i;
	ssize_t got;
	int ret;

	for (;;) {
		/* Take all the posted writes that queued up while busy at once. */
		got = ioregion_device_io(cmd_fd, (u8 *)cmds + have, sizeof(cmds) - have, false);
		if (got < 0)
			return got;
		if (!got)
			return have ? -EPROTO : 0;

		have += got;
		n = have / sizeof(cmds[0]);
		for (i = 0; i < n; i++) {
			ret = ioregion_device_handle(&cmds[i], resp_fd, handler, opaque);
			if (ret)
				return ret;
		}

		have -= n * sizeof(cmds[0]);
		memmove(cmds, &cmds[n], have);
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

const char *ioregion_cmd_str(const struct ioregionfd_cmd *cmd, char *buf, size_t size)
{
	snprintf(buf, size,
		 "{cmd %u, size %u, flags 0x%x, pad %02x%02x%02x%02x%02x, user_data 0x%llx, offset 0x%llx, data 0x%llx}",
		 cmd->cmd, cmd->size, cmd->flags, cmd->pad[0], cmd->pad[1], cmd->pad[2],
		 cmd->pad[3], cmd->pad[4], cmd->user_data, cmd->offset, cmd->data);
	return buf;
}

void ioregion_close_fds(int *rfd, int *wfd)
{
	if (*rfd >= 0)
		close(*rfd);
	if (*wfd >= 0 && *wfd != *rfd)
		close(*wfd);
	*rfd = -1;
	*wfd = -1;
}
