// SPDX-License-Identifier: GPL-2.0-only
/*
 * The machinery of the ioregionfd tests, see ioregion_test.h.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "guest_io.h"
#include "ioregion_test.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

/* x86 port I/O is at most 4 bytes wide, (non-SSE) MMIO at most 8. */
const u8 ior_access_sizes[] = { 1, 2, 4, 8 };

int ior_nr_access_sizes(bool pio)
{
	return pio ? 3 : 4;
}

/* PATTERN rotated right by @n bytes: high bits set in every byte still. */
u64 ior_pattern(int n)
{
	n = (n % 8) * 8;
	return n ? PATTERN >> n | PATTERN << (64 - n) : PATTERN;
}

/*
 * The device's answer to command @n when it numbers its reads: distinct
 * in the low nibble of every byte, high bits set in every byte still.
 */
u64 ior_numbered_val(u32 n)
{
	return ior_pattern(n) ^ (0x0101010101010101ull * (n & 0xf));
}

const char *ior_bus_str(bool pio)
{
	return pio ? "PIO" : "MMIO";
}

/* Whether the second region of a case is port I/O (see SECOND_BUS). */
bool ior_second_pio(void)
{
	return SECOND_BUS & KVM_IOREGION_PIO;
}

static void guest_write(bool pio, u64 addr, u8 size, u64 val)
{
	if (pio)
		guest_pio_write(addr, size, val);
	else
		guest_mmio_write(addr, size, val);
}

static u64 guest_read(bool pio, u64 addr, u8 size)
{
	return pio ? guest_pio_read(addr, size) : guest_mmio_read(addr, size);
}

static struct ior_op guest_ops[MAX_OPS];

static int guest_nr_ops;

/* Iterations per round of ior_guest_stress(), set by the host. */
u64 ior_stress_iters;

/* Make the accesses the host put in guest_ops[], then report. */
void ior_guest_code(void)
{
	const struct ior_op *op;
	u64 val;
	int i;

	for (;;) {
		for (i = 0; i < READ_ONCE(guest_nr_ops); i++) {
			op = &guest_ops[i];
			if (op->write) {
				guest_write(op->pio, op->addr, op->size, op->val);
				continue;
			}

			val = guest_read(op->pio, op->addr, op->size);
			__GUEST_ASSERT(val == op->val,
				       "Op %d: %u-byte %s read at 0x%lx returned 0x%lx, expected 0x%lx",
				       i, op->size, op->pio ? "PIO" : "MMIO", op->addr, val,
				       op->val);
		}
		GUEST_SYNC(i);
	}
}

static u64 stress_mmio(u32 idx)
{
	return MMIO_GPA + idx * REGION_SIZE;
}

static u64 stress_second(u32 idx)
{
	return SECOND_BASE + idx * REGION_SIZE;
}

/* The value vCPU @idx writes in iteration @n, for the device to check. */
static u64 stress_val(u32 idx, u64 n)
{
	return PATTERN ^ ((u64)idx << 52) ^ (n * 0x10001);
}

/*
 * Each iteration writes a sequence number to register 0 of the vCPU's MMIO
 * region and reads it back, then the same through the upper half of register
 * 0 of its second region.
 */
void ior_guest_stress(u32 idx)
{
	const u64 mmio = stress_mmio(idx);
	const u64 second = stress_second(idx) + 4;
	u64 n = 0, end, v, val;

	for (;;) {
		end = n + READ_ONCE(ior_stress_iters);
		for (; n < end; n++) {
			v = stress_val(idx, n);

			WRITE_ONCE(*(u64 *)mmio, v);
			val = READ_ONCE(*(u64 *)mmio);
			__GUEST_ASSERT(val == v,
				       "vCPU %u, iteration %lu: MMIO read 0x%lx, wrote 0x%lx",
				       idx, n, val, v);

			guest_write(ior_second_pio(), second, 4, v);
			val = guest_read(ior_second_pio(), second, 4);
			__GUEST_ASSERT(val == (u32)v,
				       "vCPU %u, iteration %lu: second region read 0x%lx, wrote 0x%x",
				       idx, n, val, (u32)v);
		}
		GUEST_SYNC(n);
	}
}

/* What must hold for any command: a torn or interleaved one fails here. */
static void dev_check_cmd(const struct ioregionfd_cmd *cmd)
{
	bool read = cmd->cmd == IOREGIONFD_CMD_READ;
	u64 idx = cmd->user_data - USER_DATA_BASE;
	char buf[192];
	bool ok;
	int i;

	ok = read || cmd->cmd == IOREGIONFD_CMD_WRITE;
	for (i = 0; i < sizeof(cmd->pad); i++)
		ok &= !cmd->pad[i];
	ok &= !(cmd->flags & ~IOREGIONFD_CMD_RESP);
	ok &= cmd->size == 1 || cmd->size == 2 || cmd->size == 4 || cmd->size == 8 ||
	      (!cmd->size && !read);
	ok &= !(cmd->data & ~ioregion_size_mask(cmd->size));
	ok &= !read || (cmd->flags == IOREGIONFD_CMD_RESP && !cmd->data);
	ok &= idx < NR_REGFILES;
	/* An access that starts in a region is the device's, even if it runs past the end. */
	ok &= cmd->offset < REGION_SIZE;

	TEST_ASSERT(ok, "Device got a malformed command %s",
		    ioregion_cmd_str(cmd, buf, sizeof(buf)));
}

/*
 * ior_guest_stress() makes, per region, a write of the next sequence number and
 * a read, in turn.  A lost, repeated or reordered command breaks the turn.
 */
static void dev_check_stress(struct ior_dev *dev, const struct ioregionfd_cmd *cmd)
{
	u32 r = cmd->user_data - USER_DATA_BASE;
	bool second = r & STRESS_SECOND;
	u8 size = second ? 4 : 8;
	u64 want = stress_val(r % STRESS_SECOND, dev->seq[r]) & ioregion_size_mask(size);
	char buf[192];

	TEST_ASSERT(cmd->size == size && cmd->offset == (second ? 4 : 0) &&
		    cmd->flags == IOREGIONFD_CMD_RESP,
		    "Region %u: unexpected command %s", r, ioregion_cmd_str(cmd, buf, sizeof(buf)));

	if (dev->want_read[r]) {
		TEST_ASSERT(cmd->cmd == IOREGIONFD_CMD_READ,
			    "Region %u: expected the read of iteration %lu, got %s",
			    r, dev->seq[r], ioregion_cmd_str(cmd, buf, sizeof(buf)));
		dev->want_read[r] = false;
		dev->seq[r]++;
		return;
	}

	TEST_ASSERT(cmd->cmd == IOREGIONFD_CMD_WRITE && cmd->data == want,
		    "Region %u: expected the write of 0x%lx (iteration %lu), got %s",
		    r, want, dev->seq[r], ioregion_cmd_str(cmd, buf, sizeof(buf)));
	dev->want_read[r] = true;
}

static u64 dev_handler(void *opaque, const struct ioregionfd_cmd *cmd)
{
	struct ior_dev *dev = opaque;
	u64 mask = ioregion_size_mask(cmd->size);
	u64 val;

	dev_check_cmd(cmd);

	pthread_mutex_lock(&dev->lock);
	if (dev->nr_cmds < LOG_SIZE)
		dev->log[dev->nr_cmds] = *cmd;
	dev->nr_cmds++;
	if (dev->stress)
		dev_check_stress(dev, cmd);
	val = ioregion_regfile_access(&dev->regs[cmd->user_data - USER_DATA_BASE], cmd);
	if (dev->numbered_reads)
		val = ior_numbered_val(dev->nr_cmds - 1) & mask;
	pthread_mutex_unlock(&dev->lock);

	if (dev->delay_us)
		usleep(dev->delay_us);

	/* KVM must truncate the value to the access size. */
	return cmd->cmd == IOREGIONFD_CMD_READ ? val | (JUNK & ~mask) : 0;
}

u32 ior_dev_nr_cmds(struct ior_dev *dev)
{
	u32 nr;

	pthread_mutex_lock(&dev->lock);
	nr = dev->nr_cmds;
	pthread_mutex_unlock(&dev->lock);
	return nr;
}

static void dev_wait_release(struct ior_dev *dev)
{
	sem_post(&dev->stalled);
	while (sem_wait(&dev->release) && errno == EINTR)
		;
}

/* Send the first byte of the response to @cmd, the rest once released. */
static int dev_answer_partly(struct ior_dev *dev, const struct ioregionfd_cmd *cmd, u64 data)
{
	struct ioregionfd_resp resp = { .data = data };
	ssize_t ret;

	if (!(cmd->flags & IOREGIONFD_CMD_RESP)) {
		dev_wait_release(dev);
		return 0;
	}

	ret = send(dev->wfd, &resp, 1, MSG_NOSIGNAL);
	if (ret != 1)
		return ret < 0 ? -errno : -EIO;
	dev_wait_release(dev);
	ret = send(dev->wfd, (u8 *)&resp + 1, sizeof(resp) - 1, MSG_NOSIGNAL);
	if (ret != sizeof(resp) - 1)
		return ret < 0 ? -errno : -EIO;
	return 0;
}

/* Misbehave on command fault_at, as dev->mode says. */
static void *dev_faulty_thread(struct ior_dev *dev)
{
	struct ioregionfd_resp resp = {};
	struct ioregionfd_cmd cmd;
	bool fault;
	u64 data;
	u32 nr;
	int ret;

	for (;;) {
		ret = ioregion_device_recv_cmd(dev->rfd, &cmd);
		if (ret) {
			dev->ret = ret == -EPIPE ? 0 : ret;
			return NULL;
		}

		nr = ior_dev_nr_cmds(dev);
		fault = nr == dev->fault_at || (dev->fault_all && nr > dev->fault_at);
		data = dev_handler(dev, &cmd);
		if (fault && dev->mode == DEV_HANG_UP) {
			ioregion_close_fds(&dev->rfd, &dev->wfd);
			dev->ret = 0;
			return NULL;
		}
		if (fault && dev->mode == DEV_BAD_PAD) {
			resp.data = data;
			resp.pad[sizeof(resp.pad) - 1] = 1;
			ret = send(dev->wfd, &resp, sizeof(resp), MSG_NOSIGNAL);
			TEST_ASSERT(ret == sizeof(resp),
				    "Failed to write a malformed response, errno = %d", errno);
			continue;
		}
		if (fault && dev->mode == DEV_STALL) {
			dev_wait_release(dev);
			data = STALE_VAL;
		}
		if (fault && dev->mode == DEV_PARTIAL) {
			ret = dev_answer_partly(dev, &cmd, data);
			if (ret) {
				dev->ret = ret;
				return NULL;
			}
			continue;
		}

		if (!(cmd.flags & IOREGIONFD_CMD_RESP))
			continue;
		ret = ioregion_device_send_resp(dev->wfd, data);
		if (ret) {
			dev->ret = ret;
			return NULL;
		}
	}
}

static void *dev_thread(void *arg)
{
	struct ior_dev *dev = arg;

	if (dev->mode != DEV_SERVE)
		return dev_faulty_thread(dev);

	dev->ret = ioregion_device_serve(dev->rfd, dev->wfd, dev_handler, dev);
	return NULL;
}

void ior_dev_init(struct ior_dev *dev, bool split)
{
	int cmd[2], resp[2], i;

	memset(dev, 0, sizeof(*dev));
	pthread_mutex_init(&dev->lock, NULL);
	sem_init(&dev->stalled, 0, 0);
	sem_init(&dev->release, 0, 0);
	for (i = 0; i < NR_REGFILES; i++)
		ioregion_regfile_init(&dev->regs[i]);

	if (split) {
		TEST_ASSERT(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cmd) &&
			    !socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, resp),
			    "socketpair() failed, errno = %d", errno);
		dev->kvm_wfd = cmd[0];
		dev->rfd = cmd[1];
		dev->wfd = resp[1];
		dev->kvm_rfd = resp[0];
	} else {
		TEST_ASSERT(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cmd),
			    "socketpair() failed, errno = %d", errno);
		dev->kvm_rfd = cmd[0];
		dev->kvm_wfd = cmd[0];
		dev->rfd = cmd[1];
		dev->wfd = cmd[1];
	}
}

void ior_dev_start(struct ior_dev *dev, enum ior_dev_mode mode, u32 fault_at)
{
	dev->mode = mode;
	dev->fault_at = fault_at;
	TEST_ASSERT(!pthread_create(&dev->thread, NULL, dev_thread, dev),
		    "pthread_create() failed");
	dev->running = true;
}

/*
 * Close the KVM ends and wait for the device to see end of file.  Every VM
 * that used them must be gone, or the device would wait forever.
 */
void ior_dev_stop(struct ior_dev *dev)
{
	struct timespec ts;
	int ret;

	ioregion_close_fds(&dev->kvm_rfd, &dev->kvm_wfd);
	if (dev->running) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 10;
		ret = pthread_timedjoin_np(dev->thread, NULL, &ts);
		TEST_ASSERT(ret != ETIMEDOUT,
			    "No end of file for the device 10 seconds after its VMs were freed: KVM still holds the fds");
		TEST_ASSERT(!ret, "pthread_timedjoin_np() failed");
		dev->running = false;
		TEST_ASSERT(!dev->ret, "The device task failed, error %d (%s)",
			    -dev->ret, strerror(-dev->ret));
	}
	ioregion_close_fds(&dev->rfd, &dev->wfd);
}

/* Expect KVM_SET_IOREGION to fail with @err, or to succeed if @err is 0. */
void ior_assert_ioregion(struct kvm_vm *vm, struct kvm_ioregion *args, int err, const char *what)
{
	int ret = __vm_set_ioregion(vm, args);

	TEST_ASSERT(err ? ret == -1 && errno == err : !ret,
		    "%s: KVM_SET_IOREGION(paddr = 0x%llx, size = 0x%llx, rfd = %d, wfd = %d, flags = 0x%x) returned %d, errno = %d (%s), expected %s%s",
		    what, args->guest_paddr, args->memory_size, args->read_fd, args->write_fd,
		    args->flags, ret, ret ? errno : 0, ret ? strerror(errno) : "none",
		    err ? "errno " : "success", err ? strerror(err) : "");
}

struct kvm_ioregion ior_region_args(const struct ior_region *r, const struct ior_dev *dev)
{
	return (struct kvm_ioregion) {
		.guest_paddr = r->base,
		.memory_size = r->size,
		.user_data = USER_DATA(r->idx),
		.read_fd = dev->kvm_rfd,
		.write_fd = dev->kvm_wfd,
		.flags = r->flags,
	};
}

void ior_region_assign(struct kvm_vm *vm, const struct ior_region *r, const struct ior_dev *dev)
{
	struct kvm_ioregion args = ior_region_args(r, dev);

	vm_set_ioregion(vm, &args);
}

void ior_region_deassign(struct kvm_vm *vm, const struct ior_region *r)
{
	struct kvm_ioregion args = {
		.guest_paddr = r->base,
		.memory_size = r->size,
		.read_fd = -1,
		.write_fd = -1,
		/* Only the bus matters, whatever flags the region was assigned with. */
		.flags = (r->flags & KVM_IOREGION_PIO) | KVM_IOREGION_DEASSIGN,
	};

	vm_set_ioregion(vm, &args);
}

bool ior_region_pio(const struct ior_region *r)
{
	return r->flags & KVM_IOREGION_PIO;
}

/* Start modelling the register files of @dev as they are now. */
void ior_prog_init(struct ior_prog *p, struct ior_dev *dev)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->model, dev->regs, sizeof(p->model));
}

void ior_prog_next_run(struct ior_prog *p)
{
	p->nr_ops = 0;
	p->nr_exits = 0;
}

struct ior_op *ior_prog_add_op(struct ior_prog *p, bool pio, u64 addr, u8 size, bool write, u64 val)
{
	struct ior_op *op = &p->ops[p->nr_ops++];

	TEST_ASSERT(p->nr_ops <= MAX_OPS, "Too many guest accesses");
	*op = (struct ior_op) {
		.addr = addr, .size = size, .write = write, .pio = pio,
		.val = val & ioregion_size_mask(size),
	};
	return op;
}

struct ioregionfd_cmd *ior_prog_add_cmd(struct ior_prog *p, const struct ior_region *r, u64 offset,
					u8 size, bool write, u64 val)
{
	struct ior_exp_cmd *exp = &p->cmds[p->nr_cmds++];
	bool posted = write && (r->flags & KVM_IOREGION_POSTED_WRITES);

	TEST_ASSERT(p->nr_cmds <= MAX_CMDS, "Too many device commands");
	*exp = (struct ior_exp_cmd) {
		.cmd = {
			.cmd = write ? IOREGIONFD_CMD_WRITE : IOREGIONFD_CMD_READ,
			.size = size,
			.flags = posted ? 0 : IOREGIONFD_CMD_RESP,
			.user_data = USER_DATA(r->idx),
			.offset = r->size ? offset : 0,
			.data = write ? val & ioregion_size_mask(size) : 0,
		},
		.zero_len = !r->size,
	};
	return &exp->cmd;
}

/* An access that the device serves; a read must return what the model says. */
void ior_prog_access(struct ior_prog *p, const struct ior_region *r, u64 offset, u8 size,
		     bool write, u64 val)
{
	struct ioregionfd_cmd *cmd = ior_prog_add_cmd(p, r, offset, size, write, val);
	u64 ret = ioregion_regfile_access(&p->model[r->idx], cmd);

	ior_prog_add_op(p, ior_region_pio(r), r->base + offset, size, write, write ? val : ret);
}

/* An access that must exit to userspace; a read gets @val from there. */
void ior_prog_exit(struct ior_prog *p, bool pio, u64 addr, u8 size, bool write, u64 val)
{
	struct ior_exit *exit = &p->exits[p->nr_exits++];

	ior_prog_add_op(p, pio, addr, size, write, val);
	*exit = (struct ior_exit) {
		.reason = pio ? KVM_EXIT_IO : KVM_EXIT_MMIO,
		.addr = addr, .len = size, .write = write, .pio = pio,
		.data = write ? val & ioregion_size_mask(size) : val,
	};
}

/*
 * An access that the device fails with @error, after getting its command if
 * @sent; a read gets @val from userspace.
 */
void ior_prog_fail(struct ior_prog *p, const struct ior_region *r, u64 offset, u8 size, bool write,
		   u64 val, int error, bool sent)
{
	struct ior_exit *exit = &p->exits[p->nr_exits++];
	bool pio = ior_region_pio(r);

	if (sent)
		ior_prog_add_cmd(p, r, offset, size, write, val);
	ior_prog_add_op(p, pio, r->base + offset, size, write, val);
	*exit = (struct ior_exit) {
		.reason = KVM_EXIT_IOREGIONFD_FAILURE,
		.addr = r->base + offset, .len = size, .write = write, .pio = pio,
		.data = write ? val & ioregion_size_mask(size) : val,
		.error = error, .idx = r->idx,
	};
}

const char *ior_describe_exit(struct kvm_vcpu *vcpu, char *buf, size_t size)
{
	struct kvm_run *run = vcpu->run;

	if (run->exit_reason != KVM_EXIT_IOREGIONFD_FAILURE &&
	    run->exit_reason != KVM_EXIT_IOREGIONFD_PENDING)
		return describe_io_exit(vcpu, buf, size);

	snprintf(buf, size,
		 "%s (addr 0x%llx, len %u, flags 0x%x, data 0x%llx, error %u, user_data 0x%llx)",
		 run->exit_reason == KVM_EXIT_IOREGIONFD_FAILURE ?
		 "KVM_EXIT_IOREGIONFD_FAILURE" : "KVM_EXIT_IOREGIONFD_PENDING",
		 run->ioregionfd.addr, run->ioregionfd.len, run->ioregionfd.flags,
		 run->ioregionfd.data, run->ioregionfd.error, run->ioregionfd.user_data);
	return buf;
}

static void report_guest_abort(struct kvm_vcpu *vcpu)
{
	struct ucall uc;

	if (is_ucall_exit(vcpu) && get_ucall(vcpu, &uc) == UCALL_ABORT)
		REPORT_GUEST_ASSERT(uc);
}

static void check_failure_exit(struct kvm_vcpu *vcpu, const struct ior_exit *exp)
{
	u32 flags = (exp->write ? KVM_IOREGIONFD_FAILURE_WRITE : 0) |
		    (exp->pio ? KVM_IOREGIONFD_FAILURE_PIO : 0);
	struct kvm_run *run = vcpu->run;
	char buf[256];

	TEST_ASSERT(run->exit_reason == KVM_EXIT_IOREGIONFD_FAILURE &&
		    run->ioregionfd.addr == exp->addr && run->ioregionfd.len == exp->len &&
		    run->ioregionfd.flags == flags &&
		    run->ioregionfd.data == (exp->write ? exp->data : 0) &&
		    run->ioregionfd.error == exp->error &&
		    run->ioregionfd.user_data == USER_DATA(exp->idx) && !run->ioregionfd.pad,
		    "Expected KVM_EXIT_IOREGIONFD_FAILURE (addr 0x%lx, len %u, flags 0x%x, data 0x%lx, error %u, user_data 0x%llx), got %s",
		    exp->addr, exp->len, flags, exp->write ? exp->data : 0, exp->error,
		    USER_DATA(exp->idx), ior_describe_exit(vcpu, buf, sizeof(buf)));

	/* Emulate the read, the next KVM_RUN gives the value to the guest. */
	if (!exp->write)
		run->ioregionfd.data = exp->data;
}

void ior_check_exit(struct kvm_vcpu *vcpu, const struct ior_exit *exp)
{
	struct kvm_run *run = vcpu->run;
	char buf[256];
	u64 data = 0;
	void *ptr;

	/* Say what KVM skipped before the guest's complaint. */
	if (is_ucall_exit(vcpu))
		ksft_print_msg("Expected %s at 0x%lx (%u-byte %s %s), the guest went on\n",
			       exp->reason == KVM_EXIT_IOREGIONFD_FAILURE ?
			       "KVM_EXIT_IOREGIONFD_FAILURE" : exit_reason_str(exp->reason),
			       exp->addr, exp->len, ior_bus_str(exp->pio),
			       exp->write ? "write" : "read");
	report_guest_abort(vcpu);

	if (exp->reason == KVM_EXIT_IOREGIONFD_FAILURE) {
		check_failure_exit(vcpu, exp);
		return;
	}

	if (exp->pio) {
		TEST_ASSERT(run->exit_reason == KVM_EXIT_IO &&
			    !is_ucall_exit(vcpu) &&
			    run->io.port == exp->addr && run->io.size == exp->len &&
			    run->io.count == 1 &&
			    run->io.direction == (exp->write ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN),
			    "Expected KVM_EXIT_IO (%s, port 0x%lx, size %u), got %s",
			    exp->write ? "out" : "in", exp->addr, exp->len,
			    ior_describe_exit(vcpu, buf, sizeof(buf)));
		ptr = (void *)run + run->io.data_offset;
	} else {
		TEST_ASSERT(run->exit_reason == KVM_EXIT_MMIO &&
			    run->mmio.phys_addr == exp->addr &&
			    run->mmio.len == exp->len && run->mmio.is_write == exp->write,
			    "Expected KVM_EXIT_MMIO (%s, gpa 0x%lx, len %u), got %s",
			    exp->write ? "write" : "read", exp->addr, exp->len,
			    ior_describe_exit(vcpu, buf, sizeof(buf)));
		ptr = run->mmio.data;
	}

	if (exp->write) {
		memcpy(&data, ptr, exp->len);
		TEST_ASSERT(data == exp->data,
			    "Exit to userspace at 0x%lx carries data 0x%lx, expected 0x%lx",
			    exp->addr, data, exp->data);
	} else {
		memcpy(ptr, &exp->data, exp->len);
	}
}

void ior_expect_sync(struct kvm_vcpu *vcpu)
{
	struct ucall uc;
	char buf[256];

	switch (get_ucall(vcpu, &uc)) {
	case UCALL_SYNC:
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	default:
		TEST_FAIL("vCPU %u: expected the guest to finish its accesses, got %s",
			  vcpu->id, ior_describe_exit(vcpu, buf, sizeof(buf)));
	}
}

void ior_prog_load(struct kvm_vm *vm, const struct ior_prog *p)
{
	memcpy(guest_ops, p->ops, sizeof(guest_ops));
	guest_nr_ops = p->nr_ops;
	sync_global_to_guest(vm, guest_ops);
	sync_global_to_guest(vm, guest_nr_ops);
}

/* vcpu_run(), but leave a guest assertion to the caller, which knows the context. */
void ior_vcpu_run(struct kvm_vcpu *vcpu)
{
	int ret;

	do {
		ret = __vcpu_run(vcpu);
	} while (ret == -1 && errno == EINTR);
	TEST_ASSERT(!ret, KVM_IOCTL_ERROR(KVM_RUN, ret));
}

/*
 * Make the guest run @p, loaded already, expecting exactly its exits to
 * userspace from exit @first on.
 */
void ior_run_loaded(struct kvm_vcpu *vcpu, const struct ior_prog *p, int first)
{
	int i;

	for (i = first; i < p->nr_exits; i++) {
		ior_vcpu_run(vcpu);
		ior_check_exit(vcpu, &p->exits[i]);
	}

	ior_vcpu_run(vcpu);
	ior_expect_sync(vcpu);
}

void ior_run_prog(struct kvm_vcpu *vcpu, const struct ior_prog *p)
{
	ior_prog_load(vcpu->vm, p);
	ior_run_loaded(vcpu, p, 0);
}

u64 ior_elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/*
 * The device must have got exactly the commands of @p, in order.  Posted
 * writes may still be in flight, so wait a little for them.
 */
void ior_check_cmds(struct ior_dev *dev, const struct ior_prog *p)
{
	const struct ioregionfd_cmd *got, *want;
	struct timespec start;
	char buf[2][192];
	bool ok;
	u32 nr;
	int i;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while ((nr = ior_dev_nr_cmds(dev)) < p->nr_cmds && ior_elapsed_ms(&start) < 5000)
		usleep(1000);

	/* Give a stray extra command a chance to show. */
	usleep(10000);
	nr = ior_dev_nr_cmds(dev);
	TEST_ASSERT(nr == p->nr_cmds, "The device got %u commands, expected %d", nr, p->nr_cmds);

	pthread_mutex_lock(&dev->lock);
	for (i = 0; i < p->nr_cmds; i++) {
		got = &dev->log[i];
		want = &p->cmds[i].cmd;
		ok = !memcmp(got, want, sizeof(*got));

		/* Without a size (fast MMIO), a zero-length region's write has no data either. */
		if (!ok && p->cmds[i].zero_len && !got->size && !got->data) {
			struct ioregionfd_cmd sizeless = *want;

			sizeless.size = 0;
			sizeless.data = 0;
			ok = !memcmp(got, &sizeless, sizeof(*got));
		}
		TEST_ASSERT(ok, "Command %d: expected %s, got %s", i,
			    ioregion_cmd_str(want, buf[0], sizeof(buf[0])),
			    ioregion_cmd_str(got, buf[1], sizeof(buf[1])));
	}
	pthread_mutex_unlock(&dev->lock);
}

struct ior_stats ior_vcpu_stats(struct kvm_vcpu *vcpu)
{
	return (struct ior_stats) {
		.round_trips = vcpu_get_stat(vcpu, "ioregion_round_trips"),
		.posted_writes = vcpu_get_stat(vcpu, "ioregion_posted_writes"),
		.failures = vcpu_get_stat(vcpu, "ioregion_failures"),
	};
}

/* The stats of @vcpu must have grown by exactly this since @before. */
void ior_assert_stats(struct kvm_vcpu *vcpu, const struct ior_stats *before, u64 round_trips,
		      u64 posted_writes, u64 failures)
{
	struct ior_stats now = ior_vcpu_stats(vcpu);

	TEST_ASSERT(now.round_trips - before->round_trips == round_trips &&
		    now.posted_writes - before->posted_writes == posted_writes &&
		    now.failures - before->failures == failures,
		    "vCPU %u: ioregion_round_trips/posted_writes/failures grew by %lu/%lu/%lu, expected %lu/%lu/%lu",
		    vcpu->id, now.round_trips - before->round_trips,
		    now.posted_writes - before->posted_writes, now.failures - before->failures,
		    round_trips, posted_writes, failures);
}

static void nop_handler(int sig)
{
}

u32 ior_nr_sigpipe;

static void sigpipe_handler(int sig)
{
	WRITE_ONCE(ior_nr_sigpipe, ior_nr_sigpipe + 1);
}

/* KVM sends with MSG_NOSIGNAL: count any SIGPIPE, which is a failure. */
void ior_count_sigpipe(void)
{
	struct sigaction sa = { .sa_handler = sigpipe_handler };

	sigemptyset(&sa.sa_mask);
	TEST_ASSERT(!sigaction(SIGPIPE, &sa, NULL), "sigaction() failed, errno = %d", errno);
}

/* A signal that interrupts KVM_RUN: no SA_RESTART. */
void ior_install_sigusr1(void)
{
	struct sigaction sa = { .sa_handler = nop_handler };

	sigemptyset(&sa.sa_mask);
	TEST_ASSERT(!sigaction(SIGUSR1, &sa, NULL), "sigaction() failed, errno = %d", errno);
}

/*
 * KVM_RUN returned EINTR: KVM_EXIT_INTR, or KVM_EXIT_IOREGIONFD_PENDING
 * describing an access to one of the test's regions.  Return whether an
 * access is pending.
 */
bool ior_check_eintr_exit(struct kvm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

	if (run->exit_reason == KVM_EXIT_INTR)
		return false;

	TEST_ASSERT(run->exit_reason == KVM_EXIT_IOREGIONFD_PENDING,
		    "vCPU %u: KVM_RUN returned EINTR with exit reason %u", vcpu->id,
		    run->exit_reason);
	TEST_ASSERT(run->ioregionfd.error == EINTR &&
		    run->ioregionfd.user_data - USER_DATA_BASE < NR_REGFILES &&
		    !(run->ioregionfd.flags & ~(KVM_IOREGIONFD_FAILURE_WRITE |
						KVM_IOREGIONFD_FAILURE_PIO)),
		    "vCPU %u: bad KVM_EXIT_IOREGIONFD_PENDING (addr 0x%llx, len %u, flags 0x%x, error %u, user_data 0x%llx)",
		    vcpu->id, run->ioregionfd.addr, run->ioregionfd.len, run->ioregionfd.flags,
		    run->ioregionfd.error, run->ioregionfd.user_data);
	return true;
}

static void *worker_thread(void *arg)
{
	struct ior_worker *w = arg;
	int ret;

	for (;;) {
		ret = __vcpu_run(w->vcpu);
		if (ret == -1 && errno == EINTR) {
			w->nr_pending += ior_check_eintr_exit(w->vcpu);
			w->nr_eintr++;
			continue;
		}
		TEST_ASSERT(!ret, KVM_IOCTL_ERROR(KVM_RUN, ret));
		break;
	}

	ior_expect_sync(w->vcpu);
	WRITE_ONCE(w->done, true);
	return NULL;
}

void ior_worker_start(struct ior_worker *w, struct kvm_vcpu *vcpu)
{
	w->vcpu = vcpu;
	w->done = false;
	TEST_ASSERT(!pthread_create(&w->thread, NULL, worker_thread, w),
		    "pthread_create() failed");
}

void ior_worker_join(struct ior_worker *w)
{
	TEST_ASSERT(!pthread_join(w->thread, NULL), "pthread_join() failed");
}

/* Run the workers to completion, kicking them with SIGUSR1 every @kick_us if nonzero. */
void ior_workers_run(struct ior_worker *w, struct kvm_vcpu **vcpus, int nr, u32 kick_us)
{
	bool busy = true;
	int i;

	for (i = 0; i < nr; i++)
		ior_worker_start(&w[i], vcpus[i]);

	while (kick_us && busy) {
		busy = false;
		for (i = 0; i < nr; i++) {
			if (READ_ONCE(w[i].done))
				continue;
			busy = true;
			pthread_kill(w[i].thread, SIGUSR1);
		}
		usleep(kick_us);
	}

	for (i = 0; i < nr; i++)
		ior_worker_join(&w[i]);
}

/* Give vCPU @idx its two regions for ior_guest_stress(). */
void ior_stress_assign(struct kvm_vm *vm, struct ior_dev *dev, u32 idx)
{
	struct ior_region mmio = { .base = stress_mmio(idx), .size = REGION_SIZE, .idx = idx };
	struct ior_region second = {
		.base = stress_second(idx), .size = REGION_SIZE, .flags = SECOND_BUS,
		.idx = idx + STRESS_SECOND,
	};

	ior_region_assign(vm, &mmio, dev);
	ior_region_assign(vm, &second, dev);
}

/* Both regions of vCPU @idx must have seen exactly @iters iterations. */
void ior_stress_check(struct ior_dev *dev, u32 idx, u64 iters)
{
	u32 r[2] = { idx, idx + STRESS_SECOND };
	int i;

	pthread_mutex_lock(&dev->lock);
	for (i = 0; i < 2; i++) {
		TEST_ASSERT(dev->seq[r[i]] == iters && !dev->want_read[r[i]] &&
			    dev->regs[r[i]].reads == iters && dev->regs[r[i]].writes == iters &&
			    !dev->regs[r[i]].bad,
			    "vCPU %u, region %u: the device saw %lu iterations (%lu reads, %lu writes, %lu bad), expected %lu",
			    idx, r[i], dev->seq[r[i]], dev->regs[r[i]].reads,
			    dev->regs[r[i]].writes, dev->regs[r[i]].bad, iters);
	}
	pthread_mutex_unlock(&dev->lock);
}

struct kvm_vm *ior_stress_vm_create(struct kvm_vcpu **vcpus, int nr, u32 first_idx)
{
	struct kvm_vm *vm = vm_create_with_vcpus(nr, ior_guest_stress, vcpus);
	int i;

	virt_map(vm, MMIO_GPA, MMIO_GPA, MMIO_NR_PAGES);
	for (i = 0; i < nr; i++)
		vcpu_args_set(vcpus[i], 1, first_idx + i);
	return vm;
}

/* KVM_IOEVENTFD with @datamatch, which must succeed. */
void ior_ioeventfd_match(struct kvm_vm *vm, u64 addr, u32 len, int fd, u32 flags, u64 datamatch)
{
	struct kvm_ioeventfd args = {
		.datamatch = datamatch, .addr = addr, .len = len, .fd = fd, .flags = flags,
	};

	vm_ioctl(vm, KVM_IOEVENTFD, &args);
}

/* The vCPU and device of IOREGIONFD_FIXTURE(), MMIO_GPA mapped. */
struct kvm_vcpu *ior_fixture_setup(struct ior_dev *dev, bool split)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, ior_guest_code);

	virt_map(vm, MMIO_GPA, MMIO_GPA, MMIO_NR_PAGES);
	ior_dev_init(dev, split);
	return vcpu;
}

void ior_fixture_teardown(struct kvm_vcpu *vcpu, struct ior_dev *dev)
{
	if (vcpu)
		kvm_vm_free(vcpu->vm);
	ior_dev_stop(dev);
}
