// SPDX-License-Identifier: GPL-2.0-only
/*
 * ioregionfd against every form of guest access on x86: a device that
 * records every command serves an MMIO region of two pages, with a page
 * boundary inside, and a PIO region.  For each instruction form the host
 * asserts exactly which commands the device got, what the guest read, and
 * that no exit for an address inside a region reached userspace.
 */
#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <linux/ioregion.h>
#include <linux/sizes.h>

#include "apic.h"
#include "guest_io.h"
#include "ioregion_device.h"
#include "kvm_test_harness.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

/* Outside every memslot, identity mapped by forms_init(). */
#define MMIO_GPA		(4ull * SZ_1G)
#define MMIO_NR_PAGES		4

/* Two pages from the middle of the first: a page boundary at offset 0x800. */
#define REGION_GPA		(MMIO_GPA + PAGE_SIZE / 2)
#define REGION_SIZE		(2 * PAGE_SIZE)
#define REGION_PAGE_END		(PAGE_SIZE / 2)

/* Clear of ucall and of the in-kernel PIC and PIT. */
#define PIO_BASE		0x6000
#define PIO_SIZE		0x100

/* Not in processor.h yet: CPUID.1:ECX.AVX[bit 28]. */
#define X86_FEATURE_AVX		KVM_X86_CPU_FEATURE(0x1, 0, ECX, 28)

#define USER_DATA_MMIO		0x4d4d494f00c0ffeeull
#define USER_DATA_PIO		0x50494f0000c0ffeeull

/* What a guest store writes, and userspace's answer to a read outside the regions. */
#define PATTERN			0xf1e2d3c4b5a69788ull

#define RAM_BUF_SIZE		(2 * PAGE_SIZE)
#define POISON			0x3c
#define MAX_COUNT		1000
#define LOG_SIZE		(MAX_COUNT + 64)

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

static struct guest_op gop;
/* A value the guest loaded, or the 16 bytes of a movdqu load. */
static u64 result[2];
static u8 ram_buf[RAM_BUF_SIZE] __aligned(PAGE_SIZE);

/* The encoding of vmovdqu (%rdi), %ymm0, which the host skips. */
static const u8 vmovdqu_insn[] = { 0xc5, 0xfe, 0x6f, 0x07 };

static u64 guest_load(u64 addr, u32 size)
{
	u64 v;

	switch (size) {
	case 1:
		asm volatile("movzbq (%1), %0" : "=r"(v) : "r"(addr) : "memory");
		break;
	case 2:
		asm volatile("movzwq (%1), %0" : "=r"(v) : "r"(addr) : "memory");
		break;
	case 4:
		asm volatile("movl (%1), %k0" : "=r"(v) : "r"(addr) : "memory");
		break;
	default:
		asm volatile("movq (%1), %0" : "=r"(v) : "r"(addr) : "memory");
		break;
	}
	return v;
}

static void guest_store(u64 addr, u32 size, u64 v)
{
	switch (size) {
	case 1:
		asm volatile("movb %b1, (%0)" : : "r"(addr), "r"(v) : "memory");
		break;
	case 2:
		asm volatile("movw %w1, (%0)" : : "r"(addr), "r"(v) : "memory");
		break;
	case 4:
		asm volatile("movl %k1, (%0)" : : "r"(addr), "r"(v) : "memory");
		break;
	default:
		asm volatile("movq %1, (%0)" : : "r"(addr), "r"(v) : "memory");
		break;
	}
}

static void guest_rep_movs(u64 dst, u64 src, u64 count, u32 size)
{
	switch (size) {
	case 1:
		asm volatile("cld; rep movsb" : "+D"(dst), "+S"(src), "+c"(count) : : "memory");
		break;
	case 2:
		asm volatile("cld; rep movsw" : "+D"(dst), "+S"(src), "+c"(count) : : "memory");
		break;
	case 4:
		asm volatile("cld; rep movsl" : "+D"(dst), "+S"(src), "+c"(count) : : "memory");
		break;
	default:
		asm volatile("cld; rep movsq" : "+D"(dst), "+S"(src), "+c"(count) : : "memory");
		break;
	}
}

static u64 guest_rep_lods(u64 src, u64 count, u32 size)
{
	u64 v = 0;

	switch (size) {
	case 1:
		asm volatile("cld; rep lodsb" : "+S"(src), "+c"(count), "+a"(v) : : "memory");
		break;
	default:
		asm volatile("cld; rep lodsl" : "+S"(src), "+c"(count), "+a"(v) : : "memory");
		break;
	}
	return v;
}

static void guest_rep_stos(u64 dst, u64 count, u32 size, u64 v)
{
	switch (size) {
	case 1:
		asm volatile("cld; rep stosb" : "+D"(dst), "+c"(count) : "a"(v) : "memory");
		break;
	default:
		asm volatile("cld; rep stosl" : "+D"(dst), "+c"(count) : "a"(v) : "memory");
		break;
	}
}

static void guest_rep_ins(u16 port, u64 dst, u64 count, u32 size)
{
	switch (size) {
	case 1:
		asm volatile("cld; rep insb" : "+D"(dst), "+c"(count) : "d"(port) : "memory");
		break;
	case 2:
		asm volatile("cld; rep insw" : "+D"(dst), "+c"(count) : "d"(port) : "memory");
		break;
	default:
		asm volatile("cld; rep insl" : "+D"(dst), "+c"(count) : "d"(port) : "memory");
		break;
	}
}

static void guest_rep_outs(u16 port, u64 src, u64 count, u32 size)
{
	switch (size) {
	case 1:
		asm volatile("cld; rep outsb" : "+S"(src), "+c"(count) : "d"(port) : "memory");
		break;
	case 2:
		asm volatile("cld; rep outsw" : "+S"(src), "+c"(count) : "d"(port) : "memory");
		break;
	default:
		asm volatile("cld; rep outsl" : "+S"(src), "+c"(count) : "d"(port) : "memory");
		break;
	}
}

static void guest_do_op(const struct guest_op *op)
{
	u64 ram = (u64)ram_buf, v = op->val;

	switch (op->form) {
	case F_LOAD:
		result[0] = guest_load(op->addr, op->size);
		break;
	case F_STORE:
		guest_store(op->addr, op->size, v);
		break;
	case F_IN:
		result[0] = guest_pio_read(op->addr, op->size);
		break;
	case F_OUT:
		guest_pio_write(op->addr, op->size, v);
		break;
	case F_MOVS_FROM:
		guest_rep_movs(ram, op->addr, op->count, op->size);
		break;
	case F_MOVS_TO:
		guest_rep_movs(op->addr, ram, op->count, op->size);
		break;
	case F_LODS:
		result[0] = guest_rep_lods(op->addr, op->count, op->size);
		break;
	case F_STOS:
		guest_rep_stos(op->addr, op->count, op->size, v);
		break;
	case F_INS:
		guest_rep_ins(op->addr, ram, op->count, op->size);
		break;
	case F_OUTS:
		guest_rep_outs(op->addr, ram, op->count, op->size);
		break;
	case F_MOVDQU_LOAD:
		asm volatile("movdqu (%1), %%xmm0\n\t"
			     "movdqu %%xmm0, (%0)"
			     : : "r"(result), "r"(op->addr) : "xmm0", "memory");
		break;
	case F_MOVDQU_STORE:
		asm volatile("movdqu (%1), %%xmm0\n\t"
			     "movdqu %%xmm0, (%0)"
			     : : "r"(op->addr), "r"(ram) : "xmm0", "memory");
		break;
	case F_ADD:
		asm volatile("addl %k1, (%0)" : : "r"(op->addr), "r"(v) : "memory", "cc");
		break;
	case F_XCHG:
		asm volatile("xchgl %k0, (%1)" : "+r"(v) : "r"(op->addr) : "memory");
		result[0] = (u32)v;
		break;
	case F_LOCK_XADD:
		asm volatile("lock xaddl %k0, (%1)" : "+r"(v) : "r"(op->addr) : "memory", "cc");
		result[0] = (u32)v;
		break;
	case F_VMOVDQU_LOAD:
		asm volatile("vmovdqu (%0), %%ymm0" : : "D"(op->addr) : "xmm0", "memory");
		break;
	default:
		GUEST_FAIL("Unknown form %u", op->form);
	}
}

static void guest_code(void)
{
	for (;;) {
		guest_do_op(&gop);
		GUEST_SYNC(gop.form);
	}
}

static void guest_code_avx(void)
{
	set_cr4(get_cr4() | X86_CR4_OSXSAVE);
	xsetbv(0, xgetbv(0) | XFEATURE_MASK_SSE | XFEATURE_MASK_YMM);
	guest_code();
}

/* A device that records every command and answers read n with rec_val(n). */
struct rec_entry {
	struct ioregionfd_cmd cmd;
	u64 answer;
};

static struct {
	/* One socketpair: KVM's end and the device's. */
	int kvm_fd;
	int fd;
	pthread_t thread;
	int ret;

	pthread_mutex_t lock;
	u64 seq;
	u32 nr;
	struct rec_entry log[LOG_SIZE];
} dev;

/* All 64 bits, with high bits set in every byte: KVM must truncate. */
static u64 rec_val(u64 n)
{
	return ((n + 1) * 0x9e3779b97f4a7c15ull) | 0x8080808080808080ull;
}

static u64 rec_handler(void *opaque, const struct ioregionfd_cmd *cmd)
{
	u64 answer;

	pthread_mutex_lock(&dev.lock);
	answer = cmd->cmd == IOREGIONFD_CMD_READ ? rec_val(dev.seq) : 0;
	dev.seq++;
	if (dev.nr < LOG_SIZE)
		dev.log[dev.nr] = (struct rec_entry) { .cmd = *cmd, .answer = answer };
	dev.nr++;
	pthread_mutex_unlock(&dev.lock);
	return answer;
}

static void *dev_thread(void *arg)
{
	dev.ret = ioregion_device_serve(dev.fd, dev.fd, rec_handler, NULL);
	return NULL;
}

static void region_set(struct kvm_vm *vm, bool pio, u32 flags)
{
	struct kvm_ioregion args = {
		.guest_paddr = pio ? PIO_BASE : REGION_GPA,
		.memory_size = pio ? PIO_SIZE : REGION_SIZE,
		.user_data = pio ? USER_DATA_PIO : USER_DATA_MMIO,
		.read_fd = dev.kvm_fd,
		.write_fd = dev.kvm_fd,
		.flags = (pio ? KVM_IOREGION_PIO : 0) | flags,
	};

	vm_set_ioregion(vm, &args);
}

static void forms_init(struct kvm_vcpu *vcpu)
{
	int sv[2];

	virt_map(vcpu->vm, MMIO_GPA, MMIO_GPA, MMIO_NR_PAGES);
	TEST_ASSERT(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
		    "socketpair() failed, errno = %d", errno);
	dev.kvm_fd = sv[0];
	dev.fd = sv[1];
	pthread_mutex_init(&dev.lock, NULL);
	TEST_ASSERT(!pthread_create(&dev.thread, NULL, dev_thread, NULL),
		    "pthread_create() failed");

	region_set(vcpu->vm, false, 0);
	region_set(vcpu->vm, true, 0);
}

static void forms_fini(struct kvm_vcpu *vcpu)
{
	region_set(vcpu->vm, false, KVM_IOREGION_DEASSIGN);
	region_set(vcpu->vm, true, KVM_IOREGION_DEASSIGN);

	/* End the device's stream from its own side, whoever holds KVM's end. */
	shutdown(dev.fd, SHUT_RDWR);
	TEST_ASSERT(!pthread_join(dev.thread, NULL), "pthread_join() failed");
	TEST_ASSERT(!dev.ret, "The device failed, error %d (%s)", -dev.ret, strerror(-dev.ret));
	close(dev.fd);
	close(dev.kvm_fd);
}

/* The commands the device must get for the current op, and the exits userspace. */
struct exp_exit {
	bool pio;
	bool write;
	u64 addr;
	u32 len;
	/* The value written, or the one userspace answers a read with. */
	u64 data;
};

static struct ioregionfd_cmd exp_cmds[LOG_SIZE];
static int nr_exp_cmds;
static struct exp_exit exp_exits[4];
static int nr_exp_exits;

static void expect_cmd(bool pio, bool write, u8 size, u64 offset, u64 data)
{
	TEST_ASSERT(nr_exp_cmds < LOG_SIZE, "Test bug: too many commands");
	exp_cmds[nr_exp_cmds++] = (struct ioregionfd_cmd) {
		.cmd = write ? IOREGIONFD_CMD_WRITE : IOREGIONFD_CMD_READ,
		.size = size,
		.flags = IOREGIONFD_CMD_RESP,
		.user_data = pio ? USER_DATA_PIO : USER_DATA_MMIO,
		.offset = offset,
		.data = write ? data & ioregion_size_mask(size) : 0,
	};
}

static void expect_exit(bool pio, bool write, u64 addr, u32 len, u64 data)
{
	TEST_ASSERT(nr_exp_exits < ARRAY_SIZE(exp_exits), "Test bug: too many exits");
	exp_exits[nr_exp_exits++] = (struct exp_exit) {
		.pio = pio, .write = write, .addr = addr, .len = len, .data = data,
	};
}

/* The device's answer to the @n-th command of the current op, to @size bytes. */
static u64 answer(int n, u8 size)
{
	u64 v;

	pthread_mutex_lock(&dev.lock);
	v = dev.log[n].answer;
	pthread_mutex_unlock(&dev.lock);
	return v & ioregion_size_mask(size);
}

static void check_exit(struct kvm_vcpu *vcpu, const struct exp_exit *exp, const char *what)
{
	struct kvm_run *run = vcpu->run;
	char buf[256];
	u64 data = 0;
	void *ptr;

	if (exp->pio) {
		TEST_ASSERT(run->exit_reason == KVM_EXIT_IO && run->io.port == exp->addr &&
			    run->io.size == exp->len && run->io.count == 1 &&
			    run->io.direction == (exp->write ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN),
			    "%s: expected KVM_EXIT_IO (%s, port 0x%lx, size %u), got %s", what,
			    exp->write ? "out" : "in", exp->addr, exp->len,
			    describe_io_exit(vcpu, buf, sizeof(buf)));
		ptr = (void *)run + run->io.data_offset;
	} else {
		TEST_ASSERT(run->exit_reason == KVM_EXIT_MMIO && run->mmio.phys_addr == exp->addr &&
			    run->mmio.len == exp->len && run->mmio.is_write == exp->write,
			    "%s: expected KVM_EXIT_MMIO (%s, gpa 0x%lx, len %u), got %s", what,
			    exp->write ? "write" : "read", exp->addr, exp->len,
			    describe_io_exit(vcpu, buf, sizeof(buf)));
		ptr = run->mmio.data;
	}

	if (exp->write) {
		memcpy(&data, ptr, exp->len);
		TEST_ASSERT(data == (exp->data & ioregion_size_mask(exp->len)),
			    "%s: the exit carries 0x%lx, the guest wrote 0x%lx", what, data,
			    exp->data & ioregion_size_mask(exp->len));
	} else {
		memcpy(ptr, &exp->data, exp->len);
	}
}

/* Run the guest through @op: the only exits to userspace are the expected ones. */
static void run_op(struct kvm_vcpu *vcpu, const struct guest_op *op, const char *what)
{
	struct kvm_run *run = vcpu->run;
	struct ucall uc;
	char buf[256];
	int exits = 0;

	pthread_mutex_lock(&dev.lock);
	dev.nr = 0;
	pthread_mutex_unlock(&dev.lock);

	gop = *op;
	sync_global_to_guest(vcpu->vm, gop);

	for (;;) {
		vcpu_run(vcpu);
		if (run->exit_reason == KVM_EXIT_IO && run->io.port == UCALL_PIO_PORT) {
			switch (get_ucall(vcpu, &uc)) {
			case UCALL_SYNC:
				TEST_ASSERT(exits == nr_exp_exits,
					    "%s: %d exits to userspace, expected %d", what, exits,
					    nr_exp_exits);
				sync_global_from_guest(vcpu->vm, result);
				return;
			case UCALL_ABORT:
				REPORT_GUEST_ASSERT(uc);
				break;
			default:
				TEST_FAIL("%s: unexpected ucall %lu", what, uc.cmd);
			}
		}

		/* Anything else must be one of the exits outside the regions. */
		TEST_ASSERT(exits < nr_exp_exits, "%s: unexpected exit to userspace: %s", what,
			    describe_io_exit(vcpu, buf, sizeof(buf)));
		check_exit(vcpu, &exp_exits[exits++], what);
	}
}

/* The device got exactly the expected commands, in order. */
static void check_cmds(const char *what)
{
	char buf[2][192];
	u32 nr;
	int i;

	pthread_mutex_lock(&dev.lock);
	nr = dev.nr;
	for (i = 0; i < nr && i < nr_exp_cmds && i < LOG_SIZE; i++)
		TEST_ASSERT(!memcmp(&dev.log[i].cmd, &exp_cmds[i], sizeof(exp_cmds[i])),
			    "%s: command %d is %s, expected %s", what, i,
			    ioregion_cmd_str(&dev.log[i].cmd, buf[0], sizeof(buf[0])),
			    ioregion_cmd_str(&exp_cmds[i], buf[1], sizeof(buf[1])));
	pthread_mutex_unlock(&dev.lock);
	TEST_ASSERT(nr == nr_exp_cmds, "%s: the device got %u commands, expected %d", what, nr,
		    nr_exp_cmds);
}

/* Start describing the next op. */
static void expect_none(void)
{
	nr_exp_cmds = 0;
	nr_exp_exits = 0;
}

static u8 *guest_ram(struct kvm_vcpu *vcpu)
{
	return addr_gva2hva(vcpu->vm, (vm_vaddr_t)ram_buf);
}

/* Fill ram_buf with a pattern, different for each @seed, and return it. */
static u8 *ram_fill(struct kvm_vcpu *vcpu, u32 seed)
{
	u8 *ram = guest_ram(vcpu);
	int i;

	for (i = 0; i < RAM_BUF_SIZE; i++)
		ram[i] = 0x80 | (i * 13 + seed * 7);
	return ram;
}

static u64 ram_val(const u8 *ram, u32 size)
{
	u64 v = 0;

	memcpy(&v, ram, size);
	return v;
}

/* Elements written by the guest from the device's answers, then the poison. */
static void check_ram_answers(struct kvm_vcpu *vcpu, u32 count, u32 size, const char *what)
{
	const u8 *ram = guest_ram(vcpu);
	u64 got, want;
	int i;

	for (i = 0; i < count; i++) {
		got = ram_val(ram + i * size, size);
		want = answer(i, size);
		TEST_ASSERT(got == want, "%s: element %d is 0x%lx, the device answered 0x%lx",
			    what, i, got, want);
	}
	for (i = count * size; i < count * size + 64; i++)
		TEST_ASSERT(ram[i] == POISON, "%s: byte %d past the elements was written", what, i);
}

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
	vcpu_arch_set_entry_point(self->vcpu, guest_code);		\
	__forms_##test(self->vcpu);					\
}									\
static void __forms_##test(struct kvm_vcpu *vcpu)

/* Single mov loads and stores of each size, and in/out of each size. */
KVM_ONE_VCPU_TEST(forms, mov, guest_code)
{
	static const u8 sizes[] = { 1, 2, 4, 8 };
	struct guest_op op;
	char what[64];
	u64 offset;
	int i;

	forms_init(vcpu);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		offset = 0x100 + 3 * sizes[i];
		snprintf(what, sizeof(what), "%u-byte mov load", sizes[i]);
		op = (struct guest_op) { F_LOAD, sizes[i], REGION_GPA + offset };
		expect_none();
		expect_cmd(false, false, sizes[i], offset, 0);
		run_op(vcpu, &op, what);
		check_cmds(what);
		TEST_ASSERT(result[0] == answer(0, sizes[i]),
			    "%s: the guest read 0x%lx, the device answered 0x%lx", what, result[0],
			    answer(0, sizes[i]));

		snprintf(what, sizeof(what), "%u-byte mov store", sizes[i]);
		op = (struct guest_op) { F_STORE, sizes[i], REGION_GPA + offset, 0, PATTERN };
		expect_none();
		expect_cmd(false, true, sizes[i], offset, PATTERN);
		run_op(vcpu, &op, what);
		check_cmds(what);

		if (sizes[i] == 8)
			continue;

		snprintf(what, sizeof(what), "%u-byte in", sizes[i]);
		op = (struct guest_op) { F_IN, sizes[i], PIO_BASE + 0x10 + sizes[i] };
		expect_none();
		expect_cmd(true, false, sizes[i], 0x10 + sizes[i], 0);
		run_op(vcpu, &op, what);
		check_cmds(what);
		TEST_ASSERT(result[0] == answer(0, sizes[i]),
			    "%s: the guest read 0x%lx, the device answered 0x%lx", what, result[0],
			    answer(0, sizes[i]));

		snprintf(what, sizeof(what), "%u-byte out", sizes[i]);
		op = (struct guest_op) { F_OUT, sizes[i], PIO_BASE + 0x10 + sizes[i], 0, PATTERN };
		expect_none();
		expect_cmd(true, true, sizes[i], 0x10 + sizes[i], PATTERN);
		run_op(vcpu, &op, what);
		check_cmds(what);
	}
	forms_fini(vcpu);
}

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
	expect_none();
	if (to_region) {
		ram = ram_fill(vcpu, count);
		for (i = 0; i < count; i++)
			expect_cmd(false, true, size, offset + i * size,
				   ram_val(ram + i * size, size));
	} else {
		memset(guest_ram(vcpu), POISON, RAM_BUF_SIZE);
		for (i = 0; i < count; i++)
			expect_cmd(false, false, size, offset + i * size, 0);
	}
	run_op(vcpu, &op, what);
	check_cmds(what);
	if (!to_region)
		check_ram_answers(vcpu, count, size, what);
}

/*
 * rep movsb and rep movsd in both directions: one command per element, the
 * elements in order, the page boundary inside the region crossed on the way.
 */
FORMS_STRING_TEST(rep_movs)
{
	int i, to_region;

	forms_init(vcpu);
	for (to_region = 0; to_region < 2; to_region++) {
		for (i = 0; i < ARRAY_SIZE(counts); i++) {
			do_movs(vcpu, to_region, 1, counts[i], 0x600);
			do_movs(vcpu, to_region, 4, counts[i], 0x100);
		}
	}
	forms_fini(vcpu);
}

/*
 * rep movsd whose first element straddles the page boundary inside the
 * region: that element is two commands, one per page.
 */
KVM_ONE_VCPU_TEST(forms, rep_movs_page_crossing, guest_code)
{
	const u64 offset = REGION_PAGE_END - 2;
	struct guest_op op = { F_MOVS_FROM, 4, REGION_GPA + offset, 2 };
	const char *what = "rep movsd from across the page boundary";
	u64 got, want;
	u8 *ram;

	forms_init(vcpu);
	memset(guest_ram(vcpu), POISON, RAM_BUF_SIZE);
	expect_none();
	expect_cmd(false, false, 2, offset, 0);
	expect_cmd(false, false, 2, offset + 2, 0);
	expect_cmd(false, false, 4, offset + 4, 0);
	run_op(vcpu, &op, what);
	check_cmds(what);
	ram = guest_ram(vcpu);
	got = ram_val(ram, 8);
	want = answer(0, 2) | answer(1, 2) << 16 | answer(2, 4) << 32;
	TEST_ASSERT(got == want, "%s: the guest got 0x%lx, the device answered 0x%lx", what, got,
		    want);

	what = "rep movsd to across the page boundary";
	op.form = F_MOVS_TO;
	ram = ram_fill(vcpu, 1);
	expect_none();
	expect_cmd(false, true, 2, offset, ram_val(ram, 2));
	expect_cmd(false, true, 2, offset + 2, ram_val(ram + 2, 2));
	expect_cmd(false, true, 4, offset + 4, ram_val(ram + 4, 4));
	run_op(vcpu, &op, what);
	check_cmds(what);
	forms_fini(vcpu);
}

/* rep lodsd leaves the last element in eax; rep stosd writes eax to each. */
FORMS_STRING_TEST(rep_lods_stos)
{
	const u64 offset = 0x7f0;
	struct guest_op op;
	char what[64];
	int i, n;

	forms_init(vcpu);
	for (i = 0; i < ARRAY_SIZE(counts); i++) {
		snprintf(what, sizeof(what), "rep lodsd of %u elements", counts[i]);
		op = (struct guest_op) { F_LODS, 4, REGION_GPA + offset, counts[i] };
		expect_none();
		for (n = 0; n < counts[i]; n++)
			expect_cmd(false, false, 4, offset + 4 * n, 0);
		run_op(vcpu, &op, what);
		check_cmds(what);
		TEST_ASSERT(result[0] == answer(counts[i] - 1, 4),
			    "%s: eax is 0x%lx, the last answer 0x%lx", what, result[0],
			    answer(counts[i] - 1, 4));

		snprintf(what, sizeof(what), "rep stosd of %u elements", counts[i]);
		op = (struct guest_op) { F_STOS, 4, REGION_GPA + offset, counts[i], PATTERN };
		expect_none();
		for (n = 0; n < counts[i]; n++)
			expect_cmd(false, true, 4, offset + 4 * n, PATTERN);
		run_op(vcpu, &op, what);
		check_cmds(what);
	}

	op = (struct guest_op) { F_LODS, 1, REGION_GPA + REGION_PAGE_END - 1, 2 };
	expect_none();
	expect_cmd(false, false, 1, REGION_PAGE_END - 1, 0);
	expect_cmd(false, false, 1, REGION_PAGE_END, 0);
	run_op(vcpu, &op, "rep lodsb across the page boundary");
	check_cmds("rep lodsb across the page boundary");
	TEST_ASSERT(result[0] == answer(1, 1), "rep lodsb: al is 0x%lx, the last answer 0x%lx",
		    result[0], answer(1, 1));
	forms_fini(vcpu);
}

static const u8 pio_sizes[] = { 1, 2, 4 };

/* rep ins of each size on one port of the PIO region: one command per element. */
FORMS_STRING_TEST(rep_ins)
{
	const u64 offset = 0x20, port = PIO_BASE + offset;
	struct guest_op op;
	char what[64];
	int s, i, n;

	forms_init(vcpu);
	for (s = 0; s < ARRAY_SIZE(pio_sizes); s++) {
		for (i = 0; i < ARRAY_SIZE(counts); i++) {
			snprintf(what, sizeof(what), "rep ins of %u %u-byte elements", counts[i],
				 pio_sizes[s]);
			op = (struct guest_op) { F_INS, pio_sizes[s], port, counts[i] };
			memset(guest_ram(vcpu), POISON, RAM_BUF_SIZE);
			expect_none();
			for (n = 0; n < counts[i]; n++)
				expect_cmd(true, false, pio_sizes[s], offset, 0);
			run_op(vcpu, &op, what);
			check_cmds(what);
			check_ram_answers(vcpu, counts[i], pio_sizes[s], what);
		}
	}
	forms_fini(vcpu);
}

/* rep outs of each size on one port of the PIO region: one command per element. */
FORMS_STRING_TEST(rep_outs)
{
	const u64 offset = 0x20, port = PIO_BASE + offset;
	struct guest_op op;
	char what[64];
	int s, i, n;
	u8 *ram;

	forms_init(vcpu);
	for (s = 0; s < ARRAY_SIZE(pio_sizes); s++) {
		for (i = 0; i < ARRAY_SIZE(counts); i++) {
			snprintf(what, sizeof(what), "rep outs of %u %u-byte elements", counts[i],
				 pio_sizes[s]);
			op = (struct guest_op) { F_OUTS, pio_sizes[s], port, counts[i] };
			ram = ram_fill(vcpu, i + s);
			expect_none();
			for (n = 0; n < counts[i]; n++)
				expect_cmd(true, true, pio_sizes[s], offset,
					   ram_val(ram + n * pio_sizes[s], pio_sizes[s]));
			run_op(vcpu, &op, what);
			check_cmds(what);
		}
	}
	forms_fini(vcpu);
}

/*
 * movdqu of 16 bytes is two 8-byte commands; across the page boundary, one
 * command per piece of at most 8 bytes of each page's fragment.
 */
KVM_ONE_VCPU_TEST(forms, movdqu, guest_code)
{
	struct guest_op op = { F_MOVDQU_LOAD, 16, REGION_GPA + 0x200 };
	const char *what = "movdqu load";
	u8 want[16];
	u64 v;
	u8 *ram;

	forms_init(vcpu);
	expect_none();
	expect_cmd(false, false, 8, 0x200, 0);
	expect_cmd(false, false, 8, 0x208, 0);
	run_op(vcpu, &op, what);
	check_cmds(what);
	TEST_ASSERT(result[0] == answer(0, 8) && result[1] == answer(1, 8),
		    "%s: the guest got 0x%lx%016lx, the device answered 0x%lx%016lx", what,
		    result[1], result[0], answer(1, 8), answer(0, 8));

	what = "movdqu store";
	op = (struct guest_op) { F_MOVDQU_STORE, 16, REGION_GPA + 0x300 };
	ram = ram_fill(vcpu, 3);
	expect_none();
	expect_cmd(false, true, 8, 0x300, ram_val(ram, 8));
	expect_cmd(false, true, 8, 0x308, ram_val(ram + 8, 8));
	run_op(vcpu, &op, what);
	check_cmds(what);

	/* 4 bytes before the boundary, 12 after: 4, then 8 and 4. */
	what = "movdqu load across the page boundary";
	op = (struct guest_op) { F_MOVDQU_LOAD, 16, REGION_GPA + REGION_PAGE_END - 4 };
	expect_none();
	expect_cmd(false, false, 4, REGION_PAGE_END - 4, 0);
	expect_cmd(false, false, 8, REGION_PAGE_END, 0);
	expect_cmd(false, false, 4, REGION_PAGE_END + 8, 0);
	run_op(vcpu, &op, what);
	check_cmds(what);
	v = answer(0, 4);
	memcpy(want, &v, 4);
	v = answer(1, 8);
	memcpy(want + 4, &v, 8);
	v = answer(2, 4);
	memcpy(want + 12, &v, 4);
	TEST_ASSERT(!memcmp(result, want, 16),
		    "%s: the guest got 0x%lx%016lx, the device answered 0x%lx%016lx", what,
		    result[1], result[0], ((u64 *)want)[1], ((u64 *)want)[0]);

	what = "movdqu store across the page boundary";
	op = (struct guest_op) { F_MOVDQU_STORE, 16, REGION_GPA + REGION_PAGE_END - 4 };
	ram = ram_fill(vcpu, 4);
	expect_none();
	expect_cmd(false, true, 4, REGION_PAGE_END - 4, ram_val(ram, 4));
	expect_cmd(false, true, 8, REGION_PAGE_END, ram_val(ram + 4, 8));
	expect_cmd(false, true, 4, REGION_PAGE_END + 8, ram_val(ram + 12, 4));
	run_op(vcpu, &op, what);
	check_cmds(what);
	forms_fini(vcpu);
}

/* Read-modify-write instructions: a read command, then a write command. */
KVM_ONE_VCPU_TEST(forms, rmw, guest_code)
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

	forms_init(vcpu);
	for (i = 0; i < ARRAY_SIZE(forms); i++) {
		offset = 0x400 + 0x10 * i;
		op = (struct guest_op) { forms[i].form, 4, REGION_GPA + offset, 0, val };
		expect_none();
		expect_cmd(false, false, 4, offset, 0);
		/* Placeholder for the write, whose data depends on the answer. */
		expect_cmd(false, true, 4, offset, 0);
		run_op(vcpu, &op, forms[i].what);

		old = answer(0, 4);
		want = forms[i].form == F_XCHG ? val : (u32)(old + val);
		exp_cmds[1].data = want;
		check_cmds(forms[i].what);
		if (forms[i].form != F_ADD)
			TEST_ASSERT(result[0] == old,
				    "%s: the guest got 0x%lx, the device answered 0x%lx",
				    forms[i].what, result[0], old);
	}
	forms_fini(vcpu);
}

/* A load or store across the page boundary inside the region: one command per page. */
KVM_ONE_VCPU_TEST(forms, page_crossing, guest_code)
{
	struct guest_op op = { F_LOAD, 8, REGION_GPA + REGION_PAGE_END - 4 };
	const char *what = "8-byte load across the page boundary";
	u64 want;

	forms_init(vcpu);
	expect_none();
	expect_cmd(false, false, 4, REGION_PAGE_END - 4, 0);
	expect_cmd(false, false, 4, REGION_PAGE_END, 0);
	run_op(vcpu, &op, what);
	check_cmds(what);
	want = answer(0, 4) | answer(1, 4) << 32;
	TEST_ASSERT(result[0] == want, "%s: the guest got 0x%lx, the device answered 0x%lx",
		    what, result[0], want);

	what = "4-byte load, 3 bytes before the page boundary";
	op = (struct guest_op) { F_LOAD, 4, REGION_GPA + REGION_PAGE_END - 3 };
	expect_none();
	expect_cmd(false, false, 3, REGION_PAGE_END - 3, 0);
	expect_cmd(false, false, 1, REGION_PAGE_END, 0);
	run_op(vcpu, &op, what);
	check_cmds(what);
	want = answer(0, 3) | answer(1, 1) << 24;
	TEST_ASSERT(result[0] == want, "%s: the guest got 0x%lx, the device answered 0x%lx",
		    what, result[0], want);

	what = "8-byte store, 6 bytes before the page boundary";
	op = (struct guest_op) { F_STORE, 8, REGION_GPA + REGION_PAGE_END - 6, 0, PATTERN };
	expect_none();
	expect_cmd(false, true, 6, REGION_PAGE_END - 6, PATTERN);
	expect_cmd(false, true, 2, REGION_PAGE_END, PATTERN >> 48);
	run_op(vcpu, &op, what);
	check_cmds(what);

	what = "2-byte store across the page boundary";
	op = (struct guest_op) { F_STORE, 2, REGION_GPA + REGION_PAGE_END - 1, 0, PATTERN };
	expect_none();
	expect_cmd(false, true, 1, REGION_PAGE_END - 1, PATTERN);
	expect_cmd(false, true, 1, REGION_PAGE_END, PATTERN >> 8);
	run_op(vcpu, &op, what);
	check_cmds(what);
	forms_fini(vcpu);
}

/*
 * An access that starts in a region but runs past its end is one command
 * whose offset + size is above the region's size; MMIO and PIO.
 */
KVM_ONE_VCPU_TEST(forms, region_end, guest_code)
{
	struct guest_op op = { F_LOAD, 8, REGION_GPA + REGION_SIZE - 4 };
	const char *what = "8-byte load across the region's end";

	forms_init(vcpu);
	expect_none();
	expect_cmd(false, false, 8, REGION_SIZE - 4, 0);
	run_op(vcpu, &op, what);
	check_cmds(what);
	TEST_ASSERT(result[0] == answer(0, 8), "%s: the guest got 0x%lx, the device answered 0x%lx",
		    what, result[0], answer(0, 8));

	what = "4-byte store at the region's last byte";
	op = (struct guest_op) { F_STORE, 4, REGION_GPA + REGION_SIZE - 1, 0, PATTERN };
	expect_none();
	expect_cmd(false, true, 4, REGION_SIZE - 1, PATTERN);
	run_op(vcpu, &op, what);
	check_cmds(what);

	what = "inl across the PIO region's end";
	op = (struct guest_op) { F_IN, 4, PIO_BASE + PIO_SIZE - 2 };
	expect_none();
	expect_cmd(true, false, 4, PIO_SIZE - 2, 0);
	run_op(vcpu, &op, what);
	check_cmds(what);
	TEST_ASSERT(result[0] == answer(0, 4), "%s: the guest got 0x%lx, the device answered 0x%lx",
		    what, result[0], answer(0, 4));

	what = "outl at the PIO region's last port";
	op = (struct guest_op) { F_OUT, 4, PIO_BASE + PIO_SIZE - 1, 0, PATTERN };
	expect_none();
	expect_cmd(true, true, 4, PIO_SIZE - 1, PATTERN);
	run_op(vcpu, &op, what);
	check_cmds(what);

	what = "rep insl across the PIO region's end";
	op = (struct guest_op) { F_INS, 4, PIO_BASE + PIO_SIZE - 3, 3 };
	memset(guest_ram(vcpu), POISON, RAM_BUF_SIZE);
	expect_none();
	expect_cmd(true, false, 4, PIO_SIZE - 3, 0);
	expect_cmd(true, false, 4, PIO_SIZE - 3, 0);
	expect_cmd(true, false, 4, PIO_SIZE - 3, 0);
	run_op(vcpu, &op, what);
	check_cmds(what);
	check_ram_answers(vcpu, 3, 4, what);
	forms_fini(vcpu);
}

/*
 * An exit whose first byte lies below a region, or past its end, is
 * userspace's as KVM_EXIT_MMIO or KVM_EXIT_IO, even if it reaches into the
 * region.  A 16-byte movdqu from 8 bytes below the region is two exits:
 * the first is userspace's, the second the device's.
 */
KVM_ONE_VCPU_TEST(forms, outside_region, guest_code)
{
	struct guest_op op = { F_LOAD, 8, REGION_GPA - 4 };
	const char *what = "8-byte load from 4 bytes below the region";

	forms_init(vcpu);
	expect_none();
	expect_exit(false, false, REGION_GPA - 4, 8, PATTERN);
	run_op(vcpu, &op, what);
	check_cmds(what);
	TEST_ASSERT(result[0] == PATTERN, "%s: the guest got 0x%lx, userspace answered 0x%llx",
		    what, result[0], PATTERN);

	what = "4-byte store from 2 bytes below the region";
	op = (struct guest_op) { F_STORE, 4, REGION_GPA - 2, 0, PATTERN };
	expect_none();
	expect_exit(false, true, REGION_GPA - 2, 4, PATTERN);
	run_op(vcpu, &op, what);
	check_cmds(what);

	what = "4-byte load right after the region";
	op = (struct guest_op) { F_LOAD, 4, REGION_GPA + REGION_SIZE };
	expect_none();
	expect_exit(false, false, REGION_GPA + REGION_SIZE, 4, ~PATTERN);
	run_op(vcpu, &op, what);
	check_cmds(what);
	TEST_ASSERT(result[0] == (u32)~PATTERN, "%s: the guest got 0x%lx, userspace answered 0x%x",
		    what, result[0], (u32)~PATTERN);

	what = "movdqu load from 8 bytes below the region";
	op = (struct guest_op) { F_MOVDQU_LOAD, 16, REGION_GPA - 8 };
	expect_none();
	expect_exit(false, false, REGION_GPA - 8, 8, PATTERN);
	expect_cmd(false, false, 8, 0, 0);
	run_op(vcpu, &op, what);
	check_cmds(what);
	TEST_ASSERT(result[0] == PATTERN && result[1] == answer(0, 8),
		    "%s: the guest got 0x%lx%016lx, expected 0x%lx%016llx", what, result[1],
		    result[0], answer(0, 8), PATTERN);

	what = "inw from the port below the PIO region";
	op = (struct guest_op) { F_IN, 2, PIO_BASE - 1 };
	expect_none();
	expect_exit(true, false, PIO_BASE - 1, 2, PATTERN);
	run_op(vcpu, &op, what);
	check_cmds(what);
	TEST_ASSERT(result[0] == (u16)PATTERN, "%s: the guest got 0x%lx, userspace answered 0x%x",
		    what, result[0], (u16)PATTERN);

	what = "outl from 3 ports below the PIO region";
	op = (struct guest_op) { F_OUT, 4, PIO_BASE - 3, 0, PATTERN };
	expect_none();
	expect_exit(true, true, PIO_BASE - 3, 4, PATTERN);
	run_op(vcpu, &op, what);
	check_cmds(what);
	forms_fini(vcpu);
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
	struct ucall uc;
	int i;

	if (!this_cpu_has(X86_FEATURE_AVX) || !kvm_cpu_has(X86_FEATURE_AVX) ||
	    !kvm_cpu_has(X86_FEATURE_XSAVE))
		SKIP(return, "The CPU or KVM has no AVX");

	vcpu_arch_set_entry_point(vcpu, guest_code_avx);
	forms_init(vcpu);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		gop = (struct guest_op) { F_VMOVDQU_LOAD, 32, cases[i].addr };
		sync_global_to_guest(vcpu->vm, gop);
		pthread_mutex_lock(&dev.lock);
		dev.nr = 0;
		pthread_mutex_unlock(&dev.lock);

		expect_emulation_failure(vcpu, cases[i].what);
		vcpu_run(vcpu);
		TEST_ASSERT(get_ucall(vcpu, &uc) == UCALL_SYNC,
			    "%s: the guest did not go on past the instruction", cases[i].what);
		expect_none();
		check_cmds(cases[i].what);
	}
	forms_fini(vcpu);
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
