/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef __KVM_IOREGION_H__
#define __KVM_IOREGION_H__

#include <linux/kvm_types.h>
#include <linux/types.h>
#include <linux/ioregion.h>

struct ioregion_wire;

/*
 * The ioregionfd access of a vCPU that could not finish inside the I/O bus
 * callback, because it would have blocked or the device failed.  KVM_RUN
 * finishes it, or reports it, before it runs the vCPU again.
 */
struct kvm_vcpu_ioregion {
	/* The fds' wires, in the order they are claimed; wire[1] may be NULL. */
	struct ioregion_wire *wire[2];
	struct ioregion_wire *out;
	struct ioregion_wire *in;
	struct ioregionfd_cmd cmd;
	struct ioregionfd_resp resp;
	gpa_t addr;
	u64 user_data;
	u32 len;
	u32 done;
	int error;
	u8 state;
	u8 nr_claimed;
	bool pio;
	/* Complete in the bus callback, see kvm_ioregion_set_sync(). */
	bool sync;
};

#endif /* __KVM_IOREGION_H__ */
