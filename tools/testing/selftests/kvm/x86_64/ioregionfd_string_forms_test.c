// SPDX-License-Identifier: GPL-2.0-only
/*
 * ioregionfd against the string instructions on x86: rep movs, lods, stos,
 * ins and outs on the MMIO and PIO regions of a device that records every
 * command.  The host asserts one command per element, in order, and what
 * the guest read.  See ioregion_forms.h for the regions.
 */
#include <string.h>

#include "ioregion_forms.h"
#include "kvm_test_harness.h"
#include "test_util.h"

static const u32 counts[] = { 1, 2, 17, MAX_COUNT };

KVM_ONE_VCPU_TEST_SUITE(forms);

/*
 * The string cases send thousands of commands, and the debug kernel on a
 * loaded CI host takes minutes for them, not the harness's default 30 s.
 */
#define FORMS_STRING_TEST(test)						\
static void __forms_##test(struct kvm_vcpu *vcpu);			\
									\
TEST_F_TIMEOUT(forms, test, 300)					\
{									\
	vcpu_arch_set_entry_point(self->vcpu, iof_guest_code);		\
	__forms_##test(self->vcpu);					\
}									\
static void __forms_##test(struct kvm_vcpu *vcpu)

/* rep movs of @size-byte elements between @offset in the region and RAM. */
static void do_movs(struct kvm_vcpu *vcpu, bool to_region, u32 size, u32 count, u64 offset)
{
	struct guest_op op = {
		to_region ? F_MOVS_TO : F_MOVS_FROM, size, REGION_GPA + offset, count,
	};
	char what[80];
	u8 *ram;
	int i;

	snprintf(what, sizeof(what), "rep movs of %u %u-byte elements %s the region", count,
		 size, to_region ? "to" : "from");
	iof_expect_none();
	if (to_region) {
		ram = iof_ram_fill(vcpu, count);
		for (i = 0; i < count; i++)
			iof_expect_cmd(false, true, size, offset + i * size,
				       iof_ram_val(ram + i * size, size));
	} else {
		memset(iof_guest_ram(vcpu), POISON, RAM_BUF_SIZE);
		for (i = 0; i < count; i++)
			iof_expect_cmd(false, false, size, offset + i * size, 0);
	}
	iof_run_op(vcpu, &op, what);
	iof_check_cmds(what);
	if (!to_region)
		iof_check_ram_answers(vcpu, count, size, what);
}

/*
 * rep movsb and rep movsd in both directions: one command per element, the
 * elements in order, the page boundary inside the region crossed on the way.
 */
FORMS_STRING_TEST(rep_movs)
{
	int i, to_region;

	iof_init(vcpu);
	for (to_region = 0; to_region < 2; to_region++) {
		for (i = 0; i < ARRAY_SIZE(counts); i++) {
			do_movs(vcpu, to_region, 1, counts[i], 0x600);
			do_movs(vcpu, to_region, 4, counts[i], 0x100);
		}
	}
	iof_fini(vcpu);
}

/*
 * rep movsd whose first element straddles the page boundary inside the
 * region: that element is two commands, one per page.
 */
KVM_ONE_VCPU_TEST(forms, rep_movs_page_crossing, iof_guest_code)
{
	const u64 offset = REGION_PAGE_END - 2;
	struct guest_op op = { F_MOVS_FROM, 4, REGION_GPA + offset, 2 };
	const char *what = "rep movsd from across the page boundary";
	u64 got, want;
	u8 *ram;

	iof_init(vcpu);
	memset(iof_guest_ram(vcpu), POISON, RAM_BUF_SIZE);
	iof_expect_none();
	iof_expect_cmd(false, false, 2, offset, 0);
	iof_expect_cmd(false, false, 2, offset + 2, 0);
	iof_expect_cmd(false, false, 4, offset + 4, 0);
	iof_run_op(vcpu, &op, what);
	iof_check_cmds(what);
	ram = iof_guest_ram(vcpu);
	got = iof_ram_val(ram, 8);
	want = iof_answer(0, 2) | iof_answer(1, 2) << 16 | iof_answer(2, 4) << 32;
	TEST_ASSERT(got == want, "%s: the guest got 0x%lx, the device answered 0x%lx", what, got,
		    want);

	what = "rep movsd to across the page boundary";
	op.form = F_MOVS_TO;
	ram = iof_ram_fill(vcpu, 1);
	iof_expect_none();
	iof_expect_cmd(false, true, 2, offset, iof_ram_val(ram, 2));
	iof_expect_cmd(false, true, 2, offset + 2, iof_ram_val(ram + 2, 2));
	iof_expect_cmd(false, true, 4, offset + 4, iof_ram_val(ram + 4, 4));
	iof_run_op(vcpu, &op, what);
	iof_check_cmds(what);
	iof_fini(vcpu);
}

/* rep lodsd leaves the last element in eax; rep stosd writes eax to each. */
FORMS_STRING_TEST(rep_lods_stos)
{
	const u64 offset = 0x7f0;
	struct guest_op op;
	char what[64];
	int i, n;

	iof_init(vcpu);
	for (i = 0; i < ARRAY_SIZE(counts); i++) {
		snprintf(what, sizeof(what), "rep lodsd of %u elements", counts[i]);
		op = (struct guest_op) { F_LODS, 4, REGION_GPA + offset, counts[i] };
		iof_expect_none();
		for (n = 0; n < counts[i]; n++)
			iof_expect_cmd(false, false, 4, offset + 4 * n, 0);
		iof_run_op(vcpu, &op, what);
		iof_check_cmds(what);
		TEST_ASSERT(iof_result[0] == iof_answer(counts[i] - 1, 4),
			    "%s: eax is 0x%lx, the last answer 0x%lx", what, iof_result[0],
			    iof_answer(counts[i] - 1, 4));

		snprintf(what, sizeof(what), "rep stosd of %u elements", counts[i]);
		op = (struct guest_op) { F_STOS, 4, REGION_GPA + offset, counts[i], PATTERN };
		iof_expect_none();
		for (n = 0; n < counts[i]; n++)
			iof_expect_cmd(false, true, 4, offset + 4 * n, PATTERN);
		iof_run_op(vcpu, &op, what);
		iof_check_cmds(what);
	}

	op = (struct guest_op) { F_LODS, 1, REGION_GPA + REGION_PAGE_END - 1, 2 };
	iof_expect_none();
	iof_expect_cmd(false, false, 1, REGION_PAGE_END - 1, 0);
	iof_expect_cmd(false, false, 1, REGION_PAGE_END, 0);
	iof_run_op(vcpu, &op, "rep lodsb across the page boundary");
	iof_check_cmds("rep lodsb across the page boundary");
	TEST_ASSERT(iof_result[0] == iof_answer(1, 1),
		    "rep lodsb: al is 0x%lx, the last answer 0x%lx", iof_result[0],
		    iof_answer(1, 1));
	iof_fini(vcpu);
}

static const u8 pio_sizes[] = { 1, 2, 4 };

/* rep ins of each size on one port of the PIO region: one command per element. */
FORMS_STRING_TEST(rep_ins)
{
	const u64 offset = 0x20, port = PIO_BASE + offset;
	struct guest_op op;
	char what[64];
	int s, i, n;

	iof_init(vcpu);
	for (s = 0; s < ARRAY_SIZE(pio_sizes); s++) {
		for (i = 0; i < ARRAY_SIZE(counts); i++) {
			snprintf(what, sizeof(what), "rep ins of %u %u-byte elements", counts[i],
				 pio_sizes[s]);
			op = (struct guest_op) { F_INS, pio_sizes[s], port, counts[i] };
			memset(iof_guest_ram(vcpu), POISON, RAM_BUF_SIZE);
			iof_expect_none();
			for (n = 0; n < counts[i]; n++)
				iof_expect_cmd(true, false, pio_sizes[s], offset, 0);
			iof_run_op(vcpu, &op, what);
			iof_check_cmds(what);
			iof_check_ram_answers(vcpu, counts[i], pio_sizes[s], what);
		}
	}
	iof_fini(vcpu);
}

/* rep outs of each size on one port of the PIO region: one command per element. */
FORMS_STRING_TEST(rep_outs)
{
	const u64 offset = 0x20, port = PIO_BASE + offset;
	struct guest_op op;
	char what[64];
	int s, i, n;
	u8 *ram;

	iof_init(vcpu);
	for (s = 0; s < ARRAY_SIZE(pio_sizes); s++) {
		for (i = 0; i < ARRAY_SIZE(counts); i++) {
			snprintf(what, sizeof(what), "rep outs of %u %u-byte elements", counts[i],
				 pio_sizes[s]);
			op = (struct guest_op) { F_OUTS, pio_sizes[s], port, counts[i] };
			ram = iof_ram_fill(vcpu, i + s);
			iof_expect_none();
			for (n = 0; n < counts[i]; n++)
				iof_expect_cmd(true, true, pio_sizes[s], offset,
					       iof_ram_val(ram + n * pio_sizes[s], pio_sizes[s]));
			iof_run_op(vcpu, &op, what);
			iof_check_cmds(what);
		}
	}
	iof_fini(vcpu);
}

int main(int argc, char *argv[])
{
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_IOREGIONFD));

	return test_harness_run(argc, argv);
}
