/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
#ifndef _UAPI_LINUX_IOREGION_H
#define _UAPI_LINUX_IOREGION_H

#include <linux/types.h>

/*
 * Wire protocol of KVM ioregionfd (KVM_SET_IOREGION), see
 * Documentation/virt/kvm/api.rst.  Every message is 32 bytes and every
 * field is in host byte order.
 */

/* ioregionfd_cmd.cmd */
#define IOREGIONFD_CMD_READ	0
#define IOREGIONFD_CMD_WRITE	1

/* ioregionfd_cmd.flags */
#define IOREGIONFD_CMD_RESP	(1 << 0)

struct ioregionfd_cmd {
	__u8 cmd;
	__u8 size;
	__u8 flags;
	__u8 pad[5];
	__u64 user_data;
	__u64 offset;
	__u64 data;
};

/* ioregionfd_resp.status */
#define IOREGIONFD_RESP_DONE		0	/* the device performed the access */
#define IOREGIONFD_RESP_UNHANDLED	1	/* hand the access to the VMM */

struct ioregionfd_resp {
	__u64 data;
	__u32 status;
	__u8 pad[20];
};

#endif /* _UAPI_LINUX_IOREGION_H */
