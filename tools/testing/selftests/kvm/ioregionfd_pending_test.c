// SPDX-License-Identifier: GPL-2.0-only
/*
 * ioregionfd accesses that wait for the device: string I/O, signals and
 * the pending access they leave, draining it, VM ioctls and deassign while
 * a device stalls, a full socket, and VMs that die meanwhile.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/un.h>

#include <netinet/in.h>

#include "guest_io.h"
#include "ioregion_test.h"
#include "kvm_test_harness.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

IOREGIONFD_FIXTURE(ioregionfd);

/*
 * A VM dies while its vCPU waits for a device that never answers.  Its
 * task is SIGKILLed: the wait must end, and KVM must let go of the fds.
 */
TEST_F(ioregionfd, teardown_killed)
{
	const struct ior_region r = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0 };
	struct ior_dev *dev = &self->dev;
	struct ioregionfd_cmd cmd;
	struct pollfd pfd = { .fd = dev->rfd, .events = POLLIN };
	struct timespec start;
	static struct ior_prog p;
	int status, ret;
	pid_t pid;

	ior_prog_init(&p, dev);
	ior_prog_access(&p, &r, 0, 8, false, 0);

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	TEST_ASSERT(pid >= 0, "fork() failed, errno = %d", errno);
	if (!pid) {
		struct kvm_vcpu *vcpu;
		struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, ior_guest_code);

		virt_map(vm, MMIO_GPA, MMIO_GPA, MMIO_NR_PAGES);
		ior_region_assign(vm, &r, dev);
		ior_prog_load(vm, &p);
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
	while (!(ret = waitpid(pid, &status, WNOHANG)) && ior_elapsed_ms(&start) < 10000)
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
	struct ior_worker *w = arg;
	int ret;

	ret = __vcpu_run(w->vcpu);
	TEST_ASSERT(ret == -1 && errno == EINTR &&
		    w->vcpu->run->exit_reason == KVM_EXIT_IOREGIONFD_PENDING,
		    "KVM_RUN returned %d, errno %d, exit reason %u; expected EINTR and KVM_EXIT_IOREGIONFD_PENDING",
		    ret, errno, w->vcpu->run->exit_reason);
	w->nr_pending += ior_check_eintr_exit(w->vcpu);
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
	const struct ior_region r[2] = {
		{ .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0 },
		{ .base = MMIO_GPA, .size = REGION_SIZE, .idx = 1 },
	};
	struct ior_dev *dev = &self->dev;
	struct kvm_vcpu *vcpus[2] = { self->vcpu };
	struct ior_worker w[2] = {};
	struct kvm_vm *dead_vm;
	struct timespec ts;
	static struct ior_prog p;

	ior_install_sigusr1();
	dead_vm = vm_create_with_one_vcpu(&vcpus[1], ior_guest_code);
	virt_map(dead_vm, MMIO_GPA, MMIO_GPA, MMIO_NR_PAGES);
	ior_region_assign(vcpus[0]->vm, &r[0], dev);
	ior_region_assign(dead_vm, &r[1], dev);
	dev->regs[0].regs[1] = PATTERN;
	ior_prog_init(&p, dev);
	ior_dev_start(dev, DEV_STALL, 0);

	/* The doomed access, which the device takes and holds. */
	ior_prog_access(&p, &r[1], 8, 8, false, 0);
	ior_prog_load(dead_vm, &p);
	w[1].vcpu = vcpus[1];
	TEST_ASSERT(!pthread_create(&w[1].thread, NULL, run_once_thread, &w[1]),
		    "pthread_create() failed");
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	TEST_ASSERT(!sem_timedwait(&dev->stalled, &ts), "The doomed command never came");
	pthread_kill(w[1].thread, SIGUSR1);
	ior_worker_join(&w[1]);

	/* The other VM's access waits, as the dead access still holds the sockets. */
	ior_prog_next_run(&p);
	ior_prog_access(&p, &r[0], 8, 8, false, 0);
	ior_prog_load(vcpus[0]->vm, &p);
	ior_worker_start(&w[0], vcpus[0]);
	usleep(200000);
	TEST_ASSERT(!READ_ONCE(w[0].done) && ior_dev_nr_cmds(dev) == 1,
		    "An access got through while another vCPU owned the sockets");

	kvm_vm_free(dead_vm);
	sem_post(&dev->release);
	ior_worker_join(&w[0]);
	ior_check_cmds(dev, &p);

	/* And the sockets keep working. */
	ior_prog_next_run(&p);
	ior_prog_access(&p, &r[0], 8, 4, true, ~PATTERN);
	ior_prog_access(&p, &r[0], 8, 8, false, 0);
	ior_run_prog(vcpus[0], &p);
	ior_check_cmds(dev, &p);
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

/* String read i has size ior_access_sizes[i], at the top of register i + 1. */
static u64 string_addr(int i)
{
	return SECOND_BASE + 8 * (i + 1) - ior_access_sizes[i];
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

	for (i = 0; i < ior_nr_access_sizes(ior_second_pio()); i++) {
		guest_read_string(string_addr(i), ior_access_sizes[i], string_buf, STRING_COUNT);
		GUEST_SYNC(i);
	}
	GUEST_DONE();
}

/* What the guest must read for command @n: DEV_STALL answers STALE_VAL. */
static u64 string_val(u32 n)
{
	return n == STRING_STALL ? STALE_VAL : ior_numbered_val(n);
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
static void add_memslot_while_stalled(struct kvm_vm *vm, struct ior_dev *dev)
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
	u8 size = ior_access_sizes[i];
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
	const struct ior_region r = { .base = SECOND_BASE, .size = REGION_SIZE, .idx = 0,
				  .flags = SECOND_BUS };
	struct kvm_vcpu *vcpu = self->vcpu;
	struct ior_dev *dev = &self->dev;
	struct kvm_vm *vm = vcpu->vm;
	struct ior_stats before;
	struct timespec start;
	struct ior_worker w = {};
	static struct ior_prog p;
	char what[64];
	int i, n;

	ior_install_sigusr1();
	vcpu_arch_set_entry_point(vcpu, guest_string_read);
	ior_region_assign(vm, &r, dev);
	ior_prog_init(&p, dev);
	before = ior_vcpu_stats(vcpu);
	dev->numbered_reads = true;
	dev->delay_us = STRING_DELAY_US;
	ior_dev_start(dev, DEV_STALL, STRING_STALL);

	for (i = 0; i < ior_nr_access_sizes(ior_second_pio()); i++) {
		memset(addr_gva2hva(vm, (vm_vaddr_t)string_buf), STRING_POISON, sizeof(string_buf));
		for (n = 0; n < STRING_COUNT; n++)
			ior_prog_add_cmd(&p, &r, string_addr(i) - r.base, ior_access_sizes[i],
					 false, 0);

		ior_worker_start(&w, vcpu);
		if (!i)
			add_memslot_while_stalled(vm, dev);

		clock_gettime(CLOCK_MONOTONIC, &start);
		while (!READ_ONCE(w.done) && ior_elapsed_ms(&start) < 10000) {
			pthread_kill(w.thread, SIGUSR1);
			usleep(STRING_DELAY_US / 4);
		}
		snprintf(what, sizeof(what), "The vCPU did not finish the %u-byte string read",
			 ior_access_sizes[i]);
		join_timed(w.thread, what);
		check_string(vm, i);
	}

	ksft_print_msg("%lu KVM_RUN calls returned EINTR, %lu with an element pending\n",
		       w.nr_eintr, w.nr_pending);
	TEST_ASSERT(w.nr_pending, "No signal interrupted the wait for an element");
	ior_check_cmds(dev, &p);
	ior_assert_stats(vcpu, &before, p.nr_cmds, 0, 0);
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
	while (!READ_ONCE(r->done) && ior_elapsed_ms(&start) < 5000) {
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
static void assert_pending(const struct run_once *r, const struct ior_region *reg, u64 offset,
			   u8 size, bool write, u64 val)
{
	u32 flags = (write ? KVM_IOREGIONFD_FAILURE_WRITE : 0) |
		    (ior_region_pio(reg) ? KVM_IOREGIONFD_FAILURE_PIO : 0);
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
		    r->ret ? r->err : 0, ior_describe_exit(r->vcpu, buf, sizeof(buf)));
}

static void wait_stalled(struct ior_dev *dev, const char *what)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	TEST_ASSERT(!sem_timedwait(&dev->stalled, &ts), "%s never reached the device", what);
}

static void assert_nr_cmds(struct ior_dev *dev, u32 want, const char *when)
{
	u32 nr = ior_dev_nr_cmds(dev);

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
	const struct ior_region mmio = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0 };
	const struct ior_region second = { .base = SECOND_BASE, .size = REGION_SIZE, .idx = 1,
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
	struct ior_dev *dev = &self->dev;
	static struct ior_prog p;
	struct run_once r;
	char what[64];
	int i, n;

	ior_install_sigusr1();
	ior_region_assign(vcpu->vm, &mmio, dev);
	ior_region_assign(vcpu->vm, &second, dev);
	dev->regs[0].regs[1] = PATTERN;
	dev->regs[1].regs[0] = ~PATTERN;
	ior_prog_init(&p, dev);
	for (i = 0; i < ARRAY_SIZE(ops); i++)
		ior_prog_access(&p, ops[i].second ? &second : &mmio, ops[i].offset, ops[i].size,
				ops[i].write, ior_pattern(i));
	ior_prog_load(vcpu->vm, &p);
	dev->fault_all = true;
	ior_dev_start(dev, DEV_PARTIAL, 0);

	for (i = 0; i < ARRAY_SIZE(ops); i++) {
		const struct ior_region *reg = ops[i].second ? &second : &mmio;

		/* This KVM_RUN finishes access i - 1 and starts access i. */
		run_once_start(&r, vcpu);
		snprintf(what, sizeof(what), "Access %d", i);
		wait_stalled(dev, what);
		usleep(20000);
		run_once_kick(&r);
		assert_pending(&r, reg, ops[i].offset, ops[i].size, ops[i].write, ior_pattern(i));
		assert_nr_cmds(dev, i + 1, what);

		/* Again and again, while the device still holds the rest. */
		for (n = 0; n < 3; n++) {
			run_once_kicked(&r, vcpu, 20);
			assert_pending(&r, reg, ops[i].offset, ops[i].size, ops[i].write,
				       ior_pattern(i));
		}
		assert_nr_cmds(dev, i + 1, what);
		sem_post(&dev->release);
	}

	ior_vcpu_run(vcpu);
	ior_expect_sync(vcpu);
	ior_check_cmds(dev, &p);
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
	const struct ior_region mmio = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0 };
	struct kvm_vcpu *vcpu = self->vcpu;
	struct kvm_run *run = vcpu->run;
	struct ior_dev *dev = &self->dev;
	static struct ior_prog p;
	struct run_once r;
	int i;

	ior_install_sigusr1();
	ior_region_assign(vcpu->vm, &mmio, dev);
	dev->regs[0].regs[1] = PATTERN;
	ior_prog_init(&p, dev);
	ior_prog_access(&p, &mmio, 8, 8, false, 0);
	ior_prog_access(&p, &mmio, 0x10, 8, true, ~PATTERN);
	ior_prog_load(vcpu->vm, &p);
	ior_dev_start(dev, DEV_PARTIAL, 0);

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
	ior_vcpu_run(vcpu);
	ior_expect_sync(vcpu);
	ior_check_cmds(dev, &p);
}

/* What a thread that makes VM ioctls while a vCPU waits works on. */
struct vm_ioctl_args {
	struct kvm_vm *vm;
	struct ior_dev *dev;
	const struct ior_region *region;
};

static void *vm_ioctls_thread(void *arg)
{
	struct vm_ioctl_args *a = arg;
	struct kvm_vm *vm = a->vm;
	struct ior_dev *dev = a->dev;
	const struct ior_region other = { .base = MMIO_GPA + 2 * SZ_4K, .size = REGION_SIZE,
				      .idx = 1 };
	int efd = eventfd(0, EFD_NONBLOCK);

	TEST_ASSERT(efd >= 0, "eventfd() failed");
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, MEMSLOT_GPA, MEMSLOT_SLOT, 1, 0);
	ior_ioeventfd_match(vm, MMIO_GPA + 0x40, 4, efd, 0, 0);
	ior_ioeventfd_match(vm, MMIO_GPA + 0x40, 4, efd, KVM_IOEVENTFD_FLAG_DEASSIGN, 0);
	ior_region_assign(vm, &other, dev);
	ior_region_deassign(vm, &other);
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
	const struct ior_region mmio = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0 };
	struct kvm_vcpu *vcpu = self->vcpu;
	struct ior_dev *dev = &self->dev;
	struct vm_ioctl_args args = { .vm = vcpu->vm, .dev = dev };
	static struct ior_prog p;
	struct run_once r;
	pthread_t thread;

	ior_install_sigusr1();
	ior_region_assign(vcpu->vm, &mmio, dev);
	ior_prog_init(&p, dev);
	ior_prog_add_cmd(&p, &mmio, 8, 8, false, 0);
	ior_prog_add_op(&p, false, MMIO_GPA + 8, 8, false, STALE_VAL);
	ior_prog_load(vcpu->vm, &p);
	ior_dev_start(dev, DEV_STALL, 0);

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
	ior_vcpu_run(vcpu);
	ior_expect_sync(vcpu);
	ior_check_cmds(dev, &p);
}

static void *deassign_thread(void *arg)
{
	struct vm_ioctl_args *a = arg;

	ior_region_deassign(a->vm, a->region);
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
		 ior_elapsed_ms(&start) < 10000);
}

/*
 * Two VMs share the sockets: VM A's access holds them, and VM B's access to
 * its own region waits to claim them, in KVM_RUN or, if @interrupt, out of it
 * on a signal with the access pending.  VM B's region is deassigned
 * meanwhile: its access, which sent no command, goes to userspace as
 * KVM_EXIT_MMIO, and the device never gets a command for that region.
 */
static void deassign_waiting(struct kvm_vcpu *vcpu_a, struct ior_dev *dev, bool interrupt)
{
	const struct ior_region ra = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0 };
	const struct ior_region rb = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 1 };
	struct vm_ioctl_args args = { .dev = dev, .region = &rb };
	struct ior_worker wa = {};
	struct kvm_vcpu *vcpu_b;
	static struct ior_prog pa, pb;
	struct kvm_vm *vm_b;
	struct run_once r;
	pthread_t thread;
	int first = 0;

	ior_install_sigusr1();
	vm_b = vm_create_with_one_vcpu(&vcpu_b, ior_guest_code);
	virt_map(vm_b, MMIO_GPA, MMIO_GPA, MMIO_NR_PAGES);
	ior_region_assign(vcpu_a->vm, &ra, dev);
	ior_region_assign(vm_b, &rb, dev);

	ior_prog_init(&pa, dev);
	ior_prog_add_cmd(&pa, &ra, 8, 8, false, 0);
	ior_prog_add_op(&pa, false, MMIO_GPA + 8, 8, false, STALE_VAL);
	ior_prog_load(vcpu_a->vm, &pa);
	ior_prog_init(&pb, dev);
	ior_prog_exit(&pb, false, MMIO_GPA + 8, 8, false, ~PATTERN);
	ior_prog_exit(&pb, false, MMIO_GPA + 0x10, 4, true, PATTERN);
	ior_prog_load(vm_b, &pb);
	ior_dev_start(dev, DEV_STALL, 0);

	ior_worker_start(&wa, vcpu_a);
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
		ior_check_exit(vcpu_b, &pb.exits[0]);
		first = 1;
	}
	ior_run_loaded(vcpu_b, &pb, first);
	ior_check_cmds(dev, &pa);
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
static void fill_socket_prog(struct kvm_vm *vm, const struct ior_region *r, struct ior_dev *dev,
			     struct ior_prog *p)
{
	int sndbuf = 0, i;

	TEST_ASSERT(!setsockopt(dev->kvm_wfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)),
		    "setsockopt(SO_SNDBUF) failed, errno = %d", errno);
	ior_region_assign(vm, r, dev);
	ior_prog_init(p, dev);
	for (i = 0; i < MAX_OPS; i++)
		ior_prog_access(p, r, 8 * (i % (IOREGION_REGFILE_NR_REGS - 1)), 8, true,
				ior_pattern(i));
	ior_prog_load(vm, p);
}

static int queued_cmds(struct ior_dev *dev)
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
	const struct ior_region r = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0,
				  .flags = KVM_IOREGION_POSTED_WRITES };
	struct kvm_vcpu *vcpu = self->vcpu;
	struct kvm_run *run = vcpu->run;
	struct ior_dev *dev = &self->dev;
	static struct ior_prog p;
	struct run_once ro;
	int n, i;
	u64 addr;

	ior_install_sigusr1();
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

	ior_dev_start(dev, DEV_SERVE, 0);
	ior_vcpu_run(vcpu);
	ior_expect_sync(vcpu);
	ior_check_cmds(dev, &p);
}

/* The same vCPU, waiting to send, dies promptly on SIGKILL. */
TEST_F(ioregionfd, teardown_killed_sending)
{
	const struct ior_region r = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0,
				  .flags = KVM_IOREGION_POSTED_WRITES };
	struct ior_dev *dev = &self->dev;
	struct timespec start;
	static struct ior_prog p;
	int status, ret;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	TEST_ASSERT(pid >= 0, "fork() failed, errno = %d", errno);
	if (!pid) {
		struct kvm_vcpu *vcpu;
		struct kvm_vm *vm = vm_create_with_one_vcpu(&vcpu, ior_guest_code);

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
	} while ((!ret || queued_cmds(dev) != ret) && ior_elapsed_ms(&start) < 10000);
	TEST_ASSERT(!waitpid(pid, &status, WNOHANG), "The child exited while it should wait");
	TEST_ASSERT(!kill(pid, SIGKILL), "kill() failed, errno = %d", errno);

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!(ret = waitpid(pid, &status, WNOHANG)) && ior_elapsed_ms(&start) < 10000)
		usleep(1000);
	TEST_ASSERT(ret == pid, "The child did not die within 10 seconds of SIGKILL");
	TEST_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		    "The child ended with status 0x%x instead of SIGKILL", status);
}

int main(int argc, char *argv[])
{
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_IOREGIONFD));
	ior_count_sigpipe();

	return test_harness_run(argc, argv);
}
