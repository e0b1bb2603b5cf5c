/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef __KVM_IOREGION_H__
#define __KVM_IOREGION_H__

#include <linux/kvm_types.h>
#include <linux/types.h>
#include <linux/ioregion.h>

struct ioregion;

/*
 * The MMIO or PIO exit of a vCPU that an ioregionfd device serves instead
 * of userspace.  It outlives a return to userspace on a signal, so that
 * the next KVM_RUN resumes it where it stopped.
 */
struct kvm_vcpu_ioregion {
	struct ioregion *region;
	struct ioregionfd_cmd cmd;
	struct ioregionfd_resp resp;
	/* The exit as KVM set it up: an address, or a port and a count. */
	u64 addr;
	u8 data[8];
	u32 size;
	u32 count;
	u32 data_offset;
	/* The piece of the exit (string PIO element) being served. */
	u32 idx;
	/* Bytes of the response received so far. */
	u32 done;
	int error;
	u8 state;
	bool write;
	bool pio;
	/* This vCPU owns the response side of the region's read_fd. */
	bool claimed;
};

#endif /* __KVM_IOREGION_H__ */
