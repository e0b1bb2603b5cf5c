/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What ioeventfd_stress_test and ioregionfd_stress_test share: their guest
 * layout, their time bounds and seed, and the decoding of the exits that
 * reach userspace.
 */
#ifndef SELFTEST_KVM_EVENTFD_STRESS_H
#define SELFTEST_KVM_EVENTFD_STRESS_H

#include <pthread.h>

#include <linux/sizes.h>

#include "kvm_util.h"
#include "test_util.h"

#define NR_VCPUS		4

/* Arbitrary, clear of ucall and of the in-kernel PIC and PIT. */
#define PIO_BASE		0x6000

/* Outside every memslot, identity mapped for the guest. */
#define MMIO_GPA		(4ull * SZ_1G)
#define MMIO_NR_PAGES		4

#define STRESS_SECONDS		8
#define MAX_STRESS_SECONDS	240
#define CASE_TIMEOUT		(MAX_STRESS_SECONDS + 120)

/* What must happen promptly gets this long, enough for TCG and a debug kernel. */
#define PROMPT_MS		20000

/* A guest access that KVM passed to userspace as KVM_EXIT_IO or KVM_EXIT_MMIO. */
struct io_access {
	bool pio;
	bool write;
	u64 addr;
	u32 size;
	u64 data;
	/* Where a read's value goes. */
	void *ptr;
};

/* Usable by the guest too.  Park-Miller sticks at 0 and needs a seed below 2^31 - 1. */
static inline struct guest_random_state new_rng(u32 seed)
{
	return new_guest_random_state(seed % 0x7ffffffe + 1);
}

static inline u32 rand_below(struct guest_random_state *rng, u32 n)
{
	return guest_random_u32(rng) % n;
}

u64 now_ms(void);
u64 stress_ms(void);
u32 stress_seed(void);
void check_ucall_clear(struct kvm_vm *vm, u64 nr_pages);
bool io_exit(struct kvm_vcpu *vcpu);
bool decode_io_exit(struct kvm_vcpu *vcpu, struct io_access *io);
void join_thread(pthread_t thread, const char *what);
void join_vcpu(pthread_t thread, int idx);

#endif /* SELFTEST_KVM_EVENTFD_STRESS_H */
