/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The device side of KVM ioregionfd (KVM_SET_IOREGION): receive the
 * commands KVM sends for guest accesses, answer them, and an example
 * device to serve with.  Also the ioctl itself, for the VMM side.
 */
#ifndef SELFTEST_KVM_IOREGION_DEVICE_H
#define SELFTEST_KVM_IOREGION_DEVICE_H

#include <errno.h>
#include <string.h>

#include <linux/ioregion.h>
#include <linux/types.h>

#include "kvm_util.h"

/* The bits of an access of @size bytes; none for a write of unknown size. */
static inline u64 ioregion_size_mask(u8 size)
{
	return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

/*
 * Read one command from @fd.  Return 0, -EPIPE on end of file before the
 * command, -EPROTO on end of file inside it, or another negative errno.
 */
int ioregion_device_recv_cmd(int fd, struct ioregionfd_cmd *cmd);

/*
 * Write a response carrying @data, with zero pad, to @fd; 0 or -errno, and
 * -EPIPE rather than SIGPIPE if @fd is a socket whose peer is gone.
 */
int ioregion_device_send_resp(int fd, u64 data);

/* The same with @status, e.g. IOREGIONFD_RESP_UNHANDLED to decline the access. */
int ioregion_device_send_status(int fd, u64 data, u32 status);

/*
 * Called for every command; the return value is a read's value, and is
 * ignored for a write.
 */
typedef u64 (*ioregion_device_handler_t)(void *opaque, const struct ioregionfd_cmd *cmd);

/*
 * Serve commands from @cmd_fd with @handler, answering on @resp_fd those
 * that ask for a response, until @cmd_fd reaches end of file.  Posted
 * writes that queue up while the device is busy are taken with one read.
 * Return 0 at end of file, or the negative errno that stopped the loop.
 * Responses go out with MSG_NOSIGNAL: a peer that is gone gives -EPIPE,
 * not SIGPIPE.
 */
int ioregion_device_serve(int cmd_fd, int resp_fd, ioregion_device_handler_t handler,
			  void *opaque);

/*
 * An example device: 32 64-bit registers, little endian.  An access reads or
 * writes the bytes at its offset and must stay inside one register.  The
 * last register is a doorbell: writes to it are counted, and it reads as the
 * number of writes it has had, so that a read tells whether earlier writes
 * arrived.
 */
#define IOREGION_REGFILE_NR_REGS	32
#define IOREGION_REGFILE_SIZE		(IOREGION_REGFILE_NR_REGS * 8)
#define IOREGION_REGFILE_DOORBELL	(IOREGION_REGFILE_SIZE - 8)

struct ioregion_regfile {
	u64 regs[IOREGION_REGFILE_NR_REGS];
	u64 reads;
	u64 writes;
	u64 doorbells;
	/* Accesses outside the file, across registers or of a bad size. */
	u64 bad;
};

void ioregion_regfile_init(struct ioregion_regfile *rf);

/* Perform @cmd on @rf; return a read's value, ~0 for a bad read. */
u64 ioregion_regfile_access(struct ioregion_regfile *rf, const struct ioregionfd_cmd *cmd);

/* An ioregion_device_handler_t for a struct ioregion_regfile in @opaque. */
u64 ioregion_regfile_handler(void *opaque, const struct ioregionfd_cmd *cmd);

/* Format @cmd, every field of it, into @buf for a test's messages; return @buf. */
const char *ioregion_cmd_str(const struct ioregionfd_cmd *cmd, char *buf, size_t size);

/*
 * Close a region's pair of fds, which may be one socket twice, and set
 * both to -1.  A negative fd is left alone.
 */
void ioregion_close_fds(int *rfd, int *wfd);

/* The VMM side: KVM_SET_IOREGION, raw for negative tests or asserting success. */
static inline int __vm_set_ioregion(struct kvm_vm *vm, struct kvm_ioregion *args)
{
	return __vm_ioctl(vm, KVM_SET_IOREGION, args);
}

static inline void vm_set_ioregion(struct kvm_vm *vm, struct kvm_ioregion *args)
{
	int ret = __vm_set_ioregion(vm, args);

	TEST_ASSERT(!ret,
		    "KVM_SET_IOREGION(paddr = 0x%llx, size = 0x%llx, rfd = %d, wfd = %d, flags = 0x%x) failed, errno = %d (%s)",
		    args->guest_paddr, args->memory_size, args->read_fd, args->write_fd,
		    args->flags, errno, strerror(errno));
}

#endif /* SELFTEST_KVM_IOREGION_DEVICE_H */
