// SPDX-License-Identifier: GPL-2.0-only
/*
 * KVM_SET_IOREGION: guest MMIO and (on x86) PIO accesses that KVM sends to
 * a device task over connected AF_UNIX stream sockets, one for both
 * directions or one per direction, as 32-byte commands and responses,
 * without exiting to userspace.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/un.h>

#include <netinet/in.h>

#include <linux/ioregion.h>
#include <linux/sizes.h>

#include "ioregion_device.h"
#include "guest_io.h"
#include "kvm_test_harness.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

/* Outside every memslot, identity mapped by the fixture. */
#define MMIO_GPA		(4ull * SZ_1G)
#define MMIO_NR_PAGES		4

/* Every region is one register file of the device. */
#define REGION_SIZE		IOREGION_REGFILE_SIZE

/* Zero-length regions, away from the register files. */
#define ZL_GPA			(MMIO_GPA + 2 * SZ_4K)

/*
 * Most cases pair an MMIO region with a second one, which is port I/O on
 * x86.  Without port I/O (arm64) the second region is MMIO as well, on a
 * page of its own, so that those cases still run with two regions on one
 * device.  Cases about port I/O itself are x86's.
 */
#ifdef __x86_64__
/* Arbitrary, clear of ucall and of the in-kernel PIC and PIT. */
#define PIO_BASE		0x6000
#define ZL_PORT			(PIO_BASE + 0x2000)

#define SECOND_BASE		PIO_BASE
#define SECOND_ZL		ZL_PORT
#define SECOND_BUS		KVM_IOREGION_PIO
#else
#define SECOND_BASE		(MMIO_GPA + SZ_4K)
#define SECOND_ZL		(ZL_GPA + 0x800)
#define SECOND_BUS		0
#endif

/* Upper bits set in every byte, so that truncation or sign extension shows. */
#define PATTERN			0xf1e2d3c4b5a69788ull

/* What the device puts above the access size of a read's value. */
#define JUNK			0xa55aa55aa55aa55aull

/*
 * user_data of region @i, which serves register file @i of the device.  The
 * top bytes make a corrupted or shifted command stand out.
 */
#define NR_REGFILES		16
#define USER_DATA_BASE		0x8877665544332200ull
#define USER_DATA(i)		(USER_DATA_BASE | (i))

/*
 * Region indices of the stress tests: vCPU i has MMIO region i and second
 * region i + 8.
 */
#define STRESS_SECOND		8
#define MAX_STRESS_VCPUS	8

#define LOG_SIZE		4096
#define MAX_OPS			48
#define MAX_CMDS		128

/* x86 port I/O is at most 4 bytes wide, (non-SSE) MMIO at most 8. */
static const u8 access_sizes[] = { 1, 2, 4, 8 };

static int nr_access_sizes(bool pio)
{
	return pio ? 3 : 4;
}

/* PATTERN rotated right by @n bytes: high bits set in every byte still. */
static u64 pattern(int n)
{
	n = (n % 8) * 8;
	return n ? PATTERN >> n | PATTERN << (64 - n) : PATTERN;
}

/*
 * The device's answer to command @n when it numbers its reads: distinct
 * in the low nibble of every byte, high bits set in every byte still.
 */
static u64 numbered_val(u32 n)
{
	return pattern(n) ^ (0x0101010101010101ull * (n & 0xf));
}

static const char *bus_str(bool pio)
{
	return pio ? "PIO" : "MMIO";
}

/* Whether the second region of a case is port I/O (see SECOND_BUS). */
static bool second_pio(void)
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

/* The access the guest makes, and for a read the value it must get. */
struct io_op {
	u64 addr;
	u64 val;
	u8 size;
	bool write;
	bool pio;
};

static struct io_op guest_ops[MAX_OPS];
static int guest_nr_ops;

/* Iterations per round of guest_stress(), set by the host. */
static u64 stress_iters;

/* Make the accesses the host put in guest_ops[], then report. */
static void guest_code(void)
{
	const struct io_op *op;
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
static void guest_stress(u32 idx)
{
	const u64 mmio = stress_mmio(idx);
	const u64 second = stress_second(idx) + 4;
	u64 n = 0, end, v, val;

	for (;;) {
		end = n + READ_ONCE(stress_iters);
		for (; n < end; n++) {
			v = stress_val(idx, n);

			WRITE_ONCE(*(u64 *)mmio, v);
			val = READ_ONCE(*(u64 *)mmio);
			__GUEST_ASSERT(val == v,
				       "vCPU %u, iteration %lu: MMIO read 0x%lx, wrote 0x%lx",
				       idx, n, val, v);

			guest_write(second_pio(), second, 4, v);
			val = guest_read(second_pio(), second, 4);
			__GUEST_ASSERT(val == (u32)v,
				       "vCPU %u, iteration %lu: second region read 0x%lx, wrote 0x%x",
				       idx, n, val, (u32)v);
		}
		GUEST_SYNC(n);
	}
}

/* The device task of a test, serving one register file per region. */
enum dev_mode {
	/* Answer every command. */
	DEV_SERVE,
	/* Take command fault_at, then close both ends without answering. */
	DEV_HANG_UP,
	/* Answer command fault_at with nonzero pad, then go on. */
	DEV_BAD_PAD,
	/* Take command fault_at, answer it with STALE_VAL once released. */
	DEV_STALL,
	/* Answer command fault_at with one byte, the rest once released. */
	DEV_PARTIAL,
};

#define STALE_VAL		0x5a1e5a1e5a1e5a1eull

struct test_dev {
	/*
	 * The ends given to KVM_SET_IOREGION: the same socket, or one end of
	 * a command and one of a response socketpair.
	 */
	int kvm_rfd;
	int kvm_wfd;
	/* The device's ends. */
	int rfd;
	int wfd;

	enum dev_mode mode;
	u32 fault_at;
	/* Stall, as mode says, on every command from fault_at on. */
	bool fault_all;
	sem_t stalled;
	sem_t release;
	/* Per command, to make vCPUs wait for the device. */
	u32 delay_us;
	/* Answer read n with numbered_val(n), so that repeated reads differ. */
	bool numbered_reads;
	/* Check the sequence of guest_stress() accesses. */
	bool stress;

	pthread_t thread;
	bool running;
	int ret;

	/* Everything below is protected by lock. */
	pthread_mutex_t lock;
	struct ioregion_regfile regs[NR_REGFILES];
	u64 seq[NR_REGFILES];
	bool want_read[NR_REGFILES];
	struct ioregionfd_cmd log[LOG_SIZE];
	u32 nr_cmds;
};

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
 * guest_stress() makes, per region, a write of the next sequence number and
 * a read, in turn.  A lost, repeated or reordered command breaks the turn.
 */
static void dev_check_stress(struct test_dev *dev, const struct ioregionfd_cmd *cmd)
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
	struct test_dev *dev = opaque;
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
		val = numbered_val(dev->nr_cmds - 1) & mask;
	pthread_mutex_unlock(&dev->lock);

	if (dev->delay_us)
		usleep(dev->delay_us);

	/* KVM must truncate the value to the access size. */
	return cmd->cmd == IOREGIONFD_CMD_READ ? val | (JUNK & ~mask) : 0;
}

static u32 dev_nr_cmds(struct test_dev *dev)
{
	u32 nr;

	pthread_mutex_lock(&dev->lock);
	nr = dev->nr_cmds;
	pthread_mutex_unlock(&dev->lock);
	return nr;
}

static void dev_wait_release(struct test_dev *dev)
{
	sem_post(&dev->stalled);
	while (sem_wait(&dev->release) && errno == EINTR)
		;
}

/* Send the first byte of the response to @cmd, the rest once released. */
static int dev_answer_partly(struct test_dev *dev, const struct ioregionfd_cmd *cmd, u64 data)
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
static void *dev_faulty_thread(struct test_dev *dev)
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

		nr = dev_nr_cmds(dev);
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
	struct test_dev *dev = arg;

	if (dev->mode != DEV_SERVE)
		return dev_faulty_thread(dev);

	dev->ret = ioregion_device_serve(dev->rfd, dev->wfd, dev_handler, dev);
	return NULL;
}

static void dev_init(struct test_dev *dev, bool split)
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

static void dev_start(struct test_dev *dev, enum dev_mode mode, u32 fault_at)
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
static void dev_stop(struct test_dev *dev)
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
static void assert_ioregion(struct kvm_vm *vm, struct kvm_ioregion *args, int err,
			    const char *what)
{
	int ret = __vm_set_ioregion(vm, args);

	TEST_ASSERT(err ? ret == -1 && errno == err : !ret,
		    "%s: KVM_SET_IOREGION(paddr = 0x%llx, size = 0x%llx, rfd = %d, wfd = %d, flags = 0x%x) returned %d, errno = %d (%s), expected %s%s",
		    what, args->guest_paddr, args->memory_size, args->read_fd, args->write_fd,
		    args->flags, ret, ret ? errno : 0, ret ? strerror(errno) : "none",
		    err ? "errno " : "success", err ? strerror(err) : "");
}

/* A region on the device of a test, serving register file @idx. */
struct region {
	u64 base;
	u64 size;
	u32 flags;
	u8 idx;
};

static struct kvm_ioregion region_args(const struct region *r, const struct test_dev *dev)
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

static void region_assign(struct kvm_vm *vm, const struct region *r, const struct test_dev *dev)
{
	struct kvm_ioregion args = region_args(r, dev);

	vm_set_ioregion(vm, &args);
}

static void region_deassign(struct kvm_vm *vm, const struct region *r)
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

static bool region_pio(const struct region *r)
{
	return r->flags & KVM_IOREGION_PIO;
}

/* An exit to userspace that an access of the guest must cause. */
struct exp_exit {
	u32 reason;
	u64 addr;
	u32 len;
	bool write;
	bool pio;
	/* The value written, or the value userspace supplies for a read. */
	u64 data;
	/* KVM_EXIT_IOREGIONFD_FAILURE only. */
	u32 error;
	u8 idx;
};

struct exp_cmd {
	struct ioregionfd_cmd cmd;
	/* The access hit a zero-length region, which may not give a size. */
	bool zero_len;
};

/*
 * Guest accesses for one run, with the exits to userspace they must cause,
 * and the commands the device must get over the whole test.  The register
 * files in model[] predict what the guest reads.
 */
struct prog {
	struct io_op ops[MAX_OPS];
	int nr_ops;
	struct exp_exit exits[MAX_OPS];
	int nr_exits;
	struct exp_cmd cmds[MAX_CMDS];
	int nr_cmds;
	struct ioregion_regfile model[NR_REGFILES];
};

/* Start modelling the register files of @dev as they are now. */
static void prog_init(struct prog *p, struct test_dev *dev)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->model, dev->regs, sizeof(p->model));
}

static void prog_next_run(struct prog *p)
{
	p->nr_ops = 0;
	p->nr_exits = 0;
}

static struct io_op *prog_add_op(struct prog *p, bool pio, u64 addr, u8 size, bool write,
				 u64 val)
{
	struct io_op *op = &p->ops[p->nr_ops++];

	TEST_ASSERT(p->nr_ops <= MAX_OPS, "Too many guest accesses");
	*op = (struct io_op) {
		.addr = addr, .size = size, .write = write, .pio = pio,
		.val = val & ioregion_size_mask(size),
	};
	return op;
}

static struct ioregionfd_cmd *prog_add_cmd(struct prog *p, const struct region *r, u64 offset,
					   u8 size, bool write, u64 val)
{
	struct exp_cmd *exp = &p->cmds[p->nr_cmds++];
	bool posted = write && (r->flags & KVM_IOREGION_POSTED_WRITES);

	TEST_ASSERT(p->nr_cmds <= MAX_CMDS, "Too many device commands");
	*exp = (struct exp_cmd) {
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
static void prog_access(struct prog *p, const struct region *r, u64 offset, u8 size, bool write,
			u64 val)
{
	struct ioregionfd_cmd *cmd = prog_add_cmd(p, r, offset, size, write, val);
	u64 ret = ioregion_regfile_access(&p->model[r->idx], cmd);

	prog_add_op(p, region_pio(r), r->base + offset, size, write, write ? val : ret);
}

/* An access that must exit to userspace; a read gets @val from there. */
static void prog_exit(struct prog *p, bool pio, u64 addr, u8 size, bool write, u64 val)
{
	struct exp_exit *exit = &p->exits[p->nr_exits++];

	prog_add_op(p, pio, addr, size, write, val);
	*exit = (struct exp_exit) {
		.reason = pio ? KVM_EXIT_IO : KVM_EXIT_MMIO,
		.addr = addr, .len = size, .write = write, .pio = pio,
		.data = write ? val & ioregion_size_mask(size) : val,
	};
}

/*
 * An access that the device fails with @error, after getting its command if
 * @sent; a read gets @val from userspace.
 */
static void prog_fail(struct prog *p, const struct region *r, u64 offset, u8 size, bool write,
		      u64 val, int error, bool sent)
{
	struct exp_exit *exit = &p->exits[p->nr_exits++];
	bool pio = region_pio(r);

	if (sent)
		prog_add_cmd(p, r, offset, size, write, val);
	prog_add_op(p, pio, r->base + offset, size, write, val);
	*exit = (struct exp_exit) {
		.reason = KVM_EXIT_IOREGIONFD_FAILURE,
		.addr = r->base + offset, .len = size, .write = write, .pio = pio,
		.data = write ? val & ioregion_size_mask(size) : val,
		.error = error, .idx = r->idx,
	};
}

static const char *describe_exit(struct kvm_vcpu *vcpu, char *buf, size_t size)
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

static void check_failure_exit(struct kvm_vcpu *vcpu, const struct exp_exit *exp)
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
		    USER_DATA(exp->idx), describe_exit(vcpu, buf, sizeof(buf)));

	/* Emulate the read, the next KVM_RUN gives the value to the guest. */
	if (!exp->write)
		run->ioregionfd.data = exp->data;
}

static void check_exit(struct kvm_vcpu *vcpu, const struct exp_exit *exp)
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
			       exp->addr, exp->len, bus_str(exp->pio),
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
			    describe_exit(vcpu, buf, sizeof(buf)));
		ptr = (void *)run + run->io.data_offset;
	} else {
		TEST_ASSERT(run->exit_reason == KVM_EXIT_MMIO &&
			    run->mmio.phys_addr == exp->addr &&
			    run->mmio.len == exp->len && run->mmio.is_write == exp->write,
			    "Expected KVM_EXIT_MMIO (%s, gpa 0x%lx, len %u), got %s",
			    exp->write ? "write" : "read", exp->addr, exp->len,
			    describe_exit(vcpu, buf, sizeof(buf)));
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

static void expect_sync(struct kvm_vcpu *vcpu)
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
			  vcpu->id, describe_exit(vcpu, buf, sizeof(buf)));
	}
}

static void prog_load(struct kvm_vm *vm, const struct prog *p)
{
	memcpy(guest_ops, p->ops, sizeof(guest_ops));
	guest_nr_ops = p->nr_ops;
	sync_global_to_guest(vm, guest_ops);
	sync_global_to_guest(vm, guest_nr_ops);
}

/* vcpu_run(), but leave a guest assertion to the caller, which knows the context. */
static void run_vcpu(struct kvm_vcpu *vcpu)
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
static void run_loaded(struct kvm_vcpu *vcpu, const struct prog *p, int first)
{
	int i;

	for (i = first; i < p->nr_exits; i++) {
		run_vcpu(vcpu);
		check_exit(vcpu, &p->exits[i]);
	}

	run_vcpu(vcpu);
	expect_sync(vcpu);
}

static void run_prog(struct kvm_vcpu *vcpu, const struct prog *p)
{
	prog_load(vcpu->vm, p);
	run_loaded(vcpu, p, 0);
}

static u64 elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/*
 * The device must have got exactly the commands of @p, in order.  Posted
 * writes may still be in flight, so wait a little for them.
 */
static void check_cmds(struct test_dev *dev, const struct prog *p)
{
	const struct ioregionfd_cmd *got, *want;
	struct timespec start;
	char buf[2][192];
	bool ok;
	u32 nr;
	int i;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while ((nr = dev_nr_cmds(dev)) < p->nr_cmds && elapsed_ms(&start) < 5000)
		usleep(1000);

	/* Give a stray extra command a chance to show. */
	usleep(10000);
	nr = dev_nr_cmds(dev);
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

struct ioregion_stats {
	u64 round_trips;
	u64 posted_writes;
	u64 failures;
};

static struct ioregion_stats vcpu_ioregion_stats(struct kvm_vcpu *vcpu)
{
	return (struct ioregion_stats) {
		.round_trips = vcpu_get_stat(vcpu, "ioregion_round_trips"),
		.posted_writes = vcpu_get_stat(vcpu, "ioregion_posted_writes"),
		.failures = vcpu_get_stat(vcpu, "ioregion_failures"),
	};
}

/* The stats of @vcpu must have grown by exactly this since @before. */
static void assert_stats(struct kvm_vcpu *vcpu, const struct ioregion_stats *before,
			 u64 round_trips, u64 posted_writes, u64 failures)
{
	struct ioregion_stats now = vcpu_ioregion_stats(vcpu);

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

static u32 nr_sigpipe;

static void sigpipe_handler(int sig)
{
	WRITE_ONCE(nr_sigpipe, nr_sigpipe + 1);
}

/* A signal that interrupts KVM_RUN: no SA_RESTART. */
static void install_sigusr1(void)
{
	struct sigaction sa = { .sa_handler = nop_handler };

	sigemptyset(&sa.sa_mask);
	TEST_ASSERT(!sigaction(SIGUSR1, &sa, NULL), "sigaction() failed, errno = %d", errno);
}

/* A vCPU thread that runs the guest to its next GUEST_SYNC. */
struct worker {
	struct kvm_vcpu *vcpu;
	pthread_t thread;
	/* KVM_RUN returned EINTR, KVM_EXIT_INTR or KVM_EXIT_IOREGIONFD_PENDING. */
	u64 nr_eintr;
	/* Of those, the ones with an access pending. */
	u64 nr_pending;
	bool done;
};

/*
 * KVM_RUN returned EINTR: KVM_EXIT_INTR, or KVM_EXIT_IOREGIONFD_PENDING
 * describing an access to one of the test's regions.  Return whether an
 * access is pending.
 */
static bool check_eintr_exit(struct kvm_vcpu *vcpu)
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
	struct worker *w = arg;
	int ret;

	for (;;) {
		ret = __vcpu_run(w->vcpu);
		if (ret == -1 && errno == EINTR) {
			w->nr_pending += check_eintr_exit(w->vcpu);
			w->nr_eintr++;
			continue;
		}
		TEST_ASSERT(!ret, KVM_IOCTL_ERROR(KVM_RUN, ret));
		break;
	}

	expect_sync(w->vcpu);
	WRITE_ONCE(w->done, true);
	return NULL;
}

static void worker_start(struct worker *w, struct kvm_vcpu *vcpu)
{
	w->vcpu = vcpu;
	w->done = false;
	TEST_ASSERT(!pthread_create(&w->thread, NULL, worker_thread, w),
		    "pthread_create() failed");
}

static void worker_join(struct worker *w)
{
	TEST_ASSERT(!pthread_join(w->thread, NULL), "pthread_join() failed");
}

/* Run the workers to completion, kicking them with SIGUSR1 every @kick_us if nonzero. */
static void workers_run(struct worker *w, struct kvm_vcpu **vcpus, int nr, u32 kick_us)
{
	bool busy = true;
	int i;

	for (i = 0; i < nr; i++)
		worker_start(&w[i], vcpus[i]);

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
		worker_join(&w[i]);
}

/* Give vCPU @idx its two regions for guest_stress(). */
static void stress_assign(struct kvm_vm *vm, struct test_dev *dev, u32 idx)
{
	struct region mmio = { .base = stress_mmio(idx), .size = REGION_SIZE, .idx = idx };
	struct region second = {
		.base = stress_second(idx), .size = REGION_SIZE, .flags = SECOND_BUS,
		.idx = idx + STRESS_SECOND,
	};

	region_assign(vm, &mmio, dev);
	region_assign(vm, &second, dev);
}

/* Both regions of vCPU @idx must have seen exactly @iters iterations. */
static void stress_check(struct test_dev *dev, u32 idx, u64 iters)
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

static struct kvm_vm *stress_vm_create(struct kvm_vcpu **vcpus, int nr, u32 first_idx)
{
	struct kvm_vm *vm = vm_create_with_vcpus(nr, guest_stress, vcpus);
	int i;

	virt_map(vm, MMIO_GPA, MMIO_GPA, MMIO_NR_PAGES);
	for (i = 0; i < nr; i++)
		vcpu_args_set(vcpus[i], 1, first_idx + i);
	return vm;
}

FIXTURE(ioregionfd) {
	struct kvm_vcpu *vcpu;
	struct test_dev dev;
};

FIXTURE_VARIANT(ioregionfd) {
	/* One socketpair per direction, rather than one for both. */
	bool split;
};

FIXTURE_VARIANT_ADD(ioregionfd, socketpair) {
	.split = false,
};

FIXTURE_VARIANT_ADD(ioregionfd, split) {
	.split = true,
};

FIXTURE_SETUP(ioregionfd)
{
	struct kvm_vm *vm = vm_create_with_one_vcpu(&self->vcpu, guest_code);

	virt_map(vm, MMIO_GPA, MMIO_GPA, MMIO_NR_PAGES);
	dev_init(&self->dev, variant->split);
}

FIXTURE_TEARDOWN(ioregionfd)
{
	if (self->vcpu)
		kvm_vm_free(self->vcpu->vm);
	dev_stop(&self->dev);
}

/*
 * Reads and writes of every size, at the top of a register, through an MMIO
 * and a second region.  The device checks every field of the commands, the
 * guest the values it reads, which the device pads with junk.
 */
TEST_F(ioregionfd, access_sizes)
{
	const struct region regions[2] = {
		{ .base = MMIO_GPA + 0x100, .size = REGION_SIZE, .idx = 0 },
		{ .base = SECOND_BASE + 0x100, .size = REGION_SIZE, .flags = SECOND_BUS,
		  .idx = 1 },
	};
	struct kvm_vcpu *vcpu = self->vcpu;
	struct test_dev *dev = &self->dev;
	struct ioregion_stats before;
	static struct prog p;
	int b, i, reg;

	for (b = 0; b < 2; b++) {
		for (reg = 0; reg < IOREGION_REGFILE_NR_REGS - 1; reg++)
			dev->regs[regions[b].idx].regs[reg] = pattern(reg);
		region_assign(vcpu->vm, &regions[b], dev);
	}
	prog_init(&p, dev);
	dev_start(dev, DEV_SERVE, 0);
	before = vcpu_ioregion_stats(vcpu);

	for (b = 0; b < 2; b++) {
		const struct region *r = &regions[b];
		const bool pio = region_pio(r);

		for (i = 0; i < nr_access_sizes(pio); i++) {
			u8 size = access_sizes[i];
			u64 offset = (i + 1) * 8 + 8 - size;
			u64 val = pattern(i) ^ 0x0f0f0f0f0f0f0f0full;

			prog_access(&p, r, offset, size, false, 0);
			prog_access(&p, r, offset, size, true, val);
			prog_access(&p, r, offset, size, false, 0);
		}

		/* Wider reads show that the narrow writes landed at their offsets. */
		prog_access(&p, r, 8 + (pio ? 4 : 0), pio ? 4 : 8, false, 0);
		prog_access(&p, r, 16 + (pio ? 4 : 0), pio ? 4 : 8, false, 0);
		prog_access(&p, r, 0, 1, false, 0);
	}

	/*
	 * An exit belongs to the region that holds its first byte: one that
	 * runs past the end is the device's, whole, and one that starts below
	 * the region is userspace's.  The register file fails the accesses
	 * across its end, reads as all ones.
	 */
	for (b = 0; b < 2; b++) {
		const struct region *r = &regions[b];
		const bool pio = region_pio(r);

		prog_access(&p, r, REGION_SIZE - 2, 4, true, PATTERN);
		prog_exit(&p, pio, r->base - 1, 2, false, pattern(b));
		prog_exit(&p, pio, r->base - 2, 4, true, pattern(3));
		prog_access(&p, r, REGION_SIZE - 1, 2, false, 0);
		prog_access(&p, r, REGION_SIZE - 4, 4, false, 0);
	}

	run_prog(vcpu, &p);
	check_cmds(dev, &p);
	assert_stats(vcpu, &before, p.nr_cmds, 0, 0);
}

/*
 * Posted writes complete without the device, which gets them later in
 * program order before a read.  Zero-length regions take writes of any size.
 */
TEST_F(ioregionfd, posted_writes)
{
	const struct region regions[4] = {
		{ .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0,
		  .flags = KVM_IOREGION_POSTED_WRITES },
		{ .base = SECOND_BASE, .size = REGION_SIZE, .idx = 1,
		  .flags = KVM_IOREGION_POSTED_WRITES | SECOND_BUS },
		{ .base = ZL_GPA, .size = 0, .idx = 2, .flags = KVM_IOREGION_POSTED_WRITES },
		{ .base = SECOND_ZL, .size = 0, .idx = 3,
		  .flags = KVM_IOREGION_POSTED_WRITES | SECOND_BUS },
	};
	const struct region *mmio = &regions[0], *second = &regions[1];
	struct kvm_vcpu *vcpu = self->vcpu;
	struct test_dev *dev = &self->dev;
	struct ioregion_stats before;
	static struct prog p;
	int i, n, queued;

	for (i = 0; i < 4; i++) {
		struct kvm_ioregion args = region_args(&regions[i], dev);

		/* A region that only takes posted writes needs no read_fd. */
		if (!regions[i].size)
			args.read_fd = -1;
		vm_set_ioregion(vcpu->vm, &args);
	}
	prog_init(&p, dev);
	before = vcpu_ioregion_stats(vcpu);

	/* Nobody serves the fds yet: the writes must not wait for the device. */
	for (i = 1; i <= 3; i++)
		prog_access(&p, mmio, IOREGION_REGFILE_DOORBELL, 8, true, i);
	for (i = 0; i < 4; i++)
		prog_access(&p, mmio, i * 8 + 8 - access_sizes[i], access_sizes[i], true,
			    PATTERN >> (8 * i));
	for (i = 0; i < 3; i++)
		prog_access(&p, second, i * 8 + 8 - access_sizes[i], access_sizes[i], true,
			    ~PATTERN >> (8 * i));
	prog_access(&p, second, IOREGION_REGFILE_DOORBELL, 4, true, PATTERN);
	prog_access(&p, second, IOREGION_REGFILE_DOORBELL + 4, 4, true, PATTERN);
	for (i = 0; i < 4; i++)
		prog_access(&p, &regions[2], 0, access_sizes[i], true, pattern(i));
	for (i = 0; i < 3; i++)
		prog_access(&p, &regions[3], 0, access_sizes[i], true, pattern(i));
	n = p.nr_cmds;
	run_prog(vcpu, &p);

	TEST_ASSERT(!ioctl(dev->rfd, FIONREAD, &queued), "FIONREAD failed, errno = %d", errno);
	TEST_ASSERT(queued == n * sizeof(struct ioregionfd_cmd),
		    "%d bytes of commands are queued for the device, expected %d posted writes",
		    queued, n);
	assert_stats(vcpu, &before, 0, n, 0);

	/* Each read comes after the writes, so it sees them. */
	dev_start(dev, DEV_SERVE, 0);
	prog_next_run(&p);
	prog_access(&p, mmio, IOREGION_REGFILE_DOORBELL, 8, false, 0);
	for (i = 0; i < 4; i++)
		prog_access(&p, mmio, i * 8, 8, false, 0);
	prog_access(&p, second, IOREGION_REGFILE_DOORBELL, 4, false, 0);
	for (i = 0; i < 3; i++)
		prog_access(&p, second, i * 8 + 4, 4, false, 0);
	prog_access(&p, mmio, IOREGION_REGFILE_DOORBELL, 8, true, 4);
	prog_access(&p, mmio, IOREGION_REGFILE_DOORBELL, 4, false, 0);

	/* Reads of a zero-length region are userspace's. */
	prog_exit(&p, false, ZL_GPA, 4, false, PATTERN);
	prog_exit(&p, second_pio(), SECOND_ZL, 2, false, PATTERN);
	run_prog(vcpu, &p);

	TEST_ASSERT(p.model[mmio->idx].doorbells == 4 && p.model[second->idx].doorbells == 2,
		    "Test bug: wrong doorbell count");
	check_cmds(dev, &p);
	assert_stats(vcpu, &before, p.nr_cmds - n - 1, n + 1, 0);
}

/*
 * A named FIFO is a pipe too: refused whichever way its ends are given, next
 * to a good socket or not.
 */
TEST(named_fifo)
{
	char dir[] = "/tmp/ioregionfd_test.XXXXXX", path[64];
	struct kvm_ioregion args;
	static struct test_dev dev;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int rfd, wfd;

	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	dev_init(&dev, false);

	TEST_ASSERT(mkdtemp(dir), "mkdtemp() failed, errno = %d", errno);
	snprintf(path, sizeof(path), "%s/fifo", dir);
	TEST_ASSERT(!mkfifo(path, 0600), "mkfifo() failed, errno = %d", errno);

	/* Open the read end first, so that opening the write end doesn't block. */
	rfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	wfd = open(path, O_WRONLY | O_CLOEXEC);
	TEST_ASSERT(rfd >= 0 && wfd >= 0, "Failed to open the FIFO, errno = %d", errno);
	unlink(path);
	rmdir(dir);

	args = (struct kvm_ioregion) {
		.guest_paddr = MMIO_GPA, .memory_size = REGION_SIZE,
		.read_fd = rfd, .write_fd = wfd,
	};
	assert_ioregion(vm, &args, EINVAL, "the two ends of a FIFO");
	args.read_fd = dev.kvm_rfd;
	assert_ioregion(vm, &args, EINVAL, "a FIFO as write_fd");
	args.read_fd = rfd;
	args.write_fd = dev.kvm_wfd;
	assert_ioregion(vm, &args, EINVAL, "a FIFO as read_fd");
	args.read_fd = wfd;
	assert_ioregion(vm, &args, EINVAL, "the write end of a FIFO as read_fd");
	args.read_fd = dev.kvm_rfd;
	args.write_fd = rfd;
	assert_ioregion(vm, &args, EINVAL, "the read end of a FIFO as write_fd");

	/* Nothing was registered: the range is free for the sockets. */
	args.write_fd = dev.kvm_wfd;
	assert_ioregion(vm, &args, 0, "the sockets");

	close(rfd);
	close(wfd);
	kvm_vm_free(vm);
	dev_stop(&dev);
}

/*
 * Four vCPUs share the fds, each with its own regions.  The device checks
 * that every command is whole and that none is lost or repeated.
 */
TEST_F_TIMEOUT(ioregionfd, four_vcpus, 600)
{
	const int nr = 4;
	const u64 iters = 300;
	struct ioregion_stats before[4];
	struct test_dev *dev = &self->dev;
	struct kvm_vcpu *vcpus[4];
	struct worker w[4] = {};
	struct kvm_vm *vm;
	int i;

	vm = stress_vm_create(vcpus, nr, 0);
	for (i = 0; i < nr; i++) {
		stress_assign(vm, dev, i);
		before[i] = vcpu_ioregion_stats(vcpus[i]);
	}
	stress_iters = iters;
	sync_global_to_guest(vm, stress_iters);
	dev->stress = true;
	dev_start(dev, DEV_SERVE, 0);

	workers_run(w, vcpus, nr, 0);

	for (i = 0; i < nr; i++) {
		stress_check(dev, i, iters);
		assert_stats(vcpus[i], &before[i], 4 * iters, 0, 0);
	}
	kvm_vm_free(vm);
}

/*
 * Two VMs share the fds; once one is gone the other goes on.  VM i has
 * vCPU index i in guest_stress(), so the two use different regions.
 */
TEST_F_TIMEOUT(ioregionfd, two_vms, 300)
{
	const u64 iters = 200;
	struct test_dev *dev = &self->dev;
	struct ioregion_stats before;
	struct kvm_vcpu *vcpus[2];
	struct worker w[2] = {};
	struct kvm_vm *vms[2];
	int i;

	stress_iters = iters;
	for (i = 0; i < 2; i++) {
		vms[i] = stress_vm_create(&vcpus[i], 1, i);
		stress_assign(vms[i], dev, i);
		sync_global_to_guest(vms[i], stress_iters);
	}
	dev->stress = true;
	dev_start(dev, DEV_SERVE, 0);

	workers_run(w, vcpus, 2, 0);
	for (i = 0; i < 2; i++)
		stress_check(dev, i, iters);

	kvm_vm_free(vms[0]);
	before = vcpu_ioregion_stats(vcpus[1]);
	workers_run(&w[1], &vcpus[1], 1, 0);
	stress_check(dev, 0, iters);
	stress_check(dev, 1, 2 * iters);
	assert_stats(vcpus[1], &before, 4 * iters, 0, 0);
	kvm_vm_free(vms[1]);
}

/*
 * Signals interrupt vCPUs that wait for a slow device, or for the sockets
 * that the other vCPU holds.  KVM_RUN returns EINTR, with
 * KVM_EXIT_IOREGIONFD_PENDING if an access was under way, and picks up where
 * it left: the device gets every command once and the guest every read.
 */
TEST_F_TIMEOUT(ioregionfd, signal_storm, 300)
{
	const int nr = 2;
	const u64 iters = 100;
	struct ioregion_stats before[2];
	struct test_dev *dev = &self->dev;
	struct kvm_vcpu *vcpus[2];
	struct worker w[2] = {};
	u64 nr_eintr = 0, nr_pending = 0;
	struct kvm_vm *vm;
	int i;

	install_sigusr1();
	vm = stress_vm_create(vcpus, nr, 0);
	for (i = 0; i < nr; i++) {
		stress_assign(vm, dev, i);
		before[i] = vcpu_ioregion_stats(vcpus[i]);
	}
	stress_iters = iters;
	sync_global_to_guest(vm, stress_iters);
	dev->stress = true;
	dev->delay_us = 300;
	dev_start(dev, DEV_SERVE, 0);

	workers_run(w, vcpus, nr, 50);

	for (i = 0; i < nr; i++) {
		stress_check(dev, i, iters);
		assert_stats(vcpus[i], &before[i], 4 * iters, 0, 0);
		nr_eintr += w[i].nr_eintr;
		nr_pending += w[i].nr_pending;
	}
	ksft_print_msg("%lu KVM_RUN calls returned EINTR (%lu, %lu), %lu with an access pending\n",
		       nr_eintr, w[0].nr_eintr, w[1].nr_eintr, nr_pending);
	TEST_ASSERT(nr_eintr, "No signal interrupted KVM_RUN");
	kvm_vm_free(vm);
}

/*
 * The device takes a read and closes its ends: KVM_EXIT_IOREGIONFD_FAILURE
 * with EPIPE, for that read and for every later access through the sockets,
 * and no SIGPIPE for the vCPU thread.  Userspace emulates the accesses, the
 * guest sees the values it supplies.
 */
TEST_F(ioregionfd, device_hang_up)
{
	const struct region mmio = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0 };
	const struct region second = { .base = SECOND_BASE, .size = REGION_SIZE, .idx = 1,
				       .flags = SECOND_BUS };
	const struct region posted = { .base = ZL_GPA, .size = 0, .idx = 2,
				       .flags = KVM_IOREGION_POSTED_WRITES };
	struct kvm_vcpu *vcpu = self->vcpu;
	struct test_dev *dev = &self->dev;
	struct ioregion_stats before;
	static struct prog p;

	region_assign(vcpu->vm, &mmio, dev);
	region_assign(vcpu->vm, &second, dev);
	region_assign(vcpu->vm, &posted, dev);
	prog_init(&p, dev);
	before = vcpu_ioregion_stats(vcpu);
	dev_start(dev, DEV_HANG_UP, 0);

	prog_fail(&p, &mmio, 0x10, 8, false, PATTERN, EPIPE, true);
	prog_fail(&p, &mmio, 0x20, 4, true, ~PATTERN, EPIPE, false);
	prog_fail(&p, &second, 0x8, 2, false, pattern(1), EPIPE, false);
	prog_fail(&p, &second, 0x31, 1, true, PATTERN, EPIPE, false);
	prog_fail(&p, &mmio, 0x18, 1, false, pattern(2), EPIPE, false);
	prog_fail(&p, &posted, 0, 2, true, PATTERN, EPIPE, false);
	WRITE_ONCE(nr_sigpipe, 0);
	run_prog(vcpu, &p);
	TEST_ASSERT(!READ_ONCE(nr_sigpipe), "KVM raised SIGPIPE %u times", nr_sigpipe);

	TEST_ASSERT(!pthread_join(dev->thread, NULL), "pthread_join() failed");
	dev->running = false;
	check_cmds(dev, &p);
	assert_stats(vcpu, &before, 0, 0, p.nr_exits);
}

/*
 * A response with nonzero pad fails the access with EPROTO, and the fds
 * for good: the device gets no further command.
 */
TEST_F(ioregionfd, malformed_response)
{
	const struct region mmio = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0 };
	const struct region second = { .base = SECOND_BASE, .size = REGION_SIZE, .idx = 1,
				       .flags = SECOND_BUS };
	struct kvm_vcpu *vcpu = self->vcpu;
	struct test_dev *dev = &self->dev;
	struct ioregion_stats before;
	static struct prog p;

	dev->regs[mmio.idx].regs[0] = PATTERN;
	region_assign(vcpu->vm, &mmio, dev);
	region_assign(vcpu->vm, &second, dev);
	prog_init(&p, dev);
	before = vcpu_ioregion_stats(vcpu);
	dev_start(dev, DEV_BAD_PAD, 1);

	prog_access(&p, &mmio, 0, 8, false, 0);
	prog_fail(&p, &mmio, 0x8, 4, false, ~PATTERN, EPROTO, true);
	prog_fail(&p, &mmio, 0x8, 8, true, PATTERN, EPROTO, false);
	prog_fail(&p, &second, 0x4, 4, false, pattern(3), EPROTO, false);
	prog_fail(&p, &mmio, 0x0, 8, false, pattern(4), EPROTO, false);
	run_prog(vcpu, &p);
	assert_stats(vcpu, &before, 1, 0, 4);

	kvm_vm_free(vcpu->vm);
	self->vcpu = NULL;
	dev_stop(dev);
	check_cmds(dev, &p);
}

/*
 * After KVM_IOREGION_DEASSIGN, which must match bus, address and size, the
 * accesses exit to userspace again; a new region can take the range.
 */
TEST_F(ioregionfd, deassign)
{
	const struct region mmio = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0 };
	const struct region second = { .base = SECOND_BASE, .size = 0x10, .idx = 1,
				       .flags = SECOND_BUS };
	const struct region zl = { .base = ZL_GPA, .size = 0, .idx = 2,
				   .flags = KVM_IOREGION_POSTED_WRITES };
	const struct region again = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 3 };
	struct kvm_vcpu *vcpu = self->vcpu;
	struct test_dev *dev = &self->dev;
	struct kvm_vm *vm = vcpu->vm;
	struct kvm_ioregion args;
	static struct prog p;

	region_assign(vm, &mmio, dev);
	region_assign(vm, &second, dev);
	region_assign(vm, &zl, dev);
	prog_init(&p, dev);
	dev_start(dev, DEV_SERVE, 0);

	prog_access(&p, &mmio, 0, 8, true, PATTERN);
	prog_access(&p, &second, 4, 2, true, PATTERN);
	prog_access(&p, &zl, 0, 4, true, PATTERN);
	prog_access(&p, &mmio, 0, 8, false, 0);
	run_prog(vcpu, &p);
	check_cmds(dev, &p);

	/* Nothing but the exact bus, address and size matches. */
	args = (struct kvm_ioregion) {
		.guest_paddr = MMIO_GPA, .memory_size = REGION_SIZE / 2,
		.read_fd = -1, .write_fd = -1, .flags = KVM_IOREGION_DEASSIGN,
	};
	assert_ioregion(vm, &args, ENOENT, "deassign of a smaller size");
	args.memory_size = REGION_SIZE * 2;
	assert_ioregion(vm, &args, ENOENT, "deassign of a larger size");
	args.memory_size = REGION_SIZE;
	args.guest_paddr = MMIO_GPA + 8;
	assert_ioregion(vm, &args, ENOENT, "deassign at another address");
	if (second_pio()) {
		args = (struct kvm_ioregion) {
			.guest_paddr = SECOND_BASE, .memory_size = 0x10,
			.read_fd = -1, .write_fd = -1, .flags = KVM_IOREGION_DEASSIGN,
		};
		assert_ioregion(vm, &args, ENOENT, "deassign of a PIO region on the MMIO bus");
	}
	args = (struct kvm_ioregion) {
		.guest_paddr = ZL_GPA, .memory_size = 1,
		.read_fd = -1, .write_fd = -1, .flags = KVM_IOREGION_DEASSIGN,
	};
	assert_ioregion(vm, &args, ENOENT, "deassign of a zero-length region with size 1");

	/* fds and user_data don't matter. */
	args = (struct kvm_ioregion) {
		.guest_paddr = MMIO_GPA, .memory_size = REGION_SIZE, .user_data = ~0ull,
		.read_fd = 12345, .write_fd = -1, .flags = KVM_IOREGION_DEASSIGN,
	};
	assert_ioregion(vm, &args, 0, "deassign with other fds and user_data");
	assert_ioregion(vm, &args, ENOENT, "second deassign");
	region_deassign(vm, &second);
	region_deassign(vm, &zl);

	prog_next_run(&p);
	prog_exit(&p, false, MMIO_GPA + 8, 4, true, PATTERN);
	prog_exit(&p, false, MMIO_GPA, 8, false, ~PATTERN);
	prog_exit(&p, second_pio(), SECOND_BASE + 4, 2, true, PATTERN);
	prog_exit(&p, second_pio(), SECOND_BASE, 1, false, pattern(1));
	prog_exit(&p, false, ZL_GPA, 4, true, PATTERN);
	run_prog(vcpu, &p);
	check_cmds(dev, &p);

	/* The range is free for a new region, which works. */
	region_assign(vm, &again, dev);
	prog_next_run(&p);
	prog_access(&p, &again, 0x10, 2, true, PATTERN);
	prog_access(&p, &again, 0x10, 8, false, 0);
	run_prog(vcpu, &p);
	check_cmds(dev, &p);
}

/* An AF_UNIX stream socket listening at an abstract address. */
static int listening_socket(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	TEST_ASSERT(fd >= 0, "socket() failed, errno = %d", errno);
	snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "ioregionfd_test.%d", getpid());
	TEST_ASSERT(!bind(fd, (struct sockaddr *)&addr, sizeof(addr)) && !listen(fd, 1),
		    "bind() or listen() failed, errno = %d", errno);
	return fd;
}

static int closed_fd(void)
{
	int fd = dup(0);

	TEST_ASSERT(fd >= 0, "dup() failed");
	close(fd);
	return fd;
}

/*
 * Port ranges end at 0x10000.  Without port I/O, KVM_IOREGION_PIO itself is
 * refused, even to deassign.
 */
static void assert_pio_ranges(struct kvm_vm *vm, const struct kvm_ioregion *good)
{
	struct kvm_ioregion args = *good;

	args.flags = KVM_IOREGION_PIO;
	if (!second_pio()) {
		assert_ioregion(vm, &args, EINVAL, "PIO region without port I/O");
		args.flags |= KVM_IOREGION_DEASSIGN;
		assert_ioregion(vm, &args, EINVAL, "PIO deassign without port I/O");
		return;
	}

	args.guest_paddr = 0xfff0;
	args.memory_size = 0x11;
	assert_ioregion(vm, &args, EINVAL, "PIO range past 0xffff");
	args.guest_paddr = 0x10000;
	args.memory_size = 1;
	assert_ioregion(vm, &args, EINVAL, "PIO range above 0xffff");
	args.memory_size = 0;
	args.flags |= KVM_IOREGION_POSTED_WRITES;
	assert_ioregion(vm, &args, EINVAL, "zero-length PIO region at 0x10000");
	args.guest_paddr = 0xffff;
	assert_ioregion(vm, &args, 0, "zero-length PIO region at 0xffff");
	args.flags |= KVM_IOREGION_DEASSIGN;
	assert_ioregion(vm, &args, 0, "deassign of the zero-length PIO region");
	args = *good;
	args.flags = KVM_IOREGION_PIO;
	args.guest_paddr = 0xfff0;
	args.memory_size = 0x10;
	assert_ioregion(vm, &args, 0, "PIO range ending at 0xffff");
	args.flags |= KVM_IOREGION_DEASSIGN;
	assert_ioregion(vm, &args, 0, "deassign of the PIO range ending at 0xffff");
}

/* Every argument KVM_SET_IOREGION refuses, with the variant's fds as the good ones. */
TEST_F(ioregionfd, bad_args)
{
	struct kvm_vm *vm = self->vcpu->vm;
	struct test_dev *dev = &self->dev;
	int p[2], dgram[2], seqpacket[2];
	struct kvm_ioregion args, good;
	int efd, memfd, pathfd, bad;
	int unconnected, listening, tcp;

	TEST_ASSERT(!pipe(p), "pipe() failed");
	TEST_ASSERT(!socketpair(AF_UNIX, SOCK_DGRAM, 0, dgram), "socketpair() failed");
	TEST_ASSERT(!socketpair(AF_UNIX, SOCK_SEQPACKET, 0, seqpacket), "socketpair() failed");
	unconnected = socket(AF_UNIX, SOCK_STREAM, 0);
	listening = listening_socket();
	tcp = socket(AF_INET, SOCK_STREAM, 0);
	TEST_ASSERT(unconnected >= 0 && tcp >= 0, "socket() failed, errno = %d", errno);
	efd = eventfd(0, 0);
	memfd = memfd_create("ioregionfd_test", 0);
	pathfd = open("/", O_PATH);
	TEST_ASSERT(efd >= 0 && memfd >= 0 && pathfd >= 0, "Failed to open fds");
	bad = closed_fd();

	good = (struct kvm_ioregion) {
		.guest_paddr = MMIO_GPA, .memory_size = REGION_SIZE, .user_data = 1,
		.read_fd = dev->kvm_rfd, .write_fd = dev->kvm_wfd,
	};

	args = good;
	args.flags = KVM_IOREGION_DEASSIGN << 1;
	assert_ioregion(vm, &args, EINVAL, "unknown flag");
	args.flags = ~0u;
	assert_ioregion(vm, &args, EINVAL, "all flags");
	args = good;
	args.pad[0] = 1;
	assert_ioregion(vm, &args, EINVAL, "nonzero pad[0]");
	args = good;
	args.pad[sizeof(args.pad) - 1] = 0x80;
	assert_ioregion(vm, &args, EINVAL, "nonzero last pad byte");
	args.flags = KVM_IOREGION_DEASSIGN;
	assert_ioregion(vm, &args, EINVAL, "deassign with nonzero pad");

	args = good;
	args.memory_size = 0;
	assert_ioregion(vm, &args, EINVAL, "zero length without posted writes");
	args.flags = KVM_IOREGION_PIO;
	args.guest_paddr = SECOND_BASE;
	assert_ioregion(vm, &args, EINVAL, "zero-length PIO without posted writes");
	/* Deassign only matches bus, address and size: there is no such region. */
	args.flags = KVM_IOREGION_DEASSIGN;
	assert_ioregion(vm, &args, ENOENT, "deassign of zero length without posted writes");

	args = good;
	args.guest_paddr = -8ull;
	args.memory_size = 16;
	assert_ioregion(vm, &args, EINVAL, "range past the end of the address space");
	args.guest_paddr = -1ull;
	args.memory_size = -1ull;
	assert_ioregion(vm, &args, EINVAL, "huge range");
	/* A range may end at 2^64 exactly, as api.rst says. */
	args.guest_paddr = -16ull;
	args.memory_size = 17;
	assert_ioregion(vm, &args, EINVAL, "range that ends one byte past 2^64");
	args.memory_size = 16;
	assert_ioregion(vm, &args, 0, "range that ends at 2^64");
	args.flags = KVM_IOREGION_DEASSIGN;
	assert_ioregion(vm, &args, 0, "deassign of the range that ends at 2^64");
	args.flags = 0;
	args.guest_paddr = -17ull;
	assert_ioregion(vm, &args, 0, "range that ends just below 2^64");
	args.flags = KVM_IOREGION_DEASSIGN;
	assert_ioregion(vm, &args, 0, "deassign just below 2^64");

	/*
	 * Regions are not devices on the I/O bus, whose lengths are ints: a
	 * length of 2^31 is fine.
	 */
	args = good;
	args.memory_size = 1ull << 31;
	assert_ioregion(vm, &args, 0, "memory_size of 2^31");
	args.flags = KVM_IOREGION_DEASSIGN;
	assert_ioregion(vm, &args, 0, "deassign of memory_size 2^31");

	assert_pio_ranges(vm, &good);

	/* Only connected AF_UNIX stream sockets carry the protocol. */
	args = good;
	args.read_fd = efd;
	assert_ioregion(vm, &args, EINVAL, "eventfd as read_fd");
	args = good;
	args.write_fd = efd;
	assert_ioregion(vm, &args, EINVAL, "eventfd as write_fd");
	args = good;
	args.read_fd = memfd;
	args.write_fd = memfd;
	assert_ioregion(vm, &args, EINVAL, "regular file");
	args.read_fd = dgram[0];
	args.write_fd = dgram[0];
	assert_ioregion(vm, &args, EINVAL, "SOCK_DGRAM socket");
	args.read_fd = seqpacket[0];
	args.write_fd = seqpacket[0];
	assert_ioregion(vm, &args, EINVAL, "SOCK_SEQPACKET socket");
	args = good;
	args.write_fd = dgram[0];
	assert_ioregion(vm, &args, EINVAL, "SOCK_DGRAM socket as write_fd");
	args = good;
	args.read_fd = seqpacket[1];
	assert_ioregion(vm, &args, EINVAL, "SOCK_SEQPACKET socket as read_fd");
	args = good;
	args.read_fd = unconnected;
	assert_ioregion(vm, &args, EINVAL, "unconnected stream socket as read_fd");
	args = good;
	args.write_fd = unconnected;
	assert_ioregion(vm, &args, EINVAL, "unconnected stream socket as write_fd");
	args = good;
	args.read_fd = listening;
	args.write_fd = listening;
	assert_ioregion(vm, &args, EINVAL, "listening stream socket");
	args = good;
	args.write_fd = listening;
	assert_ioregion(vm, &args, EINVAL, "listening stream socket as write_fd");
	args = good;
	args.read_fd = tcp;
	args.write_fd = tcp;
	assert_ioregion(vm, &args, EINVAL, "TCP socket");

	/* Pipes: neither end, in either place, not even the two ends of one. */
	args = good;
	args.read_fd = p[0];
	args.write_fd = p[1];
	assert_ioregion(vm, &args, EINVAL, "the ends of one pipe");
	args = good;
	args.read_fd = p[0];
	assert_ioregion(vm, &args, EINVAL, "read end of a pipe as read_fd");
	args = good;
	args.write_fd = p[1];
	assert_ioregion(vm, &args, EINVAL, "write end of a pipe as write_fd");
	args = good;
	args.read_fd = p[1];
	assert_ioregion(vm, &args, EINVAL, "write end of a pipe as read_fd");
	args = good;
	args.write_fd = p[0];
	assert_ioregion(vm, &args, EINVAL, "read end of a pipe as write_fd");

	args = good;
	args.read_fd = bad;
	assert_ioregion(vm, &args, EBADF, "closed read_fd");
	args = good;
	args.write_fd = bad;
	assert_ioregion(vm, &args, EBADF, "closed write_fd");
	args = good;
	args.read_fd = -1;
	assert_ioregion(vm, &args, EBADF, "read_fd -1");
	args = good;
	args.read_fd = pathfd;
	assert_ioregion(vm, &args, EBADF, "O_PATH read_fd");

	/* Nothing above was registered: the good fds take the range. */
	args = good;
	assert_ioregion(vm, &args, 0, "the variant's sockets");
	args.flags = KVM_IOREGION_DEASSIGN;
	assert_ioregion(vm, &args, 0, "deassign");
	assert_ioregion(vm, &args, ENOENT, "deassign of nothing");
	args.guest_paddr = SECOND_BASE;
	args.flags |= KVM_IOREGION_PIO;
	assert_ioregion(vm, &args, second_pio() ? ENOENT : EINVAL, "PIO deassign of nothing");

	close(p[0]);
	close(p[1]);
	close(dgram[0]);
	close(dgram[1]);
	close(seqpacket[0]);
	close(seqpacket[1]);
	close(unconnected);
	close(listening);
	close(tcp);
	close(efd);
	close(memfd);
	close(pathfd);
}

/* Regions may not overlap on one bus; a zero length counts as one address. */
TEST_F(ioregionfd, overlap)
{
	static const struct {
		u64 offset;
		u64 size;
		int err;
	} cases[] = {
		{ 0x100, 0x100, EEXIST },	/* the same range */
		{ 0x80, 0x81, EEXIST },		/* the first byte */
		{ 0x1ff, 0x10, EEXIST },	/* the last byte */
		{ 0x180, 8, EEXIST },		/* inside */
		{ 0x0, 0x1000, EEXIST },	/* around */
		{ 0x100, 0, EEXIST },		/* zero length at the start */
		{ 0x1ff, 0, EEXIST },		/* zero length at the end */
		{ 0x2f8, 0x10, EEXIST },	/* around the zero-length region */
		{ 0x300, 1, EEXIST },		/* at the zero-length region */
		{ 0x300, 0, EEXIST },		/* another zero-length region there */
		{ 0xf8, 8, 0 },			/* right below */
		{ 0x200, 8, 0 },		/* right above */
		{ 0xff, 0, 0 },			/* zero length right below */
		{ 0x200, 0x100, 0 },		/* right above, up to the zero length */
		{ 0x301, 0, 0 },		/* zero length right above zero length */
	};
	struct kvm_vm *vm = self->vcpu->vm;
	struct test_dev *dev = &self->dev;
	struct kvm_ioregion args;
	char what[64];
	int b, i;

	for (b = 0; b < (second_pio() ? 2 : 1); b++) {
		const u64 base = b ? SECOND_BASE : MMIO_GPA;
		const u32 bus = b ? SECOND_BUS : 0;
		const struct region r = { .base = base + 0x100, .size = 0x100, .flags = bus };
		const struct region zl = { .base = base + 0x300, .size = 0,
					   .flags = bus | KVM_IOREGION_POSTED_WRITES };

		region_assign(vm, &r, dev);
		region_assign(vm, &zl, dev);

		for (i = 0; i < ARRAY_SIZE(cases); i++) {
			snprintf(what, sizeof(what), "%s region at +0x%lx, size 0x%lx",
				 bus_str(b), cases[i].offset, cases[i].size);
			args = (struct kvm_ioregion) {
				.guest_paddr = base + cases[i].offset,
				.memory_size = cases[i].size,
				.read_fd = dev->kvm_rfd, .write_fd = dev->kvm_wfd,
				.flags = bus | KVM_IOREGION_POSTED_WRITES,
			};
			assert_ioregion(vm, &args, cases[i].err, what);
			if (cases[i].err)
				continue;

			args.flags |= KVM_IOREGION_DEASSIGN;
			assert_ioregion(vm, &args, 0, what);
		}
	}

	if (!second_pio())
		return;

	/* The buses are apart: the PIO region's numbers are free on the MMIO bus. */
	args = (struct kvm_ioregion) {
		.guest_paddr = SECOND_BASE, .memory_size = 0x1000,
		.read_fd = dev->kvm_rfd, .write_fd = dev->kvm_wfd,
	};
	assert_ioregion(vm, &args, 0, "MMIO region at the PIO regions' numbers");
	args.flags = KVM_IOREGION_DEASSIGN | KVM_IOREGION_PIO;
	assert_ioregion(vm, &args, ENOENT, "PIO deassign of the MMIO region");
	args.flags = KVM_IOREGION_DEASSIGN;
	assert_ioregion(vm, &args, 0, "deassign of the MMIO region");
}

static int __vm_ioeventfd(struct kvm_vm *vm, u64 addr, u32 len, int fd, u32 flags)
{
	struct kvm_ioeventfd args = {
		.datamatch = flags & KVM_IOEVENTFD_FLAG_DATAMATCH ?
			     PATTERN & ioregion_size_mask(len) : 0,
		.addr = addr,
		.len = len,
		.fd = fd,
		.flags = flags,
	};

	return __vm_ioctl(vm, KVM_IOEVENTFD, &args);
}

/* Expect KVM_IOEVENTFD to fail with @err, or to succeed if @err is 0. */
static void assert_ioeventfd(struct kvm_vm *vm, u64 addr, u32 len, int fd, u32 flags, int err,
			     const char *what)
{
	int ret = __vm_ioeventfd(vm, addr, len, fd, flags);

	TEST_ASSERT(err ? ret == -1 && errno == err : !ret,
		    "%s: KVM_IOEVENTFD(addr = 0x%lx, len = %u, flags = 0x%x) returned %d, errno = %d (%s), expected %s%s",
		    what, addr, len, flags, ret, ret ? errno : 0, ret ? strerror(errno) : "none",
		    err ? "errno " : "success", err ? strerror(err) : "");
}

/* A registration tried over a region, or a region over ioeventfds. */
struct ioeventfd_case {
	u64 addr;
	u32 len;
	u32 flags;
	const char *what;
};

/*
 * ioeventfds next to regions work side by side with them, and either may be
 * registered over the other (see ioeventfd_in_region for what happens then).
 */
TEST_F(ioregionfd, ioeventfd)
{
	const struct region mmio = { .base = MMIO_GPA + 0x100, .size = 0x100, .idx = 0 };
	const struct region second = { .base = SECOND_BASE + 0x100, .size = 0x100, .idx = 1,
				       .flags = SECOND_BUS };
	const u32 bus2 = second_pio() ? KVM_IOEVENTFD_FLAG_PIO : 0;
	const struct ioeventfd_case efd_cases[] = {
		{ MMIO_GPA + 0x180, 4, 0, "ioeventfd inside" },
		{ MMIO_GPA + 0x100, 8, 0, "ioeventfd at the start" },
		{ MMIO_GPA + 0xfc, 8, 0, "ioeventfd across the start" },
		{ MMIO_GPA + 0x1fc, 8, 0, "ioeventfd across the end" },
		{ MMIO_GPA + 0x1ff, 1, KVM_IOEVENTFD_FLAG_DATAMATCH,
		  "datamatch ioeventfd at the last byte" },
		{ MMIO_GPA + 0x100, 0, 0, "zero-length ioeventfd at the start" },
		{ MMIO_GPA + 0x1ff, 0, 0, "zero-length ioeventfd at the last byte" },
		{ SECOND_BASE + 0x1fe, 2, bus2, "ioeventfd inside the second region" },
		{ SECOND_BASE + 0xfe, 4, bus2, "ioeventfd across the second region's start" },
	};
	const struct ioeventfd_case region_cases[] = {
		{ MMIO_GPA + 0x200, 0x10, 0, "region over an ioeventfd" },
		{ MMIO_GPA + 0x203, 1, 0, "region at an ioeventfd's last byte" },
		{ MMIO_GPA, 0xf9, 0, "region over an ioeventfd's first byte" },
		{ MMIO_GPA + 0x20c, 0x10, 0, "region over a zero-length ioeventfd" },
		{ MMIO_GPA + 0x210, 0, KVM_IOREGION_POSTED_WRITES,
		  "zero-length region at a zero-length ioeventfd" },
		{ MMIO_GPA + 0x202, 0, KVM_IOREGION_POSTED_WRITES,
		  "zero-length region inside an ioeventfd" },
		{ SECOND_BASE + 0xf0, 0x10, SECOND_BUS, "second region over an ioeventfd" },
	};
	struct kvm_vcpu *vcpu = self->vcpu;
	struct test_dev *dev = &self->dev;
	struct kvm_vm *vm = vcpu->vm;
	struct kvm_ioregion args;
	static struct prog p;
	int efd[5], i;

	for (i = 0; i < 5; i++) {
		efd[i] = eventfd(0, EFD_NONBLOCK);
		TEST_ASSERT(efd[i] >= 0, "eventfd() failed");
	}

	region_assign(vm, &mmio, dev);
	region_assign(vm, &second, dev);
	assert_ioeventfd(vm, MMIO_GPA + 0xf8, 8, efd[0], 0, 0, "ioeventfd right below");
	assert_ioeventfd(vm, MMIO_GPA + 0x200, 4, efd[1], 0, 0, "ioeventfd right above");
	assert_ioeventfd(vm, MMIO_GPA + 0x210, 0, efd[2], 0, 0, "zero-length ioeventfd");
	assert_ioeventfd(vm, SECOND_BASE + 0xfc, 4, efd[3], bus2, 0,
			 "ioeventfd right below the second region");
	assert_ioeventfd(vm, SECOND_BASE + 0x200, 2, efd[4], bus2, 0,
			 "ioeventfd right above the second region");

	prog_init(&p, dev);
	dev_start(dev, DEV_SERVE, 0);
	prog_add_op(&p, false, MMIO_GPA + 0xf8, 8, true, PATTERN);
	prog_access(&p, &mmio, 0, 8, true, PATTERN);
	prog_access(&p, &mmio, 0xf7, 1, true, PATTERN);
	prog_add_op(&p, false, MMIO_GPA + 0x200, 4, true, PATTERN);
	prog_add_op(&p, false, MMIO_GPA + 0x210, 2, true, PATTERN);
	prog_access(&p, &mmio, 0xf0, 8, false, 0);
	prog_add_op(&p, second_pio(), SECOND_BASE + 0xfc, 4, true, PATTERN);
	prog_access(&p, &second, 0, 4, true, PATTERN);
	prog_access(&p, &second, 0xf6, 2, true, PATTERN);
	prog_add_op(&p, second_pio(), SECOND_BASE + 0x200, 2, true, PATTERN);
	prog_access(&p, &second, 0xf4, 4, false, 0);
	run_prog(vcpu, &p);
	check_cmds(dev, &p);
	for (i = 0; i < 5; i++)
		TEST_ASSERT(eventfd_count(efd[i]) == 1, "ioeventfd %d was not signalled once", i);

	/* An ioeventfd may lie inside or across a region... */
	for (i = 0; i < ARRAY_SIZE(efd_cases); i++) {
		const struct ioeventfd_case *c = &efd_cases[i];

		assert_ioeventfd(vm, c->addr, c->len, efd[0], c->flags, 0, c->what);
		assert_ioeventfd(vm, c->addr, c->len, efd[0],
				 c->flags | KVM_IOEVENTFD_FLAG_DEASSIGN, 0, c->what);
	}

	/* ...and a region over ioeventfds, even at exactly their addresses. */
	for (i = 0; i < ARRAY_SIZE(region_cases); i++) {
		const struct ioeventfd_case *c = &region_cases[i];

		args = (struct kvm_ioregion) {
			.guest_paddr = c->addr, .memory_size = c->len,
			.read_fd = dev->kvm_rfd, .write_fd = dev->kvm_wfd, .flags = c->flags,
		};
		assert_ioregion(vm, &args, 0, c->what);
		args.flags |= KVM_IOREGION_DEASSIGN;
		assert_ioregion(vm, &args, 0, c->what);
	}

	/* Neighbours and the other bus are fine. */
	args.guest_paddr = MMIO_GPA + 0x204;
	args.memory_size = 0xc;
	args.flags = 0;
	assert_ioregion(vm, &args, 0, "region between ioeventfds");
	args.flags |= KVM_IOREGION_DEASSIGN;
	assert_ioregion(vm, &args, 0, "deassign");
	if (second_pio()) {
		assert_ioeventfd(vm, SECOND_BASE + 0x180, 4, efd[0], 0, 0,
				 "MMIO ioeventfd at the PIO region's numbers");
		assert_ioeventfd(vm, SECOND_BASE + 0x180, 4, efd[0],
				 KVM_IOEVENTFD_FLAG_DEASSIGN, 0, "deassign");
	}

	/* Deassigning one leaves the range to the other. */
	assert_ioeventfd(vm, MMIO_GPA + 0x200, 4, efd[1], KVM_IOEVENTFD_FLAG_DEASSIGN, 0,
			 "deassign");
	args.guest_paddr = MMIO_GPA + 0x200;
	args.memory_size = 8;
	args.flags = 0;
	assert_ioregion(vm, &args, 0, "region where an ioeventfd was");
	region_deassign(vm, &mmio);
	assert_ioeventfd(vm, MMIO_GPA + 0x180, 4, efd[0], 0, 0, "ioeventfd where a region was");

	for (i = 0; i < 5; i++)
		close(efd[i]);
}

static void vm_ioeventfd_match(struct kvm_vm *vm, u64 addr, u32 len, int fd, u32 flags,
			       u64 datamatch)
{
	struct kvm_ioeventfd args = {
		.datamatch = datamatch, .addr = addr, .len = len, .fd = fd, .flags = flags,
	};

	vm_ioctl(vm, KVM_IOEVENTFD, &args);
}

/* The notify register of a virtio-pci modern device, and of a legacy one. */
#define MODERN_NOTIFY		0x40
#define LEGACY_NOTIFY		0x10

/*
 * An ioeventfd inside a region takes the writes it matches: they signal it
 * and never reach the device, which gets every other access in the region.
 * Modern virtio puts a zero-length MMIO ioeventfd on its notify address,
 * which takes writes of any size there; legacy virtio a 2-byte data-match
 * ioeventfd per queue on its queue-notify register, which is a port on x86
 * and MMIO (the PCI I/O window) elsewhere.  The guest does not read
 * the modern notify address: with EPT, a zero-length ioeventfd takes reads
 * there too.
 */
TEST_F(ioregionfd, ioeventfd_in_region)
{
	const struct region mmio = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0 };
	const struct region legacy = { .base = SECOND_BASE, .size = 0x20, .idx = 1,
				       .flags = SECOND_BUS };
	const u32 match = (second_pio() ? KVM_IOEVENTFD_FLAG_PIO : 0) |
			  KVM_IOEVENTFD_FLAG_DATAMATCH;
	struct kvm_vcpu *vcpu = self->vcpu;
	struct test_dev *dev = &self->dev;
	struct kvm_vm *vm = vcpu->vm;
	struct ioregion_stats before;
	static struct prog p;
	int efd[3], i;
	u64 n;

	for (i = 0; i < 3; i++) {
		efd[i] = eventfd(0, EFD_NONBLOCK);
		TEST_ASSERT(efd[i] >= 0, "eventfd() failed");
	}

	/* The ioeventfds come before one region and after the other. */
	vm_ioeventfd_match(vm, MMIO_GPA + MODERN_NOTIFY, 0, efd[0], 0, 0);
	region_assign(vm, &mmio, dev);
	region_assign(vm, &legacy, dev);
	vm_ioeventfd_match(vm, SECOND_BASE + LEGACY_NOTIFY, 2, efd[1], match, 0);
	vm_ioeventfd_match(vm, SECOND_BASE + LEGACY_NOTIFY, 2, efd[2], match, 3);
	for (i = 0; i < IOREGION_REGFILE_NR_REGS - 1; i++) {
		dev->regs[0].regs[i] = pattern(i);
		dev->regs[1].regs[i] = pattern(i);
	}
	prog_init(&p, dev);
	before = vcpu_ioregion_stats(vcpu);
	dev_start(dev, DEV_SERVE, 0);

	/* Modern: notify writes of the queue index, of any size, are the ioeventfd's. */
	prog_access(&p, &mmio, MODERN_NOTIFY - 8, 8, true, PATTERN);
	prog_add_op(&p, false, MMIO_GPA + MODERN_NOTIFY, 2, true, 0);
	prog_add_op(&p, false, MMIO_GPA + MODERN_NOTIFY, 2, true, 5);
	prog_add_op(&p, false, MMIO_GPA + MODERN_NOTIFY, 4, true, PATTERN);
	prog_access(&p, &mmio, MODERN_NOTIFY + 2, 2, false, 0);
	prog_access(&p, &mmio, MODERN_NOTIFY + 2, 2, true, PATTERN);
	prog_access(&p, &mmio, MODERN_NOTIFY - 2, 2, true, ~PATTERN);
	prog_add_op(&p, false, MMIO_GPA + MODERN_NOTIFY, 1, true, 7);
	prog_access(&p, &mmio, MODERN_NOTIFY + 1, 4, false, 0);
	prog_access(&p, &mmio, MODERN_NOTIFY - 8, 8, false, 0);

	/* Legacy: a 2-byte write of a queue's index is its ioeventfd's, the rest the device's. */
	prog_access(&p, &legacy, 0, 4, true, PATTERN);
	prog_add_op(&p, second_pio(), SECOND_BASE + LEGACY_NOTIFY, 2, true, 3);
	prog_add_op(&p, second_pio(), SECOND_BASE + LEGACY_NOTIFY, 2, true, 0);
	prog_access(&p, &legacy, LEGACY_NOTIFY, 2, true, 5);
	prog_access(&p, &legacy, LEGACY_NOTIFY, 2, false, 0);
	prog_access(&p, &legacy, LEGACY_NOTIFY, 1, true, 3);
	prog_access(&p, &legacy, LEGACY_NOTIFY, 4, true, 3);
	prog_access(&p, &legacy, LEGACY_NOTIFY + 2, 2, true, 3);
	prog_add_op(&p, second_pio(), SECOND_BASE + LEGACY_NOTIFY, 2, true, 3);
	prog_access(&p, &legacy, LEGACY_NOTIFY, 4, false, 0);
	prog_access(&p, &legacy, LEGACY_NOTIFY - 2, 2, false, 0);
	run_prog(vcpu, &p);
	check_cmds(dev, &p);
	assert_stats(vcpu, &before, p.nr_cmds, 0, 0);

	n = eventfd_count(efd[0]);
	TEST_ASSERT(n == 4, "The modern notify ioeventfd was signalled %lu times, expected 4", n);
	n = eventfd_count(efd[1]);
	TEST_ASSERT(n == 1, "The legacy ioeventfd of queue 0 was signalled %lu times, expected 1",
		    n);
	n = eventfd_count(efd[2]);
	TEST_ASSERT(n == 2, "The legacy ioeventfd of queue 3 was signalled %lu times, expected 2",
		    n);

	/* Without the ioeventfds, the notify writes are the device's. */
	vm_ioeventfd_match(vm, MMIO_GPA + MODERN_NOTIFY, 0, efd[0], KVM_IOEVENTFD_FLAG_DEASSIGN, 0);
	vm_ioeventfd_match(vm, SECOND_BASE + LEGACY_NOTIFY, 2, efd[2],
			   match | KVM_IOEVENTFD_FLAG_DEASSIGN, 3);
	prog_next_run(&p);
	prog_access(&p, &mmio, MODERN_NOTIFY, 2, true, 1);
	prog_access(&p, &legacy, LEGACY_NOTIFY, 2, true, 3);
	prog_add_op(&p, second_pio(), SECOND_BASE + LEGACY_NOTIFY, 2, true, 0);
	run_prog(vcpu, &p);
	check_cmds(dev, &p);
	n = eventfd_count(efd[0]) + eventfd_count(efd[2]);
	TEST_ASSERT(!n, "A deassigned ioeventfd was signalled");
	n = eventfd_count(efd[1]);
	TEST_ASSERT(n == 1, "The legacy ioeventfd of queue 0 was signalled %lu times, expected 1",
		    n);

	for (i = 0; i < 3; i++)
		close(efd[i]);
}

static int __vm_coalesced_io(struct kvm_vm *vm, u64 addr, u32 size, bool pio, bool unregister)
{
	struct kvm_coalesced_mmio_zone zone = { .addr = addr, .size = size, .pio = pio };

	return __vm_ioctl(vm, unregister ? KVM_UNREGISTER_COALESCED_MMIO :
					   KVM_REGISTER_COALESCED_MMIO, &zone);
}

static void assert_vm_ioctl(int ret, int err, const char *what)
{
	TEST_ASSERT(err ? ret == -1 && errno == err : !ret,
		    "%s returned %d, errno = %d (%s), expected %s%s", what, ret,
		    ret ? errno : 0, ret ? strerror(errno) : "none",
		    err ? "errno " : "success", err ? strerror(err) : "");
}

/* A region on @dev's sockets, @pio or MMIO, at [@addr, @addr + @size). */
static struct kvm_ioregion bus_region(const struct test_dev *dev, u64 addr, u64 size, bool pio)
{
	return (struct kvm_ioregion) {
		.guest_paddr = addr, .memory_size = size,
		.read_fd = dev->kvm_rfd, .write_fd = dev->kvm_wfd,
		.flags = pio ? KVM_IOREGION_PIO : 0,
	};
}

/*
 * A region and a coalesced MMIO or PIO zone may not overlap, whichever
 * comes first; next to each other they are fine.
 */
TEST_F(ioregionfd, coalesced_zone)
{
	struct kvm_vm *vm = self->vcpu->vm;
	struct test_dev *dev = &self->dev;
	struct kvm_ioregion args;
	int b;

	for (b = 0; b < 2; b++) {
		const bool pio = b;
		const u64 base = pio ? SECOND_BASE : MMIO_GPA;

		if (pio && (!second_pio() || !kvm_has_cap(KVM_CAP_COALESCED_PIO)))
			continue;

		/* A region over a zone. */
		assert_vm_ioctl(__vm_coalesced_io(vm, base + 0x100, 0x100, pio, false), 0,
				"KVM_REGISTER_COALESCED_MMIO");
		args = bus_region(dev, base + 0x100, 0x100, pio);
		assert_ioregion(vm, &args, EEXIST, "region at a coalesced zone");
		args = bus_region(dev, base + 0x1ff, 8, pio);
		assert_ioregion(vm, &args, EEXIST, "region over a zone's last byte");
		args = bus_region(dev, base + 0xf8, 9, pio);
		assert_ioregion(vm, &args, EEXIST, "region over a zone's first byte");
		args = bus_region(dev, base + 0x180, 4, pio);
		assert_ioregion(vm, &args, EEXIST, "region inside a zone");
		args = bus_region(dev, base + 0x100, 0, pio);
		args.flags |= KVM_IOREGION_POSTED_WRITES;
		assert_ioregion(vm, &args, EEXIST, "zero-length region at a zone");
		args = bus_region(dev, base + 0x200, 0x100, pio);
		assert_ioregion(vm, &args, 0, "region right above a zone");
		args.flags |= KVM_IOREGION_DEASSIGN;
		assert_ioregion(vm, &args, 0, "deassign");
		assert_vm_ioctl(__vm_coalesced_io(vm, base + 0x100, 0x100, pio, true), 0,
				"KVM_UNREGISTER_COALESCED_MMIO");

		/* A zone over a region. */
		args = bus_region(dev, base + 0x100, 0x100, pio);
		assert_ioregion(vm, &args, 0, "region where the zone was");
		assert_vm_ioctl(__vm_coalesced_io(vm, base + 0x100, 0x100, pio, false), EEXIST,
				"KVM_REGISTER_COALESCED_MMIO at a region");
		assert_vm_ioctl(__vm_coalesced_io(vm, base + 0x1fc, 8, pio, false), EEXIST,
				"KVM_REGISTER_COALESCED_MMIO over a region's last byte");
		assert_vm_ioctl(__vm_coalesced_io(vm, base, 0x1000, pio, false), EEXIST,
				"KVM_REGISTER_COALESCED_MMIO around a region");
		assert_vm_ioctl(__vm_coalesced_io(vm, base + 0x200, 0x10, pio, false), 0,
				"KVM_REGISTER_COALESCED_MMIO right above a region");
		assert_vm_ioctl(__vm_coalesced_io(vm, base + 0x200, 0x10, pio, true), 0,
				"KVM_UNREGISTER_COALESCED_MMIO");
		args.flags |= KVM_IOREGION_DEASSIGN;
		assert_ioregion(vm, &args, 0, "deassign");
	}
}

/*
 * The in-kernel PIT, PIC and IOAPIC are x86's.  arm64's vGIC is in
 * ioregionfd_mmio_test, as its distributor joins the bus at the first KVM_RUN.
 */
#ifdef __x86_64__
#define PIT_PORT		0x40
#define SPEAKER_PORT		0x61
#define PIC_MASTER_PORT		0x20
#define PIC_SLAVE_PORT		0xa0
#define ELCR_PORT		0x4d0
#define IOAPIC_GPA		0xfec00000ull

/* With the dummy speaker at 0x61-0x64, as QEMU has it. */
static int __vm_create_pit2(struct kvm_vm *vm)
{
	struct kvm_pit_config config = { .flags = KVM_PIT_SPEAKER_DUMMY };

	return __vm_ioctl(vm, KVM_CREATE_PIT2, &config);
}

/* No region may cover the in-kernel PIC or IOAPIC that vm_create() made. */
TEST_F(ioregionfd, region_over_irqchip)
{
	static const struct {
		u64 addr;
		u64 size;
		bool pio;
		const char *what;
	} irqchip[] = {
		{ PIC_MASTER_PORT, 2, true, "PIO region at the master PIC" },
		{ PIC_MASTER_PORT + 1, 1, true, "PIO region at the master PIC's second port" },
		{ PIC_SLAVE_PORT - 8, 9, true, "PIO region over the slave PIC's first port" },
		{ ELCR_PORT, 2, true, "PIO region at the ELCR" },
		{ IOAPIC_GPA, 0x100, false, "MMIO region at the IOAPIC" },
		{ IOAPIC_GPA + 0xf0, 0x100, false, "MMIO region over the IOAPIC's end" },
		{ IOAPIC_GPA - 4, 8, false, "MMIO region over the IOAPIC's start" },
	};
	struct kvm_vm *vm = self->vcpu->vm;
	struct test_dev *dev = &self->dev;
	struct kvm_ioregion args;
	int i;

	for (i = 0; i < ARRAY_SIZE(irqchip); i++) {
		args = bus_region(dev, irqchip[i].addr, irqchip[i].size, irqchip[i].pio);
		assert_ioregion(vm, &args, EEXIST, irqchip[i].what);
	}
	args = bus_region(dev, IOAPIC_GPA + 0x100, 0x100, false);
	assert_ioregion(vm, &args, 0, "MMIO region right above the IOAPIC");
	args.flags |= KVM_IOREGION_DEASSIGN;
	assert_ioregion(vm, &args, 0, "deassign");
}

/* No PIT over a region, at its counters' ports or at the speaker port. */
TEST_F(ioregionfd, pit_over_region)
{
	struct kvm_vm *vm = self->vcpu->vm;
	struct test_dev *dev = &self->dev;
	struct kvm_ioregion args;

	args = bus_region(dev, PIT_PORT, 4, true);
	assert_ioregion(vm, &args, 0, "PIO region at the PIT's ports, before the PIT");
	assert_vm_ioctl(__vm_create_pit2(vm), EEXIST, "KVM_CREATE_PIT2 over a region");
	args.flags |= KVM_IOREGION_DEASSIGN;
	assert_ioregion(vm, &args, 0, "deassign");

	args = bus_region(dev, SPEAKER_PORT, 1, true);
	assert_ioregion(vm, &args, 0, "PIO region at the speaker port, before the PIT");
	assert_vm_ioctl(__vm_create_pit2(vm), EEXIST,
			"KVM_CREATE_PIT2 over a region at the speaker port");
	args.flags |= KVM_IOREGION_DEASSIGN;
	assert_ioregion(vm, &args, 0, "deassign");

	/* With the ports free again, the PIT comes. */
	assert_vm_ioctl(__vm_create_pit2(vm), 0, "KVM_CREATE_PIT2 once the regions are gone");
}

/* No region over the PIT. */
TEST_F(ioregionfd, region_over_pit)
{
	struct kvm_vm *vm = self->vcpu->vm;
	struct test_dev *dev = &self->dev;
	struct kvm_ioregion args;

	assert_vm_ioctl(__vm_create_pit2(vm), 0, "KVM_CREATE_PIT2");
	args = bus_region(dev, PIT_PORT, 4, true);
	assert_ioregion(vm, &args, EEXIST, "PIO region at the PIT");
	args = bus_region(dev, PIT_PORT + 3, 1, true);
	assert_ioregion(vm, &args, EEXIST, "PIO region at the PIT's last port");
	args = bus_region(dev, SPEAKER_PORT, 1, true);
	assert_ioregion(vm, &args, EEXIST, "PIO region at the speaker port");
	args = bus_region(dev, PIT_PORT + 4, 0x1d, true);
	assert_ioregion(vm, &args, 0, "PIO region between the PIT and the speaker port");
	args.flags |= KVM_IOREGION_DEASSIGN;
	assert_ioregion(vm, &args, 0, "deassign");
}

/* KVM_CREATE_IRQCHIP over a region of a VM that has no irqchip yet. */
static void create_irqchip_over(const struct test_dev *dev, u64 addr, u64 size, bool pio,
				const char *what)
{
	struct kvm_vm *vm = vm_create_barebones();
	struct kvm_ioregion args = bus_region(dev, addr, size, pio);

	assert_ioregion(vm, &args, 0, what);
	assert_vm_ioctl(__vm_ioctl(vm, KVM_CREATE_IRQCHIP, NULL), EEXIST, what);
	kvm_vm_free(vm);
}

TEST_F(ioregionfd, irqchip_over_region)
{
	struct test_dev *dev = &self->dev;
	struct kvm_ioregion args;
	struct kvm_vm *vm;

	create_irqchip_over(dev, IOAPIC_GPA, 0x100, false,
			    "KVM_CREATE_IRQCHIP over a region at the IOAPIC");
	create_irqchip_over(dev, IOAPIC_GPA + 0xff, 1, false,
			    "KVM_CREATE_IRQCHIP over a region at the IOAPIC's last byte");
	create_irqchip_over(dev, PIC_MASTER_PORT, 2, true,
			    "KVM_CREATE_IRQCHIP over a region at the master PIC");
	create_irqchip_over(dev, PIC_SLAVE_PORT + 1, 1, true,
			    "KVM_CREATE_IRQCHIP over a region at the slave PIC");
	create_irqchip_over(dev, ELCR_PORT, 2, true,
			    "KVM_CREATE_IRQCHIP over a region at the ELCR");

	/* Next to the irqchip's ranges, a region does not stand in its way. */
	vm = vm_create_barebones();
	args = bus_region(dev, IOAPIC_GPA + 0x100, 0x100, false);
	assert_ioregion(vm, &args, 0, "region right above the IOAPIC");
	args = bus_region(dev, PIC_MASTER_PORT + 2, 2, true);
	assert_ioregion(vm, &args, 0, "PIO region right above the master PIC");
	assert_vm_ioctl(__vm_ioctl(vm, KVM_CREATE_IRQCHIP, NULL), 0,
			"KVM_CREATE_IRQCHIP next to regions");
	kvm_vm_free(vm);
}
#endif /* __x86_64__ */

/* ioregion_round_trips, ioregion_posted_writes and ioregion_failures count exactly. */
TEST_F(ioregionfd, stats)
{
	const struct region mmio = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0 };
	const struct region posted = { .base = SECOND_BASE, .size = REGION_SIZE, .idx = 1,
				       .flags = SECOND_BUS | KVM_IOREGION_POSTED_WRITES };
	struct kvm_vcpu *vcpu = self->vcpu;
	struct test_dev *dev = &self->dev;
	struct ioregion_stats before;
	static struct prog p;
	int i;

	region_assign(vcpu->vm, &mmio, dev);
	region_assign(vcpu->vm, &posted, dev);
	prog_init(&p, dev);
	before = vcpu_ioregion_stats(vcpu);
	dev_start(dev, DEV_HANG_UP, 8);

	for (i = 0; i < 5; i++)
		prog_access(&p, &mmio, 8 * i, 8, i & 1, PATTERN);
	run_prog(vcpu, &p);
	assert_stats(vcpu, &before, 5, 0, 0);

	prog_next_run(&p);
	for (i = 0; i < 3; i++)
		prog_access(&p, &posted, 4 * i, 4, true, PATTERN);
	run_prog(vcpu, &p);
	assert_stats(vcpu, &before, 5, 3, 0);

	prog_next_run(&p);
	prog_fail(&p, &mmio, 0, 4, false, PATTERN, EPIPE, true);
	prog_fail(&p, &posted, 0, 4, true, PATTERN, EPIPE, false);
	run_prog(vcpu, &p);
	assert_stats(vcpu, &before, 5, 3, 2);
	check_cmds(dev, &p);
}

/*
 * A VM dies while its vCPU waits for a device that never answers.  Its
 * task is SIGKILLed: the wait must end, and KVM must let go of the fds.
 */
TEST_F(ioregionfd, teardown_killed)
{
	const struct region r = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0 };
	struct test_dev *dev = &self->dev;
	struct ioregionfd_cmd cmd;
	struct pollfd pfd = { .fd = dev->rfd, .events = POLLIN };
	struct timespec start;
	static struct prog p;
	int status, ret;
	pid_t pid;

	prog_init(&p, dev);
	prog_access(&p, &r, 0, 8, false, 0);

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	TEST_ASSERT(pid >= 0, "fork() failed, errno = %d", errno);
	if (!pid) {
		struct kvm_vcpu *vcpu;
		struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_code);

		virt_map(vm, MMIO_GPA, MMIO_GPA, MMIO_NR_PAGES);
		region_assign(vm, &r, dev);
		prog_load(vm, &p);
		vcpu_run(vcpu);
		_exit(1);
	}

	TEST_ASSERT(poll(&pfd, 1, 10000) == 1, "The child's command never came");
	ret = ioregion_device_recv_cmd(dev->rfd, &cmd);
	TEST_ASSERT(!ret && !memcmp(&cmd, &p.cmds[0].cmd, sizeof(cmd)),
		    "Bad command from the child, error %d", ret);

	/* Let the vCPU settle in its wait for the response. */
	usleep(100000);
	TEST_ASSERT(!waitpid(pid, &status, WNOHANG), "The child exited while it should wait");
	TEST_ASSERT(!kill(pid, SIGKILL), "kill() failed, errno = %d", errno);

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!(ret = waitpid(pid, &status, WNOHANG)) && elapsed_ms(&start) < 10000)
		usleep(1000);
	TEST_ASSERT(ret == pid, "The child did not die within 10 seconds of SIGKILL");
	TEST_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		    "The child ended with status 0x%x instead of SIGKILL", status);

	/* With our ends gone too, nothing may hold the fds open. */
	ioregion_close_fds(&dev->kvm_rfd, &dev->kvm_wfd);
	pfd.events = POLLIN | POLLHUP;
	TEST_ASSERT(poll(&pfd, 1, 10000) == 1, "The dead VM still holds the fds");
	ret = ioregion_device_recv_cmd(dev->rfd, &cmd);
	TEST_ASSERT(ret == -EPIPE, "Expected end of file on the device's end, got %d", ret);
}

/* One KVM_RUN, which a signal must interrupt with an access pending. */
static void *run_once_thread(void *arg)
{
	struct worker *w = arg;
	int ret;

	ret = __vcpu_run(w->vcpu);
	TEST_ASSERT(ret == -1 && errno == EINTR &&
		    w->vcpu->run->exit_reason == KVM_EXIT_IOREGIONFD_PENDING,
		    "KVM_RUN returned %d, errno %d, exit reason %u; expected EINTR and KVM_EXIT_IOREGIONFD_PENDING",
		    ret, errno, w->vcpu->run->exit_reason);
	w->nr_pending += check_eintr_exit(w->vcpu);
	w->nr_eintr++;
	WRITE_ONCE(w->done, true);
	return NULL;
}

/*
 * A vCPU leaves KVM_RUN on a signal, its access unanswered, and its VM is
 * freed.  Another VM's vCPU, which waited for the sockets meanwhile, must
 * get them, and its own answer rather than the late one to the dead access.
 */
TEST_F_TIMEOUT(ioregionfd, teardown_abandoned, 60)
{
	const struct region r[2] = {
		{ .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0 },
		{ .base = MMIO_GPA, .size = REGION_SIZE, .idx = 1 },
	};
	struct test_dev *dev = &self->dev;
	struct kvm_vcpu *vcpus[2] = { self->vcpu };
	struct worker w[2] = {};
	struct kvm_vm *dead_vm;
	struct timespec ts;
	static struct prog p;

	install_sigusr1();
	dead_vm = vm_create_with_one_vcpu(&vcpus[1], guest_code);
	virt_map(dead_vm, MMIO_GPA, MMIO_GPA, MMIO_NR_PAGES);
	region_assign(vcpus[0]->vm, &r[0], dev);
	region_assign(dead_vm, &r[1], dev);
	dev->regs[0].regs[1] = PATTERN;
	prog_init(&p, dev);
	dev_start(dev, DEV_STALL, 0);

	/* The doomed access, which the device takes and holds. */
	prog_access(&p, &r[1], 8, 8, false, 0);
	prog_load(dead_vm, &p);
	w[1].vcpu = vcpus[1];
	TEST_ASSERT(!pthread_create(&w[1].thread, NULL, run_once_thread, &w[1]),
		    "pthread_create() failed");
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	TEST_ASSERT(!sem_timedwait(&dev->stalled, &ts), "The doomed command never came");
	pthread_kill(w[1].thread, SIGUSR1);
	worker_join(&w[1]);

	/* The other VM's access waits, as the dead access still holds the sockets. */
	prog_next_run(&p);
	prog_access(&p, &r[0], 8, 8, false, 0);
	prog_load(vcpus[0]->vm, &p);
	worker_start(&w[0], vcpus[0]);
	usleep(200000);
	TEST_ASSERT(!READ_ONCE(w[0].done) && dev_nr_cmds(dev) == 1,
		    "An access got through while another vCPU owned the sockets");

	kvm_vm_free(dead_vm);
	sem_post(&dev->release);
	worker_join(&w[0]);
	check_cmds(dev, &p);

	/* And the sockets keep working. */
	prog_next_run(&p);
	prog_access(&p, &r[0], 8, 4, true, ~PATTERN);
	prog_access(&p, &r[0], 8, 8, false, 0);
	run_prog(vcpus[0], &p);
	check_cmds(dev, &p);
}

/* Elements of each string read; each takes the device STRING_DELAY_US. */
#define STRING_COUNT		4
#define STRING_DELAY_US		30000
/* The element the device holds until the host lets it answer. */
#define STRING_STALL		1
#define STRING_POISON		0x3c

/* Where memslot_thread() adds a memslot, clear of the MMIO pages. */
#define MEMSLOT_GPA		(MMIO_GPA + SZ_1G)
#define MEMSLOT_SLOT		10

/*
 * The longest string, and a guard that a string read must leave alone.
 * Aligned so that no string crosses a page, which would split it in two
 * batches of the emulator.
 */
static u8 string_buf[STRING_COUNT * 8 + 8] __aligned(64);

/* String read i has size access_sizes[i], at the top of register i + 1. */
static u64 string_addr(int i)
{
	return SECOND_BASE + 8 * (i + 1) - access_sizes[i];
}

#ifdef __x86_64__
static void guest_read_string(u16 port, u8 size, void *buf, u64 count)
{
	switch (size) {
	case 1:
		asm volatile("cld; rep insb" : "+D"(buf), "+c"(count) : "d"(port) : "memory");
		break;
	case 2:
		asm volatile("cld; rep insw" : "+D"(buf), "+c"(count) : "d"(port) : "memory");
		break;
	case 4:
		asm volatile("cld; rep insl" : "+D"(buf), "+c"(count) : "d"(port) : "memory");
		break;
	default:
		GUEST_FAIL("Unsupported %u-byte string PIO read", size);
	}
}
#else
/*
 * What the kernel's ioread*_rep() (readsb() and friends) do without string
 * instructions: a load of the one address per element.
 */
static void guest_read_string(u64 addr, u8 size, void *buf, u64 count)
{
	u64 n, val;

	for (n = 0; n < count; n++) {
		val = guest_mmio_read(addr, size);
		guest_mmio_write((u64)buf + n * size, size, val);
	}
}
#endif

/* One string read of each size into string_buf, for the host to check. */
static void guest_string_read(void)
{
	int i;

	for (i = 0; i < nr_access_sizes(second_pio()); i++) {
		guest_read_string(string_addr(i), access_sizes[i], string_buf, STRING_COUNT);
		GUEST_SYNC(i);
	}
	GUEST_DONE();
}

/* What the guest must read for command @n: DEV_STALL answers STALE_VAL. */
static u64 string_val(u32 n)
{
	return n == STRING_STALL ? STALE_VAL : numbered_val(n);
}

/* Join @thread within @secs seconds, failing with @what rather than hanging the test. */
static void join_within(pthread_t thread, int secs, const char *what)
{
	struct timespec ts;
	int ret;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += secs;
	ret = pthread_timedjoin_np(thread, NULL, &ts);
	TEST_ASSERT(ret != ETIMEDOUT, "%s within %d seconds", what, secs);
	TEST_ASSERT(!ret, "pthread_timedjoin_np() failed");
}

static void join_timed(pthread_t thread, const char *what)
{
	join_within(thread, 10, what);
}

static void *memslot_thread(void *arg)
{
	vm_userspace_mem_region_add(arg, VM_MEM_SRC_ANONYMOUS, MEMSLOT_GPA, MEMSLOT_SLOT, 1, 0);
	return NULL;
}

/*
 * While the device holds an element of a string read, the vCPU waits for it
 * outside kvm->srcu, as it would for userspace: a memslot update must not
 * wait for the device.
 */
static void add_memslot_while_stalled(struct kvm_vm *vm, struct test_dev *dev)
{
	struct timespec ts;
	pthread_t thread;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	TEST_ASSERT(!sem_timedwait(&dev->stalled, &ts),
		    "The device never got element %d of the string read: the vCPU still waits for the answer to an earlier one",
		    STRING_STALL);
	TEST_ASSERT(!pthread_create(&thread, NULL, memslot_thread, vm), "pthread_create() failed");
	join_within(thread, 5,
		    "KVM_SET_USER_MEMORY_REGION waited for the device: it did not return");
	sem_post(&dev->release);
}

/* The guest must have got exactly the answers to string read @i, in order. */
static void check_string(struct kvm_vm *vm, int i)
{
	const u8 *buf = addr_gva2hva(vm, (vm_vaddr_t)string_buf);
	u8 size = access_sizes[i];
	u64 got, want;
	int n;

	for (n = 0; n < STRING_COUNT; n++) {
		got = 0;
		memcpy(&got, buf + n * size, size);
		want = string_val(i * STRING_COUNT + n) & ioregion_size_mask(size);
		TEST_ASSERT(got == want,
			    "Element %d of the %u-byte string read is 0x%lx, the device answered 0x%lx",
			    n, size, got, want);
	}

	for (n = STRING_COUNT * size; n < sizeof(string_buf); n++)
		TEST_ASSERT(buf[n] == STRING_POISON,
			    "The %u-byte string read of %d elements wrote byte %d of the buffer",
			    size, STRING_COUNT, n);
}

/*
 * A string read of each size from the second region, which the device
 * answers slowly: rep ins on x86, a load per element elsewhere.  Each
 * element is one command, and the vCPU waits for each answer where it
 * would wait for userspace: signals, sent all along, interrupt the waits
 * with the element pending, and KVM_RUN goes on from that element, so that
 * the device gets each command once and the guest each answer in place.
 */
TEST_F_TIMEOUT(ioregionfd, string_read, 60)
{
	const struct region r = { .base = SECOND_BASE, .size = REGION_SIZE, .idx = 0,
				  .flags = SECOND_BUS };
	struct kvm_vcpu *vcpu = self->vcpu;
	struct test_dev *dev = &self->dev;
	struct kvm_vm *vm = vcpu->vm;
	struct ioregion_stats before;
	struct timespec start;
	struct worker w = {};
	static struct prog p;
	char what[64];
	int i, n;

	install_sigusr1();
	vcpu_arch_set_entry_point(vcpu, guest_string_read);
	region_assign(vm, &r, dev);
	prog_init(&p, dev);
	before = vcpu_ioregion_stats(vcpu);
	dev->numbered_reads = true;
	dev->delay_us = STRING_DELAY_US;
	dev_start(dev, DEV_STALL, STRING_STALL);

	for (i = 0; i < nr_access_sizes(second_pio()); i++) {
		memset(addr_gva2hva(vm, (vm_vaddr_t)string_buf), STRING_POISON, sizeof(string_buf));
		for (n = 0; n < STRING_COUNT; n++)
			prog_add_cmd(&p, &r, string_addr(i) - r.base, access_sizes[i], false, 0);

		worker_start(&w, vcpu);
		if (!i)
			add_memslot_while_stalled(vm, dev);

		clock_gettime(CLOCK_MONOTONIC, &start);
		while (!READ_ONCE(w.done) && elapsed_ms(&start) < 10000) {
			pthread_kill(w.thread, SIGUSR1);
			usleep(STRING_DELAY_US / 4);
		}
		snprintf(what, sizeof(what), "The vCPU did not finish the %u-byte string read",
			 access_sizes[i]);
		join_timed(w.thread, what);
		check_string(vm, i);
	}

	ksft_print_msg("%lu KVM_RUN calls returned EINTR, %lu with an element pending\n",
		       w.nr_eintr, w.nr_pending);
	TEST_ASSERT(w.nr_pending, "No signal interrupted the wait for an element");
	check_cmds(dev, &p);
	assert_stats(vcpu, &before, p.nr_cmds, 0, 0);
}

/* One KVM_RUN in a thread of its own, and how it ended. */
struct run_once {
	struct kvm_vcpu *vcpu;
	pthread_t thread;
	int ret;
	int err;
	bool done;
};

static void *run_once_fn(void *arg)
{
	struct run_once *r = arg;

	r->ret = __vcpu_run(r->vcpu);
	r->err = errno;
	WRITE_ONCE(r->done, true);
	return NULL;
}

static void run_once_start(struct run_once *r, struct kvm_vcpu *vcpu)
{
	*r = (struct run_once) { .vcpu = vcpu };
	TEST_ASSERT(!pthread_create(&r->thread, NULL, run_once_fn, r), "pthread_create() failed");
}

/* Send SIGUSR1 to @r's thread until KVM_RUN returns, which must be within 5 seconds. */
static void run_once_kick(struct run_once *r)
{
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!READ_ONCE(r->done) && elapsed_ms(&start) < 5000) {
		pthread_kill(r->thread, SIGUSR1);
		usleep(2000);
	}
	join_within(r->thread, 1, "KVM_RUN did not return on a signal");
}

/* Run @vcpu once, with signals after @delay_ms, to a KVM_RUN that returns. */
static void run_once_kicked(struct run_once *r, struct kvm_vcpu *vcpu, u32 delay_ms)
{
	run_once_start(r, vcpu);
	usleep(delay_ms * 1000);
	run_once_kick(r);
}

/* KVM_RUN ended as @r says: EINTR, with this access of @reg pending. */
static void assert_pending(const struct run_once *r, const struct region *reg, u64 offset,
			   u8 size, bool write, u64 val)
{
	u32 flags = (write ? KVM_IOREGIONFD_FAILURE_WRITE : 0) |
		    (region_pio(reg) ? KVM_IOREGIONFD_FAILURE_PIO : 0);
	struct kvm_run *run = r->vcpu->run;
	char buf[256];

	val = write ? val & ioregion_size_mask(size) : 0;
	TEST_ASSERT(r->ret == -1 && r->err == EINTR &&
		    run->exit_reason == KVM_EXIT_IOREGIONFD_PENDING &&
		    run->ioregionfd.addr == reg->base + offset && run->ioregionfd.len == size &&
		    run->ioregionfd.flags == flags && (!write || run->ioregionfd.data == val) &&
		    run->ioregionfd.user_data == USER_DATA(reg->idx) &&
		    run->ioregionfd.error == EINTR,
		    "Expected EINTR and KVM_EXIT_IOREGIONFD_PENDING (addr 0x%lx, len %u, flags 0x%x, data 0x%lx, error %u, user_data 0x%llx), KVM_RUN returned %d, errno %d, %s",
		    reg->base + offset, size, flags, val, EINTR, USER_DATA(reg->idx), r->ret,
		    r->ret ? r->err : 0, describe_exit(r->vcpu, buf, sizeof(buf)));
}

static void wait_stalled(struct test_dev *dev, const char *what)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	TEST_ASSERT(!sem_timedwait(&dev->stalled, &ts), "%s never reached the device", what);
}

static void assert_nr_cmds(struct test_dev *dev, u32 want, const char *when)
{
	u32 nr = dev_nr_cmds(dev);

	TEST_ASSERT(nr == want, "%s: the device got %u commands, expected %u", when, nr, want);
}

/*
 * The device answers each access with one byte, then the rest only when the
 * host lets it.  A signal meanwhile makes KVM_RUN return EINTR with
 * KVM_EXIT_IOREGIONFD_PENDING describing the access, as often as it comes;
 * once the device answers, the next KVM_RUN finishes the access, with the
 * byte already received, and sends no command twice.
 */
TEST_F_TIMEOUT(ioregionfd, signal_pending, 120)
{
	const struct region mmio = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0 };
	const struct region second = { .base = SECOND_BASE, .size = REGION_SIZE, .idx = 1,
				       .flags = SECOND_BUS };
	static const struct {
		bool second;
		u64 offset;
		u8 size;
		bool write;
	} ops[] = {
		{ false, 8, 8, false },
		{ false, 0x14, 4, true },
		{ true, 6, 2, false },
		{ true, 0x10, 4, true },
		{ false, 0x14, 4, false },
	};
	struct kvm_vcpu *vcpu = self->vcpu;
	struct test_dev *dev = &self->dev;
	static struct prog p;
	struct run_once r;
	char what[64];
	int i, n;

	install_sigusr1();
	region_assign(vcpu->vm, &mmio, dev);
	region_assign(vcpu->vm, &second, dev);
	dev->regs[0].regs[1] = PATTERN;
	dev->regs[1].regs[0] = ~PATTERN;
	prog_init(&p, dev);
	for (i = 0; i < ARRAY_SIZE(ops); i++)
		prog_access(&p, ops[i].second ? &second : &mmio, ops[i].offset, ops[i].size,
			    ops[i].write, pattern(i));
	prog_load(vcpu->vm, &p);
	dev->fault_all = true;
	dev_start(dev, DEV_PARTIAL, 0);

	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		const struct region *reg = ops[i].second ? &second : &mmio;

		/* This KVM_RUN finishes access i - 1 and starts access i. */
		run_once_start(&r, vcpu);
		snprintf(what, sizeof(what), "Access %d", i);
		wait_stalled(dev, what);
		usleep(20000);
		run_once_kick(&r);
		assert_pending(&r, reg, ops[i].offset, ops[i].size, ops[i].write, pattern(i));
		assert_nr_cmds(dev, i + 1, what);

		/* Again and again, while the device still holds the rest. */
		for (n = 0; n < 3; n++) {
			run_once_kicked(&r, vcpu, 20);
			assert_pending(&r, reg, ops[i].offset, ops[i].size, ops[i].write,
				       pattern(i));
		}
		assert_nr_cmds(dev, i + 1, what);
		sem_post(&dev->release);
	}

	run_vcpu(vcpu);
	expect_sync(vcpu);
	check_cmds(dev, &p);
}

/* Read the vCPU's registers, as userspace does to save a drained vCPU. */
static void vcpu_save_regs(struct kvm_vcpu *vcpu)
{
#ifdef __x86_64__
	struct kvm_regs regs;

	vcpu_regs_get(vcpu, &regs);
#else
	u64 pc;

	vcpu_get_reg(vcpu, ARM64_CORE_REG(regs.pc), &pc);
#endif
}

/*
 * To save vCPU state, userspace drains a pending access with immediate_exit:
 * KVM_RUN waits for the device, signals still interrupt it, and once the
 * access is done it returns EINTR without entering the guest and without
 * KVM_EXIT_IOREGIONFD_PENDING.
 */
TEST_F(ioregionfd, drain_immediate_exit)
{
	const struct region mmio = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0 };
	struct kvm_vcpu *vcpu = self->vcpu;
	struct kvm_run *run = vcpu->run;
	struct test_dev *dev = &self->dev;
	static struct prog p;
	struct run_once r;
	int i;

	install_sigusr1();
	region_assign(vcpu->vm, &mmio, dev);
	dev->regs[0].regs[1] = PATTERN;
	prog_init(&p, dev);
	prog_access(&p, &mmio, 8, 8, false, 0);
	prog_access(&p, &mmio, 0x10, 8, true, ~PATTERN);
	prog_load(vcpu->vm, &p);
	dev_start(dev, DEV_PARTIAL, 0);

	run_once_start(&r, vcpu);
	wait_stalled(dev, "The read");
	run_once_kick(&r);
	assert_pending(&r, &mmio, 8, 8, false, 0);

	/* The device still holds the answer: only a signal ends the drain. */
	run->immediate_exit = 1;
	run_once_kicked(&r, vcpu, 100);
	assert_pending(&r, &mmio, 8, 8, false, 0);

	/* With the answer in, the drain ends by itself, and the guest stays out. */
	sem_post(&dev->release);
	for (i = 0; i < 2; i++) {
		run_once_start(&r, vcpu);
		join_within(r.thread, 5, "KVM_RUN with immediate_exit did not return");
		TEST_ASSERT(r.ret == -1 && r.err == EINTR &&
			    run->exit_reason != KVM_EXIT_IOREGIONFD_PENDING,
			    "Drain %d: KVM_RUN with immediate_exit returned %d, errno %d, exit reason %u; expected EINTR and no access pending",
			    i, r.ret, r.ret ? r.err : 0, run->exit_reason);
		assert_nr_cmds(dev, 1, "After the drain");
	}
	vcpu_save_regs(vcpu);

	run->immediate_exit = 0;
	run_vcpu(vcpu);
	expect_sync(vcpu);
	check_cmds(dev, &p);
}

/* What a thread that makes VM ioctls while a vCPU waits works on. */
struct vm_ioctl_args {
	struct kvm_vm *vm;
	struct test_dev *dev;
	const struct region *region;
};

static void *vm_ioctls_thread(void *arg)
{
	struct vm_ioctl_args *a = arg;
	struct kvm_vm *vm = a->vm;
	struct test_dev *dev = a->dev;
	const struct region other = { .base = MMIO_GPA + 2 * SZ_4K, .size = REGION_SIZE,
				      .idx = 1 };
	int efd = eventfd(0, EFD_NONBLOCK);

	TEST_ASSERT(efd >= 0, "eventfd() failed");
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, MEMSLOT_GPA, MEMSLOT_SLOT, 1, 0);
	vm_ioeventfd_match(vm, MMIO_GPA + 0x40, 4, efd, 0, 0);
	vm_ioeventfd_match(vm, MMIO_GPA + 0x40, 4, efd, KVM_IOEVENTFD_FLAG_DEASSIGN, 0);
	region_assign(vm, &other, dev);
	region_deassign(vm, &other);
	close(efd);
	return NULL;
}

/*
 * While the device holds an access, KVM_SET_USER_MEMORY_REGION, KVM_IOEVENTFD
 * and KVM_SET_IOREGION on the VM return without waiting for it, both while
 * the vCPU waits in KVM_RUN and while it is out with the access pending.
 */
TEST_F(ioregionfd, vm_ioctls_while_stalled)
{
	const struct region mmio = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0 };
	struct kvm_vcpu *vcpu = self->vcpu;
	struct test_dev *dev = &self->dev;
	struct vm_ioctl_args args = { .vm = vcpu->vm, .dev = dev };
	static struct prog p;
	struct run_once r;
	pthread_t thread;

	install_sigusr1();
	region_assign(vcpu->vm, &mmio, dev);
	prog_init(&p, dev);
	prog_add_cmd(&p, &mmio, 8, 8, false, 0);
	prog_add_op(&p, false, MMIO_GPA + 8, 8, false, STALE_VAL);
	prog_load(vcpu->vm, &p);
	dev_start(dev, DEV_STALL, 0);

	run_once_start(&r, vcpu);
	wait_stalled(dev, "The read");
	usleep(20000);
	TEST_ASSERT(!pthread_create(&thread, NULL, vm_ioctls_thread, &args),
		    "pthread_create() failed");
	join_within(thread, 5,
		    "VM ioctls waited for the device while the vCPU did: they did not return");
	TEST_ASSERT(!READ_ONCE(r.done), "The vCPU left KVM_RUN without the device's answer");

	/* The same with the vCPU out of KVM_RUN, the access pending. */
	run_once_kick(&r);
	assert_pending(&r, &mmio, 8, 8, false, 0);
	vm_mem_region_delete(vcpu->vm, MEMSLOT_SLOT);
	TEST_ASSERT(!pthread_create(&thread, NULL, vm_ioctls_thread, &args),
		    "pthread_create() failed");
	join_within(thread, 5, "VM ioctls waited for the device: they did not return");

	sem_post(&dev->release);
	run_vcpu(vcpu);
	expect_sync(vcpu);
	check_cmds(dev, &p);
}

static void *deassign_thread(void *arg)
{
	struct vm_ioctl_args *a = arg;

	region_deassign(a->vm, a->region);
	return NULL;
}

/* Run @vcpu, kicked with signals, until KVM_RUN returns with an access pending. */
static void run_until_pending(struct run_once *r, struct kvm_vcpu *vcpu)
{
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		run_once_kicked(r, vcpu, 100);
	} while (r->ret == -1 && r->err == EINTR && vcpu->run->exit_reason == KVM_EXIT_INTR &&
		 elapsed_ms(&start) < 10000);
}

/*
 * Two VMs share the sockets: VM A's access holds them, and VM B's access to
 * its own region waits to claim them, in KVM_RUN or, if @interrupt, out of it
 * on a signal with the access pending.  VM B's region is deassigned
 * meanwhile: its access, which sent no command, goes to userspace as
 * KVM_EXIT_MMIO, and the device never gets a command for that region.
 */
static void deassign_waiting(struct kvm_vcpu *vcpu_a, struct test_dev *dev, bool interrupt)
{
	const struct region ra = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0 };
	const struct region rb = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 1 };
	struct vm_ioctl_args args = { .dev = dev, .region = &rb };
	struct worker wa = {};
	struct kvm_vcpu *vcpu_b;
	static struct prog pa, pb;
	struct kvm_vm *vm_b;
	struct run_once r;
	pthread_t thread;
	int first = 0;

	install_sigusr1();
	vm_b = vm_create_with_one_vcpu(&vcpu_b, guest_code);
	virt_map(vm_b, MMIO_GPA, MMIO_GPA, MMIO_NR_PAGES);
	region_assign(vcpu_a->vm, &ra, dev);
	region_assign(vm_b, &rb, dev);

	prog_init(&pa, dev);
	prog_add_cmd(&pa, &ra, 8, 8, false, 0);
	prog_add_op(&pa, false, MMIO_GPA + 8, 8, false, STALE_VAL);
	prog_load(vcpu_a->vm, &pa);
	prog_init(&pb, dev);
	prog_exit(&pb, false, MMIO_GPA + 8, 8, false, ~PATTERN);
	prog_exit(&pb, false, MMIO_GPA + 0x10, 4, true, PATTERN);
	prog_load(vm_b, &pb);
	dev_start(dev, DEV_STALL, 0);

	worker_start(&wa, vcpu_a);
	wait_stalled(dev, "VM A's read");

	if (interrupt) {
		run_until_pending(&r, vcpu_b);
		assert_pending(&r, &rb, 8, 8, false, 0);
	} else {
		run_once_start(&r, vcpu_b);
		usleep(500000);
		TEST_ASSERT(!READ_ONCE(r.done), "VM B's vCPU left KVM_RUN while it should wait");
	}
	assert_nr_cmds(dev, 1, "With VM A's read held");

	args.vm = vm_b;
	TEST_ASSERT(!pthread_create(&thread, NULL, deassign_thread, &args),
		    "pthread_create() failed");
	join_within(thread, 5, "KVM_SET_IOREGION(DEASSIGN) did not return with the device stalled");

	sem_post(&dev->release);
	join_timed(wa.thread, "VM A's vCPU did not finish its read");

	if (!interrupt) {
		/* VM B's KVM_RUN returns with the read as an ordinary exit. */
		join_within(r.thread, 10, "VM B's vCPU did not leave KVM_RUN");
		TEST_ASSERT(!r.ret, "VM B's KVM_RUN returned %d, errno %d", r.ret, r.err);
		check_exit(vcpu_b, &pb.exits[0]);
		first = 1;
	}
	run_loaded(vcpu_b, &pb, first);
	check_cmds(dev, &pa);
	kvm_vm_free(vm_b);
}

TEST_F_TIMEOUT(ioregionfd, deassign_waiting, 60)
{
	deassign_waiting(self->vcpu, &self->dev, false);
}

TEST_F_TIMEOUT(ioregionfd, deassign_interrupted, 60)
{
	deassign_waiting(self->vcpu, &self->dev, true);
}

/*
 * Posted writes to a device that reads nothing, with the smallest send
 * buffer, soon fill KVM's socket, and the vCPU waits to send the next one.
 * Make it so for @vm's region @r, and load the writes.
 */
static void fill_socket_prog(struct kvm_vm *vm, const struct region *r, struct test_dev *dev,
			     struct prog *p)
{
	int sndbuf = 0, i;

	TEST_ASSERT(!setsockopt(dev->kvm_wfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)),
		    "setsockopt(SO_SNDBUF) failed, errno = %d", errno);
	region_assign(vm, r, dev);
	prog_init(p, dev);
	for (i = 0; i < MAX_OPS; i++)
		prog_access(p, r, 8 * (i % (IOREGION_REGFILE_NR_REGS - 1)), 8, true, pattern(i));
	prog_load(vm, p);
}

static int queued_cmds(struct test_dev *dev)
{
	int queued;

	TEST_ASSERT(!ioctl(dev->rfd, FIONREAD, &queued), "FIONREAD failed, errno = %d", errno);
	TEST_ASSERT(queued % sizeof(struct ioregionfd_cmd) == 0,
		    "%d bytes queued for the device: a torn command", queued);
	return queued / sizeof(struct ioregionfd_cmd);
}

/*
 * A vCPU waits to send a command into a full socket: a signal makes KVM_RUN
 * return EINTR with the write pending and unsent, and once the device reads,
 * every write arrives, in order and once.
 */
TEST_F_TIMEOUT(ioregionfd, blocked_send, 60)
{
	const struct region r = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0,
				  .flags = KVM_IOREGION_POSTED_WRITES };
	struct kvm_vcpu *vcpu = self->vcpu;
	struct kvm_run *run = vcpu->run;
	struct test_dev *dev = &self->dev;
	static struct prog p;
	struct run_once ro;
	int n, i;
	u64 addr;

	install_sigusr1();
	fill_socket_prog(vcpu->vm, &r, dev, &p);

	run_once_start(&ro, vcpu);
	usleep(300000);
	TEST_ASSERT(!READ_ONCE(ro.done),
		    "The vCPU did not wait for room in the socket (%d commands queued)",
		    queued_cmds(dev));
	n = queued_cmds(dev);
	TEST_ASSERT(n > 0 && n < MAX_OPS, "%d commands queued for the device, expected 1 to %d",
		    n, MAX_OPS - 1);

	for (i = 0; i < 3; i++) {
		if (i)
			run_once_kicked(&ro, vcpu, 50);
		else
			run_once_kick(&ro);
		addr = r.base + p.cmds[n].cmd.offset;
		assert_pending(&ro, &r, addr - r.base, 8, true, p.cmds[n].cmd.data);
		TEST_ASSERT(queued_cmds(dev) == n, "A command went out while the vCPU was away");
	}
	TEST_ASSERT(run->exit_reason == KVM_EXIT_IOREGIONFD_PENDING, "Test bug");

	dev_start(dev, DEV_SERVE, 0);
	run_vcpu(vcpu);
	expect_sync(vcpu);
	check_cmds(dev, &p);
}

/* The same vCPU, waiting to send, dies promptly on SIGKILL. */
TEST_F(ioregionfd, teardown_killed_sending)
{
	const struct region r = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0,
				  .flags = KVM_IOREGION_POSTED_WRITES };
	struct test_dev *dev = &self->dev;
	struct timespec start;
	static struct prog p;
	int status, ret;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	TEST_ASSERT(pid >= 0, "fork() failed, errno = %d", errno);
	if (!pid) {
		struct kvm_vcpu *vcpu;
		struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, guest_code);

		virt_map(vm, MMIO_GPA, MMIO_GPA, MMIO_NR_PAGES);
		fill_socket_prog(vm, &r, dev, &p);
		vcpu_run(vcpu);
		_exit(1);
	}

	/* Wait for the queue to stop growing: the vCPU waits for room. */
	clock_gettime(CLOCK_MONOTONIC, &start);
	do {
		ret = queued_cmds(dev);
		usleep(200000);
	} while ((!ret || queued_cmds(dev) != ret) && elapsed_ms(&start) < 10000);
	TEST_ASSERT(!waitpid(pid, &status, WNOHANG), "The child exited while it should wait");
	TEST_ASSERT(!kill(pid, SIGKILL), "kill() failed, errno = %d", errno);

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!(ret = waitpid(pid, &status, WNOHANG)) && elapsed_ms(&start) < 10000)
		usleep(1000);
	TEST_ASSERT(ret == pid, "The child did not die within 10 seconds of SIGKILL");
	TEST_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		    "The child ended with status 0x%x instead of SIGKILL", status);
}

int main(int argc, char *argv[])
{
	struct sigaction sa = { .sa_handler = sigpipe_handler };

	TEST_REQUIRE(kvm_has_cap(KVM_CAP_IOREGIONFD));

	/* KVM sends with MSG_NOSIGNAL: count any SIGPIPE, which is a failure. */
	sigemptyset(&sa.sa_mask);
	TEST_ASSERT(!sigaction(SIGPIPE, &sa, NULL), "sigaction() failed, errno = %d", errno);

	return test_harness_run(argc, argv);
}
