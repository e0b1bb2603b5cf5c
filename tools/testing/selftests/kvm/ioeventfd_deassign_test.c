// SPDX-License-Identifier: GPL-2.0-only
/*
 * Once KVM_IOEVENTFD deassign returns, no vCPU may signal the item again:
 * deassign has to wait for every vCPU that found the item before it went.
 *
 * A vCPU writes a data-match doorbell in a loop while the host deassigns the
 * item.  The eventfd is read at once after deassign returns, and again once
 * the vCPU has left KVM_RUN; the second read must find nothing.
 *
 * The window between a vCPU finding the item and signalling it is a few
 * instructions.  Kernels with CONFIG_FAULT_INJECTION widen it: writing 2 to
 * /proc/self/task/TID/fail-nth makes the vCPU thread's next data-match
 * signal wait IOEVENTFD_INJECTED_DELAY_MS first.  Writing 1 makes its next
 * write wait as long once it has found the group, before it looks for
 * items.  A deassign then need not wait, but the vCPU must find the item
 * gone, and the group still usable, even once a group at another address
 * has taken it off its bus.
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

#include <linux/sizes.h>
#include <linux/time64.h>

#include "guest_io.h"
#include "kvm_test_harness.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"

/* Outside every memslot, identity mapped. */
#define DOORBELL_GPA		(4ull * SZ_1G)
#define EVICT_GPA		(DOORBELL_GPA + 0x10)

#define VAL_KEEPER		0x1111
#define VAL_RACED		0x2222

/* As in virt/kvm/ioeventfd.c. */
#define INJECTED_DELAY_MS	50

#define NR_ROUNDS		200

/* The fail-nth values that pick the injection point, see above. */
#define STALL_AT_GROUP		"1"
#define STALL_AT_SIGNAL		"2"

static void guest_code(void)
{
	for (;;)
		WRITE_ONCE(*(u32 *)DOORBELL_GPA, VAL_RACED);
}

static void ioeventfd(struct kvm_vm *vm, int fd, u64 val, u32 flags)
{
	struct kvm_ioeventfd args = {
		.datamatch = val,
		.addr = DOORBELL_GPA,
		.len = 4,
		.fd = fd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH | flags,
	};

	vm_ioctl(vm, KVM_IOEVENTFD, &args);
}

/*
 * Register and deassign a group at another address.  If the doorbell's
 * group is empty, the VM never had two groups with items at once, so the
 * new group takes the empty one off its bus.
 */
static void evict_empty_group(struct kvm_vm *vm, int fd)
{
	struct kvm_ioeventfd args = { .addr = EVICT_GPA, .len = 4, .fd = fd };

	vm_ioctl(vm, KVM_IOEVENTFD, &args);
	args.flags = KVM_IOEVENTFD_FLAG_DEASSIGN;
	vm_ioctl(vm, KVM_IOEVENTFD, &args);
}

/* The calling thread's fail-nth, or -1 if the kernel has no fault injection. */
static int open_fail_nth(int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/fail-nth", gettid());
	return open(path, flags);
}

/* Write @val to the calling thread's fail-nth; false if the kernel has none. */
static bool set_fail_nth(const char *val)
{
	int fd = open_fail_nth(O_WRONLY);
	int ret;

	if (fd < 0)
		return false;

	ret = write(fd, val, strlen(val));
	close(fd);
	return ret == strlen(val);
}

/* Whether the last fail-nth the thread armed was used up. */
static bool fail_nth_used(void)
{
	int fd = open_fail_nth(O_RDONLY);
	char buf[16] = "";

	TEST_ASSERT(fd >= 0, "open(fail-nth) failed, errno %d", errno);
	TEST_ASSERT(read(fd, buf, sizeof(buf) - 1) > 0, "read(fail-nth) failed");
	close(fd);
	return atoi(buf) == 0;
}

struct round {
	struct kvm_vcpu *vcpu;
	/* The fail-nth to arm, or NULL. */
	const char *stall;
	/* Out: the injection point stalled this round's first write. */
	bool stalled;
};

/* Run until the first write that no item takes, which follows the deassign. */
static void *vcpu_round(void *arg)
{
	struct round *r = arg;
	struct kvm_run *run = r->vcpu->run;
	u32 data;

	if (r->stall)
		TEST_ASSERT(set_fail_nth(r->stall), "fail-nth went away");

	vcpu_run(r->vcpu);

	if (r->stall) {
		r->stalled = fail_nth_used();
		set_fail_nth("0");
	}

	memcpy(&data, run->mmio.data, sizeof(data));
	TEST_ASSERT(run->exit_reason == KVM_EXIT_MMIO && run->mmio.is_write &&
		    run->mmio.phys_addr == DOORBELL_GPA && data == VAL_RACED,
		    "expected the doorbell write to exit once its item was gone, got exit %s",
		    exit_reason_str(run->exit_reason));
	return NULL;
}

/* Whether fail-nth reaches KVM's injection point in this kernel. */
static bool probe_injection(struct kvm_vcpu *vcpu, int fd)
{
	struct round r = { .vcpu = vcpu, .stall = STALL_AT_SIGNAL };
	pthread_t thread;

	if (!set_fail_nth("0"))
		return false;

	/* Let the round end on its own: the stalled signal comes, then the deassign. */
	ioeventfd(vcpu->vm, fd, VAL_RACED, 0);
	pthread_create(&thread, NULL, vcpu_round, &r);
	while (!eventfd_count(fd))
		usleep(1000);
	ioeventfd(vcpu->vm, fd, VAL_RACED, KVM_IOEVENTFD_FLAG_DEASSIGN);
	pthread_join(thread, NULL);
	eventfd_count(fd);
	return r.stalled;
}

FIXTURE(deassign) {
	struct kvm_vcpu *vcpu;
	int fd;
	int keeper_fd;
};

/* With a keeper, deassign removes an item; without, the whole group. */
FIXTURE_VARIANT(deassign) {
	bool keeper;
};

FIXTURE_VARIANT_ADD(deassign, item) {
	.keeper = true,
};

FIXTURE_VARIANT_ADD(deassign, group) {
	.keeper = false,
};

FIXTURE_SETUP(deassign)
{
	struct kvm_vm *vm;

	vm = vm_create_with_one_vcpu(&self->vcpu, guest_code);
	virt_map(vm, DOORBELL_GPA, DOORBELL_GPA, 1);

	self->fd = eventfd(0, EFD_NONBLOCK);
	self->keeper_fd = eventfd(0, EFD_NONBLOCK);
	TEST_ASSERT(self->fd >= 0 && self->keeper_fd >= 0, "eventfd() failed");

	if (variant->keeper) {
		TEST_REQUIRE(kvm_has_cap(KVM_CAP_IOEVENTFD_GROUPS));
		ioeventfd(vm, self->keeper_fd, VAL_KEEPER, 0);
	}
}

FIXTURE_TEARDOWN(deassign)
{
	if (!self->vcpu)
		return;
	kvm_vm_free(self->vcpu->vm);
	close(self->fd);
	close(self->keeper_fd);
}

/*
 * Deassign while the vCPU writes: without injection once the writes reach
 * the eventfd, with it at a spread of times into the stalled first signal.
 */
static s64 race_once(struct kvm_vcpu *vcpu, int fd, const char *stall, bool evict, int i,
		     bool *stalled, u64 *signalled)
{
	struct round r = { .vcpu = vcpu, .stall = stall };
	struct timespec start;
	pthread_t thread;
	u64 before, after;
	s64 ms;

	ioeventfd(vcpu->vm, fd, VAL_RACED, 0);
	pthread_create(&thread, NULL, vcpu_round, &r);

	if (stall) {
		usleep((i % 10) * INJECTED_DELAY_MS * 100);
	} else {
		while (!eventfd_count(fd))
			;
	}

	clock_gettime(CLOCK_MONOTONIC, &start);
	ioeventfd(vcpu->vm, fd, VAL_RACED, KVM_IOEVENTFD_FLAG_DEASSIGN);
	ms = timespec_to_ns(timespec_elapsed(start)) / NSEC_PER_MSEC;
	before = eventfd_count(fd);
	if (evict)
		evict_empty_group(vcpu->vm, fd);

	pthread_join(thread, NULL);
	after = eventfd_count(fd);
	TEST_ASSERT(!after,
		    "round %d: the item was signalled %lu times after its deassign returned (%lu before, deassign took %ld ms)",
		    i, after, before, ms);

	*stalled = r.stalled;
	*signalled = before;
	return ms;
}

TEST_F_TIMEOUT(deassign, waits_for_signalling_vcpu, 300)
{
	bool inject = probe_injection(self->vcpu, self->fd);
	int i, waited = 0, stalled_rounds = 0;
	u64 signalled;
	bool stalled;

	/* The stall sleeps, so that one CPU runs both the vCPU and the deassign. */
	if (!inject && sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "Without fault injection, the vCPU and the deassign need a CPU each");
	if (!inject)
		ksft_print_msg("No fault injection: the race window is narrow\n");

	for (i = 0; i < NR_ROUNDS; i++) {
		if (race_once(self->vcpu, self->fd, inject ? STALL_AT_SIGNAL : NULL, false, i,
			      &stalled, &signalled) >= INJECTED_DELAY_MS / 2 && stalled)
			waited++;
		stalled_rounds += stalled;
	}
	TEST_ASSERT(!eventfd_count(self->keeper_fd), "the keeper item was signalled");

	if (inject) {
		ksft_print_msg("%d of %d rounds stalled a signal, %d deassigns waited for one\n",
			       stalled_rounds, NR_ROUNDS, waited);
		TEST_ASSERT(waited, "no deassign came while a signal was stalled");
	}
}

/*
 * Deassign while a vCPU that has found the group stalls before it looks for
 * items, then let a new group take the emptied one off its bus.  The stalled
 * write must find no item and exit to userspace, and nothing may be
 * signalled after the deassign returns.
 */
TEST_F_TIMEOUT(deassign, vcpu_that_found_the_group, 300)
{
	int i, held = 0;
	u64 signalled;
	bool stalled;

	if (!probe_injection(self->vcpu, self->fd))
		SKIP(return, "Needs CONFIG_FAULT_INJECTION to stall the vCPU");

	for (i = 0; i < NR_ROUNDS / 4; i++) {
		race_once(self->vcpu, self->fd, STALL_AT_GROUP, true, i, &stalled, &signalled);
		/* The stalled write looked for items only once the item was gone. */
		held += stalled && !signalled;
	}
	TEST_ASSERT(!eventfd_count(self->keeper_fd), "the keeper item was signalled");

	ksft_print_msg("%d of %d rounds deassigned while the vCPU held the group\n",
		       held, NR_ROUNDS / 4);
	TEST_ASSERT(held, "no deassign came while the vCPU held the group");
}

TEST_HARNESS_MAIN
