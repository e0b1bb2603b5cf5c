// SPDX-License-Identifier: GPL-2.0-only
/*
 * Stress of ioregionfd: device processes are killed, answer garbage or
 * are abandoned in the middle of transactions, also in the middle of
 * string PIO and of 16-byte SSE accesses, while signals interrupt KVM_RUN
 * and VMM processes are torn down.
 *
 * Built for x86_64 and aarch64.  arm64 has no port I/O: there every
 * register file and posted doorbell is an MMIO one, and the accesses of
 * its memcpy_toio() and memcpy_fromio() take the place of string PIO and
 * SSE.
 *
 * Each case stops after KVM_STRESS_SECONDS (default 8, at most 240) or a
 * fixed number of rounds, whichever comes first, but not before it tried
 * every kind of failure once.  KVM_STRESS_SEED sets the seed of the random
 * choices.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <asm/barrier.h>
#include <linux/align.h>
#include <linux/ioregion.h>
#include <linux/sizes.h>

#include "eventfd_stress.h"
#include "guest_io.h"
#include "ioregion_device.h"
#include "kvm_test_harness.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

static void nop_handler(int sig)
{
}

/*
 * KVM sends to a device whose peer is gone with MSG_NOSIGNAL: no SIGPIPE
 * may ever reach a vCPU thread.  The device processes write with plain
 * write() and take theirs in this handler too, harmlessly.
 */
static __thread bool vcpu_thread;
static u64 vcpu_sigpipes;

static void sigpipe_handler(int sig)
{
	if (vcpu_thread)
		__atomic_add_fetch(&vcpu_sigpipes, 1, __ATOMIC_RELAXED);
}

static void install_sigpipe(void)
{
	struct sigaction sa = { .sa_handler = sigpipe_handler, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	TEST_ASSERT(!sigaction(SIGPIPE, &sa, NULL), "sigaction() failed, errno = %d", errno);
}

static void check_no_sigpipe(const char *name)
{
	u64 n = __atomic_load_n(&vcpu_sigpipes, __ATOMIC_RELAXED);

	TEST_ASSERT(!n, "%s: %lu SIGPIPEs reached vCPU threads", name, n);
}

/* A signal that interrupts KVM_RUN: no SA_RESTART. */
static void install_sigusr1(void)
{
	struct sigaction sa = { .sa_handler = nop_handler };

	sigemptyset(&sa.sa_mask);
	TEST_ASSERT(!sigaction(SIGUSR1, &sa, NULL), "sigaction() failed, errno = %d", errno);
}

/* Wait for @pid to end; a process that takes longer than PROMPT_MS is hung. */
static int reap(pid_t pid, const char *what)
{
	u64 deadline = now_ms() + PROMPT_MS;
	int status, ret;

	for (;;) {
		ret = waitpid(pid, &status, WNOHANG);
		if (ret)
			break;
		TEST_ASSERT(now_ms() < deadline, "%s (pid %d) did not end within %d s: hung task?",
			    what, pid, PROMPT_MS / 1000);
		usleep(1000);
	}
	TEST_ASSERT(ret == pid, "waitpid() failed, errno = %d", errno);
	return status;
}

static void wait_flag(bool *flag, const char *what)
{
	u64 deadline = now_ms() + PROMPT_MS;

	/* Acquire: pairs with the release by the process that sets the flag. */
	while (!smp_load_acquire(flag)) {
		TEST_ASSERT(now_ms() < deadline, "%s within %d s", what, PROMPT_MS / 1000);
		usleep(200);
	}
}

/*
 * ioregionfd.  vCPU i has an MMIO and a PIO register file, and all share a
 * PIO doorbell with posted writes; outside x86 the second register file and
 * the doorbell are MMIO too.  The register files live in shared memory
 * and survive the device processes; userspace emulates the accesses that a
 * device fails, with the same register files.  So the guest always reads
 * back what it wrote, whoever served the access.  A region's user_data names
 * the device generation that serves it, and the region.
 */
#define IOR_SIZE		0x40
#define IOR_STRIDE		0x100
#define IOR_DOORBELL		(2 * NR_VCPUS)
#define NR_IOR_REGIONS		(IOR_DOORBELL + 1)
#ifdef __x86_64__
#define IOR_DOORBELL_ADDR	(PIO_BASE + 0x800)
#define IOR_BUS2_BASE		PIO_BASE
#define IOR_BUS2_FLAGS		KVM_IOREGION_PIO
#else
/* Past the first register files, in the same page. */
#define IOR_DOORBELL_ADDR	(MMIO_GPA + 0xf00)
#define IOR_BUS2_BASE		(MMIO_GPA + 0x800)
#define IOR_BUS2_FLAGS		0
#endif
#define IOR_USER_DATA_MAGIC	0x10f0000000000000ull
#define IOR_USER_DATA(gen, r)	(IOR_USER_DATA_MAGIC | (u64)(gen) << 8 | (r))
#define IOR_MAX_GENS		200
#define IOR_MAX_ITERS		1000000000ull

struct ior_region {
	u64 base;
	u64 size;
	u32 flags;
	u32 vcpu;
};

static struct ior_region ior_region(u32 r)
{
	if (r == IOR_DOORBELL)
		return (struct ior_region) {
			.base = IOR_DOORBELL_ADDR, .size = 4,
			.flags = IOR_BUS2_FLAGS | KVM_IOREGION_POSTED_WRITES,
		};
	if (r < NR_VCPUS)
		return (struct ior_region) {
			.base = MMIO_GPA + r * IOR_STRIDE, .size = IOR_SIZE, .vcpu = r,
		};
	return (struct ior_region) {
		.base = IOR_BUS2_BASE + (r - NR_VCPUS) * IOR_STRIDE, .size = IOR_SIZE,
		.flags = IOR_BUS2_FLAGS, .vcpu = r - NR_VCPUS,
	};
}

static u32 ior_ud_gen(u64 user_data)
{
	return user_data >> 8;
}

static u32 ior_ud_region(u64 user_data)
{
	return user_data & 0xff;
}

static const u8 ior_sizes[] = { 1, 2, 4, 8 };

static u64 ior_iters[NR_VCPUS];
static u64 ior_doorbells[NR_VCPUS];
static bool ior_stop;
static u32 ior_seed;

/* While nonzero, only ring the doorbell; each vCPU says it saw it. */
static u32 ior_posted_gen;
static u32 ior_posted_seen[NR_VCPUS];

/* Write a random value at a random place of a register file and read it back. */
static void guest_ior_access(struct guest_random_state *rng, u32 idx, u32 r, u64 n)
{
	struct ior_region reg = ior_region(r);
	bool pio = reg.flags & KVM_IOREGION_PIO;
	u32 x = guest_random_u32(rng), size = ior_sizes[x % (pio ? 3 : 4)];
	u64 addr = reg.base + x / 4 % (IOR_SIZE / 8) * 8 + x / 64 % (8 / size) * size;
	u64 val = guest_random_u64(rng) & ioregion_size_mask(size), got;

	if (pio) {
		guest_pio_write(addr, size, val);
		got = guest_pio_read(addr, size);
	} else {
		guest_mmio_write(addr, size, val);
		got = guest_mmio_read(addr, size);
	}
	__GUEST_ASSERT(got == val,
		       "vCPU %u, iteration %lu: %u-byte %s read at 0x%lx returned 0x%lx, wrote 0x%lx",
		       idx, n, size, pio ? "PIO" : "MMIO", addr, got, val);
}

static void guest_ior_doorbell(u32 idx)
{
	struct ior_region reg = ior_region(IOR_DOORBELL);

	if (reg.flags & KVM_IOREGION_PIO)
		guest_pio_write(reg.base, 4, idx);
	else
		guest_mmio_write(reg.base, 4, idx);
}

static void guest_ioregion(u32 idx)
{
	struct guest_random_state rng = new_rng(ior_seed + idx);
	u32 posted;
	u64 n;

	for (n = 0; n < IOR_MAX_ITERS && !READ_ONCE(ior_stop); n++) {
		posted = READ_ONCE(ior_posted_gen);
		WRITE_ONCE(ior_posted_seen[idx], posted);
		if (!posted) {
			guest_ior_access(&rng, idx, idx, n);
			guest_ior_access(&rng, idx, NR_VCPUS + idx, n);
		}
		if (posted || !rand_below(&rng, 4)) {
			guest_ior_doorbell(idx);
			WRITE_ONCE(ior_doorbells[idx], ior_doorbells[idx] + 1);
		}
		WRITE_ONCE(ior_iters[idx], n + 1);
	}
	GUEST_DONE();
}

/* How a device generation fails. */
enum ior_fault {
	/* SIGKILL at a random point. */
	IOR_KILL,
	/* SIGKILL while it holds a command, unanswered. */
	IOR_KILL_HELD,
	/* SIGKILL once it stopped reading and the vCPUs wait for room to send. */
	IOR_KILL_FULL,
	/* A short response, then SIGKILL. */
	IOR_SHORT_HELD,
	/* A short response, then exit. */
	IOR_SHORT_CLOSE,
	/* 32 random bytes with nonzero pad. */
	IOR_GARBAGE,
	/* A response with extra bytes, after which no command may come. */
	IOR_LONG,
	/* Its regions are deassigned while it holds a command, which it then answers. */
	IOR_DEASSIGN_HELD,
	NR_IOR_FAULTS,
};

static const char * const ior_fault_names[NR_IOR_FAULTS] = {
	[IOR_KILL]		= "killed",
	[IOR_KILL_HELD]		= "killed holding a command",
	[IOR_KILL_FULL]		= "killed with its fds full",
	[IOR_SHORT_HELD]	= "short response, killed",
	[IOR_SHORT_CLOSE]	= "short response, exit",
	[IOR_GARBAGE]		= "random response",
	[IOR_LONG]		= "long response",
	[IOR_DEASSIGN_HELD]	= "deassigned holding a command",
};

/* Shared with the device processes. */
struct ior_shared {
	struct ioregion_regfile rf[IOR_DOORBELL];
	/* Doorbells that the devices took, per vCPU. */
	u64 doorbells[NR_VCPUS];

	/* Reset for each device.  Set by the host: fail on the next command. */
	bool armed;
	/* Set by the device: between taking a command and answering it. */
	bool busy;
	/* Failed on fault_cmd. */
	bool faulted;
	/* IOR_LONG: victim_cmd is a command that came after the long response. */
	bool victim_known;
	/* Set by the host: IOR_DEASSIGN_HELD may answer fault_cmd. */
	bool release;
	u64 cmds;
	u64 vcpu_cmds[NR_VCPUS];
	/* IOR_KILL_FULL: unread bytes when it was killed. */
	int unread;
	struct ioregionfd_cmd fault_cmd;
	struct ioregionfd_cmd victim_cmd;
	struct ioregionfd_cmd bad_cmd;
};

/* How a device process ends, other than by SIGKILL. */
enum {
	DEV_CLOSED,
	DEV_EOF,
	DEV_BAD_CMD,
	DEV_IO_ERROR,
};

struct ior_fds {
	/*
	 * The ends given to KVM_SET_IOREGION: the same socket, or split, one
	 * socketpair per direction.
	 */
	int kvm_rfd;
	int kvm_wfd;
	int dev_rfd;
	int dev_wfd;
};

struct ior_dev {
	struct ior_shared *sh;
	struct ior_fds fds;
	u32 gen;
	enum ior_fault fault;
	struct guest_random_state rng;
};

/* A command as the guest's accesses to the regions of device @gen make them. */
static bool ior_cmd_valid(const struct ioregionfd_cmd *cmd, u32 gen)
{
	u32 r = ior_ud_region(cmd->user_data);
	struct ior_region reg = ior_region(r);
	bool pio = reg.flags & KVM_IOREGION_PIO;
	int i;

	if (cmd->user_data != IOR_USER_DATA(gen, r) || r >= NR_IOR_REGIONS)
		return false;

	for (i = 0; i < sizeof(cmd->pad); i++)
		if (cmd->pad[i])
			return false;

	if (r == IOR_DOORBELL)
		return cmd->cmd == IOREGIONFD_CMD_WRITE && !cmd->flags && cmd->size == 4 &&
		       !cmd->offset && cmd->data < NR_VCPUS;

	if (cmd->flags != IOREGIONFD_CMD_RESP || cmd->size > (pio ? 4 : 8) ||
	    !memchr(ior_sizes, cmd->size, sizeof(ior_sizes)) || cmd->offset % cmd->size ||
	    cmd->offset + cmd->size > IOR_SIZE)
		return false;

	if (cmd->cmd == IOREGIONFD_CMD_READ)
		return !cmd->data;
	return cmd->cmd == IOREGIONFD_CMD_WRITE && !(cmd->data & ~ioregion_size_mask(cmd->size));
}

static bool write_all(int fd, const void *buf, size_t len)
{
	const u8 *p = buf;
	ssize_t ret;

	while (len) {
		ret = write(fd, p, len);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret <= 0)
			return false;
		p += ret;
		len -= ret;
	}
	return true;
}

static void __noreturn hold_forever(void)
{
	for (;;)
		pause();
}

/* Fail on @cmd, whose answer is @data, as planned; return whether to answer it still. */
static bool ior_dev_fault(struct ior_dev *d, const struct ioregionfd_cmd *cmd, u64 data,
			  bool *victim)
{
	struct ioregionfd_resp resp = { .data = data };
	u8 buf[2 * sizeof(resp)];
	u32 n = 0, i;

	d->sh->fault_cmd = *cmd;
	switch (d->fault) {
	case IOR_SHORT_HELD:
	case IOR_SHORT_CLOSE:
		n = 1 + rand_below(&d->rng, sizeof(resp) - 1);
		memcpy(buf, &resp, n);
		break;
	case IOR_GARBAGE:
		n = sizeof(resp);
		for (i = 0; i < n; i++)
			buf[i] = guest_random_u32(&d->rng);
		buf[8 + rand_below(&d->rng, sizeof(resp.pad))] |= 1;
		break;
	case IOR_LONG:
		/*
		 * Past the data of a next response, but short of a whole one: were
		 * the extra bytes left queued, they would garble the pad of the
		 * next response.  KVM must instead fail the read_fd as the vCPU
		 * lets go of it, before it sends another command.
		 */
		n = sizeof(resp) + 9 + rand_below(&d->rng, sizeof(resp) - 9);
		memcpy(buf, &resp, sizeof(resp));
		memset(buf + sizeof(resp), 0xff, n - sizeof(resp));
		*victim = true;
		break;
	default:
		break;
	}

	if (n && !write_all(d->fds.dev_wfd, buf, n))
		_exit(DEV_IO_ERROR);

	/* Release: the host reads fault_cmd once it sees faulted. */
	smp_store_release(&d->sh->faulted, true);
	if (d->fault == IOR_SHORT_CLOSE)
		_exit(DEV_CLOSED);
	if (d->fault == IOR_KILL_HELD || d->fault == IOR_SHORT_HELD)
		hold_forever();
	if (d->fault != IOR_DEASSIGN_HELD)
		return false;

	/* Acquire: pairs with the release by the host, once it deassigned the regions. */
	while (!smp_load_acquire(&d->sh->release))
		usleep(100);
	return true;
}

/* Stop reading until the fds are full and the vCPUs wait to send, then hold. */
static void __noreturn ior_dev_stall(struct ior_dev *d)
{
	int n = 0, last = -1, stable = 0;

	while (stable < 100) {
		usleep(1000);
		if (ioctl(d->fds.dev_rfd, FIONREAD, &n))
			_exit(DEV_IO_ERROR);
		stable = n == last ? stable + 1 : 0;
		last = n;
	}
	d->sh->unread = n;
	/* Release: the host reads unread once it sees faulted. */
	smp_store_release(&d->sh->faulted, true);
	hold_forever();
}

static void ior_dev_count(struct ior_shared *sh, const struct ioregionfd_cmd *cmd)
{
	u32 r = ior_ud_region(cmd->user_data);
	u32 idx = r == IOR_DOORBELL ? cmd->data : ior_region(r).vcpu;

	WRITE_ONCE(sh->cmds, sh->cmds + 1);
	WRITE_ONCE(sh->vcpu_cmds[idx], sh->vcpu_cmds[idx] + 1);
	if (r == IOR_DOORBELL)
		WRITE_ONCE(sh->doorbells[idx], sh->doorbells[idx] + 1);
}

/* Serve commands, now and then slowly, until the planned failure. */
static int ior_device(struct ior_dev *d)
{
	struct ior_shared *sh = d->sh;
	bool victim = false, answer;
	struct ioregionfd_cmd cmd;
	u64 data;

	for (;;) {
		if (ioregion_device_recv_cmd(d->fds.dev_rfd, &cmd))
			return DEV_EOF;

		WRITE_ONCE(sh->busy, true);
		if (!ior_cmd_valid(&cmd, d->gen)) {
			sh->bad_cmd = cmd;
			return DEV_BAD_CMD;
		}
		ior_dev_count(sh, &cmd);
		if (d->fault == IOR_KILL_FULL && READ_ONCE(sh->armed))
			ior_dev_stall(d);
		if (!(cmd.flags & IOREGIONFD_CMD_RESP)) {
			WRITE_ONCE(sh->busy, false);
			continue;
		}

		data = ioregion_regfile_access(&sh->rf[ior_ud_region(cmd.user_data)], &cmd);
		if (victim) {
			sh->victim_cmd = cmd;
			/* Release: the host reads victim_cmd once it sees victim_known. */
			smp_store_release(&sh->victim_known, true);
			victim = false;
		}

		answer = true;
		if (READ_ONCE(sh->armed) && !sh->faulted)
			answer = ior_dev_fault(d, &cmd, data, &victim);
		else if (!rand_below(&d->rng, 8))
			usleep(rand_below(&d->rng, 200));
		if (answer && ioregion_device_send_resp(d->fds.dev_wfd, data))
			return DEV_IO_ERROR;
		WRITE_ONCE(sh->busy, false);
	}
}

/* KVM_SET_IOREGION takes AF_UNIX stream sockets only; pipes are refused. */
static void ior_open_fds(struct ior_fds *f, bool split)
{
	int cmd[2], resp[2];

	if (split) {
		TEST_ASSERT(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cmd) &&
			    !socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, resp),
			    "socketpair() failed, errno = %d", errno);
		*f = (struct ior_fds) {
			.kvm_rfd = resp[0], .kvm_wfd = cmd[0],
			.dev_rfd = cmd[1], .dev_wfd = resp[1],
		};
		return;
	}

	TEST_ASSERT(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cmd),
		    "socketpair() failed, errno = %d", errno);
	*f = (struct ior_fds) {
		.kvm_rfd = cmd[0], .kvm_wfd = cmd[0],
		.dev_rfd = cmd[1], .dev_wfd = cmd[1],
	};
}

/* Close every fd from 3 up but @a and @b. */
static void keep_only_fds(int a, int b)
{
	int lo = min(a, b), hi = max(a, b);

	if (lo > 3)
		close_range(3, lo - 1, 0);
	if (hi > lo + 1)
		close_range(lo + 1, hi - 1, 0);
	close_range(hi + 1, ~0U, 0);
}

/*
 * Fork the device.  It holds no fd but its ends, so that its death is the
 * only thing that closes them, and it dies with the test.
 */
static pid_t spawn_device(struct ior_fds *fds, int (*device)(void *arg), void *arg)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	TEST_ASSERT(pid >= 0, "fork() failed, errno = %d", errno);
	if (!pid) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		keep_only_fds(fds->dev_rfd, fds->dev_wfd);
		_exit(device(arg));
	}

	ioregion_close_fds(&fds->dev_rfd, &fds->dev_wfd);
	return pid;
}

static int ior_device_fn(void *arg)
{
	return ior_device(arg);
}

static pid_t ior_spawn(struct ior_dev *d)
{
	return spawn_device(&d->fds, ior_device_fn, d);
}

static void ior_assign(struct kvm_vm *vm, const struct ior_fds *f, u32 gen)
{
	struct kvm_ioregion args;
	struct ior_region reg;
	u32 r;

	for (r = 0; r < NR_IOR_REGIONS; r++) {
		reg = ior_region(r);
		args = (struct kvm_ioregion) {
			.guest_paddr = reg.base, .memory_size = reg.size,
			.user_data = IOR_USER_DATA(gen, r),
			.read_fd = f->kvm_rfd, .write_fd = f->kvm_wfd, .flags = reg.flags,
		};
		vm_set_ioregion(vm, &args);
	}
}

static void ior_deassign(struct kvm_vm *vm)
{
	struct kvm_ioregion args;
	struct ior_region reg;
	u32 r;

	for (r = 0; r < NR_IOR_REGIONS; r++) {
		reg = ior_region(r);
		args = (struct kvm_ioregion) {
			.guest_paddr = reg.base, .memory_size = reg.size,
			.read_fd = -1, .write_fd = -1, .flags = reg.flags | KVM_IOREGION_DEASSIGN,
		};
		vm_set_ioregion(vm, &args);
	}
}

static struct kvm_vm *ior_vm_create(struct kvm_vcpu **vcpus, u32 seed)
{
	struct kvm_vm *vm = vm_create_with_vcpus(NR_VCPUS, guest_ioregion, vcpus);
	int i;

	virt_map(vm, MMIO_GPA, MMIO_GPA, MMIO_NR_PAGES);
	check_ucall_clear(vm, MMIO_NR_PAGES);
	ior_seed = seed;
	sync_global_to_guest(vm, ior_seed);
	for (i = 0; i < NR_VCPUS; i++)
		vcpu_args_set(vcpus[i], 1, i);
	return vm;
}

/* The details of a KVM_EXIT_IOREGIONFD_FAILURE. */
struct ior_failure {
	u64 addr;
	u64 data;
	u64 user_data;
	u32 len;
	u32 flags;
	u32 error;
	u32 pad;
};

static const char *failure_str(const struct ior_failure *f, char *buf, size_t size)
{
	snprintf(buf, size,
		 "KVM_EXIT_IOREGIONFD_FAILURE (addr 0x%lx, len %u, flags 0x%x, data 0x%lx, user_data 0x%lx, error %u, pad %u)",
		 f->addr, f->len, f->flags, f->data, f->user_data, f->error, f->pad);
	return buf;
}

struct ior_gen {
	enum ior_fault fault;
	bool split;
	/* Of its first failure, which is the fault's. */
	u32 error;
	/* SIGKILL was sent; set before it is. */
	bool killed;
	u64 failures;
};

struct ior_vcpu {
	struct ior_stress *s;
	struct kvm_vcpu *vcpu;
	pthread_t thread;
	u32 idx;
	u64 failures;
	u64 exits;
	u64 eintr;
	/* KVM_RUN interrupted with an access pending, which the next one resumed. */
	u64 pending;
	/* Doorbells that userspace took. */
	u64 doorbells;
	/* The latest generation that failed an access, and its first such failure. */
	u32 fail_gen;
	struct ior_failure first;
	bool done;
};

struct ior_stress {
	struct kvm_vm *vm;
	struct ior_shared *sh;
	struct guest_random_state rng;
	struct ior_vcpu vcpus[NR_VCPUS];
	pthread_mutex_t lock;
	/* The latest device generation, and all of them; protected by lock. */
	u32 gen;
	struct ior_gen gens[IOR_MAX_GENS + 1];
	u64 nr_faults[NR_IOR_FAULTS];
	/* IOR_KILL hits in the middle of a command. */
	u64 busy_kills;
	u64 cmds;
	/* The regions are on a device. */
	bool assigned;
	/* ior_posted_gen and ior_posted_seen in guest memory. */
	u32 *posted_gen;
	u32 *posted_seen;
	/* IOR_KILL_FULL: bytes left unread by the devices. */
	u64 unread;
	/* A thread interrupts KVM_RUN of random vCPUs with SIGUSR1. */
	pthread_t kicker;
	u32 kicker_seed;
	bool kicker_stop;
	u64 kicks;
};

/* The region of vCPU @idx that an access lies in, or -1. */
static int ior_find(u32 idx, bool pio, u64 addr, u32 len)
{
	const u32 rs[] = { idx, NR_VCPUS + idx, IOR_DOORBELL };
	struct ior_region reg;
	int i;

	for (i = 0; i < ARRAY_SIZE(rs); i++) {
		reg = ior_region(rs[i]);
		if (!(reg.flags & KVM_IOREGION_PIO) == !pio && addr >= reg.base &&
		    addr + len <= reg.base + reg.size)
			return rs[i];
	}
	return -1;
}

/* Do what the device would have; return a read's value. */
static u64 ior_emulate(struct ior_vcpu *v, int r, bool write, u64 addr, u32 len, u64 data)
{
	struct ioregionfd_cmd cmd = {
		.cmd = write ? IOREGIONFD_CMD_WRITE : IOREGIONFD_CMD_READ,
		.size = len,
		.offset = addr - ior_region(r).base,
		.data = data,
	};

	if (r != IOR_DOORBELL)
		return ioregion_regfile_access(&v->s->sh->rf[r], &cmd);

	TEST_ASSERT(write && len == 4 && data == v->idx,
		    "vCPU %u: bad doorbell access, %s of 0x%lx, len %u", v->idx,
		    write ? "write" : "read", data, len);
	v->doorbells++;
	return 0;
}

/* An access of a region that is not assigned, between two devices. */
static void ior_plain_exit(void *arg)
{
	struct ior_vcpu *v = arg;
	struct io_access io;
	char buf[192];
	u64 val;
	int r;

	TEST_ASSERT(decode_io_exit(v->vcpu, &io), "vCPU %u: unexpected %s", v->idx,
		    describe_io_exit(v->vcpu, buf, sizeof(buf)));
	r = ior_find(v->idx, io.pio, io.addr, io.size);
	TEST_ASSERT(r >= 0, "vCPU %u: unexpected %s", v->idx,
		    describe_io_exit(v->vcpu, buf, sizeof(buf)));

	val = ior_emulate(v, r, io.write, io.addr, io.size, io.data);
	if (!io.write)
		memcpy(io.ptr, &val, io.size);
	v->exits++;
}

/*
 * A stream failure is sticky per socket, but not its errno: a socket that
 * lost its peer with commands unread reports ECONNRESET once, then EPIPE,
 * and the split layout's two sockets fail apart, so that posted writes go
 * on over the command socket after the response socket broke.  So every
 * failure has an errno that the fault allows, and the first the fault's own.
 */
static bool ior_error_ok(const struct ior_gen *g, u32 error)
{
	bool gone = error == EPIPE || error == ECONNRESET;

	switch (g->fault) {
	case IOR_GARBAGE:
	case IOR_LONG:
		return error == EPROTO || (g->killed && gone);
	case IOR_DEASSIGN_HELD:
		return false;
	default:
		/*
		 * Gone: EOF or EPIPE, or a reset if it died with commands unread;
		 * both layouts are sockets now.
		 */
		return error == EPIPE || error == ECONNRESET;
	}
}

static void ior_record_failure(struct ior_vcpu *v, const struct ior_failure *f, const char *str)
{
	u32 gen = ior_ud_gen(f->user_data);
	struct ior_stress *s = v->s;
	struct ior_gen *g;

	pthread_mutex_lock(&s->lock);
	TEST_ASSERT(gen && gen <= s->gen, "vCPU %u: %s names device %u, the latest is %u",
		    v->idx, str, gen, s->gen);
	g = &s->gens[gen];
	if (!g->error)
		g->error = f->error;
	TEST_ASSERT(ior_error_ok(g, f->error),
		    "vCPU %u: %s from device %u (%s, %s), whose first failure had error %u",
		    v->idx, str, gen, ior_fault_names[g->fault], g->split ? "split" : "one socket",
		    g->error);
	g->failures++;
	if (v->fail_gen < gen) {
		v->first = *f;
		v->fail_gen = gen;
	}
	pthread_mutex_unlock(&s->lock);
}

static struct ior_failure ior_failure_of(const struct kvm_run *run)
{
	return (struct ior_failure) {
		.addr = run->ioregionfd.addr, .data = run->ioregionfd.data,
		.user_data = run->ioregionfd.user_data, .len = run->ioregionfd.len,
		.flags = run->ioregionfd.flags, .error = run->ioregionfd.error,
		.pad = run->ioregionfd.pad,
	};
}

/*
 * KVM_RUN returned on a signal while the vCPU waited for the device: the
 * access pending must be one the guest makes, in a region of this vCPU, and
 * the next KVM_RUN resumes it.  Whether a command is sent twice shows in
 * the doorbells that the devices count, and in the register files.
 */
static void ior_pending_exit(void *arg)
{
	struct ior_vcpu *v = arg;
	struct ior_failure f = ior_failure_of(v->vcpu->run);
	const u32 known = KVM_IOREGIONFD_FAILURE_WRITE | KVM_IOREGIONFD_FAILURE_PIO;
	bool pio = f.flags & KVM_IOREGIONFD_FAILURE_PIO;
	int r = ior_find(v->idx, pio, f.addr, f.len);
	u32 gen = ior_ud_gen(f.user_data);
	char buf[256];

	failure_str(&f, buf, sizeof(buf));
	TEST_ASSERT(r >= 0 && f.user_data == IOR_USER_DATA(gen, r) && !(f.flags & ~known) &&
		    !f.pad && memchr(ior_sizes, f.len, sizeof(ior_sizes)) &&
		    f.len <= (pio ? 4 : 8) && !(f.data & ~ioregion_size_mask(f.len)) &&
		    f.error == EINTR,
		    "vCPU %u: malformed KVM_EXIT_IOREGIONFD_PENDING, as %s", v->idx, buf);
	pthread_mutex_lock(&v->s->lock);
	TEST_ASSERT(gen && gen <= v->s->gen,
		    "vCPU %u: pending access names device %u, the latest is %u", v->idx, gen,
		    v->s->gen);
	pthread_mutex_unlock(&v->s->lock);
	v->pending++;
}

/* The access must be one the guest makes, in a region of this vCPU. */
static void ior_failure_exit(void *arg)
{
	struct ior_vcpu *v = arg;
	struct kvm_run *run = v->vcpu->run;
	struct ior_failure f = ior_failure_of(run);
	const u32 known = KVM_IOREGIONFD_FAILURE_WRITE | KVM_IOREGIONFD_FAILURE_PIO;
	bool write = f.flags & KVM_IOREGIONFD_FAILURE_WRITE;
	bool pio = f.flags & KVM_IOREGIONFD_FAILURE_PIO;
	int r = ior_find(v->idx, pio, f.addr, f.len);
	char buf[256];
	u64 val;

	failure_str(&f, buf, sizeof(buf));
	TEST_ASSERT(r >= 0 && f.user_data == IOR_USER_DATA(ior_ud_gen(f.user_data), r) &&
		    !(f.flags & ~known) && !f.pad && memchr(ior_sizes, f.len, sizeof(ior_sizes)) &&
		    f.len <= (pio ? 4 : 8) && !(f.data & ~ioregion_size_mask(f.len)) &&
		    (write || !f.data),
		    "vCPU %u: malformed %s", v->idx, buf);
	ior_record_failure(v, &f, buf);

	/* Complete the access as a VMM would, a read with run->ioregionfd.data. */
	val = ior_emulate(v, r, write, f.addr, f.len, f.data);
	if (!write)
		run->ioregionfd.data = val;
	v->failures++;
}

/* What the vCPU threads of the ioregionfd cases do with each kind of exit. */
struct ior_exit_ops {
	/* KVM_RUN returned EINTR with an access left pending. */
	void (*pending)(void *v);
	void (*failure)(void *v);
	/* An access that no region took, and no ucall. */
	void (*plain)(void *v);
};

/* Run @vcpu of @v until its guest is done, handing each exit to @ops. */
static void ior_run_vcpu(struct kvm_vcpu *vcpu, u32 idx, const struct ior_exit_ops *ops, void *v,
			 u64 *eintr, bool *done)
{
	struct kvm_run *run = vcpu->run;
	struct ucall uc;
	char buf[192];
	int ret;

	vcpu_thread = true;
	for (;;) {
		ret = __vcpu_run(vcpu);
		/*
		 * A signal takes the vCPU out of KVM_RUN, also out of a wait for
		 * the device, which then leaves its access pending.
		 */
		if (ret == -1 && errno == EINTR) {
			TEST_ASSERT(run->exit_reason == KVM_EXIT_INTR ||
				    run->exit_reason == KVM_EXIT_IOREGIONFD_PENDING,
				    "vCPU %u: KVM_RUN returned EINTR with exit reason %u",
				    idx, run->exit_reason);
			if (run->exit_reason == KVM_EXIT_IOREGIONFD_PENDING)
				ops->pending(v);
			(*eintr)++;
			continue;
		}
		TEST_ASSERT(!ret, KVM_IOCTL_ERROR(KVM_RUN, ret));

		if (run->exit_reason == KVM_EXIT_IOREGIONFD_FAILURE) {
			ops->failure(v);
			continue;
		}
		if (io_exit(vcpu)) {
			ops->plain(v);
			continue;
		}

		switch (get_ucall(vcpu, &uc)) {
		case UCALL_DONE:
			WRITE_ONCE(*done, true);
			return;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
			break;
		default:
			TEST_FAIL("vCPU %u: unexpected %s", idx,
				  describe_io_exit(vcpu, buf, sizeof(buf)));
		}
	}
}

static const struct ior_exit_ops ior_exit_ops = {
	.pending = ior_pending_exit,
	.failure = ior_failure_exit,
	.plain = ior_plain_exit,
};

static void *ior_vcpu_thread(void *arg)
{
	struct ior_vcpu *v = arg;

	ior_run_vcpu(v->vcpu, v->idx, &ior_exit_ops, v, &v->eintr, &v->done);
	return NULL;
}

static bool ior_any_done(struct ior_stress *s)
{
	int i;

	for (i = 0; i < NR_VCPUS; i++)
		if (READ_ONCE(s->vcpus[i].done))
			return true;
	return false;
}

/*
 * Every vCPU must get to the new device, whose counts are in @vcpu_cmds and
 * @cmds; then let it take some more commands.
 */
static void ior_wait_device(const u64 *vcpu_cmds, const u64 *cmds, struct guest_random_state *rng,
			    u32 gen)
{
	u64 deadline = now_ms() + PROMPT_MS, more;
	u32 i;

	for (i = 0; i < NR_VCPUS; i++) {
		while (!READ_ONCE(vcpu_cmds[i])) {
			TEST_ASSERT(now_ms() < deadline,
				    "vCPU %u made no access to device %u in %d s",
				    i, gen, PROMPT_MS / 1000);
			usleep(200);
		}
	}

	more = READ_ONCE(*cmds) + rand_below(rng, 64);
	while (READ_ONCE(*cmds) < more) {
		TEST_ASSERT(now_ms() < deadline, "Device %u took only %lu commands in %d s",
			    gen, READ_ONCE(*cmds), PROMPT_MS / 1000);
		usleep(200);
	}
}

/*
 * Have the vCPUs only ring the doorbell, so that nothing waits for a response
 * and commands pile up once the device stops reading.
 */
static void ior_posted_only(struct ior_stress *s)
{
	u64 deadline = now_ms() + PROMPT_MS;
	u32 i;

	WRITE_ONCE(*s->posted_gen, s->gen);
	for (i = 0; i < NR_VCPUS; i++) {
		while (READ_ONCE(s->posted_seen[i]) != s->gen) {
			TEST_ASSERT(now_ms() < deadline,
				    "vCPU %u did not switch to doorbells in %d s",
				    i, PROMPT_MS / 1000);
			usleep(200);
		}
	}
}

/* With only doorbells to ring, every vCPU must have failed on one. */
static void ior_check_full(struct ior_stress *s)
{
	struct ior_failure f;
	char buf[256];
	int i;

	WRITE_ONCE(*s->posted_gen, 0);
	for (i = 0; i < NR_VCPUS; i++) {
		pthread_mutex_lock(&s->lock);
		f = s->vcpus[i].first;
		pthread_mutex_unlock(&s->lock);
		TEST_ASSERT(ior_ud_region(f.user_data) == IOR_DOORBELL &&
			    (f.flags & KVM_IOREGIONFD_FAILURE_WRITE),
			    "vCPU %d rang only the doorbell, but its first failure is %s",
			    i, failure_str(&f, buf, sizeof(buf)));
	}
}

/* Make the device fail as planned, where possible in the middle of a transaction. */
static void ior_strike(struct ior_stress *s, pid_t pid, enum ior_fault fault)
{
	struct ior_shared *sh = s->sh;

	if (fault == IOR_KILL) {
		usleep(rand_below(&s->rng, 2000));
		s->busy_kills += READ_ONCE(sh->busy);
		TEST_ASSERT(!kill(pid, SIGKILL), "kill() failed, errno = %d", errno);
		return;
	}

	if (fault == IOR_KILL_FULL)
		ior_posted_only(s);

	/* Release: the device reads armed with nothing else to order. */
	smp_store_release(&sh->armed, true);
	wait_flag(&sh->faulted, "The device took no command to fail on");
	if (fault == IOR_KILL_FULL)
		s->unread += sh->unread;
	if (fault != IOR_KILL_HELD && fault != IOR_SHORT_HELD && fault != IOR_KILL_FULL)
		return;

	/* Let the vCPUs queue up behind the held command, or wait longer to send. */
	usleep(rand_below(&s->rng, 5000));
	TEST_ASSERT(!kill(pid, SIGKILL), "kill() failed, errno = %d", errno);
}

/* After the device failed, every vCPU must get a failure exit, and not hang. */
static void ior_wait_failures(struct ior_stress *s, u32 gen)
{
	u64 deadline = now_ms() + PROMPT_MS;
	u32 i;

	for (i = 0; i < NR_VCPUS; i++) {
		while (READ_ONCE(s->vcpus[i].fail_gen) < gen) {
			TEST_ASSERT(now_ms() < deadline,
				    "vCPU %u got no KVM_EXIT_IOREGIONFD_FAILURE within %d s of device %u (%s) failing",
				    i, PROMPT_MS / 1000, gen, ior_fault_names[s->gens[gen].fault]);
			usleep(200);
		}
	}
}

static void ior_check_device(struct ior_stress *s, int status, enum ior_fault fault)
{
	char buf[192];

	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		return;

	TEST_ASSERT(WIFEXITED(status), "The device ended with status 0x%x", status);
	switch (WEXITSTATUS(status)) {
	case DEV_CLOSED:
		TEST_ASSERT(fault == IOR_SHORT_CLOSE, "The device exited for no reason");
		break;
	case DEV_EOF:
		TEST_FAIL("The device saw end of file while its regions were assigned");
		break;
	case DEV_BAD_CMD:
		TEST_FAIL("The device got a malformed command %s",
			  ioregion_cmd_str(&s->sh->bad_cmd, buf, sizeof(buf)));
		break;
	default:
		TEST_FAIL("The device failed to answer, status 0x%x", status);
	}
}

/*
 * The access that the device failed on is the first failure of its vCPU.
 * After IOR_LONG no command that expects a response may reach the device:
 * the accesses fail before KVM sends them.
 */
static void ior_check_victim(struct ior_stress *s, u32 gen, enum ior_fault fault)
{
	const struct ioregionfd_cmd *cmd = &s->sh->fault_cmd;
	struct ior_region reg;
	struct ior_failure f;
	char buf[2][256];
	u32 flags;

	if (fault == IOR_KILL || fault == IOR_KILL_FULL)
		return;

	if (fault == IOR_LONG) {
		/* Acquire: pairs with the release by the device. */
		TEST_ASSERT(!smp_load_acquire(&s->sh->victim_known),
			    "Device %u got %s after its long response",
			    gen, ioregion_cmd_str(&s->sh->victim_cmd, buf[0], sizeof(buf[0])));
		return;
	}

	reg = ior_region(ior_ud_region(cmd->user_data));
	pthread_mutex_lock(&s->lock);
	f = s->vcpus[reg.vcpu].first;
	pthread_mutex_unlock(&s->lock);

	flags = (cmd->cmd == IOREGIONFD_CMD_WRITE ? KVM_IOREGIONFD_FAILURE_WRITE : 0) |
		(reg.flags & KVM_IOREGION_PIO ? KVM_IOREGIONFD_FAILURE_PIO : 0);
	TEST_ASSERT(f.addr == reg.base + cmd->offset && f.len == cmd->size && f.flags == flags &&
		    f.data == cmd->data && f.user_data == cmd->user_data,
		    "Device %u (%s) failed %s, but vCPU %u's first failure is %s",
		    gen, ior_fault_names[fault], ioregion_cmd_str(cmd, buf[0], sizeof(buf[0])),
		    reg.vcpu, failure_str(&f, buf[1], sizeof(buf[1])));
}

static void *ior_deassign_thread(void *arg)
{
	ior_deassign(arg);
	return NULL;
}

/*
 * Deassign the regions while the device holds a command, then let it answer.
 * Deassign must not wait for the device.  The accesses that had started
 * complete with the device's answers, none fails, and once they are done KVM
 * lets go of the fds: the device sees end of file.
 */
static void ior_move_away(struct ior_stress *s, pid_t pid, u32 gen)
{
	struct ior_shared *sh = s->sh;
	pthread_t thread;
	int status;

	/* Release: the device reads armed with nothing else to order. */
	smp_store_release(&sh->armed, true);
	wait_flag(&sh->faulted, "The device took no command to hold");
	usleep(rand_below(&s->rng, 5000));

	TEST_ASSERT(!pthread_create(&thread, NULL, ior_deassign_thread, s->vm),
		    "pthread_create() failed");
	join_thread(thread, "Deassign did not return while the device held a command");
	s->assigned = false;

	/* Release: the device answers once the regions are gone. */
	smp_store_release(&sh->release, true);
	status = reap(pid, "A device whose regions were deassigned");
	TEST_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == DEV_EOF,
		    "A device whose regions were deassigned ended with status 0x%x, not end of file",
		    status);

	pthread_mutex_lock(&s->lock);
	TEST_ASSERT(!s->gens[gen].failures,
		    "%lu accesses failed on device %u, which answered all, after its regions went",
		    s->gens[gen].failures, gen);
	pthread_mutex_unlock(&s->lock);
}

static void ior_reset_shared(struct ior_shared *sh)
{
	sh->armed = false;
	sh->busy = false;
	sh->faulted = false;
	sh->victim_known = false;
	sh->release = false;
	sh->unread = 0;
	memset(&sh->fault_cmd, 0, sizeof(sh->fault_cmd));
	memset(&sh->victim_cmd, 0, sizeof(sh->victim_cmd));
	sh->cmds = 0;
	memset(sh->vcpu_cmds, 0, sizeof(sh->vcpu_cmds));
}

/*
 * Set up a new device process and move the regions to it, let the vCPUs use
 * it, then make it fail.  Every vCPU must get the failure, the right one,
 * and go on with the next device.
 */
static void ior_generation(struct ior_stress *s, enum ior_fault fault)
{
	u32 gen = s->gen + 1;
	struct ior_dev d = {
		.sh = s->sh, .gen = gen, .fault = fault,
		.rng = new_rng(guest_random_u32(&s->rng)),
	};
	pid_t pid;

	ior_open_fds(&d.fds, gen & 1);
	ior_reset_shared(s->sh);
	pthread_mutex_lock(&s->lock);
	s->gens[gen] = (struct ior_gen) { .fault = fault, .split = gen & 1 };
	s->gen = gen;
	pthread_mutex_unlock(&s->lock);

	pid = ior_spawn(&d);
	if (s->assigned)
		ior_deassign(s->vm);
	ior_assign(s->vm, &d.fds, gen);
	s->assigned = true;
	ioregion_close_fds(&d.fds.kvm_rfd, &d.fds.kvm_wfd);

	ior_wait_device(s->sh->vcpu_cmds, &s->sh->cmds, &s->rng, gen);
	if (fault == IOR_DEASSIGN_HELD) {
		ior_move_away(s, pid, gen);
	} else {
		ior_strike(s, pid, fault);
		ior_wait_failures(s, gen);
		if (fault == IOR_KILL_FULL)
			ior_check_full(s);
		pthread_mutex_lock(&s->lock);
		s->gens[gen].killed = true;
		pthread_mutex_unlock(&s->lock);
		kill(pid, SIGKILL);
		ior_check_device(s, reap(pid, "A device"), fault);
		ior_check_victim(s, gen, fault);
	}
	s->nr_faults[fault]++;
	s->cmds += s->sh->cmds;
}

static void *ior_kicker_thread(void *arg)
{
	struct ior_stress *s = arg;
	struct guest_random_state rng = new_rng(s->kicker_seed);

	while (!READ_ONCE(s->kicker_stop)) {
		usleep(rand_below(&rng, 2000));
		pthread_kill(s->vcpus[rand_below(&rng, NR_VCPUS)].thread, SIGUSR1);
		s->kicks++;
	}
	return NULL;
}

static void ior_check_final(struct ior_stress *s, const u64 *failures0)
{
	u64 *doorbells = addr_gva2hva(s->vm, (vm_vaddr_t)ior_doorbells);
	u64 *iters = addr_gva2hva(s->vm, (vm_vaddr_t)ior_iters);
	struct ior_vcpu *v;
	u64 stat;
	int i;

	for (i = 0; i < NR_VCPUS; i++) {
		v = &s->vcpus[i];
		TEST_ASSERT(iters[i], "vCPU %d made no progress", i);

		stat = vcpu_get_stat(v->vcpu, "ioregion_failures") - failures0[i];
		TEST_ASSERT(stat == v->failures,
			    "vCPU %d: ioregion_failures grew by %lu, KVM_RUN reported %lu failures",
			    i, stat, v->failures);

		/* A posted write that a dying device never read is lost, none is taken twice. */
		TEST_ASSERT(s->sh->doorbells[i] + v->doorbells <= doorbells[i],
			    "vCPU %d rang %lu doorbells, the devices took %lu and userspace %lu",
			    i, doorbells[i], s->sh->doorbells[i], v->doorbells);
	}

	for (i = 0; i < IOR_DOORBELL; i++)
		TEST_ASSERT(!s->sh->rf[i].bad, "Register file %d had %lu bad accesses",
			    i, s->sh->rf[i].bad);
}

static void ior_report(struct ior_stress *s, const char *name, u64 ms)
{
	u64 *iters = addr_gva2hva(s->vm, (vm_vaddr_t)ior_iters);
	u64 failures = 0, exits = 0, guest = 0, doorbells = 0, eintr = 0, pending = 0;
	char faults[256];
	int i, len = 0;

	for (i = 0; i < NR_VCPUS; i++) {
		failures += s->vcpus[i].failures;
		exits += s->vcpus[i].exits;
		eintr += s->vcpus[i].eintr;
		pending += s->vcpus[i].pending;
		guest += iters[i];
		doorbells += s->sh->doorbells[i] + s->vcpus[i].doorbells;
	}
	for (i = 0; i < NR_IOR_FAULTS; i++)
		if (s->nr_faults[i])
			len += snprintf(faults + len, sizeof(faults) - len, "%s%lu %s",
					len ? ", " : "", s->nr_faults[i], ior_fault_names[i]);

	ksft_print_msg("%s: %lu ms, %u devices: %s\n", name, ms, s->gen, faults);
	if (s->nr_faults[IOR_KILL])
		ksft_print_msg("%s: %lu of %lu random kills hit the device in a command\n",
			       name, s->busy_kills, s->nr_faults[IOR_KILL]);
	if (s->nr_faults[IOR_KILL_FULL])
		ksft_print_msg("%s: %lu bytes unread by the devices killed with full fds\n",
			       name, s->unread);
	ksft_print_msg("%s: %lu guest iterations, %lu commands served, %lu doorbells taken\n",
		       name, guest, s->cmds, doorbells);
	ksft_print_msg("%s: %lu failure exits, %lu exits between devices\n",
		       name, failures, exits);
	ksft_print_msg("%s: %lu signals, %lu KVM_RUNs interrupted, %lu with an access pending\n",
		       name, s->kicks, eintr, pending);
}

/*
 * Four vCPUs use their register files, and ring the doorbell, through a
 * device process that serves them all on one pair of fds, while signals
 * interrupt their KVM_RUN.  One device after the other fails with one of
 * @faults.
 */
static void ior_stress_run(struct ior_stress *s, struct ior_shared *sh,
			   const enum ior_fault *faults, int nr_faults, const char *name)
{
	struct kvm_vcpu *vcpus[NR_VCPUS];
	u64 failures0[NR_VCPUS], start, end;
	u32 seed = stress_seed(), first;
	enum ior_fault fault;
	struct ior_vcpu *v;
	int i;

	s->sh = sh;
	s->rng = new_rng(~seed);
	s->kicker_seed = seed * 3;
	s->vm = ior_vm_create(vcpus, seed);
	s->posted_gen = addr_gva2hva(s->vm, (vm_vaddr_t)&ior_posted_gen);
	s->posted_seen = addr_gva2hva(s->vm, (vm_vaddr_t)ior_posted_seen);
	pthread_mutex_init(&s->lock, NULL);
	install_sigusr1();
	install_sigpipe();

	for (i = 0; i < NR_VCPUS; i++) {
		v = &s->vcpus[i];
		*v = (struct ior_vcpu) { .s = s, .vcpu = vcpus[i], .idx = i };
		failures0[i] = vcpu_get_stat(v->vcpu, "ioregion_failures");
		TEST_ASSERT(!pthread_create(&v->thread, NULL, ior_vcpu_thread, v),
			    "pthread_create() failed");
	}
	TEST_ASSERT(!pthread_create(&s->kicker, NULL, ior_kicker_thread, s),
		    "pthread_create() failed");

	/* Every fault once, however slow the kernel, then at random. */
	start = now_ms();
	end = start + stress_ms();
	first = rand_below(&s->rng, nr_faults);
	do {
		if (s->gen < nr_faults)
			fault = faults[(first + s->gen) % nr_faults];
		else
			fault = faults[rand_below(&s->rng, nr_faults)];
		ior_generation(s, fault);
	} while (s->gen < nr_faults ||
		 (s->gen < IOR_MAX_GENS && now_ms() < end && !ior_any_done(s)));

	WRITE_ONCE(s->kicker_stop, true);
	join_thread(s->kicker, "The signal thread did not stop");
	WRITE_ONCE(*(bool *)addr_gva2hva(s->vm, (vm_vaddr_t)&ior_stop), true);
	for (i = 0; i < NR_VCPUS; i++)
		join_vcpu(s->vcpus[i].thread, i);

	ior_check_final(s, failures0);
	ior_report(s, name, now_ms() - start);
	check_no_sigpipe(name);
	kvm_vm_free(s->vm);
}

FIXTURE(ioregionfd_stress) {
	struct ior_shared *sh;
};

FIXTURE_SETUP(ioregionfd_stress)
{
	if (!kvm_has_cap(KVM_CAP_IOREGIONFD))
		SKIP(return, "KVM_CAP_IOREGIONFD not supported");

	self->sh = mmap(NULL, sizeof(*self->sh), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	TEST_ASSERT(self->sh != MAP_FAILED, "mmap() failed, errno = %d", errno);
}

FIXTURE_TEARDOWN(ioregionfd_stress)
{
	munmap(self->sh, sizeof(*self->sh));
}

/*
 * The device process is SIGKILLed at random points, while it holds a command
 * with the other vCPUs waiting for the fds, and once it stopped reading with
 * the vCPUs waiting to send: every vCPU gets KVM_EXIT_IOREGIONFD_FAILURE with
 * EPIPE or ECONNRESET, the held access first for its vCPU, and goes on once
 * the regions move to a new device.  Or the regions are deassigned while the
 * device holds a command, and then the device answers: nothing fails.
 */
TEST_F_TIMEOUT(ioregionfd_stress, device_killed, CASE_TIMEOUT)
{
	static const enum ior_fault faults[] = {
		IOR_KILL, IOR_KILL_HELD, IOR_KILL_FULL, IOR_DEASSIGN_HELD,
	};
	static struct ior_stress s;

	ior_stress_run(&s, self->sh, faults, ARRAY_SIZE(faults), "device_killed");
}

/*
 * The device answers with random bytes, with too few bytes and then exits
 * or is killed, or with too many.  The failure goes first to the access that
 * the bad response was for, then to every vCPU: EPROTO, or EPIPE (ECONNRESET)
 * once the device is gone.
 */
TEST_F_TIMEOUT(ioregionfd_stress, device_garbage, CASE_TIMEOUT)
{
	static const enum ior_fault faults[] = {
		IOR_SHORT_HELD, IOR_SHORT_CLOSE, IOR_GARBAGE, IOR_LONG,
	};
	static struct ior_stress s;

	ior_stress_run(&s, self->sh, faults, ARRAY_SIZE(faults), "device_garbage");
}

/*
 * ioregionfd under string PIO and 16-byte SSE accesses.  vCPU i has a PIO
 * region that it reads and writes only with rep insb and rep outsb, one
 * command per byte, and an MMIO region across a page boundary that it
 * reads and writes only with movdqu, two or three commands per access.
 * Meanwhile one thread makes device after device fail, by SIGKILL at a
 * random point or while it holds a command, or deassigns the regions while
 * the device holds a command; another deassigns and assigns single regions
 * while the device lives; and a third interrupts KVM_RUN with signals.
 *
 * What the guest writes to its port is a stream whose bytes the receiver,
 * device or userspace, checks in order, so that a write that is lost, sent
 * twice, or goes to another region shows.  Reads of the port return bytes
 * that name the vCPU and a position the device counts up, or a byte that
 * says userspace served it; the guest checks that every read is its own and
 * that the device's positions come in order.  The MMIO regions are byte
 * arrays that outlive the devices: the guest keeps a copy and checks every
 * movdqu load against it.
 *
 * arm64 has neither port I/O nor a 16-byte access that KVM could emulate:
 * there the guest makes the accesses of memcpy_toio() and memcpy_fromio(),
 * byte stores or loads up to 8-byte alignment, 8-byte ones, then bytes for
 * the tail, one command each.  Its port is an MMIO window that the stream
 * goes round as a ring, the byte at position p at offset p % STR_PORT_SIZE,
 * so that a write that goes to another offset shows too.
 */
#ifdef __x86_64__
#define STR_PORT_BASE		(PIO_BASE + 0x1000)
#define STR_PORT_STRIDE		0x10
#define STR_PORT_SIZE		4
#define STR_PORT_FLAGS		KVM_IOREGION_PIO
#define STR_PORT_WRITES		"rep outsb"
#define STR_PORT_READS		"rep insb element"
#define STR_MEM_LOAD		"movdqu load"
#define STR_PAGE_SIZE		PAGE_SIZE
#else
#define STR_PORT_BASE		(MMIO_GPA + 0x100)
#define STR_PORT_STRIDE		0x40
#define STR_PORT_SIZE		(2 * STR_MAX_COUNT)
#define STR_PORT_FLAGS		0
#define STR_PORT_WRITES		"memcpy_toio()"
#define STR_PORT_READS		"memcpy_fromio() byte"
#define STR_MEM_LOAD		"memcpy_fromio()"
/* That of the VM's mode, which the host sets before the guest runs. */
static u64 str_page_size;
#define STR_PAGE_SIZE		str_page_size
#endif
#define STR_MMIO_SIZE		0x40
#define STR_MMIO_NR_PAGES	(NR_VCPUS + 1)
#define NR_STR_REGIONS		(2 * NR_VCPUS)
#define STR_MAX_COUNT		16

/* A port byte: bit 7 says userspace served it, bits 6:5 name the vCPU. */
#define STR_EMULATED		0x80
#define STR_VCPU(b)		((b) >> 5 & 3)
#define STR_POS(b)		((b) & 31)
#define STR_READ(idx, pos)	((idx) << 5 | ((pos) & 31))
/* What a device answers to a write, a value that no read of vCPU @idx takes. */
#define STR_WRITE_RESP(idx)	(0x0101010101010101ull * STR_READ((idx) ^ 1, 0x15))

/* Region r < NR_VCPUS is vCPU r's MMIO region, the others the PIO ones. */
static struct ior_region str_region(u32 r)
{
	if (r < NR_VCPUS)
		return (struct ior_region) {
			.base = MMIO_GPA + (r + 1) * STR_PAGE_SIZE - STR_MMIO_SIZE / 2,
			.size = STR_MMIO_SIZE, .vcpu = r,
		};
	return (struct ior_region) {
		.base = STR_PORT_BASE + (r - NR_VCPUS) * STR_PORT_STRIDE, .size = STR_PORT_SIZE,
		.flags = STR_PORT_FLAGS, .vcpu = r - NR_VCPUS,
	};
}

static u64 str_mix(u64 x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* What byte @pos of vCPU @idx's write stream adds to the one before. */
static u8 str_wstep(u32 seed, u32 idx, u64 pos)
{
	return 1 + str_mix(((u64)seed << 32 | idx) + pos * 0x9e3779b97f4a7c15ull) % 255;
}

/* Byte @pos of vCPU @idx's write stream follows @last, and never equals it. */
static u8 str_wbyte(u32 seed, u32 idx, u64 pos, u8 last)
{
	return last + str_wstep(seed, idx, pos);
}

/* Where the stream's byte at @pos goes in the port. */
static u64 str_port_offset(u64 pos)
{
#ifdef __x86_64__
	return 0;
#else
	return pos % STR_PORT_SIZE;
#endif
}

static bool str_stop;
static u32 str_seed;
static u64 str_iters[NR_VCPUS];
/* The bytes of its stream that each vCPU's string writes finished. */
static u64 str_written[NR_VCPUS];

#ifdef __x86_64__
static void guest_rep_outsb(u16 port, const u8 *buf, u64 count)
{
	asm volatile("rep outsb" : "+S"(buf), "+c"(count) : "d"(port) : "memory");
}

static void guest_rep_insb(u16 port, u8 *buf, u64 count)
{
	asm volatile("rep insb" : "+D"(buf), "+c"(count) : "d"(port) : "memory");
}

static void guest_movdqu_store(u64 gpa, const u8 *src)
{
	asm volatile("movdqu (%0), %%xmm0\n\t"
		     "movdqu %%xmm0, (%1)" : : "r"(src), "r"(gpa) : "xmm0", "memory");
}

static void guest_movdqu_load(u64 gpa, u8 *dst)
{
	asm volatile("movdqu (%1), %%xmm0\n\t"
		     "movdqu %%xmm0, (%0)" : : "r"(dst), "r"(gpa) : "xmm0", "memory");
}

/* Write @count bytes of the stream, from position @pos on: one command per byte. */
static void guest_str_port_write(u64 port, u64 pos, const u8 *buf, u32 count)
{
	guest_rep_outsb(port, buf, count);
}

static void guest_str_port_read(u64 port, u32 x, u8 *buf, u32 count)
{
	guest_rep_insb(port, buf, count);
}

/* movdqu moves 16 bytes whatever @count, in two or three commands. */
static u32 str_mem_len(u32 count)
{
	return 16;
}

static void guest_str_store(u64 gpa, const u8 *buf, u32 len)
{
	guest_movdqu_store(gpa, buf);
}

static void guest_str_load(u64 gpa, u8 *buf, u32 len)
{
	guest_movdqu_load(gpa, buf);
}
#else
/*
 * The accesses of arm64's memcpy_toio() and memcpy_fromio(), of one
 * register each and without writeback: KVM can emulate no other form, e.g.
 * a load or store pair, whose data abort has no valid syndrome.
 */
static void guest_writeb(u64 gpa, u8 val)
{
	asm volatile("strb %w0, [%1]" : : "rZ"(val), "r"(gpa) : "memory");
}

static void guest_writeq(u64 gpa, u64 val)
{
	asm volatile("str %x0, [%1]" : : "rZ"(val), "r"(gpa) : "memory");
}

static u8 guest_readb(u64 gpa)
{
	u8 val;

	asm volatile("ldrb %w0, [%1]" : "=r"(val) : "r"(gpa) : "memory");
	return val;
}

static u64 guest_readq(u64 gpa)
{
	u64 val;

	asm volatile("ldr %0, [%1]" : "=r"(val) : "r"(gpa) : "memory");
	return val;
}

/* As memcpy_toio(): bytes up to 8-byte alignment, 8 bytes at a time, then bytes. */
static void guest_memcpy_toio(u64 gpa, const u8 *src, u32 count)
{
	u64 val;

	while (count && !IS_ALIGNED(gpa, 8)) {
		guest_writeb(gpa++, *src++);
		count--;
	}
	while (count >= 8) {
		memcpy(&val, src, 8);
		guest_writeq(gpa, val);
		gpa += 8;
		src += 8;
		count -= 8;
	}
	while (count--)
		guest_writeb(gpa++, *src++);
}

static void guest_memcpy_fromio(u8 *dst, u64 gpa, u32 count)
{
	u64 val;

	while (count && !IS_ALIGNED(gpa, 8)) {
		*dst++ = guest_readb(gpa++);
		count--;
	}
	while (count >= 8) {
		val = guest_readq(gpa);
		memcpy(dst, &val, 8);
		gpa += 8;
		dst += 8;
		count -= 8;
	}
	while (count--)
		*dst++ = guest_readb(gpa++);
}

/*
 * Write @count bytes of the stream, from position @pos on, each at its
 * offset: in two parts where they wrap round the end of the port.
 */
static void guest_str_port_write(u64 port, u64 pos, const u8 *buf, u32 count)
{
	u32 off = str_port_offset(pos), first = min_t(u32, count, STR_PORT_SIZE - off);

	guest_memcpy_toio(port + off, buf, first);
	guest_memcpy_toio(port, buf + first, count - first);
}

/* Read at a random offset: the device counts positions whatever the offset. */
static void guest_str_port_read(u64 port, u32 x, u8 *buf, u32 count)
{
	guest_memcpy_fromio(buf, port + (x >> 16) % (STR_PORT_SIZE - STR_MAX_COUNT + 1), count);
}

static u32 str_mem_len(u32 count)
{
	return count;
}

static void guest_str_store(u64 gpa, const u8 *buf, u32 len)
{
	guest_memcpy_toio(gpa, buf, len);
}

static void guest_str_load(u64 gpa, u8 *buf, u32 len)
{
	guest_memcpy_fromio(buf, gpa, len);
}
#endif

/*
 * A device counts a position for every read it takes.  One that died
 * after it took a read leaves a position that no read got, and userspace
 * serves that read: a gap in the positions needs an emulated read for each
 * position it skips.
 */
static void guest_str_check_read(u32 idx, u64 n, u32 i, u8 b, u8 *last, u32 *emulated)
{
	u8 d;

	__GUEST_ASSERT(STR_VCPU(b) == idx,
		       "vCPU %u, iteration %lu: " STR_PORT_READS " %u read 0x%x, another vCPU's",
		       idx, n, i, b);
	if (b & STR_EMULATED) {
		(*emulated)++;
		return;
	}

	d = (STR_POS(b) - *last) & 31;
	__GUEST_ASSERT(d >= 1 && (d <= 1 + *emulated || *emulated >= 30),
		       "vCPU %u, iteration %lu: " STR_PORT_READS
		       " %u read position %u after %u, with %u reads emulated between",
		       idx, n, i, STR_POS(b), *last, *emulated);
	*last = STR_POS(b);
	*emulated = 0;
}

static void guest_strings(u32 idx)
{
	struct guest_random_state rng = new_rng(str_seed + idx);
	u64 gpa = str_region(idx).base, port = str_region(NR_VCPUS + idx).base;
	u8 buf[STR_MAX_COUNT], mirror[STR_MMIO_SIZE];
	u64 wpos = 0, n, count;
	u8 wlast = 0, rlast = 31;
	u32 x, i, off, len, emulated = 0;

	memset(mirror, 0, sizeof(mirror));
	for (n = 0; n < IOR_MAX_ITERS && !READ_ONCE(str_stop); n++) {
		x = guest_random_u32(&rng);
		count = 1 + x / 4 % STR_MAX_COUNT;
		/* Some of them cross the page boundary in the middle of the region. */
		off = x / 64 % (STR_MMIO_SIZE - 15);
		len = str_mem_len(count);
		switch (x % 4) {
		case 0:
			for (i = 0; i < count; i++) {
				wlast = str_wbyte(str_seed, idx, wpos++, wlast);
				buf[i] = wlast;
			}
			guest_str_port_write(port, wpos - count, buf, count);
			WRITE_ONCE(str_written[idx], wpos);
			break;
		case 1:
			memset(buf, 0, sizeof(buf));
			guest_str_port_read(port, x, buf, count);
			for (i = 0; i < count; i++)
				guest_str_check_read(idx, n, i, buf[i], &rlast, &emulated);
			break;
		case 2:
			for (i = 0; i < len; i++)
				buf[i] = guest_random_u32(&rng);
			guest_str_store(gpa + off, buf, len);
			memcpy(mirror + off, buf, len);
			break;
		default:
			guest_str_load(gpa + off, buf, len);
			for (i = 0; i < len; i++)
				__GUEST_ASSERT(buf[i] == mirror[off + i],
					       "vCPU %u, iteration %lu: " STR_MEM_LOAD
					       " at 0x%lx: byte %u is 0x%x, wrote 0x%x",
					       idx, n, gpa + off, i, buf[i], mirror[off + i]);
		}
		WRITE_ONCE(str_iters[idx], n + 1);
	}
	GUEST_DONE();
}

/* What the guest's regions hold, shared by the device processes and this one. */
struct str_vcpu_state {
	/*
	 * Write stream: position << 28 | size of the last write << 24 |
	 * device gen << 8 | last byte, in one store.
	 */
	u64 wstate;
	/* Reads that devices took from the port. */
	u64 rpos;
	u8 mem[STR_MMIO_SIZE];
};

struct str_shared {
	struct str_vcpu_state v[NR_VCPUS];
	u32 seed;
	/* Reset for each device, as in struct ior_shared. */
	bool armed;
	bool faulted;
	bool release;
	u64 cmds;
	u64 vcpu_cmds[NR_VCPUS];
	struct ioregionfd_cmd fault_cmd;
	struct ioregionfd_cmd bad_cmd;
	char bad[128];
};

/* Who serves an access. */
enum str_src { STR_DEVICE, STR_FAILURE, STR_EXIT };

static u64 str_wstate(u64 pos, u32 size, u32 gen, u8 last)
{
	return pos << 28 | (u64)size << 24 | (u64)gen << 8 | last;
}

static u64 str_wpos(u64 wstate)
{
	return wstate >> 28;
}

/*
 * Take the @size bytes @data, written at @offset of the port, of vCPU
 * @idx's stream; return whether they are the next ones, at their offset.
 */
static bool str_take_write(struct str_shared *sh, u32 idx, u64 offset, u32 size, u64 data,
			   u32 gen, enum str_src src)
{
	struct str_vcpu_state *vs = &sh->v[idx];
	u64 st = READ_ONCE(vs->wstate), pos = str_wpos(st);
	u32 by = st >> 8 & 0xffff, n = st >> 24 & 0xf, i;
	u8 last = st, b = last;

	for (i = 0; i < size; i++) {
		b = str_wbyte(sh->seed, idx, pos + i, b);
		if ((u8)(data >> 8 * i) != b)
			break;
	}
	if (i == size && offset == str_port_offset(pos)) {
		WRITE_ONCE(vs->wstate,
			   str_wstate(pos + size, size, src == STR_DEVICE ? gen : 0, b));
		return true;
	}

	/*
	 * A device that took the bytes and died before it answered: the
	 * failure exit hands userspace the same write.  Bytes in a row differ,
	 * so this is no byte sent twice.
	 */
	if (src != STR_FAILURE || by != gen || n != size || pos < size ||
	    offset != str_port_offset(pos - size))
		return false;
	for (b = last, i = size; i--; b -= str_wstep(sh->seed, idx, pos - size + i))
		if ((u8)(data >> 8 * i) != b)
			return false;
	return true;
}

/* A read of @size bytes of the port: a device counts a position for each. */
static u64 str_port_read(struct str_vcpu_state *vs, u32 idx, u32 size, enum str_src src)
{
	u64 val = 0, pos = vs->rpos;
	u32 i;

	for (i = 0; i < size; i++)
		val |= (u64)(src == STR_DEVICE ? STR_READ(idx, pos + i) :
						 STR_EMULATED | STR_READ(idx, 0x1f)) << (8 * i);
	if (src == STR_DEVICE)
		WRITE_ONCE(vs->rpos, pos + size);
	return val;
}

#ifdef __x86_64__
#define STR_PORT_FORM		"not a byte at the port"

/* rep insb and rep outsb move a byte at a time, at the port. */
static bool str_port_form(u64 offset, u32 size)
{
	return !offset && size == 1;
}
#else
#define STR_PORT_FORM		"not a byte or an aligned 8 bytes in the port"
#define STR_MEM_FORM		"not a byte or an aligned 8 bytes"

/* memcpy_toio() and memcpy_fromio() move single bytes or aligned 8 bytes. */
static bool str_io_form(u64 offset, u32 size)
{
	return (size == 1 || size == 8) && IS_ALIGNED(offset, size);
}

static bool str_port_form(u64 offset, u32 size)
{
	return str_io_form(offset, size) && offset + size <= STR_PORT_SIZE;
}
#endif

/*
 * Serve an access of @size bytes at @offset of region @r, for device @gen
 * or userspace; return a read's value, or set *why for a bad access.
 */
static u64 str_access(struct str_shared *sh, u32 r, bool write, u64 offset, u32 size, u64 data,
		      u32 gen, enum str_src src, const char **why)
{
	u32 idx = str_region(r).vcpu;
	struct str_vcpu_state *vs = &sh->v[idx];
	u64 val = 0;

	*why = NULL;
	if (r >= NR_VCPUS) {
		if (!str_port_form(offset, size)) {
			*why = STR_PORT_FORM;
			return 0;
		}
		if (!write)
			return str_port_read(vs, idx, size, src);
		if (!str_take_write(sh, idx, offset, size, data, gen, src))
			*why = "not the next byte of the vCPU's stream";
		return STR_WRITE_RESP(idx);
	}

	if (!size || size > 8 || offset >= STR_MMIO_SIZE || offset + size > STR_MMIO_SIZE) {
		*why = "outside the MMIO region";
		return 0;
	}
#ifndef __x86_64__
	if (!str_io_form(offset, size)) {
		*why = STR_MEM_FORM;
		return 0;
	}
#endif
	if (write) {
		memcpy(vs->mem + offset, &data, size);
		return STR_WRITE_RESP(idx);
	}
	memcpy(&val, vs->mem + offset, size);
	return val;
}

/* The region of vCPU @idx that holds @addr, or -1. */
static int str_find(u32 idx, bool pio, u64 addr)
{
	const u32 rs[] = { idx, NR_VCPUS + idx };
	struct ior_region reg;
	int i;

	for (i = 0; i < ARRAY_SIZE(rs); i++) {
		reg = str_region(rs[i]);
		if (!(reg.flags & KVM_IOREGION_PIO) == !pio && addr >= reg.base &&
		    addr < reg.base + reg.size)
			return rs[i];
	}
	return -1;
}

struct str_dev {
	struct str_shared *sh;
	struct ior_fds fds;
	u32 gen;
	enum ior_fault fault;
	struct guest_random_state rng;
};

static bool str_cmd_valid(const struct ioregionfd_cmd *cmd, u32 gen)
{
	u32 r = ior_ud_region(cmd->user_data);
	int i;

	for (i = 0; i < sizeof(cmd->pad); i++)
		if (cmd->pad[i])
			return false;
	return r < NR_STR_REGIONS && cmd->user_data == IOR_USER_DATA(gen, r) &&
	       cmd->flags == IOREGIONFD_CMD_RESP &&
	       (cmd->cmd == IOREGIONFD_CMD_READ ? !cmd->data : cmd->cmd == IOREGIONFD_CMD_WRITE);
}

/* Serve until the planned failure; the state changes before the answer goes out. */
static int str_device(struct str_dev *d)
{
	struct str_shared *sh = d->sh;
	struct ioregionfd_cmd cmd;
	const char *why;
	u32 r, idx;
	u64 data;

	for (;;) {
		if (ioregion_device_recv_cmd(d->fds.dev_rfd, &cmd))
			return DEV_EOF;
		if (!str_cmd_valid(&cmd, d->gen)) {
			sh->bad_cmd = cmd;
			snprintf(sh->bad, sizeof(sh->bad), "malformed");
			return DEV_BAD_CMD;
		}

		r = ior_ud_region(cmd.user_data);
		idx = str_region(r).vcpu;
		WRITE_ONCE(sh->cmds, sh->cmds + 1);
		WRITE_ONCE(sh->vcpu_cmds[idx], sh->vcpu_cmds[idx] + 1);

		/* Hold the command before it changes anything. */
		if (READ_ONCE(sh->armed) && !sh->faulted) {
			sh->fault_cmd = cmd;
			/* Release: the host reads fault_cmd once it sees faulted. */
			smp_store_release(&sh->faulted, true);
			if (d->fault == IOR_KILL_HELD)
				hold_forever();
			/* Acquire: pairs with the release by the host, once the regions went. */
			while (!smp_load_acquire(&sh->release))
				usleep(100);
		}

		data = str_access(sh, r, cmd.cmd == IOREGIONFD_CMD_WRITE, cmd.offset, cmd.size,
				  cmd.data, d->gen, STR_DEVICE, &why);
		if (why) {
			sh->bad_cmd = cmd;
			snprintf(sh->bad, sizeof(sh->bad), "%s", why);
			return DEV_BAD_CMD;
		}
		/* Widen the window in which a kill finds the state changed but no answer sent. */
		if (!rand_below(&d->rng, 8))
			usleep(rand_below(&d->rng, 200));
		if (ioregion_device_send_resp(d->fds.dev_wfd, data))
			return DEV_IO_ERROR;
	}
}

static int str_device_fn(void *arg)
{
	return str_device(arg);
}

static pid_t str_spawn(struct str_dev *d)
{
	return spawn_device(&d->fds, str_device_fn, d);
}

struct str_gen {
	enum ior_fault fault;
	bool split;
	u64 failures;
};

struct str_vcpu {
	struct str_stress *s;
	struct kvm_vcpu *vcpu;
	pthread_t thread;
	u32 idx;
	u64 failures;
	u64 exits;
	u64 eintr;
	u64 pending;
	/* The latest generation that failed an access, and its first such failure. */
	u32 fail_gen;
	struct ior_failure first;
	bool done;
};

struct str_stress {
	struct kvm_vm *vm;
	struct str_shared *sh;
	struct guest_random_state rng;
	struct str_vcpu vcpus[NR_VCPUS];
	/* Protects what follows but the counters of the churn and kicker threads. */
	pthread_mutex_t lock;
	u32 gen;
	struct str_gen gens[IOR_MAX_GENS + 1];
	/* The current device's process and KVM's ends of its fds, or -1. */
	pid_t pid;
	struct ior_fds fds;
	/* The device lives and serves: the churn thread may move its regions. */
	bool live;
	bool assigned[NR_STR_REGIONS];
	u64 nr_faults[NR_IOR_FAULTS];
	u64 cmds;
	pthread_t churn;
	u32 churn_seed;
	u64 toggles;
	pthread_t kicker;
	u32 kicker_seed;
	u64 kicks;
	bool stop;
};

static void str_set_region(struct str_stress *s, u32 r, bool assign)
{
	struct ior_region reg = str_region(r);
	struct kvm_ioregion args = {
		.guest_paddr = reg.base, .memory_size = reg.size,
		.user_data = IOR_USER_DATA(s->gen, r),
		.read_fd = assign ? s->fds.kvm_rfd : -1, .write_fd = assign ? s->fds.kvm_wfd : -1,
		.flags = reg.flags | (assign ? 0 : KVM_IOREGION_DEASSIGN),
	};

	vm_set_ioregion(s->vm, &args);
	s->assigned[r] = assign;
}

static void str_deassign_all(struct str_stress *s)
{
	u32 r;

	for (r = 0; r < NR_STR_REGIONS; r++)
		if (s->assigned[r])
			str_set_region(s, r, false);
}

static void *str_deassign_thread(void *arg)
{
	struct str_stress *s = arg;

	pthread_mutex_lock(&s->lock);
	str_deassign_all(s);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Deassign and assign single regions of the live device. */
static void *str_churn_thread(void *arg)
{
	struct str_stress *s = arg;
	struct guest_random_state rng = new_rng(s->churn_seed);
	u32 r;

	while (!READ_ONCE(s->stop)) {
		usleep(rand_below(&rng, 3000));
		pthread_mutex_lock(&s->lock);
		if (s->live) {
			r = rand_below(&rng, NR_STR_REGIONS);
			str_set_region(s, r, !s->assigned[r]);
			s->toggles++;
		}
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

static void *str_kicker_thread(void *arg)
{
	struct str_stress *s = arg;
	struct guest_random_state rng = new_rng(s->kicker_seed);

	while (!READ_ONCE(s->stop)) {
		usleep(rand_below(&rng, 2000));
		pthread_kill(s->vcpus[rand_below(&rng, NR_VCPUS)].thread, SIGUSR1);
		s->kicks++;
	}
	return NULL;
}

/* The access of a failure or pending exit must be one the guest makes. */
static int str_check_access(struct str_vcpu *v, const struct ior_failure *f, const char *what)
{
	const u32 known = KVM_IOREGIONFD_FAILURE_WRITE | KVM_IOREGIONFD_FAILURE_PIO;
	bool pio = f->flags & KVM_IOREGIONFD_FAILURE_PIO;
	int r = str_find(v->idx, pio, f->addr);
	u32 gen = ior_ud_gen(f->user_data);
	char buf[256];

	failure_str(f, buf, sizeof(buf));
	TEST_ASSERT(r >= 0 && f->user_data == IOR_USER_DATA(gen, r) && !(f->flags & ~known) &&
		    !f->pad && f->len >= 1 && f->len <= 8 && (!pio || f->len == 1) &&
		    !(f->data & ~ioregion_size_mask(f->len)),
		    "vCPU %u: malformed %s, as %s", v->idx, what, buf);
	pthread_mutex_lock(&v->s->lock);
	TEST_ASSERT(gen && gen <= v->s->gen, "vCPU %u: %s names device %u, the latest is %u",
		    v->idx, buf, gen, v->s->gen);
	pthread_mutex_unlock(&v->s->lock);
	return r;
}

static void str_failure_exit(void *arg)
{
	struct str_vcpu *v = arg;
	struct kvm_run *run = v->vcpu->run;
	struct ior_failure f = ior_failure_of(run);
	int r = str_check_access(v, &f, "KVM_EXIT_IOREGIONFD_FAILURE");
	bool write = f.flags & KVM_IOREGIONFD_FAILURE_WRITE;
	u32 gen = ior_ud_gen(f.user_data);
	struct str_stress *s = v->s;
	struct str_gen *g;
	const char *why;
	char buf[256];
	u64 val;

	failure_str(&f, buf, sizeof(buf));
	pthread_mutex_lock(&s->lock);
	g = &s->gens[gen];
	TEST_ASSERT(g->fault != IOR_DEASSIGN_HELD && (f.error == EPIPE || f.error == ECONNRESET),
		    "vCPU %u: %s from device %u (%s, %s)", v->idx, buf, gen,
		    ior_fault_names[g->fault], g->split ? "split" : "one socket");
	g->failures++;
	if (v->fail_gen < gen) {
		v->first = f;
		v->fail_gen = gen;
	}
	pthread_mutex_unlock(&s->lock);

	val = str_access(s->sh, r, write, f.addr - str_region(r).base, f.len, f.data, gen,
			 STR_FAILURE, &why);
	TEST_ASSERT(!why, "vCPU %u: %s: %s", v->idx, buf, why);
	if (!write)
		run->ioregionfd.data = val & ioregion_size_mask(f.len);
	v->failures++;
}

/* An access of a region that is not assigned: string PIO comes with a count. */
static void str_plain_exit(void *arg)
{
	struct str_vcpu *v = arg;
	struct kvm_run *run = v->vcpu->run;
#ifdef __x86_64__
	bool pio = run->exit_reason == KVM_EXIT_IO;
	u64 addr = pio ? run->io.port : run->mmio.phys_addr;
	u32 size = pio ? run->io.size : run->mmio.len;
	u32 count = pio ? run->io.count : 1, i;
	bool write = pio ? run->io.direction == KVM_EXIT_IO_OUT : run->mmio.is_write;
	u8 *data = pio ? (u8 *)run + run->io.data_offset : run->mmio.data;
#else
	u64 addr = run->mmio.phys_addr;
	u32 size = run->mmio.len, count = 1, i;
	bool pio = false, write = run->mmio.is_write;
	u8 *data = run->mmio.data;
#endif
	int r = str_find(v->idx, pio, addr);
	const char *why = NULL;
	char buf[192];
	u64 val = 0;

	describe_io_exit(v->vcpu, buf, sizeof(buf));
	TEST_ASSERT(r >= 0 && size >= 1 && size <= 8, "vCPU %u: unexpected %s", v->idx, buf);
	for (i = 0; i < count && !why; i++, data += size) {
		if (write)
			memcpy(&val, data, size);
		val = str_access(v->s->sh, r, write, addr - str_region(r).base, size, val, 0,
				 STR_EXIT, &why);
		if (!write)
			memcpy(data, &val, size);
	}
	TEST_ASSERT(!why, "vCPU %u: %s, element %u: %s", v->idx, buf, i - 1, why);
	v->exits++;
}

static void str_pending_exit(void *arg)
{
	struct str_vcpu *v = arg;
	struct ior_failure f = ior_failure_of(v->vcpu->run);

	str_check_access(v, &f, "KVM_EXIT_IOREGIONFD_PENDING");
	TEST_ASSERT(f.error == EINTR, "vCPU %u: pending access with error %u, not EINTR",
		    v->idx, f.error);
	v->pending++;
}

static const struct ior_exit_ops str_exit_ops = {
	.pending = str_pending_exit,
	.failure = str_failure_exit,
	.plain = str_plain_exit,
};

static void *str_vcpu_thread(void *arg)
{
	struct str_vcpu *v = arg;

	ior_run_vcpu(v->vcpu, v->idx, &str_exit_ops, v, &v->eintr, &v->done);
	return NULL;
}

static void str_check_device(struct str_stress *s, int status, bool eof)
{
	char buf[192];

	if (!eof && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		return;
	if (WIFEXITED(status) && WEXITSTATUS(status) == DEV_BAD_CMD)
		TEST_FAIL("The device got a bad command, %s: %s", s->sh->bad,
			  ioregion_cmd_str(&s->sh->bad_cmd, buf, sizeof(buf)));
	TEST_ASSERT(eof && WIFEXITED(status) && WEXITSTATUS(status) == DEV_EOF,
		    "The device ended with status 0x%x", status);
}

/* The held command failed, first for its vCPU, and was served once, by userspace. */
static void str_check_held(struct str_stress *s, u32 gen)
{
	const struct ioregionfd_cmd *cmd = &s->sh->fault_cmd;
	struct ior_region reg = str_region(ior_ud_region(cmd->user_data));
	u64 deadline = now_ms() + PROMPT_MS;
	struct ior_failure f;
	char buf[2][256];
	u32 flags;

	while (READ_ONCE(s->vcpus[reg.vcpu].fail_gen) < gen) {
		TEST_ASSERT(now_ms() < deadline,
			    "vCPU %u got no KVM_EXIT_IOREGIONFD_FAILURE in %d s for the command device %u held",
			    reg.vcpu, PROMPT_MS / 1000, gen);
		usleep(200);
	}

	pthread_mutex_lock(&s->lock);
	f = s->vcpus[reg.vcpu].first;
	pthread_mutex_unlock(&s->lock);
	flags = (cmd->cmd == IOREGIONFD_CMD_WRITE ? KVM_IOREGIONFD_FAILURE_WRITE : 0) |
		(reg.flags & KVM_IOREGION_PIO ? KVM_IOREGIONFD_FAILURE_PIO : 0);
	TEST_ASSERT(f.addr == reg.base + cmd->offset && f.len == cmd->size && f.flags == flags &&
		    f.data == cmd->data && f.user_data == cmd->user_data,
		    "Device %u held %s, but vCPU %u's first failure is %s", gen,
		    ioregion_cmd_str(cmd, buf[0], sizeof(buf[0])), reg.vcpu,
		    failure_str(&f, buf[1], sizeof(buf[1])));
}

static void str_reset_shared(struct str_shared *sh)
{
	sh->armed = false;
	sh->faulted = false;
	sh->release = false;
	sh->cmds = 0;
	memset(sh->vcpu_cmds, 0, sizeof(sh->vcpu_cmds));
	memset(&sh->fault_cmd, 0, sizeof(sh->fault_cmd));
}

/*
 * Move every region to a new device, let the vCPUs use it while the churn
 * thread moves single regions, then make it fail.
 */
static void str_generation(struct str_stress *s, enum ior_fault fault)
{
	u32 gen = s->gen + 1;
	struct str_dev d = {
		.sh = s->sh, .gen = gen, .fault = fault,
		.rng = new_rng(guest_random_u32(&s->rng)),
	};
	struct ior_fds old;
	pthread_t thread;
	pid_t pid;
	u32 r;

	ior_open_fds(&d.fds, gen & 1);
	str_reset_shared(s->sh);
	pid = str_spawn(&d);

	pthread_mutex_lock(&s->lock);
	str_deassign_all(s);
	old = s->fds;
	s->fds = d.fds;
	s->gen = gen;
	s->gens[gen] = (struct str_gen) { .fault = fault, .split = gen & 1 };
	s->pid = pid;
	for (r = 0; r < NR_STR_REGIONS; r++)
		str_set_region(s, r, true);
	s->live = true;
	pthread_mutex_unlock(&s->lock);
	ioregion_close_fds(&old.kvm_rfd, &old.kvm_wfd);

	ior_wait_device(s->sh->vcpu_cmds, &s->sh->cmds, &s->rng, gen);
	pthread_mutex_lock(&s->lock);
	s->live = false;
	pthread_mutex_unlock(&s->lock);

	if (fault == IOR_KILL) {
		usleep(rand_below(&s->rng, 2000));
		TEST_ASSERT(!kill(pid, SIGKILL), "kill() failed, errno = %d", errno);
		str_check_device(s, reap(pid, "A device"), false);
	} else {
		/* Release: the device reads armed with nothing else to order. */
		smp_store_release(&s->sh->armed, true);
		wait_flag(&s->sh->faulted, "The device took no command to hold");
		usleep(rand_below(&s->rng, 5000));
	}

	if (fault == IOR_KILL_HELD) {
		TEST_ASSERT(!kill(pid, SIGKILL), "kill() failed, errno = %d", errno);
		str_check_device(s, reap(pid, "A device"), false);
		str_check_held(s, gen);
	} else if (fault == IOR_DEASSIGN_HELD) {
		/* Deassign must not wait for the device, which then answers what it took. */
		TEST_ASSERT(!pthread_create(&thread, NULL, str_deassign_thread, s),
			    "pthread_create() failed");
		join_thread(thread, "Deassign did not return while the device held a command");
		/* Release: the device answers once the regions are gone. */
		smp_store_release(&s->sh->release, true);

		pthread_mutex_lock(&s->lock);
		ioregion_close_fds(&s->fds.kvm_rfd, &s->fds.kvm_wfd);
		pthread_mutex_unlock(&s->lock);
		str_check_device(s, reap(pid, "A device whose regions were deassigned"), true);
		pthread_mutex_lock(&s->lock);
		TEST_ASSERT(!s->gens[gen].failures,
			    "%lu accesses failed on device %u, which answered all, after its regions went",
			    s->gens[gen].failures, gen);
		pthread_mutex_unlock(&s->lock);
	}
	s->pid = -1;
	s->nr_faults[fault]++;
	s->cmds += s->sh->cmds;
}

static void str_check_final(struct str_stress *s, const u64 *failures0)
{
	u64 *written = addr_gva2hva(s->vm, (vm_vaddr_t)str_written);
	u64 *iters = addr_gva2hva(s->vm, (vm_vaddr_t)str_iters);
	struct str_vcpu *v;
	u64 stat, pos;
	int i;

	for (i = 0; i < NR_VCPUS; i++) {
		v = &s->vcpus[i];
		TEST_ASSERT(iters[i], "vCPU %d made no progress", i);

		stat = vcpu_get_stat(v->vcpu, "ioregion_failures") - failures0[i];
		TEST_ASSERT(stat == v->failures,
			    "vCPU %d: ioregion_failures grew by %lu, KVM_RUN reported %lu failures",
			    i, stat, v->failures);

		/* Every byte the guest wrote was taken, in order, and none more. */
		pos = str_wpos(s->sh->v[i].wstate);
		TEST_ASSERT(pos == written[i],
			    "vCPU %d wrote %lu bytes of its stream, %lu were taken", i, written[i],
			    pos);
	}
}

static void str_report(struct str_stress *s, u64 ms)
{
	u64 *written = addr_gva2hva(s->vm, (vm_vaddr_t)str_written);
	u64 *iters = addr_gva2hva(s->vm, (vm_vaddr_t)str_iters);
	u64 failures = 0, exits = 0, guest = 0, eintr = 0, pending = 0, bytes = 0, reads = 0;
	char faults[256];
	int i, len = 0;

	for (i = 0; i < NR_VCPUS; i++) {
		failures += s->vcpus[i].failures;
		exits += s->vcpus[i].exits;
		eintr += s->vcpus[i].eintr;
		pending += s->vcpus[i].pending;
		guest += iters[i];
		bytes += written[i];
		reads += s->sh->v[i].rpos;
	}
	for (i = 0; i < NR_IOR_FAULTS; i++)
		if (s->nr_faults[i])
			len += snprintf(faults + len, sizeof(faults) - len, "%s%lu %s",
					len ? ", " : "", s->nr_faults[i], ior_fault_names[i]);

	ksft_print_msg("strings: %lu ms, %u devices: %s\n", ms, s->gen, faults);
	ksft_print_msg("strings: %lu guest iterations, %lu commands served, %lu regions moved\n",
		       guest, s->cmds, s->toggles);
	ksft_print_msg("strings: %lu bytes written by " STR_PORT_WRITES
		       ", %lu port reads from devices\n", bytes, reads);
	ksft_print_msg("strings: %lu failure exits, %lu exits of unassigned regions\n",
		       failures, exits);
	ksft_print_msg("%s: %lu signals, %lu KVM_RUNs interrupted, %lu with an access pending\n",
		       "strings", s->kicks, eintr, pending);
}

/*
 * rep insb, rep outsb and movdqu on ioregions (outside x86, the accesses of
 * memcpy_toio() and memcpy_fromio()), while devices die, regions move and
 * signals interrupt KVM_RUN: no write is lost, taken twice or
 * misrouted, no read returns another access's value, and every vCPU goes on
 * with every new device.
 */
TEST_F_TIMEOUT(ioregionfd_stress, strings, CASE_TIMEOUT)
{
	static const enum ior_fault faults[] = { IOR_KILL, IOR_KILL_HELD, IOR_DEASSIGN_HELD };
	struct kvm_vcpu *vcpus[NR_VCPUS];
	u64 failures0[NR_VCPUS], start, end;
	u32 seed = stress_seed(), first;
	static struct str_stress s;
	enum ior_fault fault;
	struct str_vcpu *v;
	int i;

	s.sh = mmap(NULL, sizeof(*s.sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		    -1, 0);
	TEST_ASSERT(s.sh != MAP_FAILED, "mmap() failed, errno = %d", errno);
	s.sh->seed = seed;
	s.rng = new_rng(~seed);
	s.churn_seed = seed * 3;
	s.kicker_seed = seed * 5;
	s.pid = -1;
	s.fds = (struct ior_fds) { .kvm_rfd = -1, .kvm_wfd = -1, .dev_rfd = -1, .dev_wfd = -1 };
	pthread_mutex_init(&s.lock, NULL);
	install_sigusr1();
	install_sigpipe();

	s.vm = vm_create_with_vcpus(NR_VCPUS, guest_strings, vcpus);
	virt_map(s.vm, MMIO_GPA, MMIO_GPA, STR_MMIO_NR_PAGES);
	check_ucall_clear(s.vm, STR_MMIO_NR_PAGES);
#ifndef __x86_64__
	str_page_size = s.vm->page_size;
	sync_global_to_guest(s.vm, str_page_size);
#endif
	str_seed = seed;
	sync_global_to_guest(s.vm, str_seed);

	for (i = 0; i < NR_VCPUS; i++) {
		v = &s.vcpus[i];
		*v = (struct str_vcpu) { .s = &s, .vcpu = vcpus[i], .idx = i };
		vcpu_args_set(v->vcpu, 1, i);
		failures0[i] = vcpu_get_stat(v->vcpu, "ioregion_failures");
		TEST_ASSERT(!pthread_create(&v->thread, NULL, str_vcpu_thread, v),
			    "pthread_create() failed");
	}
	TEST_ASSERT(!pthread_create(&s.kicker, NULL, str_kicker_thread, &s) &&
		    !pthread_create(&s.churn, NULL, str_churn_thread, &s),
		    "pthread_create() failed");

	/* Every fault once, however slow the kernel, then at random. */
	start = now_ms();
	end = start + stress_ms();
	first = rand_below(&s.rng, ARRAY_SIZE(faults));
	do {
		if (s.gen < ARRAY_SIZE(faults))
			fault = faults[(first + s.gen) % ARRAY_SIZE(faults)];
		else
			fault = faults[rand_below(&s.rng, ARRAY_SIZE(faults))];
		str_generation(&s, fault);
	} while (s.gen < ARRAY_SIZE(faults) || (s.gen < IOR_MAX_GENS && now_ms() < end));

	WRITE_ONCE(s.stop, true);
	join_thread(s.kicker, "The signal thread did not stop");
	join_thread(s.churn, "The churn thread did not stop");
	WRITE_ONCE(*(bool *)addr_gva2hva(s.vm, (vm_vaddr_t)&str_stop), true);
	for (i = 0; i < NR_VCPUS; i++)
		join_vcpu(s.vcpus[i].thread, i);

	str_check_final(&s, failures0);
	str_report(&s, now_ms() - start);
	check_no_sigpipe("strings");
	kvm_vm_free(s.vm);
	ioregion_close_fds(&s.fds.kvm_rfd, &s.fds.kvm_wfd);
	munmap(s.sh, sizeof(*s.sh));
}

/* How a VM of the teardown test goes away. */
enum td_action {
	/* SIGKILL to the VMM process. */
	TD_KILL,
	/* The VMM exits with its vCPU threads in KVM_RUN. */
	TD_EXIT,
	/* The VMM kicks its vCPUs out of KVM_RUN and frees the VM, and lives on. */
	TD_FREE,
	NR_TD_ACTIONS,
};

static const char * const td_action_names[NR_TD_ACTIONS] = {
	[TD_KILL]	= "SIGKILL",
	[TD_EXIT]	= "exit",
	[TD_FREE]	= "kvm_vm_free()",
};

#define TD_MAX_ITERS		40

static bool td_stopping;

struct td_vcpu {
	struct kvm_vcpu *vcpu;
	pthread_t thread;
	bool done;
};

/* The device never fails or leaves while the VMM lives: KVM_RUN may only return on a signal. */
static void *td_vcpu_thread(void *arg)
{
	struct td_vcpu *v = arg;
	struct kvm_run *run = v->vcpu->run;
	struct ucall uc;
	char buf[192];
	int ret;

	for (;;) {
		ret = __vcpu_run(v->vcpu);
		/* A signal during a wait for the device leaves the access pending. */
		if (ret == -1 && errno == EINTR &&
		    (run->exit_reason == KVM_EXIT_INTR ||
		     run->exit_reason == KVM_EXIT_IOREGIONFD_PENDING)) {
			if (READ_ONCE(td_stopping))
				break;
			continue;
		}
		TEST_ASSERT(!ret, KVM_IOCTL_ERROR(KVM_RUN, ret));
		if (get_ucall(v->vcpu, &uc) == UCALL_ABORT)
			REPORT_GUEST_ASSERT(uc);
		TEST_FAIL("vCPU %u: unexpected %s while the device lived", v->vcpu->id,
			  describe_io_exit(v->vcpu, buf, sizeof(buf)));
	}
	WRITE_ONCE(v->done, true);
	return NULL;
}

static void td_send(int fd, char c)
{
	TEST_ASSERT(write(fd, &c, 1) == 1, "write() to a control pipe failed, errno = %d", errno);
}

static char td_recv(int fd, const char *what)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char c = 0;

	TEST_ASSERT(poll(&pfd, 1, PROMPT_MS) == 1, "%s within %d s", what, PROMPT_MS / 1000);
	TEST_ASSERT(read(fd, &c, 1) == 1, "%s: the other side is gone", what);
	return c;
}

/* Kick the vCPUs out of their waits for the device, which signals must end. */
static void td_stop_vcpus(struct td_vcpu *v)
{
	u64 deadline = now_ms() + PROMPT_MS;
	bool busy = true;
	int i;

	install_sigusr1();
	WRITE_ONCE(td_stopping, true);
	while (busy) {
		busy = false;
		for (i = 0; i < NR_VCPUS; i++) {
			if (READ_ONCE(v[i].done))
				continue;
			busy = true;
			pthread_kill(v[i].thread, SIGUSR1);
		}
		TEST_ASSERT(now_ms() < deadline, "A vCPU did not leave KVM_RUN on signals for %d s",
			    PROMPT_MS / 1000);
		usleep(1000);
	}
	for (i = 0; i < NR_VCPUS; i++)
		pthread_join(v[i].thread, NULL);
}

/*
 * The VMM process: a VM whose vCPUs use the regions of device @gen, or with
 * @posted only ring its doorbell, and that goes away as the test says.
 */
static void __noreturn td_vmm(struct ior_fds f, int ctl, int status, u32 gen, u32 seed,
			      bool posted)
{
	struct kvm_vcpu *vcpus[NR_VCPUS];
	struct td_vcpu v[NR_VCPUS] = {};
	struct kvm_vm *vm;
	int i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	vm = ior_vm_create(vcpus, seed);
	ior_posted_gen = posted ? gen : 0;
	sync_global_to_guest(vm, ior_posted_gen);
	ior_assign(vm, &f, gen);
	ioregion_close_fds(&f.kvm_rfd, &f.kvm_wfd);
	for (i = 0; i < NR_VCPUS; i++) {
		v[i].vcpu = vcpus[i];
		TEST_ASSERT(!pthread_create(&v[i].thread, NULL, td_vcpu_thread, &v[i]),
			    "pthread_create() failed");
	}
	td_send(status, 'r');

	if (td_recv(ctl, "No order from the test") == 'x')
		_exit(0);

	td_stop_vcpus(v);
	kvm_vm_free(vm);
	td_send(status, 'f');
	td_recv(ctl, "No order from the test");
	_exit(0);
}

struct td_vmm {
	pid_t pid;
	int ctl;
	int status;
};

/* The device's ends stay here only, so that KVM alone can hold the fds open. */
static void td_spawn(struct td_vmm *m, const struct ior_fds *f, u32 gen, u32 seed, bool posted)
{
	struct ior_fds kvm_fds = *f;
	int ctl[2], status[2];

	TEST_ASSERT(!pipe2(ctl, O_CLOEXEC) && !pipe2(status, O_CLOEXEC),
		    "pipe2() failed, errno = %d", errno);
	fflush(stdout);
	fflush(stderr);
	m->pid = fork();
	TEST_ASSERT(m->pid >= 0, "fork() failed, errno = %d", errno);
	if (!m->pid) {
		close(ctl[1]);
		close(status[0]);
		ioregion_close_fds(&kvm_fds.dev_rfd, &kvm_fds.dev_wfd);
		td_vmm(kvm_fds, ctl[0], status[1], gen, seed, posted);
	}

	close(ctl[0]);
	close(status[1]);
	m->ctl = ctl[1];
	m->status = status[0];
	TEST_ASSERT(td_recv(m->status, "The VMM did not start") == 'r', "Bad VMM status");
}

/* The device's side of the teardown test: this process. */
struct td_device {
	struct ior_fds f;
	/* Of the two VMs, whose regions have user_data of device gens[i]. */
	u32 gens[2];
	struct ioregion_regfile rf[2][IOR_DOORBELL];
	/* The response held back, and how many of its bytes were sent. */
	struct ioregionfd_resp held;
	u32 sent;
	/* The VM of the held command, and how the first VM went, for messages. */
	int held_vm;
	enum td_action action;
	/* Commands that were queued when the first VM was gone: they may be its own. */
	u32 stale;
	u64 cmds;
	/* Those that were its own. */
	u64 gone_cmds;
};

/*
 * Take the next command, which must come from one of the VMs in @live, or
 * be one that a VM sent before it went.  Such a command must be a posted
 * write: one that wants a response needs the fds, which the vCPU of the
 * held command owned until the VM was gone or the response was in.
 */
static int td_take(struct td_device *d, u32 live, struct ioregionfd_cmd *cmd)
{
	struct pollfd pfd = { .fd = d->f.dev_rfd, .events = POLLIN };
	bool stale = d->stale;
	char buf[192];
	int vm;

	TEST_ASSERT(poll(&pfd, 1, PROMPT_MS) == 1, "No command in %d s", PROMPT_MS / 1000);
	TEST_ASSERT(!ioregion_device_recv_cmd(d->f.dev_rfd, cmd), "Failed to take a command");
	if (stale)
		d->stale--;
	for (vm = 0; vm < 2; vm++)
		if (((live & BIT(vm)) || stale) && ior_cmd_valid(cmd, d->gens[vm]))
			break;
	TEST_ASSERT(vm < 2 && ((live & BIT(vm)) || !(cmd->flags & IOREGIONFD_CMD_RESP)),
		    "Malformed command, from a VM after it was gone, or one of a gone VM that wants a response: %s; VMs of gens %u and %u, live mask %u, %s, the first went by %s with a command of VM %d held",
		    ioregion_cmd_str(cmd, buf, sizeof(buf)), d->gens[0], d->gens[1], live,
		    stale ? "queued before the first went" : "sent after the first went",
		    td_action_names[d->action], d->held_vm);
	d->cmds++;
	d->gone_cmds += !(live & BIT(vm));
	return vm;
}

/* How many commands the device has yet to take. */
static u32 td_queued(struct td_device *d)
{
	int bytes = 0;

	TEST_ASSERT(!ioctl(d->f.dev_rfd, FIONREAD, &bytes), "FIONREAD failed");
	return DIV_ROUND_UP(bytes, sizeof(struct ioregionfd_cmd));
}

/*
 * Answer @n commands that want a response, then take one more and hold its
 * response back, maybe after a part of it: its vCPU waits in the middle of
 * the transaction, the other vCPUs for the fds.
 */
static void td_serve(struct td_device *d, u32 live, u32 n, struct guest_random_state *rng)
{
	struct ioregionfd_cmd cmd;
	u64 data;
	int vm;

	for (;;) {
		vm = td_take(d, live, &cmd);
		if (!(cmd.flags & IOREGIONFD_CMD_RESP))
			continue;

		data = ioregion_regfile_access(&d->rf[vm][ior_ud_region(cmd.user_data)], &cmd);
		if (!n--)
			break;
		TEST_ASSERT(!ioregion_device_send_resp(d->f.dev_wfd, data), "Failed to answer");
	}

	d->held = (struct ioregionfd_resp) { .data = data };
	d->held_vm = vm;
	d->sent = guest_random_bool(rng) ? 1 + rand_below(rng, sizeof(d->held) - 1) : 0;
	TEST_ASSERT(write_all(d->f.dev_wfd, &d->held, d->sent), "Failed to answer in part");
}

/* Send the rest of the held response; KVM drops it if its vCPU is gone. */
static void td_finish_held(struct td_device *d)
{
	TEST_ASSERT(write_all(d->f.dev_wfd, (void *)&d->held + d->sent, sizeof(d->held) - d->sent),
		    "Failed to answer");
}

/* Take @n doorbells, then stop reading until the vCPUs wait for room to send. */
static void td_stall(struct td_device *d, u32 n)
{
	u64 deadline = now_ms() + PROMPT_MS;
	int unread = 0, last = -1, stable = 0;
	struct ioregionfd_cmd cmd;

	while (n--)
		td_take(d, BIT(0), &cmd);

	while (stable < 100) {
		TEST_ASSERT(now_ms() < deadline, "The fds never filled up");
		usleep(1000);
		TEST_ASSERT(!ioctl(d->f.dev_rfd, FIONREAD, &unread), "FIONREAD failed");
		stable = unread == last ? stable + 1 : 0;
		last = unread;
	}
}

/* With its VMs gone, KVM must let go of the fds: the device sees end of file. */
static void td_check_released(const struct ior_fds *f, enum td_action action)
{
	struct pollfd pfd = { .fd = f->dev_rfd, .events = POLLIN };
	u64 deadline = now_ms() + PROMPT_MS;
	char buf[4096];
	ssize_t ret;

	do {
		TEST_ASSERT(poll(&pfd, 1, PROMPT_MS) == 1,
			    "KVM still holds the fds %d s after the VM's %s",
			    PROMPT_MS / 1000, td_action_names[action]);
		ret = read(f->dev_rfd, buf, sizeof(buf));
	} while (ret > 0 || (ret < 0 && errno == EINTR));

	/* A socket resets instead if the VM went with a partial response unread. */
	TEST_ASSERT(!ret || errno == ECONNRESET, "read() failed, errno = %d", errno);

	if (f->dev_wfd == f->dev_rfd)
		return;

	/* The split layout's response socket hangs up once KVM let go of its peer. */
	pfd = (struct pollfd) { .fd = f->dev_wfd, .events = POLLOUT };
	while (poll(&pfd, 1, 0) != 1 || !(pfd.revents & (POLLHUP | POLLERR))) {
		TEST_ASSERT(now_ms() < deadline,
			    "KVM still holds the response socket %d s after the VM's %s",
			    PROMPT_MS / 1000, td_action_names[action]);
		usleep(1000);
	}
}

/*
 * Take @m's VM down by @action while its vCPUs wait for the device.  The VMM
 * must end promptly, and if @last, KVM let go of the fds @f.
 */
static void td_teardown(struct td_vmm *m, enum td_action action, const struct ior_fds *f,
			bool last)
{
	int ret = 0;

	TEST_ASSERT(!waitpid(m->pid, &ret, WNOHANG),
		    "The VMM died before its teardown, status 0x%x", ret);
	if (action == TD_KILL)
		TEST_ASSERT(!kill(m->pid, SIGKILL), "kill() failed, errno = %d", errno);
	else
		td_send(m->ctl, action == TD_EXIT ? 'x' : 'f');

	if (action == TD_FREE) {
		TEST_ASSERT(td_recv(m->status, "The VMM did not free its VM") == 'f',
			    "Bad VMM status");
		if (last)
			td_check_released(f, action);
		td_send(m->ctl, 'q');
	}

	ret = reap(m->pid, "The VMM");
	TEST_ASSERT(action == TD_KILL ? WIFSIGNALED(ret) && WTERMSIG(ret) == SIGKILL :
					WIFEXITED(ret) && !WEXITSTATUS(ret),
		    "The VMM ended with status 0x%x after %s", ret, td_action_names[action]);
	if (last && action != TD_FREE)
		td_check_released(f, action);
	close(m->ctl);
	close(m->status);
}

struct td_stats {
	u64 actions[NR_TD_ACTIONS];
	u64 full;
	u64 shared;
	u64 cmds;
	u64 gone_cmds;
};

/*
 * Two VMs share the fds of this process, the device.  The first goes away
 * while a command is held back, its own or the other VM's; the other must
 * then get the fds and its own responses, not the late one to the dead VM,
 * which the guest checks by reading back what it writes.  Posted writes
 * that the first VM sent before it went may still be queued, but nothing
 * it sends after.  Or one VM only
 * rings the doorbell until the fds are full, and goes away with its vCPUs
 * waiting to send.
 */
static void td_iteration(struct guest_random_state *rng, u32 iter, enum td_action action,
			 struct td_stats *st)
{
	enum td_action survivor = rand_below(rng, NR_TD_ACTIONS);
	bool stall = !rand_below(rng, 3);
	u32 seed = guest_random_u32(rng);
	static struct td_device d;
	struct td_vmm vmm[2];

	memset(&d, 0, sizeof(d));
	d.action = action;
	ior_open_fds(&d.f, iter & 1);
	d.gens[0] = 2 * iter;
	d.gens[1] = 2 * iter + 1;
	td_spawn(&vmm[0], &d.f, d.gens[0], seed, stall);
	if (!stall)
		td_spawn(&vmm[1], &d.f, d.gens[1], ~seed, false);
	ioregion_close_fds(&d.f.kvm_rfd, &d.f.kvm_wfd);

	if (stall) {
		td_stall(&d, rand_below(rng, 32));
		td_teardown(&vmm[0], action, &d.f, true);
		st->full++;
	} else {
		td_serve(&d, BIT(0) | BIT(1), rand_below(rng, 32), rng);
		usleep(rand_below(rng, 10000));
		td_teardown(&vmm[0], action, &d.f, false);
		/* Nothing can come from the first VM after what is queued now. */
		d.stale = td_queued(&d);

		td_finish_held(&d);
		td_serve(&d, BIT(1), 8 + rand_below(rng, 32), rng);
		td_teardown(&vmm[1], survivor, &d.f, true);
		st->actions[survivor]++;
		st->shared++;
	}
	st->actions[action]++;
	st->cmds += d.cmds;
	st->gone_cmds += d.gone_cmds;
	ioregion_close_fds(&d.f.dev_rfd, &d.f.dev_wfd);
}

/*
 * Again and again, VMs are torn down while their vCPUs wait for a device
 * that stopped answering or reading: by SIGKILL, by exit or by
 * kvm_vm_free().
 */
TEST_F_TIMEOUT(ioregionfd_stress, vm_teardown, CASE_TIMEOUT)
{
	struct guest_random_state rng = new_rng(stress_seed());
	u32 first = rand_below(&rng, NR_TD_ACTIONS), iter = 0;
	u64 start = now_ms(), end = start + stress_ms();
	struct td_stats st = {};
	enum td_action action;

	/* Every action once, however slow the kernel. */
	do {
		action = (first + iter) % NR_TD_ACTIONS;
		td_iteration(&rng, ++iter, action, &st);
	} while (iter < NR_TD_ACTIONS || (iter < TD_MAX_ITERS && now_ms() < end));

	ksft_print_msg("vm_teardown: %lu ms, %u rounds, %lu VMs torn down with vCPUs waiting\n",
		       now_ms() - start, iter, iter + st.shared);
	for (action = 0; action < NR_TD_ACTIONS; action++)
		ksft_print_msg("vm_teardown: %lu by %s\n", st.actions[action],
			       td_action_names[action]);
	ksft_print_msg("vm_teardown: %lu rounds with full fds, %lu with two VMs sharing the fds\n",
		       st.full, st.shared);
	ksft_print_msg("vm_teardown: %lu commands served, %lu of them from a VM already gone\n",
		       st.cmds, st.gone_cmds);
}

int main(int argc, char *argv[])
{
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_IOREGIONFD));

	/* A device that closed its end must not kill the VMM. */
	signal(SIGPIPE, SIG_IGN);

	return test_harness_run(argc, argv);
}
