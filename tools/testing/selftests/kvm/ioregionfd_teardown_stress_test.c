// SPDX-License-Identifier: GPL-2.0-only
/*
 * Stress of ioregionfd: VMM processes are torn down while their vCPUs wait
 * on a device that stopped answering or reading, and must exit promptly
 * and release the fds.
 *
 * Built for x86_64 and aarch64.  It stops after KVM_STRESS_SECONDS
 * (default 8, at most 240) or a fixed number of rounds, whichever comes
 * first, but not before it tried every kind of teardown once.
 * KVM_STRESS_SEED sets the seed of the random choices.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "guest_io.h"
#include "ioregion_stress.h"
#include "kvm_test_harness.h"
#include "kvm_util.h"
#include "test_util.h"
#include "ucall_common.h"

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

	iors_install_sigusr1();
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
static void __noreturn td_vmm(struct iors_fds f, int ctl, int status, u32 gen, u32 seed,
			      bool posted)
{
	struct kvm_vcpu *vcpus[NR_VCPUS];
	struct td_vcpu v[NR_VCPUS] = {};
	struct kvm_vm *vm;
	int i;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	vm = iors_vm_create(vcpus, seed);
	iors_posted_gen = posted ? gen : 0;
	sync_global_to_guest(vm, iors_posted_gen);
	iors_assign(vm, &f, gen);
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
static void td_spawn(struct td_vmm *m, const struct iors_fds *f, u32 gen, u32 seed, bool posted)
{
	struct iors_fds kvm_fds = *f;
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
	struct iors_fds f;
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
		if (((live & BIT(vm)) || stale) && iors_cmd_valid(cmd, d->gens[vm]))
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

		data = ioregion_regfile_access(&d->rf[vm][iors_ud_region(cmd.user_data)], &cmd);
		if (!n--)
			break;
		TEST_ASSERT(!ioregion_device_send_resp(d->f.dev_wfd, data), "Failed to answer");
	}

	d->held = (struct ioregionfd_resp) { .data = data };
	d->held_vm = vm;
	d->sent = guest_random_bool(rng) ? 1 + rand_below(rng, sizeof(d->held) - 1) : 0;
	TEST_ASSERT(iors_write_all(d->f.dev_wfd, &d->held, d->sent), "Failed to answer in part");
}

/* Send the rest of the held response; KVM drops it if its vCPU is gone. */
static void td_finish_held(struct td_device *d)
{
	TEST_ASSERT(iors_write_all(d->f.dev_wfd, (void *)&d->held + d->sent,
				   sizeof(d->held) - d->sent),
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
static void td_check_released(const struct iors_fds *f, enum td_action action)
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
static void td_teardown(struct td_vmm *m, enum td_action action, const struct iors_fds *f,
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

	ret = iors_reap(m->pid, "The VMM");
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
	iors_open_fds(&d.f, iter & 1);
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
