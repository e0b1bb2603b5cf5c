// SPDX-License-Identifier: GPL-2.0-only
/*
 * Stress of ioregionfd: device processes are killed, answer garbage or
 * are abandoned in the middle of transactions, while signals interrupt
 * KVM_RUN.
 *
 * Built for x86_64 and aarch64.  arm64 has no port I/O: there every
 * register file and posted doorbell is an MMIO one.
 *
 * Each case stops after KVM_STRESS_SECONDS (default 8, at most 240) or a
 * fixed number of rounds, whichever comes first, but not before it tried
 * every kind of failure once.  KVM_STRESS_SEED sets the seed of the random
 * choices.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <asm/barrier.h>

#include "guest_io.h"
#include "ioregion_stress.h"
#include "kvm_test_harness.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

struct ior_gen {
	enum iors_fault fault;
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
	struct iors_failure first;
	bool done;
};

struct ior_stress {
	struct kvm_vm *vm;
	struct iors_shared *sh;
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
	/* iors_posted_gen and iors_posted_seen in guest memory. */
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
	struct iors_region reg;
	int i;

	for (i = 0; i < ARRAY_SIZE(rs); i++) {
		reg = iors_region(rs[i]);
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
		.offset = addr - iors_region(r).base,
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

static void ior_record_failure(struct ior_vcpu *v, const struct iors_failure *f, const char *str)
{
	u32 gen = iors_ud_gen(f->user_data);
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
		    v->idx, str, gen, iors_fault_names[g->fault], g->split ? "split" : "one socket",
		    g->error);
	g->failures++;
	if (v->fail_gen < gen) {
		v->first = *f;
		v->fail_gen = gen;
	}
	pthread_mutex_unlock(&s->lock);
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
	struct iors_failure f = iors_failure_of(v->vcpu->run);
	const u32 known = KVM_IOREGIONFD_FAILURE_WRITE | KVM_IOREGIONFD_FAILURE_PIO;
	bool pio = f.flags & KVM_IOREGIONFD_FAILURE_PIO;
	int r = ior_find(v->idx, pio, f.addr, f.len);
	u32 gen = iors_ud_gen(f.user_data);
	char buf[256];

	iors_failure_str(&f, buf, sizeof(buf));
	TEST_ASSERT(r >= 0 && f.user_data == IOR_USER_DATA(gen, r) && !(f.flags & ~known) &&
		    !f.pad && memchr(iors_sizes, f.len, sizeof(iors_sizes)) &&
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
	struct iors_failure f = iors_failure_of(run);
	const u32 known = KVM_IOREGIONFD_FAILURE_WRITE | KVM_IOREGIONFD_FAILURE_PIO;
	bool write = f.flags & KVM_IOREGIONFD_FAILURE_WRITE;
	bool pio = f.flags & KVM_IOREGIONFD_FAILURE_PIO;
	int r = ior_find(v->idx, pio, f.addr, f.len);
	char buf[256];
	u64 val;

	iors_failure_str(&f, buf, sizeof(buf));
	TEST_ASSERT(r >= 0 && f.user_data == IOR_USER_DATA(iors_ud_gen(f.user_data), r) &&
		    !(f.flags & ~known) && !f.pad &&
		    memchr(iors_sizes, f.len, sizeof(iors_sizes)) && f.len <= (pio ? 4 : 8) &&
		    !(f.data & ~ioregion_size_mask(f.len)) && (write || !f.data),
		    "vCPU %u: malformed %s", v->idx, buf);
	ior_record_failure(v, &f, buf);

	/* Complete the access as a VMM would, a read with run->ioregionfd.data. */
	val = ior_emulate(v, r, write, f.addr, f.len, f.data);
	if (!write)
		run->ioregionfd.data = val;
	v->failures++;
}

static const struct iors_exit_ops ior_exit_ops = {
	.pending = ior_pending_exit,
	.failure = ior_failure_exit,
	.plain = ior_plain_exit,
};

static void *ior_vcpu_thread(void *arg)
{
	struct ior_vcpu *v = arg;

	iors_run_vcpu(v->vcpu, v->idx, &ior_exit_ops, v, &v->eintr, &v->done);
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
	struct iors_failure f;
	char buf[256];
	int i;

	WRITE_ONCE(*s->posted_gen, 0);
	for (i = 0; i < NR_VCPUS; i++) {
		pthread_mutex_lock(&s->lock);
		f = s->vcpus[i].first;
		pthread_mutex_unlock(&s->lock);
		TEST_ASSERT(iors_ud_region(f.user_data) == IOR_DOORBELL &&
			    (f.flags & KVM_IOREGIONFD_FAILURE_WRITE),
			    "vCPU %d rang only the doorbell, but its first failure is %s",
			    i, iors_failure_str(&f, buf, sizeof(buf)));
	}
}

/* Make the device fail as planned, where possible in the middle of a transaction. */
static void ior_strike(struct ior_stress *s, pid_t pid, enum iors_fault fault)
{
	struct iors_shared *sh = s->sh;

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
	iors_wait_flag(&sh->faulted, "The device took no command to fail on");
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
				    i, PROMPT_MS / 1000, gen, iors_fault_names[s->gens[gen].fault]);
			usleep(200);
		}
	}
}

static void ior_check_device(struct ior_stress *s, int status, enum iors_fault fault)
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
static void ior_check_victim(struct ior_stress *s, u32 gen, enum iors_fault fault)
{
	const struct ioregionfd_cmd *cmd = &s->sh->fault_cmd;
	struct iors_region reg;
	struct iors_failure f;
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

	reg = iors_region(iors_ud_region(cmd->user_data));
	pthread_mutex_lock(&s->lock);
	f = s->vcpus[reg.vcpu].first;
	pthread_mutex_unlock(&s->lock);

	flags = (cmd->cmd == IOREGIONFD_CMD_WRITE ? KVM_IOREGIONFD_FAILURE_WRITE : 0) |
		(reg.flags & KVM_IOREGION_PIO ? KVM_IOREGIONFD_FAILURE_PIO : 0);
	TEST_ASSERT(f.addr == reg.base + cmd->offset && f.len == cmd->size && f.flags == flags &&
		    f.data == cmd->data && f.user_data == cmd->user_data,
		    "Device %u (%s) failed %s, but vCPU %u's first failure is %s",
		    gen, iors_fault_names[fault], ioregion_cmd_str(cmd, buf[0], sizeof(buf[0])),
		    reg.vcpu, iors_failure_str(&f, buf[1], sizeof(buf[1])));
}

static void *ior_deassign_thread(void *arg)
{
	iors_deassign(arg);
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
	struct iors_shared *sh = s->sh;
	pthread_t thread;
	int status;

	/* Release: the device reads armed with nothing else to order. */
	smp_store_release(&sh->armed, true);
	iors_wait_flag(&sh->faulted, "The device took no command to hold");
	usleep(rand_below(&s->rng, 5000));

	TEST_ASSERT(!pthread_create(&thread, NULL, ior_deassign_thread, s->vm),
		    "pthread_create() failed");
	join_thread(thread, "Deassign did not return while the device held a command");
	s->assigned = false;

	/* Release: the device answers once the regions are gone. */
	smp_store_release(&sh->release, true);
	status = iors_reap(pid, "A device whose regions were deassigned");
	TEST_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == DEV_EOF,
		    "A device whose regions were deassigned ended with status 0x%x, not end of file",
		    status);

	pthread_mutex_lock(&s->lock);
	TEST_ASSERT(!s->gens[gen].failures,
		    "%lu accesses failed on device %u, which answered all, after its regions went",
		    s->gens[gen].failures, gen);
	pthread_mutex_unlock(&s->lock);
}

static void ior_reset_shared(struct iors_shared *sh)
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
static void ior_generation(struct ior_stress *s, enum iors_fault fault)
{
	u32 gen = s->gen + 1;
	struct iors_dev d = {
		.sh = s->sh, .gen = gen, .fault = fault,
		.rng = new_rng(guest_random_u32(&s->rng)),
	};
	pid_t pid;

	iors_open_fds(&d.fds, gen & 1);
	ior_reset_shared(s->sh);
	pthread_mutex_lock(&s->lock);
	s->gens[gen] = (struct ior_gen) { .fault = fault, .split = gen & 1 };
	s->gen = gen;
	pthread_mutex_unlock(&s->lock);

	pid = iors_spawn(&d);
	if (s->assigned)
		iors_deassign(s->vm);
	iors_assign(s->vm, &d.fds, gen);
	s->assigned = true;
	ioregion_close_fds(&d.fds.kvm_rfd, &d.fds.kvm_wfd);

	iors_wait_device(s->sh->vcpu_cmds, &s->sh->cmds, &s->rng, gen);
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
		ior_check_device(s, iors_reap(pid, "A device"), fault);
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
	u64 *doorbells = addr_gva2hva(s->vm, (vm_vaddr_t)iors_doorbells);
	u64 *iters = addr_gva2hva(s->vm, (vm_vaddr_t)iors_iters);
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
	u64 *iters = addr_gva2hva(s->vm, (vm_vaddr_t)iors_iters);
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
					len ? ", " : "", s->nr_faults[i], iors_fault_names[i]);

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
static void ior_stress_run(struct ior_stress *s, struct iors_shared *sh,
			   const enum iors_fault *faults, int nr_faults, const char *name)
{
	struct kvm_vcpu *vcpus[NR_VCPUS];
	u64 failures0[NR_VCPUS], start, end;
	u32 seed = stress_seed(), first;
	enum iors_fault fault;
	struct ior_vcpu *v;
	int i;

	s->sh = sh;
	s->rng = new_rng(~seed);
	s->kicker_seed = seed * 3;
	s->vm = iors_vm_create(vcpus, seed);
	s->posted_gen = addr_gva2hva(s->vm, (vm_vaddr_t)&iors_posted_gen);
	s->posted_seen = addr_gva2hva(s->vm, (vm_vaddr_t)iors_posted_seen);
	pthread_mutex_init(&s->lock, NULL);
	iors_install_sigusr1();
	iors_install_sigpipe();

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
	WRITE_ONCE(*(bool *)addr_gva2hva(s->vm, (vm_vaddr_t)&iors_stop), true);
	for (i = 0; i < NR_VCPUS; i++)
		join_vcpu(s->vcpus[i].thread, i);

	ior_check_final(s, failures0);
	ior_report(s, name, now_ms() - start);
	iors_check_no_sigpipe(name);
	kvm_vm_free(s->vm);
}

FIXTURE(ioregionfd_stress) {
	struct iors_shared *sh;
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
	static const enum iors_fault faults[] = {
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
	static const enum iors_fault faults[] = {
		IOR_SHORT_HELD, IOR_SHORT_CLOSE, IOR_GARBAGE, IOR_LONG,
	};
	static struct ior_stress s;

	ior_stress_run(&s, self->sh, faults, ARRAY_SIZE(faults), "device_garbage");
}

int main(int argc, char *argv[])
{
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_IOREGIONFD));

	/* A device that closed its end must not kill the VMM. */
	signal(SIGPIPE, SIG_IGN);

	return test_harness_run(argc, argv);
}
