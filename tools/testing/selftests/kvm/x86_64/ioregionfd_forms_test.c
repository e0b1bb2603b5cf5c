// SPDX-License-Identifier: GPL-2.0-only
/*
 * ioregionfd against every form of guest access on x86: a device that
 * records every command serves an MMIO region of two pages, with a page
 * boundary inside, and a PIO region.  For each instruction form the host
 * asserts exactly which commands the device got, what the guest read, and
 * that no exit for an address inside a region reached userspace.  The
 * string instructions are in ioregionfd_string_forms_test.c, the device
 * and the guest's accesses in lib/x86_64/ioregion_forms.c.
 */
#include <stdatomic.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>

#include "apic.h"
#include "guest_io.h"
#include "ioregion_device.h"
#include "ioregion_forms.h"
#include "kvm_test_harness.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

/* Not in processor.h yet: CPUID.1:ECX.AVX[bit 28]. */
#define X86_FEATURE_AVX		KVM_X86_CPU_FEATURE(0x1, 0, ECX, 28)

/* The encoding of vmovdqu (%rdi), %ymm0, which the host skips. */
static const u8 vmovdqu_insn[] = { 0xc5, 0xfe, 0x6f, 0x07 };

KVM_ONE_VCPU_TEST_SUITE(forms);

/* Single mov loads and stores of each size, and in/out of each size. */
KVM_ONE_VCPU_TEST(forms, mov, iof_guest_code)
{
	static const u8 sizes[] = { 1, 2, 4, 8 };
	struct guest_op op;
	char what[64];
	u64 offset;
	int i;

	iof_init(vcpu);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		offset = 0x100 + 3 * sizes[i];
		snprintf(what, sizeof(what), "%u-byte mov load", sizes[i]);
		op = (struct guest_op) { F_LOAD, sizes[i], REGION_GPA + offset };
		iof_expect_none();
		iof_expect_cmd(false, false, sizes[i], offset, 0);
		iof_run_op(vcpu, &op, what);
		iof_check_cmds(what);
		TEST_ASSERT(iof_result[0] == iof_answer(0, sizes[i]),
			    "%s: the guest read 0x%lx, the device answered 0x%lx", what,
			    iof_result[0], iof_answer(0, sizes[i]));

		snprintf(what, sizeof(what), "%u-byte mov store", sizes[i]);
		op = (struct guest_op) { F_STORE, sizes[i], REGION_GPA + offset, 0, PATTERN };
		iof_expect_none();
		iof_expect_cmd(false, true, sizes[i], offset, PATTERN);
		iof_run_op(vcpu, &op, what);
		iof_check_cmds(what);

		if (sizes[i] == 8)
			continue;

		snprintf(what, sizeof(what), "%u-byte in", sizes[i]);
		op = (struct guest_op) { F_IN, sizes[i], PIO_BASE + 0x10 + sizes[i] };
		iof_expect_none();
		iof_expect_cmd(true, false, sizes[i], 0x10 + sizes[i], 0);
		iof_run_op(vcpu, &op, what);
		iof_check_cmds(what);
		TEST_ASSERT(iof_result[0] == iof_answer(0, sizes[i]),
			    "%s: the guest read 0x%lx, the device answered 0x%lx", what,
			    iof_result[0], iof_answer(0, sizes[i]));

		snprintf(what, sizeof(what), "%u-byte out", sizes[i]);
		op = (struct guest_op) { F_OUT, sizes[i], PIO_BASE + 0x10 + sizes[i], 0, PATTERN };
		iof_expect_none();
		iof_expect_cmd(true, true, sizes[i], 0x10 + sizes[i], PATTERN);
		iof_run_op(vcpu, &op, what);
		iof_check_cmds(what);
	}
	iof_fini(vcpu);
}

/*
 * movdqu of 16 bytes is two 8-byte commands; across the page boundary, one
 * command per piece of at most 8 bytes of each page's fragment.
 */
KVM_ONE_VCPU_TEST(forms, movdqu, iof_guest_code)
{
	struct guest_op op = { F_MOVDQU_LOAD, 16, REGION_GPA + 0x200 };
	const char *what = "movdqu load";
	u8 want[16];
	u64 v;
	u8 *ram;

	iof_init(vcpu);
	iof_expect_none();
	iof_expect_cmd(false, false, 8, 0x200, 0);
	iof_expect_cmd(false, false, 8, 0x208, 0);
	iof_run_op(vcpu, &op, what);
	iof_check_cmds(what);
	TEST_ASSERT(iof_result[0] == iof_answer(0, 8) && iof_result[1] == iof_answer(1, 8),
		    "%s: the guest got 0x%lx%016lx, the device answered 0x%lx%016lx", what,
		    iof_result[1], iof_result[0], iof_answer(1, 8), iof_answer(0, 8));

	what = "movdqu store";
	op = (struct guest_op) { F_MOVDQU_STORE, 16, REGION_GPA + 0x300 };
	ram = iof_ram_fill(vcpu, 3);
	iof_expect_none();
	iof_expect_cmd(false, true, 8, 0x300, iof_ram_val(ram, 8));
	iof_expect_cmd(false, true, 8, 0x308, iof_ram_val(ram + 8, 8));
	iof_run_op(vcpu, &op, what);
	iof_check_cmds(what);

	/* 4 bytes before the boundary, 12 after: 4, then 8 and 4. */
	what = "movdqu load across the page boundary";
	op = (struct guest_op) { F_MOVDQU_LOAD, 16, REGION_GPA + REGION_PAGE_END - 4 };
	iof_expect_none();
	iof_expect_cmd(false, false, 4, REGION_PAGE_END - 4, 0);
	iof_expect_cmd(false, false, 8, REGION_PAGE_END, 0);
	iof_expect_cmd(false, false, 4, REGION_PAGE_END + 8, 0);
	iof_run_op(vcpu, &op, what);
	iof_check_cmds(what);
	v = iof_answer(0, 4);
	memcpy(want, &v, 4);
	v = iof_answer(1, 8);
	memcpy(want + 4, &v, 8);
	v = iof_answer(2, 4);
	memcpy(want + 12, &v, 4);
	TEST_ASSERT(!memcmp(iof_result, want, 16),
		    "%s: the guest got 0x%lx%016lx, the device answered 0x%lx%016lx", what,
		    iof_result[1], iof_result[0], ((u64 *)want)[1], ((u64 *)want)[0]);

	what = "movdqu store across the page boundary";
	op = (struct guest_op) { F_MOVDQU_STORE, 16, REGION_GPA + REGION_PAGE_END - 4 };
	ram = iof_ram_fill(vcpu, 4);
	iof_expect_none();
	iof_expect_cmd(false, true, 4, REGION_PAGE_END - 4, iof_ram_val(ram, 4));
	iof_expect_cmd(false, true, 8, REGION_PAGE_END, iof_ram_val(ram + 4, 8));
	iof_expect_cmd(false, true, 4, REGION_PAGE_END + 8, iof_ram_val(ram + 12, 4));
	iof_run_op(vcpu, &op, what);
	iof_check_cmds(what);
	iof_fini(vcpu);
}

/* Read-modify-write instructions: a read command, then a write command. */
KVM_ONE_VCPU_TEST(forms, rmw, iof_guest_code)
{
	static const struct {
		u32 form;
		const char *what;
	} forms[] = {
		{ F_ADD, "add [mem], eax" },
		{ F_XCHG, "xchg [mem], eax" },
		{ F_LOCK_XADD, "lock xadd [mem], eax" },
	};
	const u32 val = 0x01020304;
	struct guest_op op;
	u64 offset, old, want;
	int i;

	iof_init(vcpu);
	for (i = 0; i < ARRAY_SIZE(forms); i++) {
		offset = 0x400 + 0x10 * i;
		op = (struct guest_op) { forms[i].form, 4, REGION_GPA + offset, 0, val };
		iof_expect_none();
		iof_expect_cmd(false, false, 4, offset, 0);
		/* Placeholder for the write, whose data depends on the answer. */
		iof_expect_cmd(false, true, 4, offset, 0);
		iof_run_op(vcpu, &op, forms[i].what);

		old = iof_answer(0, 4);
		want = forms[i].form == F_XCHG ? val : (u32)(old + val);
		iof_set_cmd_data(1, want);
		iof_check_cmds(forms[i].what);
		if (forms[i].form != F_ADD)
			TEST_ASSERT(iof_result[0] == old,
				    "%s: the guest got 0x%lx, the device answered 0x%lx",
				    forms[i].what, iof_result[0], old);
	}
	iof_fini(vcpu);
}

/* A load or store across the page boundary inside the region: one command per page. */
KVM_ONE_VCPU_TEST(forms, page_crossing, iof_guest_code)
{
	struct guest_op op = { F_LOAD, 8, REGION_GPA + REGION_PAGE_END - 4 };
	const char *what = "8-byte load across the page boundary";
	u64 want;

	iof_init(vcpu);
	iof_expect_none();
	iof_expect_cmd(false, false, 4, REGION_PAGE_END - 4, 0);
	iof_expect_cmd(false, false, 4, REGION_PAGE_END, 0);
	iof_run_op(vcpu, &op, what);
	iof_check_cmds(what);
	want = iof_answer(0, 4) | iof_answer(1, 4) << 32;
	TEST_ASSERT(iof_result[0] == want, "%s: the guest got 0x%lx, the device answered 0x%lx",
		    what, iof_result[0], want);

	what = "4-byte load, 3 bytes before the page boundary";
	op = (struct guest_op) { F_LOAD, 4, REGION_GPA + REGION_PAGE_END - 3 };
	iof_expect_none();
	iof_expect_cmd(false, false, 3, REGION_PAGE_END - 3, 0);
	iof_expect_cmd(false, false, 1, REGION_PAGE_END, 0);
	iof_run_op(vcpu, &op, what);
	iof_check_cmds(what);
	want = iof_answer(0, 3) | iof_answer(1, 1) << 24;
	TEST_ASSERT(iof_result[0] == want, "%s: the guest got 0x%lx, the device answered 0x%lx",
		    what, iof_result[0], want);

	what = "8-byte store, 6 bytes before the page boundary";
	op = (struct guest_op) { F_STORE, 8, REGION_GPA + REGION_PAGE_END - 6, 0, PATTERN };
	iof_expect_none();
	iof_expect_cmd(false, true, 6, REGION_PAGE_END - 6, PATTERN);
	iof_expect_cmd(false, true, 2, REGION_PAGE_END, PATTERN >> 48);
	iof_run_op(vcpu, &op, what);
	iof_check_cmds(what);

	what = "2-byte store across the page boundary";
	op = (struct guest_op) { F_STORE, 2, REGION_GPA + REGION_PAGE_END - 1, 0, PATTERN };
	iof_expect_none();
	iof_expect_cmd(false, true, 1, REGION_PAGE_END - 1, PATTERN);
	iof_expect_cmd(false, true, 1, REGION_PAGE_END, PATTERN >> 8);
	iof_run_op(vcpu, &op, what);
	iof_check_cmds(what);
	iof_fini(vcpu);
}

/*
 * An access that starts in a region but runs past its end is one command
 * whose offset + size is above the region's size; MMIO and PIO.
 */
KVM_ONE_VCPU_TEST(forms, region_end, iof_guest_code)
{
	struct guest_op op = { F_LOAD, 8, REGION_GPA + REGION_SIZE - 4 };
	const char *what = "8-byte load across the region's end";

	iof_init(vcpu);
	iof_expect_none();
	iof_expect_cmd(false, false, 8, REGION_SIZE - 4, 0);
	iof_run_op(vcpu, &op, what);
	iof_check_cmds(what);
	TEST_ASSERT(iof_result[0] == iof_answer(0, 8),
		    "%s: the guest got 0x%lx, the device answered 0x%lx", what, iof_result[0],
		    iof_answer(0, 8));

	what = "4-byte store at the region's last byte";
	op = (struct guest_op) { F_STORE, 4, REGION_GPA + REGION_SIZE - 1, 0, PATTERN };
	iof_expect_none();
	iof_expect_cmd(false, true, 4, REGION_SIZE - 1, PATTERN);
	iof_run_op(vcpu, &op, what);
	iof_check_cmds(what);

	what = "inl across the PIO region's end";
	op = (struct guest_op) { F_IN, 4, PIO_BASE + PIO_SIZE - 2 };
	iof_expect_none();
	iof_expect_cmd(true, false, 4, PIO_SIZE - 2, 0);
	iof_run_op(vcpu, &op, what);
	iof_check_cmds(what);
	TEST_ASSERT(iof_result[0] == iof_answer(0, 4),
		    "%s: the guest got 0x%lx, the device answered 0x%lx", what, iof_result[0],
		    iof_answer(0, 4));

	what = "outl at the PIO region's last port";
	op = (struct guest_op) { F_OUT, 4, PIO_BASE + PIO_SIZE - 1, 0, PATTERN };
	iof_expect_none();
	iof_expect_cmd(true, true, 4, PIO_SIZE - 1, PATTERN);
	iof_run_op(vcpu, &op, what);
	iof_check_cmds(what);

	what = "rep insl across the PIO region's end";
	op = (struct guest_op) { F_INS, 4, PIO_BASE + PIO_SIZE - 3, 3 };
	memset(iof_guest_ram(vcpu), POISON, RAM_BUF_SIZE);
	iof_expect_none();
	iof_expect_cmd(true, false, 4, PIO_SIZE - 3, 0);
	iof_expect_cmd(true, false, 4, PIO_SIZE - 3, 0);
	iof_expect_cmd(true, false, 4, PIO_SIZE - 3, 0);
	iof_run_op(vcpu, &op, what);
	iof_check_cmds(what);
	iof_check_ram_answers(vcpu, 3, 4, what);
	iof_fini(vcpu);
}

/*
 * An exit whose first byte lies below a region, or past its end, is
 * userspace's as KVM_EXIT_MMIO or KVM_EXIT_IO, even if it reaches into the
 * region.  A 16-byte movdqu from 8 bytes below the region is two exits:
 * the first is userspace's, the second the device's.
 */
KVM_ONE_VCPU_TEST(forms, outside_region, iof_guest_code)
{
	struct guest_op op = { F_LOAD, 8, REGION_GPA - 4 };
	const char *what = "8-byte load from 4 bytes below the region";

	iof_init(vcpu);
	iof_expect_none();
	iof_expect_exit(false, false, REGION_GPA - 4, 8, PATTERN);
	iof_run_op(vcpu, &op, what);
	iof_check_cmds(what);
	TEST_ASSERT(iof_result[0] == PATTERN, "%s: the guest got 0x%lx, userspace answered 0x%llx",
		    what, iof_result[0], PATTERN);

	what = "4-byte store from 2 bytes below the region";
	op = (struct guest_op) { F_STORE, 4, REGION_GPA - 2, 0, PATTERN };
	iof_expect_none();
	iof_expect_exit(false, true, REGION_GPA - 2, 4, PATTERN);
	iof_run_op(vcpu, &op, what);
	iof_check_cmds(what);

	what = "4-byte load right after the region";
	op = (struct guest_op) { F_LOAD, 4, REGION_GPA + REGION_SIZE };
	iof_expect_none();
	iof_expect_exit(false, false, REGION_GPA + REGION_SIZE, 4, ~PATTERN);
	iof_run_op(vcpu, &op, what);
	iof_check_cmds(what);
	TEST_ASSERT(iof_result[0] == (u32)~PATTERN,
		    "%s: the guest got 0x%lx, userspace answered 0x%x", what, iof_result[0],
		    (u32)~PATTERN);

	what = "movdqu load from 8 bytes below the region";
	op = (struct guest_op) { F_MOVDQU_LOAD, 16, REGION_GPA - 8 };
	iof_expect_none();
	iof_expect_exit(false, false, REGION_GPA - 8, 8, PATTERN);
	iof_expect_cmd(false, false, 8, 0, 0);
	iof_run_op(vcpu, &op, what);
	iof_check_cmds(what);
	TEST_ASSERT(iof_result[0] == PATTERN && iof_result[1] == iof_answer(0, 8),
		    "%s: the guest got 0x%lx%016lx, expected 0x%lx%016llx", what, iof_result[1],
		    iof_result[0], iof_answer(0, 8), PATTERN);

	what = "inw from the port below the PIO region";
	op = (struct guest_op) { F_IN, 2, PIO_BASE - 1 };
	iof_expect_none();
	iof_expect_exit(true, false, PIO_BASE - 1, 2, PATTERN);
	iof_run_op(vcpu, &op, what);
	iof_check_cmds(what);
	TEST_ASSERT(iof_result[0] == (u16)PATTERN,
		    "%s: the guest got 0x%lx, userspace answered 0x%x", what, iof_result[0],
		    (u16)PATTERN);

	what = "outl from 3 ports below the PIO region";
	op = (struct guest_op) { F_OUT, 4, PIO_BASE - 3, 0, PATTERN };
	iof_expect_none();
	iof_expect_exit(true, true, PIO_BASE - 3, 4, PATTERN);
	iof_run_op(vcpu, &op, what);
	iof_check_cmds(what);
	iof_fini(vcpu);
}

/* KVM_RUN ended in an emulation failure: skip the instruction and any #UD it queued. */
static void expect_emulation_failure(struct kvm_vcpu *vcpu, const char *what)
{
	struct kvm_run *run = vcpu->run;
	struct kvm_vcpu_events events;
	struct kvm_regs regs;
	char buf[256];

	vcpu_run(vcpu);
	TEST_ASSERT(run->exit_reason == KVM_EXIT_INTERNAL_ERROR &&
		    run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION,
		    "%s: expected KVM_EXIT_INTERNAL_ERROR for an emulation failure, got %s", what,
		    run->exit_reason == KVM_EXIT_INTERNAL_ERROR ? "another internal error" :
		    describe_io_exit(vcpu, buf, sizeof(buf)));

	vcpu_events_get(vcpu, &events);
	events.exception.injected = 0;
	events.exception.pending = 0;
	vcpu_events_set(vcpu, &events);
	vcpu_regs_get(vcpu, &regs);
	TEST_ASSERT(!memcmp(addr_gva2hva(vcpu->vm, regs.rip), vmovdqu_insn, sizeof(vmovdqu_insn)),
		    "%s: the failure is not at the vmovdqu", what);
	regs.rip += sizeof(vmovdqu_insn);
	vcpu_regs_set(vcpu, &regs);
}

/*
 * KVM cannot emulate VEX-encoded instructions: a 32-byte vmovdqu load from
 * MMIO is an emulation failure, outside a region and inside one alike, and
 * the device gets nothing.
 */
TEST_F(forms, vmovdqu_ymm)
{
	struct kvm_vcpu *vcpu = self->vcpu;
	static const struct {
		u64 addr;
		const char *what;
	} cases[] = {
		{ MMIO_GPA + 0x100, "vmovdqu ymm load outside the region" },
		{ REGION_GPA + 0x100, "vmovdqu ymm load inside the region" },
	};
	struct guest_op op;
	struct ucall uc;
	int i;

	if (!this_cpu_has(X86_FEATURE_AVX) || !kvm_cpu_has(X86_FEATURE_AVX) ||
	    !kvm_cpu_has(X86_FEATURE_XSAVE))
		SKIP(return, "The CPU or KVM has no AVX");

	vcpu_arch_set_entry_point(vcpu, iof_guest_code_avx);
	iof_init(vcpu);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		op = (struct guest_op) { F_VMOVDQU_LOAD, 32, cases[i].addr };
		iof_start_op(vcpu, &op);

		expect_emulation_failure(vcpu, cases[i].what);
		vcpu_run(vcpu);
		TEST_ASSERT(get_ucall(vcpu, &uc) == UCALL_SYNC,
			    "%s: the guest did not go on past the instruction", cases[i].what);
		iof_expect_none();
		iof_check_cmds(cases[i].what);
	}
	iof_fini(vcpu);
}

/*
 * The in-kernel local APIC takes the accesses to its page before any
 * region: in xAPIC mode a read of its version register is the APIC's, and
 * in x2APIC mode KVM_X86_QUIRK_LAPIC_MMIO_HOLE reads the page as all ones;
 * the device gets nothing.  Without the quirk the access would exit to
 * userspace, and so it goes to the device.
 */
#define LAPIC_ANSWER	0x1234abcdull

static atomic_int lapic_cmds;

static u64 lapic_handler(void *opaque, const struct ioregionfd_cmd *cmd)
{
	atomic_fetch_add(&lapic_cmds, 1);
	return LAPIC_ANSWER;
}

static void *lapic_dev_thread(void *arg)
{
	int fd = *(int *)arg;

	ioregion_device_serve(fd, fd, lapic_handler, NULL);
	return NULL;
}

static void guest_lapic(void)
{
	GUEST_SYNC(READ_ONCE(*(u32 *)(APIC_DEFAULT_GPA + APIC_LVR)));
	x2apic_enable();
	GUEST_SYNC(READ_ONCE(*(u32 *)(APIC_DEFAULT_GPA + APIC_LVR)));
	GUEST_SYNC(READ_ONCE(*(u32 *)(APIC_DEFAULT_GPA + APIC_LVR)));
	GUEST_DONE();
}

TEST(lapic_precedence)
{
	struct kvm_ioregion args = {
		.guest_paddr = APIC_DEFAULT_GPA,
		.memory_size = PAGE_SIZE,
	};
	struct kvm_lapic_state lapic;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	pthread_t thread;
	struct ucall uc;
	u32 lvr;
	int sv[2];

	if (!kvm_cpu_has(X86_FEATURE_X2APIC) ||
	    !(kvm_check_cap(KVM_CAP_DISABLE_QUIRKS2) & KVM_X86_QUIRK_LAPIC_MMIO_HOLE))
		SKIP(return, "KVM has no x2APIC or cannot disable the APIC MMIO hole");

	TEST_ASSERT(!socketpair(AF_UNIX, SOCK_STREAM, 0, sv), "socketpair() failed");
	vm = vm_create_with_one_vcpu(&vcpu, guest_lapic);
	vcpu_set_cpuid_feature(vcpu, X86_FEATURE_X2APIC);
	virt_pg_map(vm, APIC_DEFAULT_GPA, APIC_DEFAULT_GPA);
	args.read_fd = sv[0];
	args.write_fd = sv[0];
	vm_set_ioregion(vm, &args);
	pthread_create(&thread, NULL, lapic_dev_thread, &sv[1]);

	vcpu_ioctl(vcpu, KVM_GET_LAPIC, &lapic);
	lvr = *(u32 *)&lapic.regs[APIC_LVR];
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	TEST_ASSERT(get_ucall(vcpu, &uc) == UCALL_SYNC, "expected the xAPIC read");
	TEST_ASSERT(uc.args[1] == lvr && !atomic_load(&lapic_cmds),
		    "xAPIC mode: the guest read 0x%lx, the APIC has 0x%x; %d commands",
		    uc.args[1], lvr, atomic_load(&lapic_cmds));

	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	TEST_ASSERT(get_ucall(vcpu, &uc) == UCALL_SYNC, "expected the x2APIC-mode read");
	TEST_ASSERT(uc.args[1] == 0xffffffff && !atomic_load(&lapic_cmds),
		    "x2APIC mode, MMIO hole: the guest read 0x%lx; %d commands",
		    uc.args[1], atomic_load(&lapic_cmds));

	vm_enable_cap(vm, KVM_CAP_DISABLE_QUIRKS2, KVM_X86_QUIRK_LAPIC_MMIO_HOLE);
	vcpu_run(vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_IO);
	TEST_ASSERT(get_ucall(vcpu, &uc) == UCALL_SYNC, "expected the read without the hole");
	TEST_ASSERT(uc.args[1] == (u32)LAPIC_ANSWER && atomic_load(&lapic_cmds) == 1,
		    "x2APIC mode: the guest read 0x%lx, the device answers 0x%x; %d commands",
		    uc.args[1], (u32)LAPIC_ANSWER, atomic_load(&lapic_cmds));

	vcpu_run(vcpu);
	TEST_ASSERT(get_ucall(vcpu, &uc) == UCALL_DONE, "expected the guest to finish");
	kvm_vm_free(vm);
	close(sv[0]);
	pthread_join(thread, NULL);
	close(sv[1]);
}

int main(int argc, char *argv[])
{
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_IOREGIONFD));

	return test_harness_run(argc, argv);
}
