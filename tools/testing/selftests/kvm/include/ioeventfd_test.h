/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The machinery of the ioeventfd tests: a guest that makes one PIO or MMIO
 * access at a time, KVM_IOEVENTFD registrations, and the host side that runs
 * an access and checks what KVM consumed, signalled and passed to userspace.
 */
#ifndef SELFTEST_KVM_IOEVENTFD_TEST_H
#define SELFTEST_KVM_IOEVENTFD_TEST_H

#include <sys/resource.h>

#include <linux/sizes.h>

#include "guest_io.h"
#include "kvm_util.h"

/* Arbitrary, clear of ucall and of the in-kernel PIC. */
#define PIO_BASE		0x6000

/* Outside every memslot, identity mapped by the fixture. */
#define MMIO_GPA		(4ull * SZ_1G)
#define MMIO_NR_PAGES		4

/*
 * Doorbells sit in 16-byte slots so that no access made by the tests, not
 * even one at an offset into a registered range, reaches the next slot.
 */
#define SLOT_SIZE		0x10

/* Upper bits set in every byte, so that truncation or sign extension shows. */
#define PATTERN			0xf1e2d3c4b5a69788ull

enum ioe_op_type {
	IO_WRITE,
	IO_READ,
	/* A 16-byte MMIO store, which KVM can only handle in pieces. */
	IO_WRITE_SSE,
};

/* An access for ioe_guest_code() to make, of type enum ioe_op_type. */
struct ioe_op {
	u64 addr;
	u64 val[2];
	u32 size;
	u32 type;
	bool pio;
};

/* An access, or a piece of one, that KVM is expected to pass to userspace. */
struct ioe_exit {
	u64 addr;
	u32 len;
	u64 data;
};

struct ioe_stats {
	u64 signals;
	u64 misses;
};

/* Whether KVM has KVM_CAP_IOEVENTFD_GROUPS, set by the test's main(). */
extern bool ioe_has_groups;

/* Port I/O is at most 4 bytes wide, (non-SSE) MMIO at most 8. */
extern const u32 ioe_access_sizes[4];
int ioe_nr_access_sizes(bool pio);
u64 ioe_size_mask(u32 size);
u64 ioe_addr(bool pio, int slot);
const char *ioe_bus_str(bool pio);
u32 ioe_bus_flag(bool pio);

void ioe_guest_code(void);

/* Eventfds. */
int ioe_new_eventfd(void);
void ioe_assert_eventfd(int fd, u64 expected, const char *name);
void ioe_assert_eventfds(const int *fds, const u64 *expected, int nr, const char *what);
void ioe_close_fds(const int *fds, int nr);
bool ioe_raise_nofile_limit(rlim_t nr);

/* KVM_IOEVENTFD. */
int __ioe_vm_ioeventfd(struct kvm_vm *vm, u64 addr, u32 len, int fd, u32 flags, u64 datamatch);
void ioe_vm_ioeventfd(struct kvm_vm *vm, u64 addr, u32 len, int fd, u32 flags, u64 datamatch);
void ioe_assert_ioeventfd(struct kvm_vm *vm, u64 addr, u32 len, int fd, u32 flags,
			  u64 datamatch, int err, const char *what);
void ioe_assign_wildcard(struct kvm_vm *vm, bool pio, u64 addr, u32 len, int fd);
void ioe_assign_datamatch(struct kvm_vm *vm, bool pio, u64 addr, u32 len, int fd, u64 val);
void ioe_deassign_wildcard(struct kvm_vm *vm, bool pio, u64 addr, u32 len, int fd);
void ioe_deassign_datamatch(struct kvm_vm *vm, bool pio, u64 addr, u32 len, int fd, u64 val);

/* Guest accesses, and what KVM must make of them. */
bool ioe_vcpu_stats(struct kvm_vcpu *vcpu, struct ioe_stats *stats);
void ioe_run_io(struct kvm_vcpu *vcpu, const struct ioe_op *op, const struct ioe_exit *exits,
		int nr_exits, u64 signals, u64 misses);
void ioe_write(struct kvm_vcpu *vcpu, bool pio, u64 addr, u32 size, u64 val, u64 signals);
void ioe_write_exit(struct kvm_vcpu *vcpu, bool pio, u64 addr, u32 size, u64 val, u64 misses);
void ioe_read(struct kvm_vcpu *vcpu, bool pio, u64 addr, u32 size, u64 val);

/* A VM with one vCPU and the MMIO pages mapped, for the fixtures. */
void ioe_vm_setup(struct kvm_vcpu **vcpu);

#endif /* SELFTEST_KVM_IOEVENTFD_TEST_H */
