// SPDX-License-Identifier: GPL-2.0-only
/*
 * The machinery of the ioeventfd tests, see include/ioeventfd_test.h.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/resource.h>

#include "ioeventfd_test.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

/* The access the guest makes next, set by the host before each KVM_RUN. */
static struct ioe_op guest_op;

bool ioe_has_groups;

const u32 ioe_access_sizes[4] = { 1, 2, 4, 8 };

int ioe_nr_access_sizes(bool pio)
{
	return pio ? 3 : 4;
}

u64 ioe_size_mask(u32 size)
{
	return size >= 8 ? ~0ull : BIT_ULL(size * 8) - 1;
}

u64 ioe_addr(bool pio, int slot)
{
	return (pio ? PIO_BASE : MMIO_GPA) + slot * SLOT_SIZE;
}

const char *ioe_bus_str(bool pio)
{
	return pio ? "PIO" : "MMIO";
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

void ioe_guest_code(void)
{
	for (;;) {
		struct ioe_op op = guest_op;
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

int ioe_new_eventfd(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	TEST_ASSERT(fd >= 0, "eventfd() failed, errno = %d (%s)", errno, strerror(errno));
	return fd;
}

void ioe_assert_eventfd(int fd, u64 expected, const char *name)
{
	u64 count = eventfd_count(fd);

	TEST_ASSERT(count == expected, "%s (fd %d) was signalled %lu times, expected %lu",
		    name, fd, count, expected);
}

void ioe_assert_eventfds(const int *fds, const u64 *expected, int nr,
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

void ioe_close_fds(const int *fds, int nr)
{
	int i;

	for (i = 0; i < nr; i++)
		close(fds[i]);
}

int __ioe_vm_ioeventfd(struct kvm_vm *vm, u64 addr, u32 len, int fd,
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

void ioe_vm_ioeventfd(struct kvm_vm *vm, u64 addr, u32 len, int fd,
		      u32 flags, u64 datamatch)
{
	int ret = __ioe_vm_ioeventfd(vm, addr, len, fd, flags, datamatch);

	TEST_ASSERT(!ret,
		    "KVM_IOEVENTFD(addr = 0x%lx, len = %u, fd = %d, flags = 0x%x, datamatch = 0x%lx) failed, errno = %d (%s)",
		    addr, len, fd, flags, datamatch, errno, strerror(errno));
}

/* Expect KVM_IOEVENTFD to fail with @err, or to succeed if @err is 0. */
void ioe_assert_ioeventfd(struct kvm_vm *vm, u64 addr, u32 len, int fd,
			  u32 flags, u64 datamatch, int err,
			  const char *what)
{
	int ret = __ioe_vm_ioeventfd(vm, addr, len, fd, flags, datamatch);

	TEST_ASSERT(err ? ret == -1 && errno == err : !ret,
		    "%s: KVM_IOEVENTFD(addr = 0x%lx, len = %u, fd = %d, flags = 0x%x, datamatch = 0x%lx) returned %d, errno = %d (%s), expected %s%s",
		    what, addr, len, fd, flags, datamatch, ret, ret ? errno : 0,
		    ret ? strerror(errno) : "none", err ? "errno " : "success",
		    err ? strerror(err) : "");
}

u32 ioe_bus_flag(bool pio)
{
	return pio ? KVM_IOEVENTFD_FLAG_PIO : 0;
}

void ioe_assign_wildcard(struct kvm_vm *vm, bool pio, u64 addr,
			 u32 len, int fd)
{
	ioe_vm_ioeventfd(vm, addr, len, fd, ioe_bus_flag(pio), 0);
}

void ioe_assign_datamatch(struct kvm_vm *vm, bool pio, u64 addr,
			  u32 len, int fd, u64 val)
{
	ioe_vm_ioeventfd(vm, addr, len, fd, ioe_bus_flag(pio) | KVM_IOEVENTFD_FLAG_DATAMATCH, val);
}

void ioe_deassign_wildcard(struct kvm_vm *vm, bool pio, u64 addr,
			   u32 len, int fd)
{
	ioe_vm_ioeventfd(vm, addr, len, fd, ioe_bus_flag(pio) | KVM_IOEVENTFD_FLAG_DEASSIGN, 0);
}

void ioe_deassign_datamatch(struct kvm_vm *vm, bool pio, u64 addr,
			    u32 len, int fd, u64 val)
{
	ioe_vm_ioeventfd(vm, addr, len, fd,
			 ioe_bus_flag(pio) | KVM_IOEVENTFD_FLAG_DATAMATCH |
			 KVM_IOEVENTFD_FLAG_DEASSIGN, val);
}

/*
 * The stats come with KVM_CAP_IOEVENTFD_GROUPS.  Without the capability they
 * don't exist and the caller skips its stats checks.
 */
bool ioe_vcpu_stats(struct kvm_vcpu *vcpu, struct ioe_stats *stats)
{
	bool found = __vcpu_get_stat(vcpu, "ioeventfd_signals", &stats->signals, 1) &&
		     __vcpu_get_stat(vcpu, "ioeventfd_misses", &stats->misses, 1);

	TEST_ASSERT(found || !ioe_has_groups,
		    "KVM_CAP_IOEVENTFD_GROUPS is supported, but vCPU stats ioeventfd_signals/ioeventfd_misses are not");
	return found;
}

static const char *describe_op(const struct ioe_op *op, char *buf, size_t size)
{
	if (op->type == IO_READ)
		snprintf(buf, size, "%u-byte %s read at 0x%lx", op->size,
			 ioe_bus_str(op->pio), op->addr);
	else if (op->type == IO_WRITE_SSE)
		snprintf(buf, size, "16-byte MMIO write of 0x%016lx%016lx at 0x%lx",
			 op->val[1], op->val[0], op->addr);
	else
		snprintf(buf, size, "%u-byte %s write of 0x%lx at 0x%lx", op->size,
			 ioe_bus_str(op->pio), op->val[0], op->addr);
	return buf;
}

static void report_guest_abort(struct kvm_vcpu *vcpu)
{
	struct ucall uc;

	if (get_ucall(vcpu, &uc) == UCALL_ABORT)
		REPORT_GUEST_ASSERT(uc);
}

static void check_io_exit(struct kvm_vcpu *vcpu, const struct ioe_op *op,
			  const struct ioe_exit *exp, const char *op_str)
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
		TEST_ASSERT(data == (exp->data & ioe_size_mask(exp->len)),
			    "%s: exit to userspace at 0x%lx carries data 0x%lx, expected 0x%lx",
			    op_str, exp->addr, data, exp->data & ioe_size_mask(exp->len));
	} else {
		memcpy(ptr, &exp->data, exp->len);
	}
}

/*
 * Have the guest perform @op.  KVM must hand exactly @exits to userspace, in
 * order, and then let the guest continue; everything else it must consume.
 * If the vCPU stats exist, they must grow by @signals and @misses.
 */
void ioe_run_io(struct kvm_vcpu *vcpu, const struct ioe_op *op,
		const struct ioe_exit *exits, int nr_exits,
		u64 signals, u64 misses)
{
	struct ioe_stats before, after;
	char op_str[96], buf[160];
	bool have_stats;
	struct ucall uc;
	int i;

	describe_op(op, op_str, sizeof(op_str));
	have_stats = ioe_vcpu_stats(vcpu, &before);

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

	ioe_vcpu_stats(vcpu, &after);
	TEST_ASSERT(after.signals - before.signals == signals,
		    "%s: ioeventfd_signals grew by %lu, expected %lu",
		    op_str, after.signals - before.signals, signals);
	TEST_ASSERT(after.misses - before.misses == misses,
		    "%s: ioeventfd_misses grew by %lu, expected %lu",
		    op_str, after.misses - before.misses, misses);
}

/* A write that KVM must consume, signalling @signals eventfds in total. */
void ioe_write(struct kvm_vcpu *vcpu, bool pio, u64 addr,
	       u32 size, u64 val, u64 signals)
{
	struct ioe_op op = {
		.type = IO_WRITE, .pio = pio, .addr = addr, .size = size, .val = { val },
	};

	ioe_run_io(vcpu, &op, NULL, 0, signals, 0);
}

/* A write that KVM must pass to userspace unchanged, signalling nothing. */
void ioe_write_exit(struct kvm_vcpu *vcpu, bool pio, u64 addr,
		    u32 size, u64 val, u64 misses)
{
	struct ioe_op op = {
		.type = IO_WRITE, .pio = pio, .addr = addr, .size = size, .val = { val },
	};
	struct ioe_exit exit = { .addr = addr, .len = size, .data = val };

	ioe_run_io(vcpu, &op, &exit, 1, 0, misses);
}

/* A read, which always goes to userspace; the guest checks it gets @val. */
void ioe_read(struct kvm_vcpu *vcpu, bool pio, u64 addr,
	      u32 size, u64 val)
{
	struct ioe_op op = {
		.type = IO_READ, .pio = pio, .addr = addr, .size = size, .val = { val },
	};
	struct ioe_exit exit = { .addr = addr, .len = size, .data = val };

	ioe_run_io(vcpu, &op, &exit, 1, 0, 0);
}

void ioe_vm_setup(struct kvm_vcpu **vcpu)
{
	struct kvm_vm *vm = vm_create_with_one_vcpu(vcpu, NULL);

	virt_map(vm, MMIO_GPA, MMIO_GPA, MMIO_NR_PAGES);
}

bool ioe_raise_nofile_limit(rlim_t nr)
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
