// SPDX-License-Identifier: GPL-2.0-only
/*
 * Doorbell benchmark for `make bench`: the guest makes N accesses of one
 * kind and the host times them.  The same binary runs on the patched and
 * the stock kernel; cases that need a capability the kernel lacks print
 * nothing.  Output is CSV, one line per measurement:
 *
 *   group,case,param,value,unit
 *
 * e.g. "doorbell,pio-ioeventfd,1,2.71,us" or "scaling,hit-last,1000,3.02,us".
 *
 * It builds for x86_64 and aarch64.  arm64 has no port I/O: there the
 * doorbell of the data-match cases is an MMIO address, the port I/O
 * doorbells are left out, and the control exit is an HVC (PSCI_VERSION)
 * rather than CPUID; registration still uses the PIO bus, which needs no
 * guest access.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <linux/ioregion.h>
#ifdef __aarch64__
#include <linux/psci.h>
#endif

#include "ioregion_device.h"
#include "kvm_util.h"
#include "processor.h"
#include "ucall_common.h"

#define BENCH_PORT	0x6000
#define BENCH_GPA	(4ull << 30)

#ifdef __x86_64__
/* The doorbell of the data-match cases: a port, as virtio-pci legacy's. */
#define DB_OP		OP_PIO_WRITE
#define DB_ADDR		BENCH_PORT
#define DB_FLAG		KVM_IOEVENTFD_FLAG_PIO
#define NULL_CASE	"null-cpuid"
#else
#define DB_OP		OP_MMIO_WRITE
#define DB_ADDR		(BENCH_GPA + 0x400)
#define DB_FLAG		0
#define NULL_CASE	"null-hvc"
#endif

enum bench_op {
	OP_PIO_WRITE,
	OP_MMIO_WRITE,
	OP_PIO_READ,
	OP_MMIO_READ,
	/* An exit that KVM handles at once: CPUID, or an HVC on arm64. */
	OP_NULL,
	OP_NONE,
};

/* What the guest does next, set by the host before each KVM_RUN. */
static u32 guest_op;
static u64 guest_addr;
static u32 guest_val;
static u32 guest_count;
/* Iterations of an empty loop after each access, to let its consumer sleep. */
static u32 guest_gap;

#ifdef __x86_64__
static u32 guest_inl(u16 port)
{
	u32 value;

	__asm__ __volatile__("inl %%dx, %%eax" : "=a"(value) : "d"(port));
	return value;
}

static void guest_null_exit(void)
{
	u32 eax, ebx, ecx, edx;

	cpuid(0, &eax, &ebx, &ecx, &edx);
}
#else
static void outl(u16 port, u32 val)
{
	GUEST_FAIL("No port I/O on this architecture");
}

static u32 guest_inl(u16 port)
{
	GUEST_FAIL("No port I/O on this architecture");
	return 0;
}

static void guest_null_exit(void)
{
	struct arm_smccc_res res;

	smccc_hvc(PSCI_0_2_FN_PSCI_VERSION, 0, 0, 0, 0, 0, 0, 0, &res);
}
#endif

static void guest_code(void)
{
	u32 i, j;

	for (;;) {
		for (i = 0; i < guest_count; i++) {
			switch (guest_op) {
			case OP_PIO_WRITE:
				outl(guest_addr, guest_val);
				break;
			case OP_MMIO_WRITE:
				WRITE_ONCE(*(u32 *)guest_addr, guest_val);
				break;
			case OP_PIO_READ:
				guest_inl(guest_addr);
				break;
			case OP_MMIO_READ:
				(void)READ_ONCE(*(u32 *)guest_addr);
				break;
			case OP_NULL:
				guest_null_exit();
				break;
			case OP_NONE:
				break;
			}
			for (j = 0; j < guest_gap; j++)
				__asm__ __volatile__("" ::: "memory");
		}
		GUEST_SYNC(0);
	}
}

static int nr_runs = 5;
static u32 nr_ops = 2000;
static bool has_groups;
/* Measure only the case of this name, e.g. to profile it. */
static const char *only_case;

/* How the host answers an exit to userspace; a device on these fds reads. */
static int fwd_rfd = -1;
static int fwd_wfd = -1;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Ask the device on @wfd and @rfd for a 4-byte read, as a VMM forwards one. */
static u64 device_read(int rfd, int wfd)
{
	struct ioregionfd_cmd cmd = {
		.cmd = IOREGIONFD_CMD_READ, .size = 4, .flags = IOREGIONFD_CMD_RESP,
	};
	struct ioregionfd_resp resp;

	TEST_ASSERT(write(wfd, &cmd, sizeof(cmd)) == sizeof(cmd), "sending a command failed");
	TEST_ASSERT(read(rfd, &resp, sizeof(resp)) == sizeof(resp), "reading a response failed");
	return resp.data;
}

static void handle_exit(struct kvm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	u64 data = 0x12345678;

	if (fwd_wfd >= 0)
		data = device_read(fwd_rfd, fwd_wfd);

	if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_IN)
		memcpy((u8 *)run + run->io.data_offset, &data, run->io.size);
	else if (run->exit_reason == KVM_EXIT_MMIO && !run->mmio.is_write)
		memcpy(run->mmio.data, &data, run->mmio.len);
	else
		TEST_ASSERT(run->exit_reason == KVM_EXIT_IO || run->exit_reason == KVM_EXIT_MMIO,
			    "unexpected exit %s", exit_reason_str(run->exit_reason));
}

/* An exit for the guest's accesses, not for a ucall. */
static bool is_bench_exit(struct kvm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

#ifdef __x86_64__
	return run->exit_reason == KVM_EXIT_MMIO ||
	       (run->exit_reason == KVM_EXIT_IO && run->io.port >= BENCH_PORT);
#else
	return run->exit_reason == KVM_EXIT_MMIO &&
	       run->mmio.phys_addr != vcpu->vm->ucall_mmio_addr;
#endif
}

/* Run @count guest accesses and return the time of one, in microseconds. */
static double run_ops(struct kvm_vcpu *vcpu, enum bench_op op, u64 addr, u32 val, u32 count)
{
	struct kvm_vm *vm = vcpu->vm;
	struct ucall uc;
	double start;

	guest_op = op;
	guest_addr = addr;
	guest_val = val;
	guest_count = count;
	sync_global_to_guest(vm, guest_op);
	sync_global_to_guest(vm, guest_addr);
	sync_global_to_guest(vm, guest_val);
	sync_global_to_guest(vm, guest_count);

	start = now_ns();
	for (;;) {
		/*
		 * Run the loop a VMM runs.  The library's vcpu_run() and
		 * get_ucall() clear a 1 KiB struct ucall with a byte loop, twice
		 * per exit: 9k instructions that no VMM spends.
		 */
		TEST_ASSERT(!__vcpu_run(vcpu), KVM_IOCTL_ERROR(KVM_RUN, -1));
		if (is_bench_exit(vcpu)) {
			handle_exit(vcpu);
			continue;
		}
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			return (now_ns() - start) / count / 1000;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
		default:
			TEST_FAIL("unexpected exit %s, ucall %lu",
				  exit_reason_str(vcpu->run->exit_reason), uc.cmd);
		}
	}
}

static void report(const char *group, const char *name, long param, double value,
		   const char *unit)
{
	printf("%s,%s,%ld,%.3f,%s\n", group, name, param, value, unit);
	fflush(stdout);
}

static void measure(struct kvm_vcpu *vcpu, const char *group, const char *name, long param,
		    enum bench_op op, u64 addr, u32 val)
{
	int i;

	if (only_case && strcmp(name, only_case))
		return;
	/* Warm up: fault in pages, fill caches and ccache-like TCG blocks. */
	run_ops(vcpu, op, addr, val, nr_ops / 10 ?: 1);
	for (i = 0; i < nr_runs; i++)
		report(group, name, param, run_ops(vcpu, op, addr, val, nr_ops), "us");
}

/*
 * The cost of an access to a device that is asleep when the access comes:
 * follow every access with a gap long enough for the device to handle it and
 * wait again, and subtract the gap, measured alone in turn.  Back to back,
 * a device may still be awake for the next access, and whether it is varies
 * from run to run.
 */
#define IDLE_GAP	100000

static void measure_idle(struct kvm_vcpu *vcpu, const char *name, enum bench_op op, u64 addr,
			 u32 val)
{
	u32 count = nr_ops / 10 ?: 1;
	double with, without;
	int i;

	if (only_case && strcmp(name, only_case))
		return;
	guest_gap = IDLE_GAP;
	sync_global_to_guest(vcpu->vm, guest_gap);
	run_ops(vcpu, op, addr, val, count / 10 ?: 1);
	for (i = 0; i < nr_runs; i++) {
		with = run_ops(vcpu, op, addr, val, count);
		without = run_ops(vcpu, OP_NONE, 0, 0, count);
		report("doorbell", name, 1, with - without, "us");
	}
	guest_gap = 0;
	sync_global_to_guest(vcpu->vm, guest_gap);
}

static int new_eventfd(void)
{
	int fd = eventfd(0, EFD_NONBLOCK);

	TEST_ASSERT(fd >= 0, "eventfd() failed, errno = %d", errno);
	return fd;
}

static int __ioeventfd(struct kvm_vm *vm, u64 addr, u32 len, int fd, u32 flags, u64 match)
{
	struct kvm_ioeventfd args = {
		.addr = addr, .len = len, .fd = fd, .flags = flags, .datamatch = match,
	};

	return __vm_ioctl(vm, KVM_IOEVENTFD, &args);
}

static void ioeventfd(struct kvm_vm *vm, u64 addr, u32 len, int fd, u32 flags, u64 match)
{
	int ret = __ioeventfd(vm, addr, len, fd, flags, match);

	TEST_ASSERT(!ret, "KVM_IOEVENTFD failed, errno = %d (%s)", errno, strerror(errno));
}

static struct kvm_vm *bench_vm(struct kvm_vcpu **vcpu)
{
	struct kvm_vm *vm = vm_create_with_one_vcpu(vcpu, guest_code);

	virt_map(vm, BENCH_GPA, BENCH_GPA, 1);
	return vm;
}

static struct ioregion_regfile regfile;

/* The fds of a device thread; the VMM holds the other ends. */
struct bench_device {
	pthread_t thread;
	int cmd_fd;
	int resp_fd;
};

static void *device_thread(void *arg)
{
	struct bench_device *dev = arg;

	ioregion_device_serve(dev->cmd_fd, dev->resp_fd, ioregion_regfile_handler, &regfile);
	close(dev->cmd_fd);
	if (dev->resp_fd != dev->cmd_fd)
		close(dev->resp_fd);
	return NULL;
}

/*
 * Start a device on one socketpair, or split on two, one per direction
 * (KVM_SET_IOREGION refuses pipes); return the VMM's ends in @rfd
 * (responses) and @wfd (commands), which may be the same fd.
 */
static void start_device(struct bench_device *dev, bool split, int *rfd, int *wfd)
{
	int cmd[2], resp[2];

	if (split) {
		TEST_ASSERT(!socketpair(AF_UNIX, SOCK_STREAM, 0, cmd) &&
			    !socketpair(AF_UNIX, SOCK_STREAM, 0, resp), "socketpair() failed");
		dev->cmd_fd = cmd[1];
		dev->resp_fd = resp[1];
		*wfd = cmd[0];
		*rfd = resp[0];
	} else {
		TEST_ASSERT(!socketpair(AF_UNIX, SOCK_STREAM, 0, cmd), "socketpair() failed");
		dev->cmd_fd = cmd[1];
		dev->resp_fd = cmd[1];
		*wfd = cmd[0];
		*rfd = cmd[0];
	}
	TEST_ASSERT(!pthread_create(&dev->thread, NULL, device_thread, dev),
		    "pthread_create() failed");
}

static void close_vmm_fds(int rfd, int wfd)
{
	close(rfd);
	if (wfd != rfd)
		close(wfd);
}

static void bench_ioregion(struct kvm_vcpu *vcpu, bool split)
{
	struct kvm_ioregion region = {
		.guest_paddr = BENCH_GPA + 0x100,
		.memory_size = 8,
	};
	const char *suffix = split ? "-split" : "";
	struct bench_device dev;
	char name[64];

	if (!kvm_has_cap(KVM_CAP_IOREGIONFD))
		return;

	start_device(&dev, split, &region.read_fd, &region.write_fd);
	vm_set_ioregion(vcpu->vm, &region);
	region.guest_paddr = BENCH_GPA + 0x200;
	region.memory_size = 0;
	region.flags = KVM_IOREGION_POSTED_WRITES;
	vm_set_ioregion(vcpu->vm, &region);
	close_vmm_fds(region.read_fd, region.write_fd);

	snprintf(name, sizeof(name), "ioregionfd-read%s", suffix);
	measure(vcpu, "doorbell", name, 1, OP_MMIO_READ, BENCH_GPA + 0x100, 0);
	snprintf(name, sizeof(name), "ioregionfd-posted-write%s", suffix);
	measure(vcpu, "doorbell", name, 1, OP_MMIO_WRITE, BENCH_GPA + 0x200, 1);
	snprintf(name, sizeof(name), "ioregionfd-posted-write%s-idle", suffix);
	measure_idle(vcpu, name, OP_MMIO_WRITE, BENCH_GPA + 0x200, 1);

	region.flags |= KVM_IOREGION_DEASSIGN;
	vm_set_ioregion(vcpu->vm, &region);
	region.guest_paddr = BENCH_GPA + 0x100;
	region.memory_size = 8;
	region.flags = KVM_IOREGION_DEASSIGN;
	vm_set_ioregion(vcpu->vm, &region);
	pthread_join(dev.thread, NULL);
}

/* The classic VMM path: exit to the vCPU thread, which asks a device thread. */
static void bench_forwarded_read(struct kvm_vcpu *vcpu, bool split)
{
	struct bench_device dev;

	start_device(&dev, split, &fwd_rfd, &fwd_wfd);
	measure(vcpu, "doorbell", split ? "forwarded-read-split" : "forwarded-read", 1,
		OP_MMIO_READ, BENCH_GPA + 0x800, 0);
	close_vmm_fds(fwd_rfd, fwd_wfd);
	fwd_rfd = -1;
	fwd_wfd = -1;
	pthread_join(dev.thread, NULL);
}

/* Like an iothread: wait for the doorbell's eventfd and consume it. */
static void *eventfd_consumer(void *arg)
{
	int *fds = arg;
	struct pollfd pfd[2] = {
		{ .fd = fds[0], .events = POLLIN }, { .fd = fds[1], .events = POLLIN },
	};
	u64 count;

	while (!(pfd[1].revents & POLLIN)) {
		TEST_ASSERT(poll(pfd, 2, -1) > 0 || errno == EINTR, "poll() failed");
		if (pfd[0].revents & POLLIN)
			TEST_ASSERT(read(fds[0], &count, sizeof(count)) == sizeof(count),
				    "eventfd read failed");
	}
	return NULL;
}

static void bench_consumed_doorbell(struct kvm_vcpu *vcpu)
{
	int fds[2] = { new_eventfd(), new_eventfd() };
	pthread_t thread;
	u64 one = 1;

	TEST_ASSERT(!pthread_create(&thread, NULL, eventfd_consumer, fds),
		    "pthread_create() failed");
	ioeventfd(vcpu->vm, BENCH_GPA + 0x20, 4, fds[0], 0, 0);
	measure(vcpu, "doorbell", "mmio-ioeventfd-consumed", 1, OP_MMIO_WRITE, BENCH_GPA + 0x20,
		1);
	measure_idle(vcpu, "mmio-ioeventfd-consumed-idle", OP_MMIO_WRITE, BENCH_GPA + 0x20, 1);
	ioeventfd(vcpu->vm, BENCH_GPA + 0x20, 4, fds[0], KVM_IOEVENTFD_FLAG_DEASSIGN, 0);
	TEST_ASSERT(write(fds[1], &one, sizeof(one)) == sizeof(one), "eventfd write failed");
	pthread_join(thread, NULL);
	close(fds[0]);
	close(fds[1]);
}

/* The device's round trip alone, from a host thread: no guest, no exit. */
static void bench_device_round_trip(bool split)
{
	const char *name = split ? "device-round-trip-split" : "device-round-trip";
	struct bench_device dev;
	int rfd, wfd, r;
	double start;
	u32 i;

	if (only_case && strcmp(name, only_case))
		return;
	start_device(&dev, split, &rfd, &wfd);
	for (r = -1; r < nr_runs; r++) {
		start = now_ns();
		for (i = 0; i < nr_ops; i++)
			device_read(rfd, wfd);
		/* Run -1 warms up. */
		if (r >= 0)
			report("doorbell", name, 1, (now_ns() - start) / nr_ops / 1000, "us");
	}
	close_vmm_fds(rfd, wfd);
	pthread_join(dev.thread, NULL);
}

static void bench_doorbells(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = bench_vm(&vcpu);
	int fd = new_eventfd();

	measure(vcpu, "doorbell", NULL_CASE, 1, OP_NULL, 0, 0);
#ifdef __x86_64__
	measure(vcpu, "doorbell", "pio-exit", 1, OP_PIO_WRITE, BENCH_PORT + 0x100, 1);
#endif
	measure(vcpu, "doorbell", "mmio-exit", 1, OP_MMIO_WRITE, BENCH_GPA + 0x800, 1);
	measure(vcpu, "doorbell", "mmio-read-exit", 1, OP_MMIO_READ, BENCH_GPA + 0x800, 0);

	ioeventfd(vm, BENCH_PORT, 4, fd, KVM_IOEVENTFD_FLAG_PIO | KVM_IOEVENTFD_FLAG_DATAMATCH, 1);
	ioeventfd(vm, BENCH_GPA, 4, fd, KVM_IOEVENTFD_FLAG_DATAMATCH, 1);
	ioeventfd(vm, BENCH_GPA + 0x10, 0, fd, 0, 0);
#ifdef __x86_64__
	measure(vcpu, "doorbell", "pio-ioeventfd", 1, OP_PIO_WRITE, BENCH_PORT, 1);
#endif
	measure(vcpu, "doorbell", "mmio-ioeventfd", 1, OP_MMIO_WRITE, BENCH_GPA, 1);
	measure(vcpu, "doorbell", "fast-mmio-ioeventfd", 1, OP_MMIO_WRITE, BENCH_GPA + 0x10, 1);

	bench_consumed_doorbell(vcpu);
	bench_device_round_trip(false);
	bench_forwarded_read(vcpu, false);
	bench_ioregion(vcpu, false);
	bench_device_round_trip(true);
	bench_forwarded_read(vcpu, true);
	bench_ioregion(vcpu, true);

	close(fd);
	kvm_vm_free(vm);
}

static const int scaling_items[] = { 1, 16, 256, 1000, 10000 };
static const int wildcard_items[] = { 1, 1000, 10000 };

/* Data-match items with values 1..n on one port, all on one eventfd. */
static void bench_scaling_one(int n)
{
	u32 flags = DB_FLAG | KVM_IOEVENTFD_FLAG_DATAMATCH;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = bench_vm(&vcpu);
	int fd = new_eventfd();
	double start;
	int i;

	start = now_ns();
	for (i = 1; i <= n; i++)
		ioeventfd(vm, DB_ADDR, 4, fd, flags, i);
	report("register", "assign-one-address", n, (now_ns() - start) / n / 1000, "us");

	measure(vcpu, "scaling", "hit-first", n, DB_OP, DB_ADDR, 1);
	measure(vcpu, "scaling", "hit-last", n, DB_OP, DB_ADDR, n);
	measure(vcpu, "scaling", "miss", n, DB_OP, DB_ADDR, n + 1);

	start = now_ns();
	for (i = 1; i <= n; i++)
		ioeventfd(vm, DB_ADDR, 4, fd, flags | KVM_IOEVENTFD_FLAG_DEASSIGN, i);
	report("register", "deassign-one-address", n, (now_ns() - start) / n / 1000, "us");

	close(fd);
	kvm_vm_free(vm);
}

/*
 * P1 as a paired measurement: one item on one port, @n items on the next,
 * in one VM and measured in turn, so that the drift of a TCG host between
 * VMs and over time falls on both sides alike.
 */
static void bench_scaling_pair(int n)
{
	u32 flags = DB_FLAG | KVM_IOEVENTFD_FLAG_DATAMATCH;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = bench_vm(&vcpu);
	int fd = new_eventfd();
	double one, many;
	int i;

	ioeventfd(vm, DB_ADDR, 4, fd, flags, 1);
	for (i = 1; i <= n; i++)
		ioeventfd(vm, DB_ADDR + 4, 4, fd, flags, i);

	run_ops(vcpu, DB_OP, DB_ADDR, 1, nr_ops / 10 ?: 1);
	run_ops(vcpu, DB_OP, DB_ADDR + 4, n, nr_ops / 10 ?: 1);
	for (i = 0; i < nr_runs; i++) {
		one = run_ops(vcpu, DB_OP, DB_ADDR, 1, nr_ops);
		many = run_ops(vcpu, DB_OP, DB_ADDR + 4, n, nr_ops);
		report("pair", "one", n, one, "us");
		report("pair", "many", n, many, "us");
		report("pair", "ratio", n, many / one, "x");
	}

	close(fd);
	kvm_vm_free(vm);
}

/* N distinct ports, one item each: every one is a new bus device. */
static void bench_distinct(int n)
{
	u32 flags = KVM_IOEVENTFD_FLAG_PIO;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = bench_vm(&vcpu);
	int fd = new_eventfd();
	double start;
	int i;

	start = now_ns();
	for (i = 0; i < n; i++)
		ioeventfd(vm, BENCH_PORT + 4 * i, 4, fd, flags, 0);
	report("register", "assign-distinct", n, (now_ns() - start) / n / 1000, "us");

	start = now_ns();
	for (i = 0; i < n; i++)
		ioeventfd(vm, BENCH_PORT + 4 * i, 4, fd, flags | KVM_IOEVENTFD_FLAG_DEASSIGN, 0);
	report("register", "deassign-distinct", n, (now_ns() - start) / n / 1000, "us");

	close(fd);
	kvm_vm_free(vm);
}

/*
 * N wildcard ioeventfds at distinct MMIO addresses, assigned one by one, as
 * a VMM registers one notify address per virtio queue.  Also report single
 * calls made with 0, N/4 and N-1 already registered: a flat curve means no
 * per-call cost grows with the bus.
 */
static void bench_mmio_distinct(int n)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = bench_vm(&vcpu);
	double start, t, total = 0;
	int fd = new_eventfd();
	int i;

	for (i = 0; i < n; i++) {
		start = now_ns();
		ioeventfd(vm, BENCH_GPA + 0x10000 + 8 * i, 4, fd, 0, 0);
		t = now_ns() - start;
		total += t;
		if (i == 0 || i == n / 4 || i == n - 1)
			report("register", "assign-mmio-at", i, t / 1000, "us");
	}
	report("register", "assign-mmio-distinct", n, total / n / 1000, "us");

	close(fd);
	kvm_vm_free(vm);
}

/*
 * A memslot update right after a burst of N registrations: a grace period
 * that the registrations left queued would delay it.
 */
static void bench_memslot_after_burst(int n)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = bench_vm(&vcpu);
	int fd = new_eventfd();
	double start;
	void *mem;
	int i;

	mem = mmap(NULL, 0x10000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	TEST_ASSERT(mem != MAP_FAILED, "mmap() failed");

	for (i = 0; i < n; i++)
		ioeventfd(vm, BENCH_GPA + 0x10000 + 8 * i, 4, fd, 0, 0);
	start = now_ns();
	vm_set_user_memory_region(vm, 10, 0, 8ull << 30, 0x10000, mem);
	report("register", "memslot-after-burst", n, (now_ns() - start) / 1000, "us");

	close(fd);
	kvm_vm_free(vm);
	munmap(mem, 0x10000);
}

/*
 * What QEMU does to the notify addresses of a modern virtio device with N
 * queues around each reset: zero-length MMIO ioeventfds, all deassigned in
 * one memory transaction and assigned again in the next.  A deassign waits
 * for readers, on the MMIO and the fast MMIO bus; an assign should not wait.
 */
static void bench_virtio_reset(int n)
{
	const int rounds = 8;
	double start, assign = 0, deassign = 0;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = bench_vm(&vcpu);
	int fd = new_eventfd();
	int r, i;

	for (i = 0; i < n; i++)
		ioeventfd(vm, BENCH_GPA + 0x10000 + 4 * i, 0, fd, 0, 0);
	for (r = 0; r < rounds; r++) {
		start = now_ns();
		for (i = 0; i < n; i++)
			ioeventfd(vm, BENCH_GPA + 0x10000 + 4 * i, 0, fd,
				  KVM_IOEVENTFD_FLAG_DEASSIGN, 0);
		deassign += now_ns() - start;

		start = now_ns();
		for (i = 0; i < n; i++)
			ioeventfd(vm, BENCH_GPA + 0x10000 + 4 * i, 0, fd, 0, 0);
		assign += now_ns() - start;
	}
	report("register", "reset-deassign", n, deassign / (rounds * n) / 1000, "us");
	report("register", "reset-assign", n, assign / (rounds * n) / 1000, "us");

	close(fd);
	kvm_vm_free(vm);
}

/*
 * N wildcards on one port, each on its own eventfd: the duplicate check
 * finds each in O(1).  Stock refuses a second wildcard at an address.
 */
static void bench_wildcards(int n)
{
	u32 flags = KVM_IOEVENTFD_FLAG_PIO;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct rlimit rl = { .rlim_cur = n + 64, .rlim_max = n + 64 };
	double start;
	int *fds, i;

	if (!has_groups)
		return;
	TEST_ASSERT(!setrlimit(RLIMIT_NOFILE, &rl), "cannot raise RLIMIT_NOFILE to %d", n + 64);
	vm = bench_vm(&vcpu);
	fds = calloc(n, sizeof(*fds));
	TEST_ASSERT(fds, "out of memory");
	for (i = 0; i < n; i++)
		fds[i] = new_eventfd();

	start = now_ns();
	for (i = 0; i < n; i++)
		ioeventfd(vm, BENCH_PORT, 4, fds[i], flags, 0);
	report("register", "assign-wildcards", n, (now_ns() - start) / n / 1000, "us");

	start = now_ns();
	for (i = 0; i < n; i++)
		ioeventfd(vm, BENCH_PORT, 4, fds[i], flags | KVM_IOEVENTFD_FLAG_DEASSIGN, 0);
	report("register", "deassign-wildcards", n, (now_ns() - start) / n / 1000, "us");

	for (i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
	kvm_vm_free(vm);
}

static long slab_kib(void)
{
	char line[128];
	long kib = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	TEST_ASSERT(f, "cannot open /proc/meminfo");
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Slab: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* P5: many items on one address are accepted; report their memory. */
static void bench_many(int n)
{
	u32 flags = DB_FLAG | KVM_IOEVENTFD_FLAG_DATAMATCH;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm = bench_vm(&vcpu);
	int fd = new_eventfd();
	long before = slab_kib();
	int i, ret = 0;

	for (i = 1; i <= n && !ret; i++)
		ret = __ioeventfd(vm, DB_ADDR, 4, fd, flags, i);
	report("many", "accepted", n, ret ? i - 2 : n, "items");
	report("many", "slab-per-item", n, (slab_kib() - before) * 1024.0 / n, "bytes");
	if (!ret)
		measure(vcpu, "many", "hit-last", n, DB_OP, DB_ADDR, n);

	/* All but one go: the item table must shrink with the group. */
	report("many", "table-bytes", n, vm_get_stat(vm, "ioeventfd_table_bytes"), "bytes");
	for (i = 2; i <= n && !ret; i++)
		ioeventfd(vm, DB_ADDR, 4, fd, flags | KVM_IOEVENTFD_FLAG_DEASSIGN, i);
	report("many", "table-bytes-left", n, vm_get_stat(vm, "ioeventfd_table_bytes"), "bytes");

	close(fd);
	kvm_vm_free(vm);
}

int main(int argc, char *argv[])
{
	bool doorbells_only = false;
	int opt;
	size_t i;

	while ((opt = getopt(argc, argv, "c:dr:n:")) != -1) {
		switch (opt) {
		case 'c':
			only_case = optarg;
			break;
		case 'd':
			doorbells_only = true;
			break;
		case 'r':
			nr_runs = atoi(optarg);
			break;
		case 'n':
			nr_ops = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-c case] [-d] [-r runs] [-n accesses per run]\n"
				"  -c  measure only the case of this name\n"
				"  -d  measure only the doorbell paths\n", argv[0]);
			return 1;
		}
	}

	has_groups = kvm_has_cap(KVM_CAP_IOEVENTFD_GROUPS);
	bench_doorbells();
	if (doorbells_only)
		return 0;
	for (i = 0; i < ARRAY_SIZE(scaling_items); i++)
		bench_scaling_one(scaling_items[i]);
	bench_scaling_pair(1000);
	bench_scaling_pair(10000);
	bench_distinct(1000);
	bench_mmio_distinct(4096);
	bench_memslot_after_burst(1000);
	bench_virtio_reset(64);
	for (i = 0; i < ARRAY_SIZE(wildcard_items); i++)
		bench_wildcards(wildcard_items[i]);
	if (has_groups)
		bench_many(100000);
	return 0;
}
