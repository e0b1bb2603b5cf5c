// SPDX-License-Identifier: GPL-2.0-only
/*
 * KVM_IOEVENTFD: guest PIO/MMIO writes that KVM turns into eventfd signals,
 * and, with KVM_CAP_IOEVENTFD_GROUPS, fan-out of one write to every matching
 * registration at the same bus/address/length.  Guests make port I/O and
 * 16-byte SSE stores on x86 only; elsewhere the PIO bus is tested through
 * the ioctl alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <linux/sizes.h>

#include "guest_io.h"
#include "kvm_test_harness.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

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

#define MAX_GROUPS_PARAM	"/sys/module/kvm/parameters/max_ioeventfd_groups"

enum io_type {
	IO_WRITE,
	IO_READ,
	/* A 16-byte MMIO store, which KVM can only handle in pieces. */
	IO_WRITE_SSE,
};

struct io_op {
	u64 addr;
	u64 val[2];
	u32 size;
	u32 type;
	bool pio;
};

/* The access the guest makes next, set by the host before each KVM_RUN. */
static struct io_op guest_op;

static bool has_groups;

/* Port I/O is at most 4 bytes wide, (non-SSE) MMIO at most 8. */
static const u32 access_sizes[] = { 1, 2, 4, 8 };

static int nr_access_sizes(bool pio)
{
	return pio ? 3 : 4;
}

static u64 size_mask(u32 size)
{
	return size >= 8 ? ~0ull : BIT_ULL(size * 8) - 1;
}

static u64 io_addr(bool pio, int slot)
{
	return (pio ? PIO_BASE : MMIO_GPA) + slot * SLOT_SIZE;
}

static const char *bus_str(bool pio)
{
	return pio ? "PIO" : "MMIO";
}

/* Loops over the buses { PIO, MMIO } that make guest accesses start here. */
#define FIRST_GUEST_BUS		(GUEST_HAS_PIO ? 0 : 1)

/* The writes that @n guest writes to each bus leave on @pio's. */
static u64 bus_writes(bool pio, u64 n)
{
	return pio && !GUEST_HAS_PIO ? 0 : n;
}

static void guest_sse_write(u64 gpa, const u64 *val)
{
#ifdef __x86_64__
	asm volatile("movdqu (%0), %%xmm0\n\t"
		     "movdqu %%xmm0, (%1)"
		     : : "r"(val), "r"(gpa) : "xmm0", "memory");
#else
	GUEST_FAIL("No 16-byte store on this architecture");
#endif
}

static void guest_code(void)
{
	for (;;) {
		struct io_op op = guest_op;
		u64 val;

		switch (op.type) {
		case IO_WRITE:
			if (op.pio)
				guest_pio_write(op.addr, op.size, op.val[0]);
			else
				guest_mmio_write(op.addr, op.size, op.val[0]);
			break;
		case IO_READ:
			if (op.pio)
				val = guest_pio_read(op.addr, op.size);
			else
				val = guest_mmio_read(op.addr, op.size);
			__GUEST_ASSERT(val == op.val[0],
				       "%u-byte %s read at 0x%lx returned 0x%lx, host supplied 0x%lx",
				       op.size, op.pio ? "PIO" : "MMIO", op.addr,
				       val, op.val[0]);
			break;
		case IO_WRITE_SSE:
			guest_sse_write(op.addr, op.val);
			break;
		default:
			GUEST_FAIL("Unknown op type %u", op.type);
		}
		GUEST_SYNC(op.type);
	}
}

static int new_eventfd(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	TEST_ASSERT(fd >= 0, "eventfd() failed, errno = %d (%s)", errno, strerror(errno));
	return fd;
}

static void assert_eventfd(int fd, u64 expected, const char *name)
{
	u64 count = eventfd_count(fd);

	TEST_ASSERT(count == expected, "%s (fd %d) was signalled %lu times, expected %lu",
		    name, fd, count, expected);
}

static void assert_eventfds(const int *fds, const u64 *expected, int nr,
			    const char *what)
{
	u64 count;
	int i;

	for (i = 0; i < nr; i++) {
		count = eventfd_count(fds[i]);
		TEST_ASSERT(count == expected[i],
			    "%s: eventfd #%d was signalled %lu times, expected %lu",
			    what, i, count, expected[i]);
	}
}

static void close_fds(const int *fds, int nr)
{
	int i;

	for (i = 0; i < nr; i++)
		close(fds[i]);
}

static int __vm_ioeventfd(struct kvm_vm *vm, u64 addr, u32 len, int fd,
			  u32 flags, u64 datamatch)
{
	struct kvm_ioeventfd args = {
		.datamatch = datamatch,
		.addr = addr,
		.len = len,
		.fd = fd,
		.flags = flags,
	};

	return __vm_ioctl(vm, KVM_IOEVENTFD, &args);
}

static void vm_ioeventfd(struct kvm_vm *vm, u64 addr, u32 len, int fd,
			 u32 flags, u64 datamatch)
{
	int ret = __vm_ioeventfd(vm, addr, len, fd, flags, datamatch);

	TEST_ASSERT(!ret,
		    "KVM_IOEVENTFD(addr = 0x%lx, len = %u, fd = %d, flags = 0x%x, datamatch = 0x%lx) failed, errno = %d (%s)",
		    addr, len, fd, flags, datamatch, errno, strerror(errno));
}

/* Expect KVM_IOEVENTFD to fail with @err, or to succeed if @err is 0. */
static void assert_ioeventfd(struct kvm_vm *vm, u64 addr, u32 len, int fd,
			     u32 flags, u64 datamatch, int err,
			     const char *what)
{
	int ret = __vm_ioeventfd(vm, addr, len, fd, flags, datamatch);

	TEST_ASSERT(err ? ret == -1 && errno == err : !ret,
		    "%s: KVM_IOEVENTFD(addr = 0x%lx, len = %u, fd = %d, flags = 0x%x, datamatch = 0x%lx) returned %d, errno = %d (%s), expected %s%s",
		    what, addr, len, fd, flags, datamatch, ret, ret ? errno : 0,
		    ret ? strerror(errno) : "none", err ? "errno " : "success",
		    err ? strerror(err) : "");
}

static u32 bus_flag(bool pio)
{
	return pio ? KVM_IOEVENTFD_FLAG_PIO : 0;
}

static void assign_wildcard(struct kvm_vm *vm, bool pio, u64 addr,
			    u32 len, int fd)
{
	vm_ioeventfd(vm, addr, len, fd, bus_flag(pio), 0);
}

static void assign_datamatch(struct kvm_vm *vm, bool pio, u64 addr,
			     u32 len, int fd, u64 val)
{
	vm_ioeventfd(vm, addr, len, fd, bus_flag(pio) | KVM_IOEVENTFD_FLAG_DATAMATCH, val);
}

static void deassign_wildcard(struct kvm_vm *vm, bool pio, u64 addr,
			      u32 len, int fd)
{
	vm_ioeventfd(vm, addr, len, fd, bus_flag(pio) | KVM_IOEVENTFD_FLAG_DEASSIGN, 0);
}

static void deassign_datamatch(struct kvm_vm *vm, bool pio, u64 addr,
			       u32 len, int fd, u64 val)
{
	vm_ioeventfd(vm, addr, len, fd,
		     bus_flag(pio) | KVM_IOEVENTFD_FLAG_DATAMATCH | KVM_IOEVENTFD_FLAG_DEASSIGN,
		     val);
}

struct io_stats {
	u64 signals;
	u64 misses;
};

/*
 * The stats come with KVM_CAP_IOEVENTFD_GROUPS.  Without the capability they
 * don't exist and the caller skips its stats checks.
 */
static bool vcpu_io_stats(struct kvm_vcpu *vcpu, struct io_stats *stats)
{
	bool found = __vcpu_get_stat(vcpu, "ioeventfd_signals", &stats->signals, 1) &&
		     __vcpu_get_stat(vcpu, "ioeventfd_misses", &stats->misses, 1);

	TEST_ASSERT(found || !has_groups,
		    "KVM_CAP_IOEVENTFD_GROUPS is supported, but vCPU stats ioeventfd_signals/ioeventfd_misses are not");
	return found;
}

static const char *describe_op(const struct io_op *op, char *buf, size_t size)
{
	if (op->type == IO_READ)
		snprintf(buf, size, "%u-byte %s read at 0x%lx", op->size,
			 bus_str(op->pio), op->addr);
	else if (op->type == IO_WRITE_SSE)
		snprintf(buf, size, "16-byte MMIO write of 0x%016lx%016lx at 0x%lx",
			 op->val[1], op->val[0], op->addr);
	else
		snprintf(buf, size, "%u-byte %s write of 0x%lx at 0x%lx", op->size,
			 bus_str(op->pio), op->val[0], op->addr);
	return buf;
}

/* An access, or a piece of one, that KVM is expected to pass to userspace. */
struct io_exit {
	u64 addr;
	u32 len;
	u64 data;
};

static void report_guest_abort(struct kvm_vcpu *vcpu)
{
	struct ucall uc;

	if (get_ucall(vcpu, &uc) == UCALL_ABORT)
		REPORT_GUEST_ASSERT(uc);
}

static void check_io_exit(struct kvm_vcpu *vcpu, const struct io_op *op,
			  const struct io_exit *exp, const char *op_str)
{
	bool write = op->type != IO_READ;
	struct kvm_run *run = vcpu->run;
	char buf[160];
	u64 data = 0;
	void *ptr;

	report_guest_abort(vcpu);

	if (op->pio) {
		TEST_ASSERT(run->exit_reason == KVM_EXIT_IO &&
			    run->io.port == exp->addr && run->io.size == exp->len &&
			    run->io.count == 1 &&
			    run->io.direction == (write ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN),
			    "%s: expected KVM_EXIT_IO (%s, port 0x%lx, size %u), got %s",
			    op_str, write ? "out" : "in", exp->addr, exp->len,
			    describe_io_exit(vcpu, buf, sizeof(buf)));
		ptr = (void *)run + run->io.data_offset;
	} else {
		TEST_ASSERT(run->exit_reason == KVM_EXIT_MMIO &&
			    run->mmio.phys_addr == exp->addr &&
			    run->mmio.len == exp->len && run->mmio.is_write == write,
			    "%s: expected KVM_EXIT_MMIO (%s, gpa 0x%lx, len %u), got %s",
			    op_str, write ? "write" : "read", exp->addr, exp->len,
			    describe_io_exit(vcpu, buf, sizeof(buf)));
		ptr = run->mmio.data;
	}

	if (write) {
		memcpy(&data, ptr, exp->len);
		TEST_ASSERT(data == (exp->data & size_mask(exp->len)),
			    "%s: exit to userspace at 0x%lx carries data 0x%lx, expected 0x%lx",
			    op_str, exp->addr, data, exp->data & size_mask(exp->len));
	} else {
		memcpy(ptr, &exp->data, exp->len);
	}
}

/*
 * Have the guest perform @op.  KVM must hand exactly @exits to userspace, in
 * order, and then let the guest continue; everything else it must consume.
 * If the vCPU stats exist, they must grow by @signals and @misses.
 */
static void run_io(struct kvm_vcpu *vcpu, const struct io_op *op,
		   const struct io_exit *exits, int nr_exits,
		   u64 signals, u64 misses)
{
	struct io_stats before, after;
	char op_str[96], buf[160];
	bool have_stats;
	struct ucall uc;
	int i;

	describe_op(op, op_str, sizeof(op_str));
	have_stats = vcpu_io_stats(vcpu, &before);

	guest_op = *op;
	sync_global_to_guest(vcpu->vm, guest_op);

	for (i = 0; i < nr_exits; i++) {
		vcpu_run(vcpu);
		check_io_exit(vcpu, op, &exits[i], op_str);
	}

	vcpu_run(vcpu);
	describe_io_exit(vcpu, buf, sizeof(buf));
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_SYNC:
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	default:
		TEST_FAIL("%s: expected KVM to consume the %saccess, got %s",
			  op_str, nr_exits ? "rest of the " : "", buf);
	}

	if (!have_stats)
		return;

	vcpu_io_stats(vcpu, &after);
	TEST_ASSERT(after.signals - before.signals == signals,
		    "%s: ioeventfd_signals grew by %lu, expected %lu",
		    op_str, after.signals - before.signals, signals);
	TEST_ASSERT(after.misses - before.misses == misses,
		    "%s: ioeventfd_misses grew by %lu, expected %lu",
		    op_str, after.misses - before.misses, misses);
}

/* A write that KVM must consume, signalling @signals eventfds in total. */
static void io_write(struct kvm_vcpu *vcpu, bool pio, u64 addr,
		     u32 size, u64 val, u64 signals)
{
	struct io_op op = {
		.type = IO_WRITE, .pio = pio, .addr = addr, .size = size, .val = { val },
	};

	run_io(vcpu, &op, NULL, 0, signals, 0);
}

/* A write that KVM must pass to userspace unchanged, signalling nothing. */
static void io_write_exit(struct kvm_vcpu *vcpu, bool pio, u64 addr,
			  u32 size, u64 val, u64 misses)
{
	struct io_op op = {
		.type = IO_WRITE, .pio = pio, .addr = addr, .size = size, .val = { val },
	};
	struct io_exit exit = { .addr = addr, .len = size, .data = val };

	run_io(vcpu, &op, &exit, 1, 0, misses);
}

/* A read, which always goes to userspace; the guest checks it gets @val. */
static void io_read(struct kvm_vcpu *vcpu, bool pio, u64 addr,
		    u32 size, u64 val)
{
	struct io_op op = {
		.type = IO_READ, .pio = pio, .addr = addr, .size = size, .val = { val },
	};
	struct io_exit exit = { .addr = addr, .len = size, .data = val };

	run_io(vcpu, &op, &exit, 1, 0, 0);
}

static void ioeventfd_vm_setup(struct kvm_vcpu **vcpu)
{
	struct kvm_vm *vm = vm_create_with_one_vcpu(vcpu, NULL);

	virt_map(vm, MMIO_GPA, MMIO_GPA, MMIO_NR_PAGES);
}

/* Tests of what KVM_IOEVENTFD does with or without KVM_CAP_IOEVENTFD_GROUPS. */
FIXTURE(ioeventfd) {
	struct kvm_vcpu *vcpu;
};

FIXTURE_SETUP(ioeventfd)
{
	ioeventfd_vm_setup(&self->vcpu);
}

FIXTURE_TEARDOWN(ioeventfd)
{
	kvm_vm_free(self->vcpu->vm);
}

/* Tests of fan-out, which needs KVM_CAP_IOEVENTFD_GROUPS. */
FIXTURE(ioeventfd_groups) {
	struct kvm_vcpu *vcpu;
};

FIXTURE_SETUP(ioeventfd_groups)
{
	if (!has_groups)
		SKIP(return, "KVM_CAP_IOEVENTFD_GROUPS not supported");

	ioeventfd_vm_setup(&self->vcpu);
}

FIXTURE_TEARDOWN(ioeventfd_groups)
{
	kvm_vm_free(self->vcpu->vm);
}

static void test_lengths(struct kvm_vcpu *vcpu, bool pio)
{
	struct kvm_vm *vm = vcpu->vm;
	int i, j;

	for (i = 0; i < nr_access_sizes(pio); i++) {
		u32 len = access_sizes[i];
		u64 match = PATTERN & size_mask(len);
		u64 wild_addr = io_addr(pio, 2 * i);
		u64 dm_addr = io_addr(pio, 2 * i + 1);
		u64 upper = match >> (len * 4);
		int wild_fd = new_eventfd();
		int dm_fd = new_eventfd();
		int wide_fd = new_eventfd();

		assign_wildcard(vm, pio, wild_addr, len, wild_fd);
		assign_datamatch(vm, pio, dm_addr, len, dm_fd, match);

		/*
		 * Written values are zero-extended, so a datamatch wider than
		 * the access can never match.
		 */
		if (len < 8)
			assign_datamatch(vm, pio, dm_addr, len, wide_fd, match | BIT_ULL(len * 8));

		/* Any value of the registered width signals a wildcard... */
		io_write(vcpu, pio, wild_addr, len, match, 1);
		io_write(vcpu, pio, wild_addr, len, 0, 1);
		io_write(vcpu, pio, wild_addr, len, ~match & size_mask(len), 1);
		assert_eventfd(wild_fd, 3, "wildcard");

		/* ...but only its own value signals a datamatch, down to the top bit. */
		io_write(vcpu, pio, dm_addr, len, match, 1);
		io_write_exit(vcpu, pio, dm_addr, len, match ^ 1, 1);
		io_write_exit(vcpu, pio, dm_addr, len, match ^ BIT_ULL(len * 8 - 1), 1);
		assert_eventfd(dm_fd, 1, "datamatch");

		/* Other widths at the address don't hit, they aren't even misses. */
		for (j = 0; j < nr_access_sizes(pio); j++) {
			u32 size = access_sizes[j];

			if (size == len)
				continue;

			io_write_exit(vcpu, pio, wild_addr, size, match, 0);
			io_write_exit(vcpu, pio, dm_addr, size, match, 0);
		}

		/* Neither do accesses that start inside the registered range. */
		if (len > 1) {
			io_write_exit(vcpu, pio, wild_addr + len / 2, len / 2, upper, 0);
			io_write_exit(vcpu, pio, dm_addr + len / 2, len / 2, upper, 0);
			io_write_exit(vcpu, pio, dm_addr + len - 1, 1,
				      match >> ((len - 1) * 8), 0);
		}

		assert_eventfd(wild_fd, 0, "wildcard");
		assert_eventfd(dm_fd, 0, "datamatch");
		assert_eventfd(wide_fd, 0, "datamatch wider than the access");
		close(wild_fd);
		close(dm_fd);
		close(wide_fd);
	}
}

#ifdef __x86_64__
KVM_ONE_VCPU_TEST(ioeventfd, pio_lengths, guest_code)
{
	test_lengths(vcpu, true);
}
#endif

KVM_ONE_VCPU_TEST(ioeventfd, mmio_lengths, guest_code)
{
	test_lengths(vcpu, false);
}

/* Registrations of different lengths at one address are independent. */
static void test_same_address(struct kvm_vcpu *vcpu, bool pio)
{
	const u64 addr = io_addr(pio, 0);
	struct kvm_vm *vm = vcpu->vm;
	u64 expected[4];
	int fds[4], i, j;

	for (i = 0; i < nr_access_sizes(pio); i++) {
		fds[i] = new_eventfd();
		assign_wildcard(vm, pio, addr, access_sizes[i], fds[i]);
	}

	for (i = 0; i < nr_access_sizes(pio); i++) {
		io_write(vcpu, pio, addr, access_sizes[i], PATTERN, 1);
		for (j = 0; j < nr_access_sizes(pio); j++)
			expected[j] = i == j;
		assert_eventfds(fds, expected, nr_access_sizes(pio), "same address, other length");
	}

	close_fds(fds, nr_access_sizes(pio));
}

#ifdef __x86_64__
KVM_ONE_VCPU_TEST(ioeventfd, pio_same_address, guest_code)
{
	test_same_address(vcpu, true);
}
#endif

KVM_ONE_VCPU_TEST(ioeventfd, mmio_same_address, guest_code)
{
	test_same_address(vcpu, false);
}

static void test_zero_length(struct kvm_vcpu *vcpu, bool pio)
{
	const u64 addr = io_addr(pio, 0);
	struct kvm_vm *vm = vcpu->vm;
	int fd = new_eventfd();
	int i, n;

	assign_wildcard(vm, pio, addr, 0, fd);

	/*
	 * Writes of every width hit.  Write each twice: on VMX the first MMIO
	 * access to a page goes through the emulator, later ones are handled
	 * on EPT misconfig via KVM_FAST_MMIO_BUS.
	 */
	for (i = 0; i < nr_access_sizes(pio); i++)
		for (n = 0; n < 2; n++)
			io_write(vcpu, pio, addr, access_sizes[i],
				 PATTERN & size_mask(access_sizes[i]), 1);
	assert_eventfd(fd, 2 * nr_access_sizes(pio), "zero-length");

	/* Only the exact address does. */
	io_write_exit(vcpu, pio, addr + 1, 1, 0x5a, 0);
	io_write_exit(vcpu, pio, addr + 2, 2, 0x5a5a, 0);
	assert_eventfd(fd, 0, "zero-length");

	/* Deassign removes it from every bus, fast MMIO included. */
	deassign_wildcard(vm, pio, addr, 0, fd);
	io_write_exit(vcpu, pio, addr, 4, 0x12345678, 0);
	io_write_exit(vcpu, pio, addr, 4, 0x12345678, 0);
	assert_eventfd(fd, 0, "deassigned zero-length");

	assign_wildcard(vm, pio, addr, 0, fd);
	io_write(vcpu, pio, addr, 2, 0x1234, 1);
	io_write(vcpu, pio, addr, 2, 0x1234, 1);
	assert_eventfd(fd, 2, "reassigned zero-length");
	close(fd);
}

#ifdef __x86_64__
KVM_ONE_VCPU_TEST(ioeventfd, pio_zero_length, guest_code)
{
	test_zero_length(vcpu, true);
}
#endif

KVM_ONE_VCPU_TEST(ioeventfd, mmio_zero_length, guest_code)
{
	test_zero_length(vcpu, false);
}

static void test_reads(struct kvm_vcpu *vcpu, bool pio)
{
	struct kvm_vm *vm = vcpu->vm;
	int wild_fd = new_eventfd();
	int dm_fd = new_eventfd();
	int i;

	/* A datamatch for the value being read catches reads treated as writes. */
	for (i = 0; i < nr_access_sizes(pio); i++) {
		u32 len = access_sizes[i];
		u64 val = PATTERN & size_mask(len);

		assign_wildcard(vm, pio, io_addr(pio, 2 * i), len, wild_fd);
		assign_datamatch(vm, pio, io_addr(pio, 2 * i + 1), len, dm_fd, val);

		io_read(vcpu, pio, io_addr(pio, 2 * i), len, val);
		io_read(vcpu, pio, io_addr(pio, 2 * i + 1), len, val);
	}

	/*
	 * Zero-length PIO too.  Not zero-length MMIO: on VMX the fast MMIO path
	 * can't tell reads from writes and signals the eventfd for both.
	 */
	if (pio) {
		assign_wildcard(vm, pio, io_addr(pio, 10), 0, wild_fd);
		for (i = 0; i < nr_access_sizes(pio); i++)
			io_read(vcpu, pio, io_addr(pio, 10), access_sizes[i],
				PATTERN & size_mask(access_sizes[i]));
	}

	assert_eventfd(wild_fd, 0, "wildcard");
	assert_eventfd(dm_fd, 0, "datamatch");
	close(wild_fd);
	close(dm_fd);
}

#ifdef __x86_64__
KVM_ONE_VCPU_TEST(ioeventfd, pio_reads, guest_code)
{
	test_reads(vcpu, true);
}
#endif

KVM_ONE_VCPU_TEST(ioeventfd, mmio_reads, guest_code)
{
	test_reads(vcpu, false);
}

static void test_deassign(struct kvm_vcpu *vcpu, bool pio)
{
	const u32 dm_flags = bus_flag(pio) | KVM_IOEVENTFD_FLAG_DATAMATCH |
				  KVM_IOEVENTFD_FLAG_DEASSIGN;
	const u64 addr = io_addr(pio, 0);
	const u64 wild_addr = io_addr(pio, 1);
	struct kvm_vm *vm = vcpu->vm;
	int fd = new_eventfd();
	int other_fd = new_eventfd();

	assign_datamatch(vm, pio, addr, 4, fd, 0x1234);
	io_write(vcpu, pio, addr, 4, 0x1234, 1);
	assert_eventfd(fd, 1, "datamatch");

	/* Deassign has to name the registration exactly. */
	assert_ioeventfd(vm, addr, 4, fd, dm_flags, 0x1235, ENOENT, "wrong datamatch");
	assert_ioeventfd(vm, addr, 4, fd, dm_flags & ~KVM_IOEVENTFD_FLAG_DATAMATCH, 0,
			 ENOENT, "wildcard instead of datamatch");
	assert_ioeventfd(vm, addr, 2, fd, dm_flags, 0x1234, ENOENT, "wrong length");
	assert_ioeventfd(vm, addr + SLOT_SIZE, 4, fd, dm_flags, 0x1234, ENOENT,
			 "wrong address");
	assert_ioeventfd(vm, addr, 4, other_fd, dm_flags, 0x1234, ENOENT, "wrong eventfd");
	assert_ioeventfd(vm, addr, 4, fd, dm_flags ^ KVM_IOEVENTFD_FLAG_PIO, 0x1234,
			 ENOENT, "wrong bus");

	io_write(vcpu, pio, addr, 4, 0x1234, 1);
	assert_eventfd(fd, 1, "datamatch after failed deassigns");

	/* Once deassign returns, writes go to userspace. */
	deassign_datamatch(vm, pio, addr, 4, fd, 0x1234);
	io_write_exit(vcpu, pio, addr, 4, 0x1234, 0);
	assert_eventfd(fd, 0, "deassigned datamatch");
	assert_ioeventfd(vm, addr, 4, fd, dm_flags, 0x1234, ENOENT, "second deassign");

	assign_datamatch(vm, pio, addr, 4, fd, 0x1234);
	io_write(vcpu, pio, addr, 4, 0x1234, 1);
	assert_eventfd(fd, 1, "reassigned datamatch");

	assign_wildcard(vm, pio, wild_addr, 1, fd);
	io_write(vcpu, pio, wild_addr, 1, 0x77, 1);
	assert_eventfd(fd, 1, "wildcard");
	deassign_wildcard(vm, pio, wild_addr, 1, fd);
	io_write_exit(vcpu, pio, wild_addr, 1, 0x77, 0);
	assert_eventfd(fd, 0, "deassigned wildcard");

	close(fd);
	close(other_fd);
}

#ifdef __x86_64__
KVM_ONE_VCPU_TEST(ioeventfd, pio_deassign, guest_code)
{
	test_deassign(vcpu, true);
}
#endif

KVM_ONE_VCPU_TEST(ioeventfd, mmio_deassign, guest_code)
{
	test_deassign(vcpu, false);
}

/* All 64 bits of an 8-byte datamatch count, not just the lower half. */
KVM_ONE_VCPU_TEST(ioeventfd, mmio_64bit_datamatch, guest_code)
{
	const u64 val_a = 0x1234567800000001ull;
	const u64 val_b = 0x1234567900000001ull;
	const u64 addr = io_addr(false, 0);
	struct kvm_vm *vm = vcpu->vm;
	int fds[2] = { new_eventfd(), new_eventfd() };

	assign_datamatch(vm, false, addr, 8, fds[0], val_a);
	assign_datamatch(vm, false, addr, 8, fds[1], val_b);

	io_write(vcpu, false, addr, 8, val_a, 1);
	assert_eventfds(fds, (u64[]){ 1, 0 }, 2, "write of val_a");
	io_write(vcpu, false, addr, 8, val_b, 1);
	assert_eventfds(fds, (u64[]){ 0, 1 }, 2, "write of val_b");

	io_write_exit(vcpu, false, addr, 8, 0x0000000000000001ull, 1);
	io_write_exit(vcpu, false, addr, 8, 0x9234567800000001ull, 1);
	io_write_exit(vcpu, false, addr, 8, 0x1234567800000000ull, 1);
	io_write_exit(vcpu, false, addr, 8, 0x0000000112345678ull, 1);
	io_write_exit(vcpu, false, addr, 4, 0x00000001, 0);
	assert_eventfds(fds, (u64[]){ 0, 0 }, 2, "mismatching writes");

	close_fds(fds, 2);
}

#ifdef __x86_64__
/* The 16-byte part of mmio_page_straddle. */
static void test_page_straddle_sse(struct kvm_vcpu *vcpu, int *fds)
{
	const u64 b3 = MMIO_GPA + 3 * vcpu->vm->page_size;
	struct io_op op16 = { .type = IO_WRITE_SSE, .addr = b3 - 4, .size = 16 };
	struct kvm_vm *vm = vcpu->vm;
	struct io_exit exits[2];
	u32 lo4, hi4;
	u64 mid8;
	u8 bytes[16];
	int i;

	/*
	 * 16 bytes, 4 before the boundary.  After the boundary KVM writes 8
	 * bytes from offset 4 of its buffer, i.e. from an address that isn't
	 * 8-byte aligned: that used to hit a BUG_ON() in ioeventfd_in_range().
	 * The last 4 bytes follow as another 4-byte write.
	 */
	for (i = 0; i < 16; i++)
		bytes[i] = 0xa0 + i;
	memcpy(op16.val, bytes, 16);
	memcpy(&lo4, &bytes[0], 4);
	memcpy(&mid8, &bytes[4], 8);
	memcpy(&hi4, &bytes[12], 4);

	assign_datamatch(vm, false, b3 - 4, 4, fds[0], lo4);
	assign_datamatch(vm, false, b3, 8, fds[1], mid8);
	assign_datamatch(vm, false, b3 + 8, 4, fds[2], hi4);
	run_io(vcpu, &op16, NULL, 0, 3, 0);
	assert_eventfds(fds, (u64[]){ 1, 1, 1 }, 3, "straddling 16-byte write");

	deassign_datamatch(vm, false, b3 + 8, 4, fds[2], hi4);
	exits[0] = (struct io_exit){ .addr = b3 + 8, .len = 4, .data = hi4 };
	run_io(vcpu, &op16, exits, 1, 2, 0);
	assert_eventfds(fds, (u64[]){ 1, 1, 0 }, 3,
			"straddling 16-byte write, last 4 bytes unclaimed");

	/* Once a piece is unclaimed, KVM passes the rest of the page on too. */
	deassign_datamatch(vm, false, b3, 8, fds[1], mid8);
	exits[0] = (struct io_exit){ .addr = b3, .len = 8, .data = mid8 };
	exits[1] = (struct io_exit){ .addr = b3 + 8, .len = 4, .data = hi4 };
	run_io(vcpu, &op16, exits, 2, 1, 0);
	assert_eventfds(fds, (u64[]){ 1, 0, 0 }, 3,
			"straddling 16-byte write, last 12 bytes unclaimed");
}

/*
 * MMIO stores that straddle two MMIO pages reach KVM's MMIO bus in pieces,
 * each with a pointer into the emulator's buffer.  Every piece must be
 * matched at its own address and width, the rest must exit to userspace.
 * The pieces are x86's emulator's: arm64 KVM handles a data abort whole.
 */
KVM_ONE_VCPU_TEST(ioeventfd, mmio_page_straddle, guest_code)
{
	const u64 b1 = MMIO_GPA + vcpu->vm->page_size;
	const u64 b2 = MMIO_GPA + 2 * vcpu->vm->page_size;
	const u64 val8 = 0x1122334455667788ull;
	struct kvm_vm *vm = vcpu->vm;
	struct io_op op8 = {
		.type = IO_WRITE, .addr = b1 - 4, .size = 8, .val = { val8 },
	};
	struct io_op op4 = {
		.type = IO_WRITE, .addr = b2 - 2, .size = 4, .val = { 0xaabbccdd },
	};
	struct io_exit exits[2];
	int fds[3], i;

	for (i = 0; i < 3; i++)
		fds[i] = new_eventfd();

	/* 8 bytes at the end of a page: 4 bytes on each side. */
	assign_datamatch(vm, false, b1 - 4, 4, fds[0], 0x55667788);
	assign_datamatch(vm, false, b1, 4, fds[1], 0x11223344);
	run_io(vcpu, &op8, NULL, 0, 2, 0);
	assert_eventfds(fds, (u64[]){ 1, 1, 0 }, 3, "straddling 8-byte write");

	deassign_datamatch(vm, false, b1, 4, fds[1], 0x11223344);
	exits[0] = (struct io_exit){ .addr = b1, .len = 4, .data = 0x11223344 };
	run_io(vcpu, &op8, exits, 1, 1, 0);
	assert_eventfds(fds, (u64[]){ 1, 0, 0 }, 3, "straddling write, upper half unclaimed");

	deassign_datamatch(vm, false, b1 - 4, 4, fds[0], 0x55667788);
	assign_datamatch(vm, false, b1, 4, fds[1], 0x11223344);
	exits[0] = (struct io_exit){ .addr = b1 - 4, .len = 4, .data = 0x55667788 };
	run_io(vcpu, &op8, exits, 1, 1, 0);
	assert_eventfds(fds, (u64[]){ 0, 1, 0 }, 3, "straddling write, lower half unclaimed");

	deassign_datamatch(vm, false, b1, 4, fds[1], 0x11223344);
	exits[1] = (struct io_exit){ .addr = b1, .len = 4, .data = 0x11223344 };
	run_io(vcpu, &op8, exits, 2, 0, 0);
	assert_eventfds(fds, (u64[]){ 0, 0, 0 }, 3, "straddling write, unclaimed");

	/* 4 bytes: 2 on each side. */
	assign_datamatch(vm, false, b2 - 2, 2, fds[0], 0xccdd);
	assign_datamatch(vm, false, b2, 2, fds[1], 0xaabb);
	run_io(vcpu, &op4, NULL, 0, 2, 0);
	assert_eventfds(fds, (u64[]){ 1, 1, 0 }, 3, "straddling 4-byte write");

	test_page_straddle_sse(vcpu, fds);
	close_fds(fds, 3);
}
#endif

/* Invalid input is refused with the errno KVM has always used. */
KVM_ONE_VCPU_TEST(ioeventfd, bad_args, guest_code)
{
	struct kvm_vm *vm = vcpu->vm;
	int efd = new_eventfd();
	int pipe_fds[2], file_fd, closed_fd;
	u32 bit;
	int i;

	TEST_ASSERT(!pipe(pipe_fds), "pipe() failed, errno = %d", errno);
	file_fd = memfd_create("ioeventfd_test", 0);
	TEST_ASSERT(file_fd >= 0, "memfd_create() failed, errno = %d", errno);
	closed_fd = dup(efd);
	TEST_ASSERT(closed_fd >= 0, "dup() failed, errno = %d", errno);
	close(closed_fd);

	for (i = 0; i < 2; i++) {
		const bool pio = !i;
		const u32 fl = bus_flag(pio);
		const u32 dm = fl | KVM_IOEVENTFD_FLAG_DATAMATCH;
		const u64 addr = io_addr(pio, 0);

		assert_ioeventfd(vm, addr, 3, efd, fl, 0, EINVAL, "len 3");
		assert_ioeventfd(vm, addr, 3, efd, dm, 0, EINVAL, "datamatch len 3");
		assert_ioeventfd(vm, addr, 16, efd, fl, 0, EINVAL, "len 16");
		assert_ioeventfd(vm, addr, 16, efd, dm, 0, EINVAL, "datamatch len 16");

		assert_ioeventfd(vm, ~0ull - 1, 4, efd, fl, 0, EINVAL, "addr + len overflows");
		assert_ioeventfd(vm, ~0ull, 8, efd, dm, 0, EINVAL, "addr + len overflows");

		for (bit = kvm_ioeventfd_flag_nr_max; bit < 32; bit++)
			assert_ioeventfd(vm, addr, 4, efd, fl | BIT(bit), 0, EINVAL,
					 "undefined flag");

		/* A zero-length registration ignores the data, it can't match it. */
		assert_ioeventfd(vm, addr, 0, efd, dm, 0, EINVAL, "datamatch with len 0");

		assert_ioeventfd(vm, addr, 4, -1, fl, 0, EBADF, "fd -1");
		assert_ioeventfd(vm, addr, 4, closed_fd, fl, 0, EBADF, "closed fd");
		assert_ioeventfd(vm, addr, 4, pipe_fds[0], fl, 0, EINVAL, "pipe");
		assert_ioeventfd(vm, addr, 4, file_fd, fl, 0, EINVAL, "regular file");
		assert_ioeventfd(vm, addr, 4, vm->fd, fl, 0, EINVAL, "VM fd");

		assert_ioeventfd(vm, addr, 4, efd, fl | KVM_IOEVENTFD_FLAG_DEASSIGN, 0,
				 ENOENT, "deassign of nothing");
		assert_ioeventfd(vm, addr, 4, efd, dm | KVM_IOEVENTFD_FLAG_DEASSIGN, 1,
				 ENOENT, "deassign of nothing");
		assert_ioeventfd(vm, addr, 4, -1, fl | KVM_IOEVENTFD_FLAG_DEASSIGN, 0,
				 EBADF, "deassign with fd -1");
		assert_ioeventfd(vm, addr, 4, pipe_fds[0], fl | KVM_IOEVENTFD_FLAG_DEASSIGN, 0,
				 EINVAL, "deassign with a pipe");

		/* None of the above registered anything. */
		assign_wildcard(vm, pio, addr, 4, efd);
		deassign_wildcard(vm, pio, addr, 4, efd);
		assert_ioeventfd(vm, addr, 4, efd, fl | KVM_IOEVENTFD_FLAG_DEASSIGN, 0,
				 ENOENT, "second deassign");
	}

	close(pipe_fds[0]);
	close(pipe_fds[1]);
	close(file_fd);
	close(efd);
}

/*
 * Which registrations at one address can coexist.  Before groups, any two
 * that a write could both match were refused with EEXIST, exact duplicates
 * and zero-length next to sized ones still are.
 */
KVM_ONE_VCPU_TEST(ioeventfd, collisions, guest_code)
{
	const int overlap = has_groups ? 0 : EEXIST;
	struct kvm_vm *vm = vcpu->vm;
	int a = new_eventfd();
	int b = new_eventfd();
	int c = new_eventfd();
	int i;

	for (i = 0; i < 2; i++) {
		const bool pio = !i;
		const u32 fl = bus_flag(pio);
		const u32 dm = fl | KVM_IOEVENTFD_FLAG_DATAMATCH;
		const u64 x = io_addr(pio, 0), y = io_addr(pio, 1);
		const u64 z = io_addr(pio, 2), w = io_addr(pio, 3);
		const u64 v = io_addr(pio, 4);

		assert_ioeventfd(vm, x, 4, a, fl, 0, 0, "wildcard");
		assert_ioeventfd(vm, x, 4, a, fl, 0, EEXIST, "duplicate wildcard");
		assert_ioeventfd(vm, x, 4, b, dm, 1, overlap, "datamatch next to a wildcard");
		assert_ioeventfd(vm, x, 4, c, fl, 0, overlap, "second wildcard");

		assert_ioeventfd(vm, y, 4, a, dm, 5, 0, "datamatch");
		assert_ioeventfd(vm, y, 4, a, dm, 5, EEXIST, "duplicate datamatch");
		assert_ioeventfd(vm, y, 4, b, dm, 5, overlap, "same value, other eventfd");
		assert_ioeventfd(vm, y, 4, b, dm, 6, 0, "other value");
		assert_ioeventfd(vm, y, 4, a, fl, 0, overlap, "wildcard, eventfd of a datamatch");

		assert_ioeventfd(vm, z, 0, a, fl, 0, 0, "zero-length");
		assert_ioeventfd(vm, z, 0, a, fl, 0, EEXIST, "duplicate zero-length");
		assert_ioeventfd(vm, z, 0, b, fl, 0, overlap, "second zero-length");
		assert_ioeventfd(vm, z, 4, c, fl, 0, EEXIST, "sized next to zero-length");
		assert_ioeventfd(vm, z, 2, c, dm, 1, EEXIST, "datamatch next to zero-length");
		assert_ioeventfd(vm, w, 4, a, fl, 0, 0, "sized");
		assert_ioeventfd(vm, w, 0, b, fl, 0, EEXIST, "zero-length next to sized");

		/* Another length is another group, as is another bus. */
		assert_ioeventfd(vm, v, 4, a, fl, 0, 0, "4 bytes");
		assert_ioeventfd(vm, v, 2, a, fl, 0, 0, "2 bytes at the same address");
		assert_ioeventfd(vm, v, 1, a, dm, 1, 0, "1 byte at the same address");
	}

	assert_ioeventfd(vm, PIO_BASE + 0x80, 4, a, KVM_IOEVENTFD_FLAG_PIO, 0, 0, "PIO");
	assert_ioeventfd(vm, PIO_BASE + 0x80, 4, a, 0, 0, 0, "MMIO at the same address");

	close(a);
	close(b);
	close(c);
}

static void test_fanout(struct kvm_vcpu *vcpu, bool pio)
{
	const u64 addr = io_addr(pio, 0);
	struct kvm_vm *vm = vcpu->vm;
	u64 count[3];
	int fds[5], i;

	for (i = 0; i < 5; i++)
		fds[i] = new_eventfd();

	/* A wildcard and two datamatch items on one 1-byte doorbell. */
	assign_wildcard(vm, pio, addr, 1, fds[0]);
	assign_datamatch(vm, pio, addr, 1, fds[1], 0xa5);
	assign_datamatch(vm, pio, addr, 1, fds[2], 0x42);

	io_write(vcpu, pio, addr, 1, 0x00, 1);
	io_write(vcpu, pio, addr, 1, 0xa5, 2);
	io_write(vcpu, pio, addr, 1, 0x42, 2);

	for (i = 0; i < 3; i++)
		count[i] = eventfd_count(fds[i]);
	ksft_print_msg("%s fan-out: fd0 (wildcard) = %lu, fd1 (0xa5) = %lu, fd2 (0x42) = %lu\n",
		       bus_str(pio), count[0], count[1], count[2]);
	TEST_ASSERT(count[0] == 3 && count[1] == 1 && count[2] == 1,
		    "%s fan-out: expected fd0 = 3, fd1 = 1, fd2 = 1, got %lu, %lu, %lu",
		    bus_str(pio), count[0], count[1], count[2]);

	/* More items for the same values are signalled alongside. */
	assign_wildcard(vm, pio, addr, 1, fds[3]);
	assign_datamatch(vm, pio, addr, 1, fds[4], 0xa5);
	io_write(vcpu, pio, addr, 1, 0xa5, 4);
	assert_eventfds(fds, (u64[]){ 1, 1, 0, 1, 1 }, 5, "second wildcard and 0xa5 item");

	/* Without wildcards, a value nobody matches is a miss. */
	deassign_wildcard(vm, pio, addr, 1, fds[0]);
	deassign_wildcard(vm, pio, addr, 1, fds[3]);
	io_write_exit(vcpu, pio, addr, 1, 0x77, 1);
	io_write(vcpu, pio, addr, 1, 0x42, 1);
	assert_eventfds(fds, (u64[]){ 0, 0, 1, 0, 0 }, 5, "wildcards deassigned");

	/* Deassigning one item for 0xa5 leaves the other one. */
	assert_ioeventfd(vm, addr, 1, fds[1],
			 bus_flag(pio) | KVM_IOEVENTFD_FLAG_DATAMATCH | KVM_IOEVENTFD_FLAG_DEASSIGN,
			 0x42, ENOENT, "deassign with another item's value");
	deassign_datamatch(vm, pio, addr, 1, fds[1], 0xa5);
	io_write(vcpu, pio, addr, 1, 0xa5, 1);
	assert_eventfds(fds, (u64[]){ 0, 0, 0, 0, 1 }, 5, "one 0xa5 item deassigned");

	/* With the last item gone the group is gone: not even a miss. */
	deassign_datamatch(vm, pio, addr, 1, fds[2], 0x42);
	deassign_datamatch(vm, pio, addr, 1, fds[4], 0xa5);
	io_write_exit(vcpu, pio, addr, 1, 0xa5, 0);
	assert_eventfds(fds, (u64[]){ 0, 0, 0, 0, 0 }, 5, "all items deassigned");

	close_fds(fds, 5);
}

#ifdef __x86_64__
KVM_ONE_VCPU_TEST(ioeventfd_groups, pio_fanout, guest_code)
{
	test_fanout(vcpu, true);
}
#endif

KVM_ONE_VCPU_TEST(ioeventfd_groups, mmio_fanout, guest_code)
{
	test_fanout(vcpu, false);
}

/* Zero-length groups fan out too, including on the fast MMIO bus. */
KVM_ONE_VCPU_TEST(ioeventfd_groups, zero_length_fanout, guest_code)
{
	struct kvm_vm *vm = vcpu->vm;
	int fds[3], i, j, n;

	for (i = FIRST_GUEST_BUS; i < 2; i++) {
		const bool pio = !i;
		const u64 addr = io_addr(pio, 1);
		const u64 nr = 2 * nr_access_sizes(pio);

		for (j = 0; j < 3; j++) {
			fds[j] = new_eventfd();
			assign_wildcard(vm, pio, addr, 0, fds[j]);
		}

		for (j = 0; j < nr_access_sizes(pio); j++)
			for (n = 0; n < 2; n++)
				io_write(vcpu, pio, addr, access_sizes[j],
					 PATTERN & size_mask(access_sizes[j]), 3);
		assert_eventfds(fds, (u64[]){ nr, nr, nr }, 3, "zero-length fan-out");

		deassign_wildcard(vm, pio, addr, 0, fds[1]);
		io_write(vcpu, pio, addr, 4, 0x12345678, 2);
		io_write(vcpu, pio, addr, 4, 0x12345678, 2);
		assert_eventfds(fds, (u64[]){ 2, 0, 2 }, 3, "one zero-length item deassigned");

		deassign_wildcard(vm, pio, addr, 0, fds[0]);
		deassign_wildcard(vm, pio, addr, 0, fds[2]);
		io_write_exit(vcpu, pio, addr, 4, 0x12345678, 0);
		io_write_exit(vcpu, pio, addr, 4, 0x12345678, 0);
		assert_eventfds(fds, (u64[]){ 0, 0, 0 }, 3, "zero-length items deassigned");

		close_fds(fds, 3);
	}
}

/*
 * An eventfd may back several items, in one group or several; each matching
 * item signals it once.
 */
KVM_ONE_VCPU_TEST(ioeventfd_groups, shared_eventfd, guest_code)
{
	struct kvm_vm *vm = vcpu->vm;
	int i;

	for (i = FIRST_GUEST_BUS; i < 2; i++) {
		const bool pio = !i;
		const u64 x = io_addr(pio, 0), y = io_addr(pio, 1);
		int fd = new_eventfd();

		assign_wildcard(vm, pio, x, 4, fd);
		assign_datamatch(vm, pio, x, 4, fd, 0x10);
		assign_datamatch(vm, pio, x, 4, fd, 0x20);
		assign_datamatch(vm, pio, y, 4, fd, 0x10);
		assert_ioeventfd(vm, x, 4, fd, bus_flag(pio) | KVM_IOEVENTFD_FLAG_DATAMATCH,
				 0x10, EEXIST, "duplicate datamatch");

		io_write(vcpu, pio, x, 4, 0x10, 2);
		assert_eventfd(fd, 2, "wildcard + datamatch on one eventfd");
		io_write(vcpu, pio, x, 4, 0x20, 2);
		assert_eventfd(fd, 2, "wildcard + datamatch on one eventfd");
		io_write(vcpu, pio, x, 4, 0x30, 1);
		assert_eventfd(fd, 1, "wildcard alone");
		io_write(vcpu, pio, y, 4, 0x10, 1);
		assert_eventfd(fd, 1, "same eventfd in a second group");

		/* Deassign removes only the named item. */
		deassign_wildcard(vm, pio, x, 4, fd);
		io_write(vcpu, pio, x, 4, 0x10, 1);
		assert_eventfd(fd, 1, "datamatch after wildcard deassigned");
		io_write_exit(vcpu, pio, x, 4, 0x30, 1);
		assert_eventfd(fd, 0, "miss after wildcard deassigned");

		close(fd);
	}
}

/* The vCPU stats count every signalled eventfd and every miss. */
KVM_ONE_VCPU_TEST(ioeventfd_groups, stats, guest_code)
{
	const bool pio = GUEST_HAS_PIO;
	const u64 x = io_addr(pio, 0), y = io_addr(pio, 1);
	struct kvm_vm *vm = vcpu->vm;
	struct io_stats before, after;
	int fds[3], i;

	TEST_ASSERT(vcpu_io_stats(vcpu, &before), "ioeventfd stats missing");

	for (i = 0; i < 3; i++)
		fds[i] = new_eventfd();
	assign_wildcard(vm, pio, x, 2, fds[0]);
	assign_datamatch(vm, pio, x, 2, fds[1], 0xbeef);
	assign_datamatch(vm, pio, y, 2, fds[2], 0xcafe);

	io_write(vcpu, pio, x, 2, 0x0001, 1);
	io_write(vcpu, pio, x, 2, 0xbeef, 2);
	io_write(vcpu, pio, y, 2, 0xcafe, 1);
	io_write_exit(vcpu, pio, y, 2, 0xcaff, 1);
	io_write_exit(vcpu, pio, y, 2, 0xcaff, 1);
	io_write_exit(vcpu, pio, y, 4, 0xcafe, 0);
	io_read(vcpu, pio, x, 2, 0xbeef);
	assert_eventfds(fds, (u64[]){ 2, 1, 1 }, 3, "stats");

	vcpu_io_stats(vcpu, &after);
	ksft_print_msg("ioeventfd_signals: %lu -> %lu, ioeventfd_misses: %lu -> %lu\n",
		       before.signals, after.signals, before.misses, after.misses);
	TEST_ASSERT(after.signals - before.signals == 4 && after.misses - before.misses == 2,
		    "Expected 4 signals and 2 misses, got %lu and %lu",
		    after.signals - before.signals, after.misses - before.misses);

	close_fds(fds, 3);
}

static s64 elapsed_ms(struct timespec start)
{
	return timespec_to_ns(timespec_elapsed(start)) / 1000000;
}

static bool raise_nofile_limit(rlim_t nr)
{
	struct rlimit rl;

	TEST_ASSERT(!getrlimit(RLIMIT_NOFILE, &rl), "getrlimit() failed, errno = %d", errno);
	if (rl.rlim_cur >= nr)
		return true;

	rl.rlim_cur = nr;
	if (rl.rlim_max < nr)
		rl.rlim_max = nr;
	return !setrlimit(RLIMIT_NOFILE, &rl);
}

#define NR_MANY_ITEMS	4096

/* Distinct in both halves, so that only a full 64-bit compare tells them apart. */
static u64 many_val(int i)
{
	return 0xa000000000000000ull + (u64)i * 0x100000001ull;
}

static void assert_only_signalled(const int *fds, int nr, const int *hits, int nr_hits)
{
	u64 count, expected;
	int i, j;

	for (i = 0; i < nr; i++) {
		expected = 0;
		for (j = 0; j < nr_hits; j++)
			expected += hits[j] == i;

		count = eventfd_count(fds[i]);
		TEST_ASSERT(count == expected,
			    "Item %d (value 0x%lx) was signalled %lu times, expected %lu",
			    i, many_val(i), count, expected);
	}
}

/* Each of thousands of items in one group signals its own eventfd only. */
TEST_F_TIMEOUT(ioeventfd_groups, many_items, 120)
{
	const int last = NR_MANY_ITEMS - 1, mid = NR_MANY_ITEMS / 2;
	const u64 addr = io_addr(false, 0);
	struct kvm_vcpu *vcpu = self->vcpu;
	struct kvm_vm *vm = vcpu->vm;
	struct timespec start;
	int *fds, i;

	if (!raise_nofile_limit(NR_MANY_ITEMS + 64))
		SKIP(return, "Can't raise RLIMIT_NOFILE to %d", NR_MANY_ITEMS + 64);

	vcpu_arch_set_entry_point(vcpu, guest_code);

	fds = calloc(NR_MANY_ITEMS, sizeof(*fds));
	TEST_ASSERT(fds, "Failed to allocate %d fds", NR_MANY_ITEMS);

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0; i < NR_MANY_ITEMS; i++) {
		fds[i] = new_eventfd();
		assign_datamatch(vm, false, addr, 8, fds[i], many_val(i));
	}
	ksft_print_msg("Assigned %d items to one group in %ld ms\n", NR_MANY_ITEMS,
		       elapsed_ms(start));

	io_write(vcpu, false, addr, 8, many_val(0), 1);
	io_write(vcpu, false, addr, 8, many_val(mid), 1);
	io_write(vcpu, false, addr, 8, many_val(last), 1);
	io_write_exit(vcpu, false, addr, 8, many_val(NR_MANY_ITEMS), 1);
	assert_only_signalled(fds, NR_MANY_ITEMS, (int[]){ 0, mid, last }, 3);

	deassign_datamatch(vm, false, addr, 8, fds[0], many_val(0));
	deassign_datamatch(vm, false, addr, 8, fds[mid], many_val(mid));
	deassign_datamatch(vm, false, addr, 8, fds[last], many_val(last));

	io_write_exit(vcpu, false, addr, 8, many_val(0), 1);
	io_write_exit(vcpu, false, addr, 8, many_val(last), 1);
	io_write(vcpu, false, addr, 8, many_val(1), 1);
	io_write(vcpu, false, addr, 8, many_val(last - 1), 1);
	assert_only_signalled(fds, NR_MANY_ITEMS, (int[]){ 1, last - 1 }, 2);

	close_fds(fds, NR_MANY_ITEMS);
	free(fds);
}

/*
 * Thousands of wildcards in one group, each on its own eventfd: a write
 * signals each once, a duplicate is refused wherever it sits, and a
 * data-match item may share a wildcard's eventfd.  The item table, as the
 * VM statistic ioeventfd_table_bytes shows, grows and shrinks with them.
 */
TEST_F_TIMEOUT(ioeventfd_groups, many_wildcards, 120)
{
	const int last = NR_MANY_ITEMS - 1, mid = NR_MANY_ITEMS / 2;
	const u64 addr = io_addr(false, 0);
	struct kvm_vcpu *vcpu = self->vcpu;
	struct kvm_vm *vm = vcpu->vm;
	struct timespec start;
	u64 bytes, bytes0;
	int *fds, *all, i;

	if (!raise_nofile_limit(NR_MANY_ITEMS + 64))
		SKIP(return, "Can't raise RLIMIT_NOFILE to %d", NR_MANY_ITEMS + 64);

	vcpu_arch_set_entry_point(vcpu, guest_code);

	fds = calloc(NR_MANY_ITEMS, sizeof(*fds));
	all = calloc(NR_MANY_ITEMS + 1, sizeof(*all));
	TEST_ASSERT(fds && all, "Failed to allocate %d fds", NR_MANY_ITEMS);

	bytes0 = vm_get_stat(vm, "ioeventfd_table_bytes");
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0; i < NR_MANY_ITEMS; i++) {
		fds[i] = new_eventfd();
		assign_wildcard(vm, false, addr, 8, fds[i]);
		all[i] = i;
	}
	ksft_print_msg("Assigned %d wildcards to one group in %ld ms\n", NR_MANY_ITEMS,
		       elapsed_ms(start));

	/* The table grows to at least a bucket per two items. */
	bytes = vm_get_stat(vm, "ioeventfd_table_bytes") - bytes0;
	TEST_ASSERT(bytes >= NR_MANY_ITEMS / 2 * sizeof(void *),
		    "%d items in a table of %lu bytes", NR_MANY_ITEMS, bytes);

	assert_ioeventfd(vm, addr, 8, fds[0], 0, 0, EEXIST, "duplicate first wildcard");
	assert_ioeventfd(vm, addr, 8, fds[mid], 0, 0, EEXIST, "duplicate middle wildcard");
	assert_ioeventfd(vm, addr, 8, fds[last], 0, 0, EEXIST, "duplicate last wildcard");
	assign_datamatch(vm, false, addr, 8, fds[mid], many_val(mid));

	io_write(vcpu, false, addr, 8, many_val(0), NR_MANY_ITEMS);
	assert_only_signalled(fds, NR_MANY_ITEMS, all, NR_MANY_ITEMS);
	io_write(vcpu, false, addr, 8, many_val(mid), NR_MANY_ITEMS + 1);
	all[NR_MANY_ITEMS] = mid;
	assert_only_signalled(fds, NR_MANY_ITEMS, all, NR_MANY_ITEMS + 1);

	/* Take away all but the first, then add the middle one back. */
	for (i = 1; i < NR_MANY_ITEMS; i++)
		deassign_wildcard(vm, false, addr, 8, fds[i]);
	assert_ioeventfd(vm, addr, 8, fds[last], KVM_IOEVENTFD_FLAG_DEASSIGN, 0, ENOENT,
			 "deassigned wildcard");

	/* Two items left: the table shrinks to 16 buckets, one item per eight. */
	bytes = vm_get_stat(vm, "ioeventfd_table_bytes") - bytes0;
	TEST_ASSERT(bytes <= 16 * sizeof(void *) + 16, "2 items left in a table of %lu bytes",
		    bytes);
	assign_wildcard(vm, false, addr, 8, fds[mid]);

	io_write(vcpu, false, addr, 8, many_val(mid), 3);
	assert_only_signalled(fds, NR_MANY_ITEMS, (int[]){ 0, mid, mid }, 3);

	close_fds(fds, NR_MANY_ITEMS);
	free(fds);
	free(all);
}

static long saved_max_groups = -1;

static long read_max_groups(void)
{
	char buf[32] = {};
	ssize_t ret;
	int fd;

	fd = open(MAX_GROUPS_PARAM, O_RDONLY);
	TEST_ASSERT(fd >= 0, "Failed to open %s, errno = %d", MAX_GROUPS_PARAM, errno);
	ret = read(fd, buf, sizeof(buf) - 1);
	TEST_ASSERT(ret > 0, "Failed to read %s, errno = %d", MAX_GROUPS_PARAM, errno);
	close(fd);
	return strtol(buf, NULL, 0);
}

static int write_max_groups(long val)
{
	char buf[32];
	int fd, len, ret = 0;

	fd = open(MAX_GROUPS_PARAM, O_WRONLY);
	if (fd < 0)
		return -errno;

	len = snprintf(buf, sizeof(buf), "%ld\n", val);
	if (write(fd, buf, len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

static void restore_max_groups(void)
{
	if (saved_max_groups >= 0)
		write_max_groups(saved_max_groups);
	saved_max_groups = -1;
}

/*
 * New groups beyond max_ioeventfd_groups on one bus fail with ENOSPC; new
 * items in existing groups don't count.  The parameter is lowered for the
 * duration of the test and restored even if the test fails.
 */
TEST_F(ioeventfd_groups, group_limit)
{
	const int limit = 4;
	struct kvm_vcpu *vcpu = self->vcpu;
	struct kvm_vm *vm = vcpu->vm;
	int fds[2][8], i, g, ret;
	/* The groups of the bus that the guest can write to. */
	int *gfd = fds[GUEST_HAS_PIO ? 0 : 1];
	long orig;

	if (access(MAX_GROUPS_PARAM, F_OK))
		SKIP(return, MAX_GROUPS_PARAM " not found");

	orig = read_max_groups();
	ret = write_max_groups(limit);
	if (ret == -EACCES || ret == -EPERM || ret == -EROFS)
		SKIP(return, "Can't write " MAX_GROUPS_PARAM ": %s", strerror(-ret));
	TEST_ASSERT(!ret, "Failed to write %d to " MAX_GROUPS_PARAM ", errno = %d (%s)",
		    limit, -ret, strerror(-ret));
	saved_max_groups = orig;
	atexit(restore_max_groups);

	vcpu_arch_set_entry_point(vcpu, guest_code);

	for (i = 0; i < 2; i++) {
		const bool pio = !i;
		const u32 fl = bus_flag(pio);
		int *fd = fds[i];

		for (g = 0; g < 8; g++)
			fd[g] = new_eventfd();

		for (g = 0; g < limit; g++)
			assign_wildcard(vm, pio, io_addr(pio, g), 4, fd[g]);

		assert_ioeventfd(vm, io_addr(pio, limit), 4, fd[limit], fl, 0, ENOSPC,
				 "group beyond the limit");
		assert_ioeventfd(vm, io_addr(pio, 0), 2, fd[limit], fl, 0, ENOSPC,
				 "new length at an existing address");
		if (!pio) {
			assert_ioeventfd(vm, io_addr(pio, limit), 0, fd[limit], fl, 0, ENOSPC,
					 "zero-length group beyond the limit");
			assert_ioeventfd(vm, io_addr(pio, limit), 0, fd[limit],
					 fl | KVM_IOEVENTFD_FLAG_DEASSIGN, 0, ENOENT,
					 "deassign of the refused zero-length group");
		}

		/* More items in an existing group are fine. */
		assign_datamatch(vm, pio, io_addr(pio, 0), 4, fd[limit], 1);
		assign_wildcard(vm, pio, io_addr(pio, 0), 4, fd[limit + 1]);

		/* Deleting a group's only item makes room for another group. */
		deassign_wildcard(vm, pio, io_addr(pio, limit - 1), 4, fd[limit - 1]);
		assign_wildcard(vm, pio, io_addr(pio, limit), 4, fd[limit - 1]);
		assert_ioeventfd(vm, io_addr(pio, limit + 1), 4, fd[limit + 2], fl, 0,
				 ENOSPC, "group beyond the limit");

		if (pio && !GUEST_HAS_PIO)
			continue;
		io_write(vcpu, pio, io_addr(pio, limit), 4, 0x1234, 1);
		io_write(vcpu, pio, io_addr(pio, 0), 4, 1, 3);
		assert_eventfds(fd, (u64[]){ 1, 0, 0, 1, 1, 1, 0, 0 }, 8,
				"groups at the limit");
	}

	/* Lowering the limit below the number of groups leaves them alone. */
	TEST_ASSERT(!write_max_groups(1), "Failed to write 1 to " MAX_GROUPS_PARAM);
	assign_datamatch(vm, GUEST_HAS_PIO, io_addr(GUEST_HAS_PIO, 1), 4, gfd[7], 2);
	io_write(vcpu, GUEST_HAS_PIO, io_addr(GUEST_HAS_PIO, 1), 4, 2, 2);
	assert_eventfd(gfd[1], 1, "wildcard in an existing group");
	assert_eventfd(gfd[7], 1, "item added over the limit");
	assert_ioeventfd(vm, io_addr(GUEST_HAS_PIO, limit + 1), 4, gfd[limit + 2],
			 bus_flag(GUEST_HAS_PIO), 0, ENOSPC, "group beyond the lowered limit");

	/* Raising the limit again takes effect at once. */
	TEST_ASSERT(!write_max_groups(orig), "Failed to restore " MAX_GROUPS_PARAM);
	saved_max_groups = -1;
	for (i = 0; i < 2; i++)
		assign_wildcard(vm, !i, io_addr(!i, limit + 1), 4, fds[i][limit + 2]);

	close_fds(fds[0], 8);
	close_fds(fds[1], 8);
}

#define NR_CONC_VCPUS		3
#define CONC_MAX_CYCLES		2000
#define CONC_DURATION_MS	1500
#define NR_LIVE_CHURN		8
#define NR_RETIRED		32

/* Guest-side count of completed doorbell iterations, read by the host. */
static u64 conc_writes[NR_CONC_VCPUS];
static bool conc_stop;

static u32 conc_val(int idx)
{
	return 0xd00dfee0 + idx;
}

/* Each iteration rings the PIO (where there is one) and the MMIO doorbell once. */
static void guest_concurrent(u32 idx)
{
	const u32 val = conc_val(idx);

	while (!READ_ONCE(conc_stop)) {
		if (GUEST_HAS_PIO)
			guest_pio_write(io_addr(true, 0), 4, val);
		WRITE_ONCE(*(u32 *)io_addr(false, 0), val);
		WRITE_ONCE(conc_writes[idx], conc_writes[idx] + 1);
	}
	GUEST_DONE();
}

static void *conc_vcpu_thread(void *arg)
{
	struct kvm_vcpu *vcpu = arg;
	struct ucall uc;
	char buf[160];

	vcpu_run(vcpu);
	describe_io_exit(vcpu, buf, sizeof(buf));
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_DONE:
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	default:
		TEST_FAIL("vCPU %u: a doorbell write wasn't consumed by KVM, got %s",
			  vcpu->id, buf);
	}
	return NULL;
}

struct churn_item {
	int fd;
	bool pio;
	bool datamatch;
	/* In the group the vCPUs write to, as opposed to a silent one. */
	bool doorbell;
	u64 addr;
	u64 val;
};

struct churn {
	struct kvm_vm *vm;
	struct churn_item live[NR_LIVE_CHURN];
	int retired[NR_RETIRED];
	int nr_retired;
	u64 signals;
};

static void churn_assign(struct churn *c, int cycle)
{
	struct churn_item *item = &c->live[cycle % NR_LIVE_CHURN];
	int kind = (cycle / 2) % 4;

	item->fd = new_eventfd();
	item->pio = cycle & 1;
	item->datamatch = kind & 1;
	item->doorbell = kind < 2;
	item->val = conc_val((cycle / 8) % NR_CONC_VCPUS);
	item->addr = io_addr(item->pio, item->doorbell ? 0 : 1 + (cycle / 8) % 4);

	vm_ioeventfd(c->vm, item->addr, 4, item->fd,
		     bus_flag(item->pio) | (item->datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0),
		     item->val);
}

/* Once deassign has returned, the item's eventfd must stay quiet. */
static void churn_check_retired(int fd)
{
	u64 count = eventfd_count(fd);

	TEST_ASSERT(!count, "eventfd %d was signalled %lu times after its deassign returned",
		    fd, count);
	close(fd);
}

static void churn_deassign(struct churn *c, int cycle)
{
	struct churn_item *item = &c->live[cycle % NR_LIVE_CHURN];
	int *slot = &c->retired[c->nr_retired++ % NR_RETIRED];
	u64 count;

	vm_ioeventfd(c->vm, item->addr, 4, item->fd,
		     bus_flag(item->pio) | KVM_IOEVENTFD_FLAG_DEASSIGN |
		     (item->datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0),
		     item->val);

	count = eventfd_count(item->fd);
	TEST_ASSERT(item->doorbell || !count,
		    "Item at %s 0x%lx, which no vCPU writes, was signalled %lu times",
		    bus_str(item->pio), item->addr, count);
	c->signals += count;

	/* Check fds some cycles after their deassign, giving stray signals time. */
	if (c->nr_retired > NR_RETIRED)
		churn_check_retired(*slot);
	*slot = item->fd;
}

/*
 * vCPUs ring doorbells while the host adds and removes items in the same
 * groups and adds and removes other groups.  Items that stay registered must
 * see exactly the guests' writes, removed ones nothing after removal.
 */
TEST(concurrent_assign_deassign)
{
	struct kvm_vcpu *vcpus[NR_CONC_VCPUS];
	pthread_t threads[NR_CONC_VCPUS];
	struct io_stats before[NR_CONC_VCPUS], after;
	u64 *writes, total = 0, signals = 0;
	int wild_fd[2], own_fd[2][NR_CONC_VCPUS];
	struct churn churn = {};
	struct timespec start;
	struct kvm_vm *vm;
	int i, b, cycle;
	bool *stop;

	if (!has_groups)
		SKIP(return, "KVM_CAP_IOEVENTFD_GROUPS not supported");

	vm = vm_create_with_vcpus(NR_CONC_VCPUS, guest_concurrent, vcpus);
	virt_map(vm, MMIO_GPA, MMIO_GPA, MMIO_NR_PAGES);
	churn.vm = vm;

	/* Per bus, a wildcard that sees every write and an item per vCPU value. */
	for (b = 0; b < 2; b++) {
		const bool pio = !b;

		wild_fd[b] = new_eventfd();
		assign_wildcard(vm, pio, io_addr(pio, 0), 4, wild_fd[b]);
		for (i = 0; i < NR_CONC_VCPUS; i++) {
			own_fd[b][i] = new_eventfd();
			assign_datamatch(vm, pio, io_addr(pio, 0), 4, own_fd[b][i], conc_val(i));
		}
	}

	writes = addr_gva2hva(vm, (vm_vaddr_t)conc_writes);
	stop = addr_gva2hva(vm, (vm_vaddr_t)&conc_stop);

	for (i = 0; i < NR_CONC_VCPUS; i++) {
		vcpu_args_set(vcpus[i], 1, i);
		TEST_ASSERT(vcpu_io_stats(vcpus[i], &before[i]), "ioeventfd stats missing");
		TEST_ASSERT(!pthread_create(&threads[i], NULL, conc_vcpu_thread, vcpus[i]),
			    "pthread_create() failed");
	}

	/* Don't start churning before every vCPU is ringing its doorbells. */
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0; i < NR_CONC_VCPUS; i++) {
		while (!READ_ONCE(writes[i])) {
			TEST_ASSERT(elapsed_ms(start) < 10000,
				    "vCPU %d made no doorbell writes in 10 seconds", i);
			usleep(1000);
		}
	}

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (cycle = 0; cycle < CONC_MAX_CYCLES; cycle++) {
		if (elapsed_ms(start) > CONC_DURATION_MS)
			break;

		if (cycle >= NR_LIVE_CHURN)
			churn_deassign(&churn, cycle);
		churn_assign(&churn, cycle);
	}

	WRITE_ONCE(*stop, true);
	for (i = 0; i < NR_CONC_VCPUS; i++)
		TEST_ASSERT(!pthread_join(threads[i], NULL), "pthread_join() failed");

	for (i = max(cycle - NR_LIVE_CHURN, 0); i < cycle; i++)
		churn_deassign(&churn, i);
	for (i = 0; i < NR_RETIRED && i < churn.nr_retired; i++)
		churn_check_retired(churn.retired[i]);

	for (i = 0; i < NR_CONC_VCPUS; i++) {
		u64 n = READ_ONCE(writes[i]);

		total += n;
		for (b = 0; b < 2; b++) {
			u64 count = eventfd_count(own_fd[b][i]);

			TEST_ASSERT(count == bus_writes(!b, n),
				    "vCPU %d made %lu %s writes, its datamatch item saw %lu",
				    i, bus_writes(!b, n), bus_str(!b), count);
			signals += count;
			close(own_fd[b][i]);
		}
	}

	for (b = 0; b < 2; b++) {
		u64 count = eventfd_count(wild_fd[b]);

		TEST_ASSERT(count == bus_writes(!b, total),
			    "vCPUs made %lu %s writes, the wildcard saw %lu",
			    bus_writes(!b, total), bus_str(!b), count);
		signals += count;
		close(wild_fd[b]);
	}
	signals += churn.signals;

	for (i = 0; i < NR_CONC_VCPUS; i++) {
		vcpu_io_stats(vcpus[i], &after);
		TEST_ASSERT(after.misses == before[i].misses,
			    "vCPU %d: %lu misses, every write should have hit the wildcard",
			    i, after.misses - before[i].misses);
		signals -= after.signals - before[i].signals;
	}
	TEST_ASSERT(!signals, "ioeventfd_signals over all vCPUs differs from the eventfds by %ld",
		    (long)signals);

	ksft_print_msg("%d churn cycles, %lu writes per bus, %lu signals to churned items\n",
		       cycle, total, churn.signals);
	kvm_vm_free(vm);
}

#define TEARDOWN_PER_GROUP	8

/*
 * Item @n of the VM teardown test, in groups of PIO 4-byte, MMIO 8-byte and
 * MMIO zero-length items.  Without KVM_CAP_IOEVENTFD_GROUPS, only datamatch
 * items with distinct values can share an address, zero-length ones nothing.
 */
static void assign_teardown_item(struct kvm_vm *vm, int n, int fd)
{
	static const u32 lens[] = { 4, 8, 0 };
	const int j = n % TEARDOWN_PER_GROUP, group = n / TEARDOWN_PER_GROUP;
	const u32 len = lens[group % 3];
	const bool pio = group % 3 == 0;
	const u64 addr = io_addr(pio, group);

	if (!len) {
		if (has_groups || !j)
			assign_wildcard(vm, pio, addr, 0, fd);
	} else if (has_groups && (j & 1)) {
		assign_wildcard(vm, pio, addr, len, fd);
	} else {
		assign_datamatch(vm, pio, addr, len, fd, j);
	}
}

/*
 * Destroying a VM with items still registered releases them: nothing is
 * signalled, the eventfds keep working and can be registered with a new VM.
 */
TEST(vm_teardown)
{
	const int nr = 3 * 16 * TEARDOWN_PER_GROUP;
	struct kvm_vm *vm;
	u64 one = 1;
	int *fds, iter, n;

	if (!raise_nofile_limit(nr + 64))
		SKIP(return, "Can't raise RLIMIT_NOFILE to %d", nr + 64);

	fds = calloc(nr, sizeof(*fds));
	TEST_ASSERT(fds, "Failed to allocate %d fds", nr);
	for (n = 0; n < nr; n++)
		fds[n] = new_eventfd();

	for (iter = 0; iter < 3; iter++) {
		vm = vm_create_barebones();
		for (n = 0; n < nr; n++)
			assign_teardown_item(vm, n, fds[n]);
		kvm_vm_free(vm);

		for (n = 0; n < nr; n++) {
			assert_eventfd(fds[n], 0, "eventfd of a destroyed VM's item");
			TEST_ASSERT(write(fds[n], &one, sizeof(one)) == sizeof(one),
				    "write(eventfd) failed, errno = %d", errno);
			assert_eventfd(fds[n], 1, "eventfd of a destroyed VM's item");
		}
	}

	close_fds(fds, nr);
	free(fds);
}

int main(int argc, char *argv[])
{
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_IOEVENTFD));
	has_groups = kvm_has_cap(KVM_CAP_IOEVENTFD_GROUPS);

	return test_harness_run(argc, argv);
}
