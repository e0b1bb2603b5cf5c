/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The machinery of the ioregionfd forms tests on x86: the guest's access
 * of each instruction form, a device that records every command, and the
 * commands and exits that the host expects of an access.  See
 * x86_64/ioregionfd_forms_test.c and x86_64/ioregionfd_string_forms_test.c.
 */
#ifndef SELFTEST_KVM_IOREGION_FORMS_H
#define SELFTEST_KVM_IOREGION_FORMS_H

#include <linux/ioregion.h>
#include <linux/sizes.h>

#include "kvm_util.h"
#include "processor.h"

/* Outside every memslot, identity mapped by iof_init(). */
#define MMIO_GPA		(4ull * SZ_1G)
#define MMIO_NR_PAGES		4

/* Two pages from the middle of the first: a page boundary at offset 0x800. */
#define REGION_GPA		(MMIO_GPA + PAGE_SIZE / 2)
#define REGION_SIZE		(2 * PAGE_SIZE)
#define REGION_PAGE_END		(PAGE_SIZE / 2)

/* Clear of ucall and of the in-kernel PIC and PIT. */
#define PIO_BASE		0x6000
#define PIO_SIZE		0x100

/* What a guest store writes, and userspace's answer to a read outside the regions. */
#define PATTERN			0xf1e2d3c4b5a69788ull

#define RAM_BUF_SIZE		(2 * PAGE_SIZE)
#define POISON			0x3c
#define MAX_COUNT		1000

enum form {
	F_LOAD,
	F_STORE,
	F_IN,
	F_OUT,
	/* rep movs from @addr to ram_buf, and from ram_buf to @addr. */
	F_MOVS_FROM,
	F_MOVS_TO,
	F_LODS,
	F_STOS,
	F_INS,
	F_OUTS,
	F_MOVDQU_LOAD,
	F_MOVDQU_STORE,
	F_ADD,
	F_XCHG,
	F_LOCK_XADD,
	F_VMOVDQU_LOAD,
};

/* The access the guest makes next, set by the host. */
struct guest_op {
	u32 form;
	u32 size;
	u64 addr;
	u64 count;
	u64 val;
};

/* A value the guest loaded, or the 16 bytes of a movdqu load. */
extern u64 iof_result[2];

void iof_guest_code(void);
void iof_guest_code_avx(void);

void iof_init(struct kvm_vcpu *vcpu);
void iof_fini(struct kvm_vcpu *vcpu);

void iof_expect_none(void);
void iof_expect_cmd(bool pio, bool write, u8 size, u64 offset, u64 data);
void iof_set_cmd_data(int n, u64 data);
void iof_expect_exit(bool pio, bool write, u64 addr, u32 len, u64 data);
void iof_start_op(struct kvm_vcpu *vcpu, const struct guest_op *op);
void iof_run_op(struct kvm_vcpu *vcpu, const struct guest_op *op, const char *what);
void iof_check_cmds(const char *what);
u64 iof_answer(int n, u8 size);

u8 *iof_guest_ram(struct kvm_vcpu *vcpu);
u8 *iof_ram_fill(struct kvm_vcpu *vcpu, u32 seed);
u64 iof_ram_val(const u8 *ram, u32 size);
void iof_check_ram_answers(struct kvm_vcpu *vcpu, u32 count, u32 size, const char *what);

#endif /* SELFTEST_KVM_IOREGION_FORMS_H */
