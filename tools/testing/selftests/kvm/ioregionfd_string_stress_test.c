// SPDX-License-Identifier: GPL-2.0-only
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
 *
 * It stops after KVM_STRESS_SECONDS (default 8, at most 240) or a fixed
 * number of rounds, whichever comes first, but not before it tried every
 * kind of failure once.  KVM_STRESS_SEED sets the seed of the random
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
#include "ioregion_string.h"
#include "kvm_test_harness.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

static bool str_stop;
static u32 str_seed;
static u64 str_iters[NR_VCPUS];
/* The bytes of its stream that each vCPU's string writes finished. */
static u64 str_written[NR_VCPUS];

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
	u64 gpa = iostr_region(idx).base, port = iostr_region(NR_VCPUS + idx).base;
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
		len = iostr_mem_len(count);
		switch (x % 4) {
		case 0:
			for (i = 0; i < count; i++) {
				wlast = iostr_wbyte(str_seed, idx, wpos++, wlast);
				buf[i] = wlast;
			}
			iostr_guest_port_write(port, wpos - count, buf, count);
			WRITE_ONCE(str_written[idx], wpos);
			break;
		case 1:
			memset(buf, 0, sizeof(buf));
			iostr_guest_port_read(port, x, buf, count);
			for (i = 0; i < count; i++)
				guest_str_check_read(idx, n, i, buf[i], &rlast, &emulated);
			break;
		case 2:
			for (i = 0; i < len; i++)
				buf[i] = guest_random_u32(&rng);
			iostr_guest_store(gpa + off, buf, len);
			memcpy(mirror + off, buf, len);
			break;
		default:
			iostr_guest_load(gpa + off, buf, len);
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

struct str_gen {
	enum iors_fault fault;
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
	struct iors_failure first;
	bool done;
};

struct str_stress {
	struct kvm_vm *vm;
	struct iostr_shared *sh;
	struct guest_random_state rng;
	struct str_vcpu vcpus[NR_VCPUS];
	/* Protects what follows but the counters of the churn and kicker threads. */
	pthread_mutex_t lock;
	u32 gen;
	struct str_gen gens[IOR_MAX_GENS + 1];
	/* The current device's process and KVM's ends of its fds, or -1. */
	pid_t pid;
	struct iors_fds fds;
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
	struct iors_region reg = iostr_region(r);
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

/*
 * Deassign and assign single regions of the live device, but leave every
 * vCPU one of its two: the device must get a command from each vCPU, and
 * one more to hold once it is armed.  With all eight regions gone, as one
 * generation in a few hundred was, it would get none.
 */
static void *str_churn_thread(void *arg)
{
	struct str_stress *s = arg;
	struct guest_random_state rng = new_rng(s->churn_seed);
	u32 r;

	while (!READ_ONCE(s->stop)) {
		usleep(rand_below(&rng, 3000));
		pthread_mutex_lock(&s->lock);
		r = rand_below(&rng, NR_STR_REGIONS);
		if (s->live && (!s->assigned[r] || s->assigned[(r + NR_VCPUS) % NR_STR_REGIONS])) {
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
static int str_check_access(struct str_vcpu *v, const struct iors_failure *f, const char *what)
{
	const u32 known = KVM_IOREGIONFD_FAILURE_WRITE | KVM_IOREGIONFD_FAILURE_PIO;
	bool pio = f->flags & KVM_IOREGIONFD_FAILURE_PIO;
	int r = iostr_find(v->idx, pio, f->addr);
	u32 gen = iors_ud_gen(f->user_data);
	char buf[256];

	iors_failure_str(f, buf, sizeof(buf));
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
	struct iors_failure f = iors_failure_of(run);
	int r = str_check_access(v, &f, "KVM_EXIT_IOREGIONFD_FAILURE");
	bool write = f.flags & KVM_IOREGIONFD_FAILURE_WRITE;
	u32 gen = iors_ud_gen(f.user_data);
	struct str_stress *s = v->s;
	struct str_gen *g;
	const char *why;
	char buf[256];
	u64 val;

	iors_failure_str(&f, buf, sizeof(buf));
	pthread_mutex_lock(&s->lock);
	g = &s->gens[gen];
	TEST_ASSERT(g->fault != IOR_DEASSIGN_HELD && (f.error == EPIPE || f.error == ECONNRESET),
		    "vCPU %u: %s from device %u (%s, %s)", v->idx, buf, gen,
		    iors_fault_names[g->fault], g->split ? "split" : "one socket");
	g->failures++;
	if (v->fail_gen < gen) {
		v->first = f;
		v->fail_gen = gen;
	}
	pthread_mutex_unlock(&s->lock);

	val = iostr_access(s->sh, r, write, f.addr - iostr_region(r).base, f.len, f.data, gen,
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
	int r = iostr_find(v->idx, pio, addr);
	const char *why = NULL;
	char buf[192];
	u64 val = 0;

	describe_io_exit(v->vcpu, buf, sizeof(buf));
	TEST_ASSERT(r >= 0 && size >= 1 && size <= 8, "vCPU %u: unexpected %s", v->idx, buf);
	for (i = 0; i < count && !why; i++, data += size) {
		if (write)
			memcpy(&val, data, size);
		val = iostr_access(v->s->sh, r, write, addr - iostr_region(r).base, size, val, 0,
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
	struct iors_failure f = iors_failure_of(v->vcpu->run);

	str_check_access(v, &f, "KVM_EXIT_IOREGIONFD_PENDING");
	TEST_ASSERT(f.error == EINTR, "vCPU %u: pending access with error %u, not EINTR",
		    v->idx, f.error);
	v->pending++;
}

static const struct iors_exit_ops str_exit_ops = {
	.pending = str_pending_exit,
	.failure = str_failure_exit,
	.plain = str_plain_exit,
};

static void *str_vcpu_thread(void *arg)
{
	struct str_vcpu *v = arg;

	iors_run_vcpu(v->vcpu, v->idx, &str_exit_ops, v, &v->eintr, &v->done);
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
	struct iors_region reg = iostr_region(iors_ud_region(cmd->user_data));
	u64 deadline = now_ms() + PROMPT_MS;
	struct iors_failure f;
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
		    iors_failure_str(&f, buf[1], sizeof(buf[1])));
}

static void str_reset_shared(struct iostr_shared *sh)
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
static void str_generation(struct str_stress *s, enum iors_fault fault)
{
	u32 gen = s->gen + 1;
	struct iostr_dev d = {
		.sh = s->sh, .gen = gen, .fault = fault,
		.rng = new_rng(guest_random_u32(&s->rng)),
	};
	struct iors_fds old;
	pthread_t thread;
	pid_t pid;
	u32 r;

	iors_open_fds(&d.fds, gen & 1);
	str_reset_shared(s->sh);
	pid = iostr_spawn(&d);

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

	iors_wait_device(s->sh->vcpu_cmds, &s->sh->cmds, &s->rng, gen);
	pthread_mutex_lock(&s->lock);
	s->live = false;
	pthread_mutex_unlock(&s->lock);

	if (fault == IOR_KILL) {
		usleep(rand_below(&s->rng, 2000));
		TEST_ASSERT(!kill(pid, SIGKILL), "kill() failed, errno = %d", errno);
		str_check_device(s, iors_reap(pid, "A device"), false);
	} else {
		/* Release: the device reads armed with nothing else to order. */
		smp_store_release(&s->sh->armed, true);
		iors_wait_flag(&s->sh->faulted, "The device took no command to hold");
		usleep(rand_below(&s->rng, 5000));
	}

	if (fault == IOR_KILL_HELD) {
		TEST_ASSERT(!kill(pid, SIGKILL), "kill() failed, errno = %d", errno);
		str_check_device(s, iors_reap(pid, "A device"), false);
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
		str_check_device(s, iors_reap(pid, "A device whose regions were deassigned"), true);
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
		pos = iostr_wpos(s->sh->v[i].wstate);
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
					len ? ", " : "", s->nr_faults[i], iors_fault_names[i]);

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

FIXTURE(ioregionfd_stress) {
};

FIXTURE_SETUP(ioregionfd_stress)
{
	if (!kvm_has_cap(KVM_CAP_IOREGIONFD))
		SKIP(return, "KVM_CAP_IOREGIONFD not supported");
}

FIXTURE_TEARDOWN(ioregionfd_stress)
{
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
	static const enum iors_fault faults[] = { IOR_KILL, IOR_KILL_HELD, IOR_DEASSIGN_HELD };
	struct kvm_vcpu *vcpus[NR_VCPUS];
	u64 failures0[NR_VCPUS], start, end;
	u32 seed = stress_seed(), first;
	static struct str_stress s;
	enum iors_fault fault;
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
	s.fds = (struct iors_fds) { .kvm_rfd = -1, .kvm_wfd = -1, .dev_rfd = -1, .dev_wfd = -1 };
	pthread_mutex_init(&s.lock, NULL);
	iors_install_sigusr1();
	iors_install_sigpipe();

	s.vm = vm_create_with_vcpus(NR_VCPUS, guest_strings, vcpus);
	virt_map(s.vm, MMIO_GPA, MMIO_GPA, STR_MMIO_NR_PAGES);
	check_ucall_clear(s.vm, STR_MMIO_NR_PAGES);
#ifndef __x86_64__
	iostr_page_size = s.vm->page_size;
	sync_global_to_guest(s.vm, iostr_page_size);
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
	iors_check_no_sigpipe("strings");
	kvm_vm_free(s.vm);
	ioregion_close_fds(&s.fds.kvm_rfd, &s.fds.kvm_wfd);
	munmap(s.sh, sizeof(*s.sh));
}

int main(int argc, char *argv[])
{
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_IOREGIONFD));

	/* A device that closed its end must not kill the VMM. */
	signal(SIGPIPE, SIG_IGN);

	return test_harness_run(argc, argv);
}
