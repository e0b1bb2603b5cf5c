// SPDX-License-Identifier: GPL-2.0-only
/*
 * KVM_SET_IOREGION's arguments, and regions next to the other devices of
 * the I/O buses: overlaps, ioeventfds inside a region, coalesced zones and
 * the in-kernel irqchip and PIT.
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
	if (!ior_second_pio()) {
		ior_assert_ioregion(vm, &args, EINVAL, "PIO region without port I/O");
		args.flags |= KVM_IOREGION_DEASSIGN;
		ior_assert_ioregion(vm, &args, EINVAL, "PIO deassign without port I/O");
		return;
	}

	args.guest_paddr = 0xfff0;
	args.memory_size = 0x11;
	ior_assert_ioregion(vm, &args, EINVAL, "PIO range past 0xffff");
	args.guest_paddr = 0x10000;
	args.memory_size = 1;
	ior_assert_ioregion(vm, &args, EINVAL, "PIO range above 0xffff");
	args.memory_size = 0;
	args.flags |= KVM_IOREGION_POSTED_WRITES;
	ior_assert_ioregion(vm, &args, EINVAL, "zero-length PIO region at 0x10000");
	args.guest_paddr = 0xffff;
	ior_assert_ioregion(vm, &args, 0, "zero-length PIO region at 0xffff");
	args.flags |= KVM_IOREGION_DEASSIGN;
	ior_assert_ioregion(vm, &args, 0, "deassign of the zero-length PIO region");
	args = *good;
	args.flags = KVM_IOREGION_PIO;
	args.guest_paddr = 0xfff0;
	args.memory_size = 0x10;
	ior_assert_ioregion(vm, &args, 0, "PIO range ending at 0xffff");
	args.flags |= KVM_IOREGION_DEASSIGN;
	ior_assert_ioregion(vm, &args, 0, "deassign of the PIO range ending at 0xffff");
}

/* Every argument KVM_SET_IOREGION refuses, with the variant's fds as the good ones. */
TEST_F(ioregionfd, bad_args)
{
	struct kvm_vm *vm = self->vcpu->vm;
	struct ior_dev *dev = &self->dev;
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
	ior_assert_ioregion(vm, &args, EINVAL, "unknown flag");
	args.flags = ~0u;
	ior_assert_ioregion(vm, &args, EINVAL, "all flags");
	args = good;
	args.pad[0] = 1;
	ior_assert_ioregion(vm, &args, EINVAL, "nonzero pad[0]");
	args = good;
	args.pad[sizeof(args.pad) - 1] = 0x80;
	ior_assert_ioregion(vm, &args, EINVAL, "nonzero last pad byte");
	args.flags = KVM_IOREGION_DEASSIGN;
	ior_assert_ioregion(vm, &args, EINVAL, "deassign with nonzero pad");

	args = good;
	args.memory_size = 0;
	ior_assert_ioregion(vm, &args, EINVAL, "zero length without posted writes");
	args.flags = KVM_IOREGION_PIO;
	args.guest_paddr = SECOND_BASE;
	ior_assert_ioregion(vm, &args, EINVAL, "zero-length PIO without posted writes");
	/* Deassign only matches bus, address and size: there is no such region. */
	args.flags = KVM_IOREGION_DEASSIGN;
	ior_assert_ioregion(vm, &args, ENOENT, "deassign of zero length without posted writes");

	args = good;
	args.guest_paddr = -8ull;
	args.memory_size = 16;
	ior_assert_ioregion(vm, &args, EINVAL, "range past the end of the address space");
	args.guest_paddr = -1ull;
	args.memory_size = -1ull;
	ior_assert_ioregion(vm, &args, EINVAL, "huge range");
	/* A range may end at 2^64 exactly, as api.rst says. */
	args.guest_paddr = -16ull;
	args.memory_size = 17;
	ior_assert_ioregion(vm, &args, EINVAL, "range that ends one byte past 2^64");
	args.memory_size = 16;
	ior_assert_ioregion(vm, &args, 0, "range that ends at 2^64");
	args.flags = KVM_IOREGION_DEASSIGN;
	ior_assert_ioregion(vm, &args, 0, "deassign of the range that ends at 2^64");
	args.flags = 0;
	args.guest_paddr = -17ull;
	ior_assert_ioregion(vm, &args, 0, "range that ends just below 2^64");
	args.flags = KVM_IOREGION_DEASSIGN;
	ior_assert_ioregion(vm, &args, 0, "deassign just below 2^64");

	/*
	 * Regions are not devices on the I/O bus, whose lengths are ints: a
	 * length of 2^31 is fine.
	 */
	args = good;
	args.memory_size = 1ull << 31;
	ior_assert_ioregion(vm, &args, 0, "memory_size of 2^31");
	args.flags = KVM_IOREGION_DEASSIGN;
	ior_assert_ioregion(vm, &args, 0, "deassign of memory_size 2^31");

	assert_pio_ranges(vm, &good);

	/* Only connected AF_UNIX stream sockets carry the protocol. */
	args = good;
	args.read_fd = efd;
	ior_assert_ioregion(vm, &args, EINVAL, "eventfd as read_fd");
	args = good;
	args.write_fd = efd;
	ior_assert_ioregion(vm, &args, EINVAL, "eventfd as write_fd");
	args = good;
	args.read_fd = memfd;
	args.write_fd = memfd;
	ior_assert_ioregion(vm, &args, EINVAL, "regular file");
	args.read_fd = dgram[0];
	args.write_fd = dgram[0];
	ior_assert_ioregion(vm, &args, EINVAL, "SOCK_DGRAM socket");
	args.read_fd = seqpacket[0];
	args.write_fd = seqpacket[0];
	ior_assert_ioregion(vm, &args, EINVAL, "SOCK_SEQPACKET socket");
	args = good;
	args.write_fd = dgram[0];
	ior_assert_ioregion(vm, &args, EINVAL, "SOCK_DGRAM socket as write_fd");
	args = good;
	args.read_fd = seqpacket[1];
	ior_assert_ioregion(vm, &args, EINVAL, "SOCK_SEQPACKET socket as read_fd");
	args = good;
	args.read_fd = unconnected;
	ior_assert_ioregion(vm, &args, EINVAL, "unconnected stream socket as read_fd");
	args = good;
	args.write_fd = unconnected;
	ior_assert_ioregion(vm, &args, EINVAL, "unconnected stream socket as write_fd");
	args = good;
	args.read_fd = listening;
	args.write_fd = listening;
	ior_assert_ioregion(vm, &args, EINVAL, "listening stream socket");
	args = good;
	args.write_fd = listening;
	ior_assert_ioregion(vm, &args, EINVAL, "listening stream socket as write_fd");
	args = good;
	args.read_fd = tcp;
	args.write_fd = tcp;
	ior_assert_ioregion(vm, &args, EINVAL, "TCP socket");

	/* Pipes: neither end, in either place, not even the two ends of one. */
	args = good;
	args.read_fd = p[0];
	args.write_fd = p[1];
	ior_assert_ioregion(vm, &args, EINVAL, "the ends of one pipe");
	args = good;
	args.read_fd = p[0];
	ior_assert_ioregion(vm, &args, EINVAL, "read end of a pipe as read_fd");
	args = good;
	args.write_fd = p[1];
	ior_assert_ioregion(vm, &args, EINVAL, "write end of a pipe as write_fd");
	args = good;
	args.read_fd = p[1];
	ior_assert_ioregion(vm, &args, EINVAL, "write end of a pipe as read_fd");
	args = good;
	args.write_fd = p[0];
	ior_assert_ioregion(vm, &args, EINVAL, "read end of a pipe as write_fd");

	args = good;
	args.read_fd = bad;
	ior_assert_ioregion(vm, &args, EBADF, "closed read_fd");
	args = good;
	args.write_fd = bad;
	ior_assert_ioregion(vm, &args, EBADF, "closed write_fd");
	args = good;
	args.read_fd = -1;
	ior_assert_ioregion(vm, &args, EBADF, "read_fd -1");
	args = good;
	args.read_fd = pathfd;
	ior_assert_ioregion(vm, &args, EBADF, "O_PATH read_fd");

	/* Nothing above was registered: the good fds take the range. */
	args = good;
	ior_assert_ioregion(vm, &args, 0, "the variant's sockets");
	args.flags = KVM_IOREGION_DEASSIGN;
	ior_assert_ioregion(vm, &args, 0, "deassign");
	ior_assert_ioregion(vm, &args, ENOENT, "deassign of nothing");
	args.guest_paddr = SECOND_BASE;
	args.flags |= KVM_IOREGION_PIO;
	ior_assert_ioregion(vm, &args, ior_second_pio() ? ENOENT : EINVAL,
			    "PIO deassign of nothing");

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
	struct ior_dev *dev = &self->dev;
	struct kvm_ioregion args;
	char what[64];
	int b, i;

	for (b = 0; b < (ior_second_pio() ? 2 : 1); b++) {
		const u64 base = b ? SECOND_BASE : MMIO_GPA;
		const u32 bus = b ? SECOND_BUS : 0;
		const struct ior_region r = { .base = base + 0x100, .size = 0x100, .flags = bus };
		const struct ior_region zl = { .base = base + 0x300, .size = 0,
					   .flags = bus | KVM_IOREGION_POSTED_WRITES };

		ior_region_assign(vm, &r, dev);
		ior_region_assign(vm, &zl, dev);

		for (i = 0; i < ARRAY_SIZE(cases); i++) {
			snprintf(what, sizeof(what), "%s region at +0x%lx, size 0x%lx",
				 ior_bus_str(b), cases[i].offset, cases[i].size);
			args = (struct kvm_ioregion) {
				.guest_paddr = base + cases[i].offset,
				.memory_size = cases[i].size,
				.read_fd = dev->kvm_rfd, .write_fd = dev->kvm_wfd,
				.flags = bus | KVM_IOREGION_POSTED_WRITES,
			};
			ior_assert_ioregion(vm, &args, cases[i].err, what);
			if (cases[i].err)
				continue;

			args.flags |= KVM_IOREGION_DEASSIGN;
			ior_assert_ioregion(vm, &args, 0, what);
		}
	}

	if (!ior_second_pio())
		return;

	/* The buses are apart: the PIO region's numbers are free on the MMIO bus. */
	args = (struct kvm_ioregion) {
		.guest_paddr = SECOND_BASE, .memory_size = 0x1000,
		.read_fd = dev->kvm_rfd, .write_fd = dev->kvm_wfd,
	};
	ior_assert_ioregion(vm, &args, 0, "MMIO region at the PIO regions' numbers");
	args.flags = KVM_IOREGION_DEASSIGN | KVM_IOREGION_PIO;
	ior_assert_ioregion(vm, &args, ENOENT, "PIO deassign of the MMIO region");
	args.flags = KVM_IOREGION_DEASSIGN;
	ior_assert_ioregion(vm, &args, 0, "deassign of the MMIO region");
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
	const struct ior_region mmio = { .base = MMIO_GPA + 0x100, .size = 0x100, .idx = 0 };
	const struct ior_region second = { .base = SECOND_BASE + 0x100, .size = 0x100, .idx = 1,
				       .flags = SECOND_BUS };
	const u32 bus2 = ior_second_pio() ? KVM_IOEVENTFD_FLAG_PIO : 0;
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
	struct ior_dev *dev = &self->dev;
	struct kvm_vm *vm = vcpu->vm;
	struct kvm_ioregion args;
	static struct ior_prog p;
	int efd[5], i;

	for (i = 0; i < 5; i++) {
		efd[i] = eventfd(0, EFD_NONBLOCK);
		TEST_ASSERT(efd[i] >= 0, "eventfd() failed");
	}

	ior_region_assign(vm, &mmio, dev);
	ior_region_assign(vm, &second, dev);
	assert_ioeventfd(vm, MMIO_GPA + 0xf8, 8, efd[0], 0, 0, "ioeventfd right below");
	assert_ioeventfd(vm, MMIO_GPA + 0x200, 4, efd[1], 0, 0, "ioeventfd right above");
	assert_ioeventfd(vm, MMIO_GPA + 0x210, 0, efd[2], 0, 0, "zero-length ioeventfd");
	assert_ioeventfd(vm, SECOND_BASE + 0xfc, 4, efd[3], bus2, 0,
			 "ioeventfd right below the second region");
	assert_ioeventfd(vm, SECOND_BASE + 0x200, 2, efd[4], bus2, 0,
			 "ioeventfd right above the second region");

	ior_prog_init(&p, dev);
	ior_dev_start(dev, DEV_SERVE, 0);
	ior_prog_add_op(&p, false, MMIO_GPA + 0xf8, 8, true, PATTERN);
	ior_prog_access(&p, &mmio, 0, 8, true, PATTERN);
	ior_prog_access(&p, &mmio, 0xf7, 1, true, PATTERN);
	ior_prog_add_op(&p, false, MMIO_GPA + 0x200, 4, true, PATTERN);
	ior_prog_add_op(&p, false, MMIO_GPA + 0x210, 2, true, PATTERN);
	ior_prog_access(&p, &mmio, 0xf0, 8, false, 0);
	ior_prog_add_op(&p, ior_second_pio(), SECOND_BASE + 0xfc, 4, true, PATTERN);
	ior_prog_access(&p, &second, 0, 4, true, PATTERN);
	ior_prog_access(&p, &second, 0xf6, 2, true, PATTERN);
	ior_prog_add_op(&p, ior_second_pio(), SECOND_BASE + 0x200, 2, true, PATTERN);
	ior_prog_access(&p, &second, 0xf4, 4, false, 0);
	ior_run_prog(vcpu, &p);
	ior_check_cmds(dev, &p);
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
		ior_assert_ioregion(vm, &args, 0, c->what);
		args.flags |= KVM_IOREGION_DEASSIGN;
		ior_assert_ioregion(vm, &args, 0, c->what);
	}

	/* Neighbours and the other bus are fine. */
	args.guest_paddr = MMIO_GPA + 0x204;
	args.memory_size = 0xc;
	args.flags = 0;
	ior_assert_ioregion(vm, &args, 0, "region between ioeventfds");
	args.flags |= KVM_IOREGION_DEASSIGN;
	ior_assert_ioregion(vm, &args, 0, "deassign");
	if (ior_second_pio()) {
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
	ior_assert_ioregion(vm, &args, 0, "region where an ioeventfd was");
	ior_region_deassign(vm, &mmio);
	assert_ioeventfd(vm, MMIO_GPA + 0x180, 4, efd[0], 0, 0, "ioeventfd where a region was");

	for (i = 0; i < 5; i++)
		close(efd[i]);
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
	const struct ior_region mmio = { .base = MMIO_GPA, .size = REGION_SIZE, .idx = 0 };
	const struct ior_region legacy = { .base = SECOND_BASE, .size = 0x20, .idx = 1,
				       .flags = SECOND_BUS };
	const u32 match = (ior_second_pio() ? KVM_IOEVENTFD_FLAG_PIO : 0) |
			  KVM_IOEVENTFD_FLAG_DATAMATCH;
	struct kvm_vcpu *vcpu = self->vcpu;
	struct ior_dev *dev = &self->dev;
	struct kvm_vm *vm = vcpu->vm;
	struct ior_stats before;
	static struct ior_prog p;
	int efd[3], i;
	u64 n;

	for (i = 0; i < 3; i++) {
		efd[i] = eventfd(0, EFD_NONBLOCK);
		TEST_ASSERT(efd[i] >= 0, "eventfd() failed");
	}

	/* The ioeventfds come before one region and after the other. */
	ior_ioeventfd_match(vm, MMIO_GPA + MODERN_NOTIFY, 0, efd[0], 0, 0);
	ior_region_assign(vm, &mmio, dev);
	ior_region_assign(vm, &legacy, dev);
	ior_ioeventfd_match(vm, SECOND_BASE + LEGACY_NOTIFY, 2, efd[1], match, 0);
	ior_ioeventfd_match(vm, SECOND_BASE + LEGACY_NOTIFY, 2, efd[2], match, 3);
	for (i = 0; i < IOREGION_REGFILE_NR_REGS - 1; i++) {
		dev->regs[0].regs[i] = ior_pattern(i);
		dev->regs[1].regs[i] = ior_pattern(i);
	}
	ior_prog_init(&p, dev);
	before = ior_vcpu_stats(vcpu);
	ior_dev_start(dev, DEV_SERVE, 0);

	/* Modern: notify writes of the queue index, of any size, are the ioeventfd's. */
	ior_prog_access(&p, &mmio, MODERN_NOTIFY - 8, 8, true, PATTERN);
	ior_prog_add_op(&p, false, MMIO_GPA + MODERN_NOTIFY, 2, true, 0);
	ior_prog_add_op(&p, false, MMIO_GPA + MODERN_NOTIFY, 2, true, 5);
	ior_prog_add_op(&p, false, MMIO_GPA + MODERN_NOTIFY, 4, true, PATTERN);
	ior_prog_access(&p, &mmio, MODERN_NOTIFY + 2, 2, false, 0);
	ior_prog_access(&p, &mmio, MODERN_NOTIFY + 2, 2, true, PATTERN);
	ior_prog_access(&p, &mmio, MODERN_NOTIFY - 2, 2, true, ~PATTERN);
	ior_prog_add_op(&p, false, MMIO_GPA + MODERN_NOTIFY, 1, true, 7);
	ior_prog_access(&p, &mmio, MODERN_NOTIFY + 1, 4, false, 0);
	ior_prog_access(&p, &mmio, MODERN_NOTIFY - 8, 8, false, 0);

	/* Legacy: a 2-byte write of a queue's index is its ioeventfd's, the rest the device's. */
	ior_prog_access(&p, &legacy, 0, 4, true, PATTERN);
	ior_prog_add_op(&p, ior_second_pio(), SECOND_BASE + LEGACY_NOTIFY, 2, true, 3);
	ior_prog_add_op(&p, ior_second_pio(), SECOND_BASE + LEGACY_NOTIFY, 2, true, 0);
	ior_prog_access(&p, &legacy, LEGACY_NOTIFY, 2, true, 5);
	ior_prog_access(&p, &legacy, LEGACY_NOTIFY, 2, false, 0);
	ior_prog_access(&p, &legacy, LEGACY_NOTIFY, 1, true, 3);
	ior_prog_access(&p, &legacy, LEGACY_NOTIFY, 4, true, 3);
	ior_prog_access(&p, &legacy, LEGACY_NOTIFY + 2, 2, true, 3);
	ior_prog_add_op(&p, ior_second_pio(), SECOND_BASE + LEGACY_NOTIFY, 2, true, 3);
	ior_prog_access(&p, &legacy, LEGACY_NOTIFY, 4, false, 0);
	ior_prog_access(&p, &legacy, LEGACY_NOTIFY - 2, 2, false, 0);
	ior_run_prog(vcpu, &p);
	ior_check_cmds(dev, &p);
	ior_assert_stats(vcpu, &before, p.nr_cmds, 0, 0);

	n = eventfd_count(efd[0]);
	TEST_ASSERT(n == 4, "The modern notify ioeventfd was signalled %lu times, expected 4", n);
	n = eventfd_count(efd[1]);
	TEST_ASSERT(n == 1, "The legacy ioeventfd of queue 0 was signalled %lu times, expected 1",
		    n);
	n = eventfd_count(efd[2]);
	TEST_ASSERT(n == 2, "The legacy ioeventfd of queue 3 was signalled %lu times, expected 2",
		    n);

	/* Without the ioeventfds, the notify writes are the device's. */
	ior_ioeventfd_match(vm, MMIO_GPA + MODERN_NOTIFY, 0, efd[0], KVM_IOEVENTFD_FLAG_DEASSIGN,
			    0);
	ior_ioeventfd_match(vm, SECOND_BASE + LEGACY_NOTIFY, 2, efd[2],
			    match | KVM_IOEVENTFD_FLAG_DEASSIGN, 3);
	ior_prog_next_run(&p);
	ior_prog_access(&p, &mmio, MODERN_NOTIFY, 2, true, 1);
	ior_prog_access(&p, &legacy, LEGACY_NOTIFY, 2, true, 3);
	ior_prog_add_op(&p, ior_second_pio(), SECOND_BASE + LEGACY_NOTIFY, 2, true, 0);
	ior_run_prog(vcpu, &p);
	ior_check_cmds(dev, &p);
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
static struct kvm_ioregion bus_region(const struct ior_dev *dev, u64 addr, u64 size, bool pio)
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
	struct ior_dev *dev = &self->dev;
	struct kvm_ioregion args;
	int b;

	for (b = 0; b < 2; b++) {
		const bool pio = b;
		const u64 base = pio ? SECOND_BASE : MMIO_GPA;

		if (pio && (!ior_second_pio() || !kvm_has_cap(KVM_CAP_COALESCED_PIO)))
			continue;

		/* A region over a zone. */
		assert_vm_ioctl(__vm_coalesced_io(vm, base + 0x100, 0x100, pio, false), 0,
				"KVM_REGISTER_COALESCED_MMIO");
		args = bus_region(dev, base + 0x100, 0x100, pio);
		ior_assert_ioregion(vm, &args, EEXIST, "region at a coalesced zone");
		args = bus_region(dev, base + 0x1ff, 8, pio);
		ior_assert_ioregion(vm, &args, EEXIST, "region over a zone's last byte");
		args = bus_region(dev, base + 0xf8, 9, pio);
		ior_assert_ioregion(vm, &args, EEXIST, "region over a zone's first byte");
		args = bus_region(dev, base + 0x180, 4, pio);
		ior_assert_ioregion(vm, &args, EEXIST, "region inside a zone");
		args = bus_region(dev, base + 0x100, 0, pio);
		args.flags |= KVM_IOREGION_POSTED_WRITES;
		ior_assert_ioregion(vm, &args, EEXIST, "zero-length region at a zone");
		args = bus_region(dev, base + 0x200, 0x100, pio);
		ior_assert_ioregion(vm, &args, 0, "region right above a zone");
		args.flags |= KVM_IOREGION_DEASSIGN;
		ior_assert_ioregion(vm, &args, 0, "deassign");
		assert_vm_ioctl(__vm_coalesced_io(vm, base + 0x100, 0x100, pio, true), 0,
				"KVM_UNREGISTER_COALESCED_MMIO");

		/* A zone over a region. */
		args = bus_region(dev, base + 0x100, 0x100, pio);
		ior_assert_ioregion(vm, &args, 0, "region where the zone was");
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
		ior_assert_ioregion(vm, &args, 0, "deassign");
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
	struct ior_dev *dev = &self->dev;
	struct kvm_ioregion args;
	int i;

	for (i = 0; i < ARRAY_SIZE(irqchip); i++) {
		args = bus_region(dev, irqchip[i].addr, irqchip[i].size, irqchip[i].pio);
		ior_assert_ioregion(vm, &args, EEXIST, irqchip[i].what);
	}
	args = bus_region(dev, IOAPIC_GPA + 0x100, 0x100, false);
	ior_assert_ioregion(vm, &args, 0, "MMIO region right above the IOAPIC");
	args.flags |= KVM_IOREGION_DEASSIGN;
	ior_assert_ioregion(vm, &args, 0, "deassign");
}

/* No PIT over a region, at its counters' ports or at the speaker port. */
TEST_F(ioregionfd, pit_over_region)
{
	struct kvm_vm *vm = self->vcpu->vm;
	struct ior_dev *dev = &self->dev;
	struct kvm_ioregion args;

	args = bus_region(dev, PIT_PORT, 4, true);
	ior_assert_ioregion(vm, &args, 0, "PIO region at the PIT's ports, before the PIT");
	assert_vm_ioctl(__vm_create_pit2(vm), EEXIST, "KVM_CREATE_PIT2 over a region");
	args.flags |= KVM_IOREGION_DEASSIGN;
	ior_assert_ioregion(vm, &args, 0, "deassign");

	args = bus_region(dev, SPEAKER_PORT, 1, true);
	ior_assert_ioregion(vm, &args, 0, "PIO region at the speaker port, before the PIT");
	assert_vm_ioctl(__vm_create_pit2(vm), EEXIST,
			"KVM_CREATE_PIT2 over a region at the speaker port");
	args.flags |= KVM_IOREGION_DEASSIGN;
	ior_assert_ioregion(vm, &args, 0, "deassign");

	/* With the ports free again, the PIT comes. */
	assert_vm_ioctl(__vm_create_pit2(vm), 0, "KVM_CREATE_PIT2 once the regions are gone");
}

/* No region over the PIT. */
TEST_F(ioregionfd, region_over_pit)
{
	struct kvm_vm *vm = self->vcpu->vm;
	struct ior_dev *dev = &self->dev;
	struct kvm_ioregion args;

	assert_vm_ioctl(__vm_create_pit2(vm), 0, "KVM_CREATE_PIT2");
	args = bus_region(dev, PIT_PORT, 4, true);
	ior_assert_ioregion(vm, &args, EEXIST, "PIO region at the PIT");
	args = bus_region(dev, PIT_PORT + 3, 1, true);
	ior_assert_ioregion(vm, &args, EEXIST, "PIO region at the PIT's last port");
	args = bus_region(dev, SPEAKER_PORT, 1, true);
	ior_assert_ioregion(vm, &args, EEXIST, "PIO region at the speaker port");
	args = bus_region(dev, PIT_PORT + 4, 0x1d, true);
	ior_assert_ioregion(vm, &args, 0, "PIO region between the PIT and the speaker port");
	args.flags |= KVM_IOREGION_DEASSIGN;
	ior_assert_ioregion(vm, &args, 0, "deassign");
}

/* KVM_CREATE_IRQCHIP over a region of a VM that has no irqchip yet. */
static void create_irqchip_over(const struct ior_dev *dev, u64 addr, u64 size, bool pio,
				const char *what)
{
	struct kvm_vm *vm = vm_create_barebones();
	struct kvm_ioregion args = bus_region(dev, addr, size, pio);

	ior_assert_ioregion(vm, &args, 0, what);
	assert_vm_ioctl(__vm_ioctl(vm, KVM_CREATE_IRQCHIP, NULL), EEXIST, what);
	kvm_vm_free(vm);
}

TEST_F(ioregionfd, irqchip_over_region)
{
	struct ior_dev *dev = &self->dev;
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
	ior_assert_ioregion(vm, &args, 0, "region right above the IOAPIC");
	args = bus_region(dev, PIC_MASTER_PORT + 2, 2, true);
	ior_assert_ioregion(vm, &args, 0, "PIO region right above the master PIC");
	assert_vm_ioctl(__vm_ioctl(vm, KVM_CREATE_IRQCHIP, NULL), 0,
			"KVM_CREATE_IRQCHIP next to regions");
	kvm_vm_free(vm);
}
#endif /* __x86_64__ */

int main(int argc, char *argv[])
{
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_IOREGIONFD));
	ior_count_sigpipe();

	return test_harness_run(argc, argv);
}
