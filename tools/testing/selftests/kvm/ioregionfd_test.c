// SPDX-License-Identifier: GPL-2.0-only
/*
 * KVM_SET_IOREGION: guest MMIO and (on x86) PIO accesses that KVM sends to
 * a device task over connected AF_UNIX stream sockets, one for both
 * directions or one per direction, as 32-byte commands and responses,
 * without exiting to userspace.  Accesses of every size, posted writes,
 * several vCPUs and VMs on one device, a device that fails, deassign, and
 * the statistics.
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
 * Reads and writes of every size, at the top of a register, through an MMIO
 * and a second region.  The device checks every field of the commands, the
 * guest the values it reads, which the device pads with junk.
 */
TEST_F(ioregionfd, access_sizes)
{
	const struct ior_region regions[2] = {
		{ .base = MMIO_GPA + 0x100, .size = REGION_SIZE, .idx = 0 },
		{ .base = SECOND_BASE + 0x100, .size = REGION_SIZE, .flags = SECOND_BUS,
		  .idx = 1 },
	};
	struct kvm_vcpu *vcpu = self->vcpu;
	struct ior_dev *dev = &self->dev;
	struct ior_stats before;
	static struct ior_prog p;
	int b, i, reg;

	for (b = 0; b < 2; b++) {
		for (reg = 0; reg < IOREGION_REGFILE_NR_REGS - 1; reg++)
			dev->regs[regions[b].idx].regs[reg] = ior_pattern(reg);
		ior_region_assign(vcpu->vm, &regions[b], dev);
	}
	ior_prog_init(&p, dev);
	ior_dev_start(dev, DEV_SERVE, 0);
	before = ior_vcpu_stats(vcpu);

	for (b = 0; b < 2; b++) {
		const struct ior_region *r = &regions[b];
		const bool pio = ior_region_pio(r);

		for (i = 0; i < ior_nr_access_sizes(pio); i++) {
			u8 size = ior_access_sizes[i];
			u64 offset = (i + 1) * 8 + 8 - size;
			u64 val = ior_pattern(i) ^ 0x0f0f0f0f0f0f0f0full;

			ior_prog_access(&p, r, offset, size, false, 0);
			ior_prog_access(&p, r, offset, size, true, val);
			ior_prog_access(&p, r, offset, size, false, 0);
		}

		/* Wider reads show that the narrow writes landed at their offsets. */
		ior_prog_access(&p, r, 8 + (pio ? 4 : 0), pio ? 4 : 8, false, 0);
		ior_prog_access(&p, r, 16 + (pio ? 4 : 0), pio ? 4 : 8, false, 0);
		ior_prog_access(&p, r, 0, 1, false, 0);
	}

	/*
	 * An exit belongs to the region that holds its first byte: one that
	 * runs past the end is the device's, whole, and one that starts below
	 * the region is userspace's.  The register file fails the accesses
	 * across its end, reads as all ones.
	 */
	for (b = 0; b < 2; b++) {
		const struct ior_region *r = &regions[b];
		const bool pio = ior_region_pio(r);

		ior_prog_access(&p, r, REGION_SIZE - 2, 4, true, PATTERN);
		ior_prog_exit(&p, pio, r->base - 1, 2, false, ior_pattern(b));
		ior_prog_exit(&p, pio, r->base - 2, 4, true, ior_pattern(3));
		ior_prog_access(&p, r, REGION_SIZE - 1, 2, false, 0);
		ior_prog_access(&p, r, REGION_SIZE - 4, 4, false, 0);
	}

	ior_run_prog(vcpu, &p);
	ior_check_cmds(dev, &p);
	ior_assert_stats(vcpu, &before, p.nr_cmds, 0, 0);
}

/*
 * Posted writes complete without the device, which gets them later in
 * program order before a read.  Zero-length regions take writes of any size.
 */
TEST_F(ioregionfd, posted_writes)
{
	const struct ior_region regions[4] = {
		{ .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0,
		  .flags = KVM_IOREGION_POSTED_WRITES },
		{ .base = SECOND_BASE, .size = REGION_SIZE, .idx = 1,
		  .flags = KVM_IOREGION_POSTED_WRITES | SECOND_BUS },
		{ .base = ZL_GPA, .size = 0, .idx = 2, .flags = KVM_IOREGION_POSTED_WRITES },
		{ .base = SECOND_ZL, .size = 0, .idx = 3,
		  .flags = KVM_IOREGION_POSTED_WRITES | SECOND_BUS },
	};
	const struct ior_region *mmio = &regions[0], *second = &regions[1];
	struct kvm_vcpu *vcpu = self->vcpu;
	struct ior_dev *dev = &self->dev;
	struct ior_stats before;
	static struct ior_prog p;
	int i, n, queued;

	for (i = 0; i < 4; i++) {
		struct kvm_ioregion args = ior_region_args(&regions[i], dev);

		/* A region that only takes posted writes needs no read_fd. */
		if (!regions[i].size)
			args.read_fd = -1;
		vm_set_ioregion(vcpu->vm, &args);
	}
	ior_prog_init(&p, dev);
	before = ior_vcpu_stats(vcpu);

	/* Nobody serves the fds yet: the writes must not wait for the device. */
	for (i = 1; i <= 3; i++)
		ior_prog_access(&p, mmio, IOREGION_REGFILE_DOORBELL, 8, true, i);
	for (i = 0; i < 4; i++)
		ior_prog_access(&p, mmio, i * 8 + 8 - ior_access_sizes[i], ior_access_sizes[i],
				true, PATTERN >> (8 * i));
	for (i = 0; i < 3; i++)
		ior_prog_access(&p, second, i * 8 + 8 - ior_access_sizes[i], ior_access_sizes[i],
				true, ~PATTERN >> (8 * i));
	ior_prog_access(&p, second, IOREGION_REGFILE_DOORBELL, 4, true, PATTERN);
	ior_prog_access(&p, second, IOREGION_REGFILE_DOORBELL + 4, 4, true, PATTERN);
	for (i = 0; i < 4; i++)
		ior_prog_access(&p, &regions[2], 0, ior_access_sizes[i], true, ior_pattern(i));
	for (i = 0; i < 3; i++)
		ior_prog_access(&p, &regions[3], 0, ior_access_sizes[i], true, ior_pattern(i));
	n = p.nr_cmds;
	ior_run_prog(vcpu, &p);

	TEST_ASSERT(!ioctl(dev->rfd, FIONREAD, &queued), "FIONREAD failed, errno = %d", errno);
	TEST_ASSERT(queued == n * sizeof(struct ioregionfd_cmd),
		    "%d bytes of commands are queued for the device, expected %d posted writes",
		    queued, n);
	ior_assert_stats(vcpu, &before, 0, n, 0);

	/* Each read comes after the writes, so it sees them. */
	ior_dev_start(dev, DEV_SERVE, 0);
	ior_prog_next_run(&p);
	ior_prog_access(&p, mmio, IOREGION_REGFILE_DOORBELL, 8, false, 0);
	for (i = 0; i < 4; i++)
		ior_prog_access(&p, mmio, i * 8, 8, false, 0);
	ior_prog_access(&p, second, IOREGION_REGFILE_DOORBELL, 4, false, 0);
	for (i = 0; i < 3; i++)
		ior_prog_access(&p, second, i * 8 + 4, 4, false, 0);
	ior_prog_access(&p, mmio, IOREGION_REGFILE_DOORBELL, 8, true, 4);
	ior_prog_access(&p, mmio, IOREGION_REGFILE_DOORBELL, 4, false, 0);

	/* Reads of a zero-length region are userspace's. */
	ior_prog_exit(&p, false, ZL_GPA, 4, false, PATTERN);
	ior_prog_exit(&p, ior_second_pio(), SECOND_ZL, 2, false, PATTERN);
	ior_run_prog(vcpu, &p);

	TEST_ASSERT(p.model[mmio->idx].doorbells == 4 && p.model[second->idx].doorbells == 2,
		    "Test bug: wrong doorbell count");
	ior_check_cmds(dev, &p);
	ior_assert_stats(vcpu, &before, p.nr_cmds - n - 1, n + 1, 0);
}

/*
 * A named FIFO is a pipe too: refused whichever way its ends are given, next
 * to a good socket or not.
 */
TEST(named_fifo)
{
	char dir[] = "/tmp/ioregionfd_test.XXXXXX", path[64];
	struct kvm_ioregion args;
	static struct ior_dev dev;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int rfd, wfd;

	vm = vm_create_with_one_vcpu(&vcpu, ior_guest_code);
	ior_dev_init(&dev, false);

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
	ior_assert_ioregion(vm, &args, EINVAL, "the two ends of a FIFO");
	args.read_fd = dev.kvm_rfd;
	ior_assert_ioregion(vm, &args, EINVAL, "a FIFO as write_fd");
	args.read_fd = rfd;
	args.write_fd = dev.kvm_wfd;
	ior_assert_ioregion(vm, &args, EINVAL, "a FIFO as read_fd");
	args.read_fd = wfd;
	ior_assert_ioregion(vm, &args, EINVAL, "the write end of a FIFO as read_fd");
	args.read_fd = dev.kvm_rfd;
	args.write_fd = rfd;
	ior_assert_ioregion(vm, &args, EINVAL, "the read end of a FIFO as write_fd");

	/* Nothing was registered: the range is free for the sockets. */
	args.write_fd = dev.kvm_wfd;
	ior_assert_ioregion(vm, &args, 0, "the sockets");

	close(rfd);
	close(wfd);
	kvm_vm_free(vm);
	ior_dev_stop(&dev);
}

/*
 * Four vCPUs share the fds, each with its own regions.  The device checks
 * that every command is whole and that none is lost or repeated.
 */
TEST_F_TIMEOUT(ioregionfd, four_vcpus, 600)
{
	const int nr = 4;
	const u64 iters = 300;
	struct ior_stats before[4];
	struct ior_dev *dev = &self->dev;
	struct kvm_vcpu *vcpus[4];
	struct ior_worker w[4] = {};
	struct kvm_vm *vm;
	int i;

	vm = ior_stress_vm_create(vcpus, nr, 0);
	for (i = 0; i < nr; i++) {
		ior_stress_assign(vm, dev, i);
		before[i] = ior_vcpu_stats(vcpus[i]);
	}
	ior_stress_iters = iters;
	sync_global_to_guest(vm, ior_stress_iters);
	dev->stress = true;
	ior_dev_start(dev, DEV_SERVE, 0);

	ior_workers_run(w, vcpus, nr, 0);

	for (i = 0; i < nr; i++) {
		ior_stress_check(dev, i, iters);
		ior_assert_stats(vcpus[i], &before[i], 4 * iters, 0, 0);
	}
	kvm_vm_free(vm);
}

/*
 * Two VMs share the fds; once one is gone the other goes on.  VM i has
 * vCPU index i in ior_guest_stress(), so the two use different regions.
 */
TEST_F_TIMEOUT(ioregionfd, two_vms, 300)
{
	const u64 iters = 200;
	struct ior_dev *dev = &self->dev;
	struct ior_stats before;
	struct kvm_vcpu *vcpus[2];
	struct ior_worker w[2] = {};
	struct kvm_vm *vms[2];
	int i;

	ior_stress_iters = iters;
	for (i = 0; i < 2; i++) {
		vms[i] = ior_stress_vm_create(&vcpus[i], 1, i);
		ior_stress_assign(vms[i], dev, i);
		sync_global_to_guest(vms[i], ior_stress_iters);
	}
	dev->stress = true;
	ior_dev_start(dev, DEV_SERVE, 0);

	ior_workers_run(w, vcpus, 2, 0);
	for (i = 0; i < 2; i++)
		ior_stress_check(dev, i, iters);

	kvm_vm_free(vms[0]);
	before = ior_vcpu_stats(vcpus[1]);
	ior_workers_run(&w[1], &vcpus[1], 1, 0);
	ior_stress_check(dev, 0, iters);
	ior_stress_check(dev, 1, 2 * iters);
	ior_assert_stats(vcpus[1], &before, 4 * iters, 0, 0);
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
	struct ior_stats before[2];
	struct ior_dev *dev = &self->dev;
	struct kvm_vcpu *vcpus[2];
	struct ior_worker w[2] = {};
	u64 nr_eintr = 0, nr_pending = 0;
	struct kvm_vm *vm;
	int i;

	ior_install_sigusr1();
	vm = ior_stress_vm_create(vcpus, nr, 0);
	for (i = 0; i < nr; i++) {
		ior_stress_assign(vm, dev, i);
		before[i] = ior_vcpu_stats(vcpus[i]);
	}
	ior_stress_iters = iters;
	sync_global_to_guest(vm, ior_stress_iters);
	dev->stress = true;
	dev->delay_us = 300;
	ior_dev_start(dev, DEV_SERVE, 0);

	ior_workers_run(w, vcpus, nr, 50);

	for (i = 0; i < nr; i++) {
		ior_stress_check(dev, i, iters);
		ior_assert_stats(vcpus[i], &before[i], 4 * iters, 0, 0);
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
	const struct ior_region mmio = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0 };
	const struct ior_region second = { .base = SECOND_BASE, .size = REGION_SIZE, .idx = 1,
				       .flags = SECOND_BUS };
	const struct ior_region posted = { .base = ZL_GPA, .size = 0, .idx = 2,
				       .flags = KVM_IOREGION_POSTED_WRITES };
	struct kvm_vcpu *vcpu = self->vcpu;
	struct ior_dev *dev = &self->dev;
	struct ior_stats before;
	static struct ior_prog p;

	ior_region_assign(vcpu->vm, &mmio, dev);
	ior_region_assign(vcpu->vm, &second, dev);
	ior_region_assign(vcpu->vm, &posted, dev);
	ior_prog_init(&p, dev);
	before = ior_vcpu_stats(vcpu);
	ior_dev_start(dev, DEV_HANG_UP, 0);

	ior_prog_fail(&p, &mmio, 0x10, 8, false, PATTERN, EPIPE, true);
	ior_prog_fail(&p, &mmio, 0x20, 4, true, ~PATTERN, EPIPE, false);
	ior_prog_fail(&p, &second, 0x8, 2, false, ior_pattern(1), EPIPE, false);
	ior_prog_fail(&p, &second, 0x31, 1, true, PATTERN, EPIPE, false);
	ior_prog_fail(&p, &mmio, 0x18, 1, false, ior_pattern(2), EPIPE, false);
	ior_prog_fail(&p, &posted, 0, 2, true, PATTERN, EPIPE, false);
	WRITE_ONCE(ior_nr_sigpipe, 0);
	ior_run_prog(vcpu, &p);
	TEST_ASSERT(!READ_ONCE(ior_nr_sigpipe), "KVM raised SIGPIPE %u times", ior_nr_sigpipe);

	TEST_ASSERT(!pthread_join(dev->thread, NULL), "pthread_join() failed");
	dev->running = false;
	ior_check_cmds(dev, &p);
	ior_assert_stats(vcpu, &before, 0, 0, p.nr_exits);
}

/*
 * A response with nonzero pad fails the access with EPROTO, and the fds
 * for good: the device gets no further command.
 */
TEST_F(ioregionfd, malformed_response)
{
	const struct ior_region mmio = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0 };
	const struct ior_region second = { .base = SECOND_BASE, .size = REGION_SIZE, .idx = 1,
				       .flags = SECOND_BUS };
	struct kvm_vcpu *vcpu = self->vcpu;
	struct ior_dev *dev = &self->dev;
	struct ior_stats before;
	static struct ior_prog p;

	dev->regs[mmio.idx].regs[0] = PATTERN;
	ior_region_assign(vcpu->vm, &mmio, dev);
	ior_region_assign(vcpu->vm, &second, dev);
	ior_prog_init(&p, dev);
	before = ior_vcpu_stats(vcpu);
	ior_dev_start(dev, DEV_BAD_PAD, 1);

	ior_prog_access(&p, &mmio, 0, 8, false, 0);
	ior_prog_fail(&p, &mmio, 0x8, 4, false, ~PATTERN, EPROTO, true);
	ior_prog_fail(&p, &mmio, 0x8, 8, true, PATTERN, EPROTO, false);
	ior_prog_fail(&p, &second, 0x4, 4, false, ior_pattern(3), EPROTO, false);
	ior_prog_fail(&p, &mmio, 0x0, 8, false, ior_pattern(4), EPROTO, false);
	ior_run_prog(vcpu, &p);
	ior_assert_stats(vcpu, &before, 1, 0, 4);

	kvm_vm_free(vcpu->vm);
	self->vcpu = NULL;
	ior_dev_stop(dev);
	ior_check_cmds(dev, &p);
}

/*
 * After KVM_IOREGION_DEASSIGN, which must match bus, address and size, the
 * accesses exit to userspace again; a new region can take the range.
 */
TEST_F(ioregionfd, deassign)
{
	const struct ior_region mmio = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0 };
	const struct ior_region second = { .base = SECOND_BASE, .size = 0x10, .idx = 1,
				       .flags = SECOND_BUS };
	const struct ior_region zl = { .base = ZL_GPA, .size = 0, .idx = 2,
				   .flags = KVM_IOREGION_POSTED_WRITES };
	const struct ior_region again = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 3 };
	struct kvm_vcpu *vcpu = self->vcpu;
	struct ior_dev *dev = &self->dev;
	struct kvm_vm *vm = vcpu->vm;
	struct kvm_ioregion args;
	static struct ior_prog p;

	ior_region_assign(vm, &mmio, dev);
	ior_region_assign(vm, &second, dev);
	ior_region_assign(vm, &zl, dev);
	ior_prog_init(&p, dev);
	ior_dev_start(dev, DEV_SERVE, 0);

	ior_prog_access(&p, &mmio, 0, 8, true, PATTERN);
	ior_prog_access(&p, &second, 4, 2, true, PATTERN);
	ior_prog_access(&p, &zl, 0, 4, true, PATTERN);
	ior_prog_access(&p, &mmio, 0, 8, false, 0);
	ior_run_prog(vcpu, &p);
	ior_check_cmds(dev, &p);

	/* Nothing but the exact bus, address and size matches. */
	args = (struct kvm_ioregion) {
		.guest_paddr = MMIO_GPA, .memory_size = REGION_SIZE / 2,
		.read_fd = -1, .write_fd = -1, .flags = KVM_IOREGION_DEASSIGN,
	};
	ior_assert_ioregion(vm, &args, ENOENT, "deassign of a smaller size");
	args.memory_size = REGION_SIZE * 2;
	ior_assert_ioregion(vm, &args, ENOENT, "deassign of a larger size");
	args.memory_size = REGION_SIZE;
	args.guest_paddr = MMIO_GPA + 8;
	ior_assert_ioregion(vm, &args, ENOENT, "deassign at another address");
	if (ior_second_pio()) {
		args = (struct kvm_ioregion) {
			.guest_paddr = SECOND_BASE, .memory_size = 0x10,
			.read_fd = -1, .write_fd = -1, .flags = KVM_IOREGION_DEASSIGN,
		};
		ior_assert_ioregion(vm, &args, ENOENT, "deassign of a PIO region on the MMIO bus");
	}
	args = (struct kvm_ioregion) {
		.guest_paddr = ZL_GPA, .memory_size = 1,
		.read_fd = -1, .write_fd = -1, .flags = KVM_IOREGION_DEASSIGN,
	};
	ior_assert_ioregion(vm, &args, ENOENT, "deassign of a zero-length region with size 1");

	/* fds and user_data don't matter. */
	args = (struct kvm_ioregion) {
		.guest_paddr = MMIO_GPA, .memory_size = REGION_SIZE, .user_data = ~0ull,
		.read_fd = 12345, .write_fd = -1, .flags = KVM_IOREGION_DEASSIGN,
	};
	ior_assert_ioregion(vm, &args, 0, "deassign with other fds and user_data");
	ior_assert_ioregion(vm, &args, ENOENT, "second deassign");
	ior_region_deassign(vm, &second);
	ior_region_deassign(vm, &zl);

	ior_prog_next_run(&p);
	ior_prog_exit(&p, false, MMIO_GPA + 8, 4, true, PATTERN);
	ior_prog_exit(&p, false, MMIO_GPA, 8, false, ~PATTERN);
	ior_prog_exit(&p, ior_second_pio(), SECOND_BASE + 4, 2, true, PATTERN);
	ior_prog_exit(&p, ior_second_pio(), SECOND_BASE, 1, false, ior_pattern(1));
	ior_prog_exit(&p, false, ZL_GPA, 4, true, PATTERN);
	ior_run_prog(vcpu, &p);
	ior_check_cmds(dev, &p);

	/* The range is free for a new region, which works. */
	ior_region_assign(vm, &again, dev);
	ior_prog_next_run(&p);
	ior_prog_access(&p, &again, 0x10, 2, true, PATTERN);
	ior_prog_access(&p, &again, 0x10, 8, false, 0);
	ior_run_prog(vcpu, &p);
	ior_check_cmds(dev, &p);
}

/* ioregion_round_trips, ioregion_posted_writes and ioregion_failures count exactly. */
TEST_F(ioregionfd, stats)
{
	const struct ior_region mmio = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0 };
	const struct ior_region posted = { .base = SECOND_BASE, .size = REGION_SIZE, .idx = 1,
				       .flags = SECOND_BUS | KVM_IOREGION_POSTED_WRITES };
	struct kvm_vcpu *vcpu = self->vcpu;
	struct ior_dev *dev = &self->dev;
	struct ior_stats before;
	static struct ior_prog p;
	int i;

	ior_region_assign(vcpu->vm, &mmio, dev);
	ior_region_assign(vcpu->vm, &posted, dev);
	ior_prog_init(&p, dev);
	before = ior_vcpu_stats(vcpu);
	ior_dev_start(dev, DEV_HANG_UP, 8);

	for (i = 0; i < 5; i++)
		ior_prog_access(&p, &mmio, 8 * i, 8, i & 1, PATTERN);
	ior_run_prog(vcpu, &p);
	ior_assert_stats(vcpu, &before, 5, 0, 0);

	ior_prog_next_run(&p);
	for (i = 0; i < 3; i++)
		ior_prog_access(&p, &posted, 4 * i, 4, true, PATTERN);
	ior_run_prog(vcpu, &p);
	ior_assert_stats(vcpu, &before, 5, 3, 0);

	ior_prog_next_run(&p);
	ior_prog_fail(&p, &mmio, 0, 4, false, PATTERN, EPIPE, true);
	ior_prog_fail(&p, &posted, 0, 4, true, PATTERN, EPIPE, false);
	ior_run_prog(vcpu, &p);
	ior_assert_stats(vcpu, &before, 5, 3, 2);
	ior_check_cmds(dev, &p);
}

int main(int argc, char *argv[])
{
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_IOREGIONFD));
	ior_count_sigpipe();

	return test_harness_run(argc, argv);
}
