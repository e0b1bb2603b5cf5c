// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <asm/barrier.h>

#include "guest_io.h"
#include "ioregion_stress.h"
#include "processor.h"
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

void iors_install_sigpipe(void)
{
	struct sigaction sa = { .sa_handler = sigpipe_handler, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	TEST_ASSERT(!sigaction(SIGPIPE, &sa, NULL), "sigaction() failed, errno = %d", errno);
}

void iors_check_no_sigpipe(const char *name)
{
	u64 n = __atomic_load_n(&vcpu_sigpipes, __ATOMIC_RELAXED);

	TEST_ASSERT(!n, "%s: %lu SIGPIPEs reached vCPU threads", name, n);
}

/* A signal that interrupts KVM_RUN: no SA_RESTART. */
void iors_install_sigusr1(void)
{
	struct sigaction sa = { .sa_handler = nop_handler };

	sigemptyset(&sa.sa_mask);
	TEST_ASSERT(!sigaction(SIGUSR1, &sa, NULL), "sigaction() failed, errno = %d", errno);
}

/* Wait for @pid to end; a process that takes longer than PROMPT_MS is hung. */
int iors_reap(pid_t pid, const char *what)
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

void iors_wait_flag(bool *flag, const char *what)
{
	u64 deadline = now_ms() + PROMPT_MS;

	/* Acquire: pairs with the release by the process that sets the flag. */
	while (!smp_load_acquire(flag)) {
		TEST_ASSERT(now_ms() < deadline, "%s within %d s", what, PROMPT_MS / 1000);
		usleep(200);
	}
}

struct iors_region iors_region(u32 r)
{
	if (r == IOR_DOORBELL)
		return (struct iors_region) {
			.base = IOR_DOORBELL_ADDR, .size = 4,
			.flags = IOR_BUS2_FLAGS | KVM_IOREGION_POSTED_WRITES,
		};
	if (r < NR_VCPUS)
		return (struct iors_region) {
			.base = MMIO_GPA + r * IOR_STRIDE, .size = IOR_SIZE, .vcpu = r,
		};
	return (struct iors_region) {
		.base = IOR_BUS2_BASE + (r - NR_VCPUS) * IOR_STRIDE, .size = IOR_SIZE,
		.flags = IOR_BUS2_FLAGS, .vcpu = r - NR_VCPUS,
	};
}

const u8 iors_sizes[] = { 1, 2, 4, 8 };

u64 iors_iters[NR_VCPUS];
u64 iors_doorbells[NR_VCPUS];
bool iors_stop;
static u32 ior_seed;

/* While nonzero, only ring the doorbell; each vCPU says it saw it. */
u32 iors_posted_gen;
u32 iors_posted_seen[NR_VCPUS];

/* Write a random value at a random place of a register file and read it back. */
static void guest_ior_access(struct guest_random_state *rng, u32 idx, u32 r, u64 n)
{
	struct iors_region reg = iors_region(r);
	bool pio = reg.flags & KVM_IOREGION_PIO;
	u32 x = guest_random_u32(rng), size = iors_sizes[x % (pio ? 3 : 4)];
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
	struct iors_region reg = iors_region(IOR_DOORBELL);

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

	for (n = 0; n < IOR_MAX_ITERS && !READ_ONCE(iors_stop); n++) {
		posted = READ_ONCE(iors_posted_gen);
		WRITE_ONCE(iors_posted_seen[idx], posted);
		if (!posted) {
			guest_ior_access(&rng, idx, idx, n);
			guest_ior_access(&rng, idx, NR_VCPUS + idx, n);
		}
		if (posted || !rand_below(&rng, 4)) {
			guest_ior_doorbell(idx);
			WRITE_ONCE(iors_doorbells[idx], iors_doorbells[idx] + 1);
		}
		WRITE_ONCE(iors_iters[idx], n + 1);
	}
	GUEST_DONE();
}

const char * const iors_fault_names[NR_IOR_FAULTS] = {
	[IOR_KILL]		= "killed",
	[IOR_KILL_HELD]		= "killed holding a command",
	[IOR_KILL_FULL]		= "killed with its fds full",
	[IOR_SHORT_HELD]	= "short response, killed",
	[IOR_SHORT_CLOSE]	= "short response, exit",
	[IOR_GARBAGE]		= "random response",
	[IOR_LONG]		= "long response",
	[IOR_DEASSIGN_HELD]	= "deassigned holding a command",
};

/* A command as the guest's accesses to the regions of device @gen make them. */
bool iors_cmd_valid(const struct ioregionfd_cmd *cmd, u32 gen)
{
	u32 r = iors_ud_region(cmd->user_data);
	struct iors_region reg = iors_region(r);
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
	    !memchr(iors_sizes, cmd->size, sizeof(iors_sizes)) || cmd->offset % cmd->size ||
	    cmd->offset + cmd->size > IOR_SIZE)
		return false;

	if (cmd->cmd == IOREGIONFD_CMD_READ)
		return !cmd->data;
	return cmd->cmd == IOREGIONFD_CMD_WRITE && !(cmd->data & ~ioregion_size_mask(cmd->size));
}

bool iors_write_all(int fd, const void *buf, size_t len)
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

void __noreturn iors_hold_forever(void)
{
	for (;;)
		pause();
}

/* Fail on @cmd, whose answer is @data, as planned; return whether to answer it still. */
static bool ior_dev_fault(struct iors_dev *d, const struct ioregionfd_cmd *cmd, u64 data,
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

	if (n && !iors_write_all(d->fds.dev_wfd, buf, n))
		_exit(DEV_IO_ERROR);

	/* Release: the host reads fault_cmd once it sees faulted. */
	smp_store_release(&d->sh->faulted, true);
	if (d->fault == IOR_SHORT_CLOSE)
		_exit(DEV_CLOSED);
	if (d->fault == IOR_KILL_HELD || d->fault == IOR_SHORT_HELD)
		iors_hold_forever();
	if (d->fault != IOR_DEASSIGN_HELD)
		return false;

	/* Acquire: pairs with the release by the host, once it deassigned the regions. */
	while (!smp_load_acquire(&d->sh->release))
		usleep(100);
	return true;
}

/* Stop reading until the fds are full and the vCPUs wait to send, then hold. */
static void __noreturn ior_dev_stall(struct iors_dev *d)
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
	iors_hold_forever();
}

static void ior_dev_count(struct iors_shared *sh, const struct ioregionfd_cmd *cmd)
{
	u32 r = iors_ud_region(cmd->user_data);
	u32 idx = r == IOR_DOORBELL ? cmd->data : iors_region(r).vcpu;

	WRITE_ONCE(sh->cmds, sh->cmds + 1);
	WRITE_ONCE(sh->vcpu_cmds[idx], sh->vcpu_cmds[idx] + 1);
	if (r == IOR_DOORBELL)
		WRITE_ONCE(sh->doorbells[idx], sh->doorbells[idx] + 1);
}

/* Serve commands, now and then slowly, until the planned failure. */
static int ior_device(struct iors_dev *d)
{
	struct iors_shared *sh = d->sh;
	bool victim = false, answer;
	struct ioregionfd_cmd cmd;
	u64 data;

	for (;;) {
		if (ioregion_device_recv_cmd(d->fds.dev_rfd, &cmd))
			return DEV_EOF;

		WRITE_ONCE(sh->busy, true);
		if (!iors_cmd_valid(&cmd, d->gen)) {
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

		data = ioregion_regfile_access(&sh->rf[iors_ud_region(cmd.user_data)], &cmd);
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
void iors_open_fds(struct iors_fds *f, bool split)
{
	int cmd[2], resp[2];

	if (split) {
		TEST_ASSERT(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cmd) &&
			    !socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, resp),
			    "socketpair() failed, errno = %d", errno);
		*f = (struct iors_fds) {
			.kvm_rfd = resp[0], .kvm_wfd = cmd[0],
			.dev_rfd = cmd[1], .dev_wfd = resp[1],
		};
		return;
	}

	TEST_ASSERT(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cmd),
		    "socketpair() failed, errno = %d", errno);
	*f = (struct iors_fds) {
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
pid_t iors_spawn_device(struct iors_fds *fds, int (*device)(void *arg), void *arg)
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

pid_t iors_spawn(struct iors_dev *d)
{
	return iors_spawn_device(&d->fds, ior_device_fn, d);
}

void iors_assign(struct kvm_vm *vm, const struct iors_fds *f, u32 gen)
{
	struct kvm_ioregion args;
	struct iors_region reg;
	u32 r;

	for (r = 0; r < NR_IOR_REGIONS; r++) {
		reg = iors_region(r);
		args = (struct kvm_ioregion) {
			.guest_paddr = reg.base, .memory_size = reg.size,
			.user_data = IOR_USER_DATA(gen, r),
			.read_fd = f->kvm_rfd, .write_fd = f->kvm_wfd, .flags = reg.flags,
		};
		vm_set_ioregion(vm, &args);
	}
}

void iors_deassign(struct kvm_vm *vm)
{
	struct kvm_ioregion args;
	struct iors_region reg;
	u32 r;

	for (r = 0; r < NR_IOR_REGIONS; r++) {
		reg = iors_region(r);
		args = (struct kvm_ioregion) {
			.guest_paddr = reg.base, .memory_size = reg.size,
			.read_fd = -1, .write_fd = -1, .flags = reg.flags | KVM_IOREGION_DEASSIGN,
		};
		vm_set_ioregion(vm, &args);
	}
}

struct kvm_vm *iors_vm_create(struct kvm_vcpu **vcpus, u32 seed)
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

const char *iors_failure_str(const struct iors_failure *f, char *buf, size_t size)
{
	snprintf(buf, size,
		 "KVM_EXIT_IOREGIONFD_FAILURE (addr 0x%lx, len %u, flags 0x%x, data 0x%lx, user_data 0x%lx, error %u, pad %u)",
		 f->addr, f->len, f->flags, f->data, f->user_data, f->error, f->pad);
	return buf;
}

struct iors_failure iors_failure_of(const struct kvm_run *run)
{
	return (struct iors_failure) {
		.addr = run->ioregionfd.addr, .data = run->ioregionfd.data,
		.user_data = run->ioregionfd.user_data, .len = run->ioregionfd.len,
		.flags = run->ioregionfd.flags, .error = run->ioregionfd.error,
		.pad = run->ioregionfd.pad,
	};
}

/* Run @vcpu of @v until its guest is done, handing each exit to @ops. */
void iors_run_vcpu(struct kvm_vcpu *vcpu, u32 idx, const struct iors_exit_ops *ops, void *v,
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

/*
 * Every vCPU must get to the new device, whose counts are in @vcpu_cmds and
 * @cmds; then let it take some more commands.
 */
void iors_wait_device(const u64 *vcpu_cmds, const u64 *cmds, struct guest_random_state *rng,
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
