// SPDX-License-Identifier: GPL-2.0-only
/*
 * KVM_IOEVENTFD: guest PIO/MMIO writes that KVM turns into eventfd signals,
 * as they behave with and without KVM_CAP_IOEVENTFD_GROUPS.  Guests make port
 * I/O and 16-byte SSE stores on x86 only; elsewhere the PIO bus is tested
 * through the ioctl alone.  Fan-out is in ioeventfd_groups_test.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include "ioeventfd_test.h"
#include "kvm_test_harness.h"
#include "kvm_util.h"
#include "test_util.h"

/* Tests of what KVM_IOEVENTFD does with or without KVM_CAP_IOEVENTFD_GROUPS. */
FIXTURE(ioeventfd) {
	struct kvm_vcpu *vcpu;
};

FIXTURE_SETUP(ioeventfd)
{
	ioe_vm_setup(&self->vcpu);
}

FIXTURE_TEARDOWN(ioeventfd)
{
	kvm_vm_free(self->vcpu->vm);
}

static void test_lengths(struct kvm_vcpu *vcpu, bool pio)
{
	struct kvm_vm *vm = vcpu->vm;
	int i, j;

	for (i = 0; i < ioe_nr_access_sizes(pio); i++) {
		u32 len = ioe_access_sizes[i];
		u64 match = PATTERN & ioe_size_mask(len);
		u64 wild_addr = ioe_addr(pio, 2 * i);
		u64 dm_addr = ioe_addr(pio, 2 * i + 1);
		u64 upper = match >> (len * 4);
		int wild_fd = ioe_new_eventfd();
		int dm_fd = ioe_new_eventfd();
		int wide_fd = ioe_new_eventfd();

		ioe_assign_wildcard(vm, pio, wild_addr, len, wild_fd);
		ioe_assign_datamatch(vm, pio, dm_addr, len, dm_fd, match);

		/*
		 * Written values are zero-extended, so a datamatch wider than
		 * the access can never match.
		 */
		if (len < 8)
			ioe_assign_datamatch(vm, pio, dm_addr, len, wide_fd,
					     match | BIT_ULL(len * 8));

		/* Any value of the registered width signals a wildcard... */
		ioe_write(vcpu, pio, wild_addr, len, match, 1);
		ioe_write(vcpu, pio, wild_addr, len, 0, 1);
		ioe_write(vcpu, pio, wild_addr, len, ~match & ioe_size_mask(len), 1);
		ioe_assert_eventfd(wild_fd, 3, "wildcard");

		/* ...but only its own value signals a datamatch, down to the top bit. */
		ioe_write(vcpu, pio, dm_addr, len, match, 1);
		ioe_write_exit(vcpu, pio, dm_addr, len, match ^ 1, 1);
		ioe_write_exit(vcpu, pio, dm_addr, len, match ^ BIT_ULL(len * 8 - 1), 1);
		ioe_assert_eventfd(dm_fd, 1, "datamatch");

		/* Other widths at the address don't hit, they aren't even misses. */
		for (j = 0; j < ioe_nr_access_sizes(pio); j++) {
			u32 size = ioe_access_sizes[j];

			if (size == len)
				continue;

			ioe_write_exit(vcpu, pio, wild_addr, size, match, 0);
			ioe_write_exit(vcpu, pio, dm_addr, size, match, 0);
		}

		/* Neither do accesses that start inside the registered range. */
		if (len > 1) {
			ioe_write_exit(vcpu, pio, wild_addr + len / 2, len / 2, upper, 0);
			ioe_write_exit(vcpu, pio, dm_addr + len / 2, len / 2, upper, 0);
			ioe_write_exit(vcpu, pio, dm_addr + len - 1, 1,
				       match >> ((len - 1) * 8), 0);

			/* Nor those of its width, which run past its end. */
			ioe_write_exit(vcpu, pio, wild_addr + len / 2, len, match, 0);
			ioe_write_exit(vcpu, pio, dm_addr + len / 2, len, match, 0);
		}

		ioe_assert_eventfd(wild_fd, 0, "wildcard");
		ioe_assert_eventfd(dm_fd, 0, "datamatch");
		ioe_assert_eventfd(wide_fd, 0, "datamatch wider than the access");
		close(wild_fd);
		close(dm_fd);
		close(wide_fd);
	}
}

#ifdef __x86_64__
KVM_ONE_VCPU_TEST(ioeventfd, pio_lengths, ioe_guest_code)
{
	test_lengths(vcpu, true);
}
#endif

KVM_ONE_VCPU_TEST(ioeventfd, mmio_lengths, ioe_guest_code)
{
	test_lengths(vcpu, false);
}

/* Registrations of different lengths at one address are independent. */
static void test_same_address(struct kvm_vcpu *vcpu, bool pio)
{
	const u64 addr = ioe_addr(pio, 0);
	struct kvm_vm *vm = vcpu->vm;
	u64 expected[4];
	int fds[4], i, j;

	for (i = 0; i < ioe_nr_access_sizes(pio); i++) {
		fds[i] = ioe_new_eventfd();
		ioe_assign_wildcard(vm, pio, addr, ioe_access_sizes[i], fds[i]);
	}

	for (i = 0; i < ioe_nr_access_sizes(pio); i++) {
		ioe_write(vcpu, pio, addr, ioe_access_sizes[i], PATTERN, 1);
		for (j = 0; j < ioe_nr_access_sizes(pio); j++)
			expected[j] = i == j;
		ioe_assert_eventfds(fds, expected, ioe_nr_access_sizes(pio),
				    "same address, other length");
	}

	ioe_close_fds(fds, ioe_nr_access_sizes(pio));
}

#ifdef __x86_64__
KVM_ONE_VCPU_TEST(ioeventfd, pio_same_address, ioe_guest_code)
{
	test_same_address(vcpu, true);
}
#endif

KVM_ONE_VCPU_TEST(ioeventfd, mmio_same_address, ioe_guest_code)
{
	test_same_address(vcpu, false);
}

static void test_zero_length(struct kvm_vcpu *vcpu, bool pio)
{
	const u64 addr = ioe_addr(pio, 0);
	struct kvm_vm *vm = vcpu->vm;
	int fd = ioe_new_eventfd();
	int i, n;

	ioe_assign_wildcard(vm, pio, addr, 0, fd);

	/*
	 * Writes of every width hit.  Write each twice: on VMX the first MMIO
	 * access to a page goes through the emulator, later ones are handled
	 * on EPT misconfig via KVM_FAST_MMIO_BUS.
	 */
	for (i = 0; i < ioe_nr_access_sizes(pio); i++)
		for (n = 0; n < 2; n++)
			ioe_write(vcpu, pio, addr, ioe_access_sizes[i],
				  PATTERN & ioe_size_mask(ioe_access_sizes[i]), 1);
	ioe_assert_eventfd(fd, 2 * ioe_nr_access_sizes(pio), "zero-length");

	/* Only the exact address does. */
	ioe_write_exit(vcpu, pio, addr + 1, 1, 0x5a, 0);
	ioe_write_exit(vcpu, pio, addr + 2, 2, 0x5a5a, 0);
	ioe_assert_eventfd(fd, 0, "zero-length");

	/* Deassign removes it from every bus, fast MMIO included. */
	ioe_deassign_wildcard(vm, pio, addr, 0, fd);
	ioe_write_exit(vcpu, pio, addr, 4, 0x12345678, 0);
	ioe_write_exit(vcpu, pio, addr, 4, 0x12345678, 0);
	ioe_assert_eventfd(fd, 0, "deassigned zero-length");

	ioe_assign_wildcard(vm, pio, addr, 0, fd);
	ioe_write(vcpu, pio, addr, 2, 0x1234, 1);
	ioe_write(vcpu, pio, addr, 2, 0x1234, 1);
	ioe_assert_eventfd(fd, 2, "reassigned zero-length");
	close(fd);
}

#ifdef __x86_64__
KVM_ONE_VCPU_TEST(ioeventfd, pio_zero_length, ioe_guest_code)
{
	test_zero_length(vcpu, true);
}
#endif

KVM_ONE_VCPU_TEST(ioeventfd, mmio_zero_length, ioe_guest_code)
{
	test_zero_length(vcpu, false);
}

static void test_reads(struct kvm_vcpu *vcpu, bool pio)
{
	struct kvm_vm *vm = vcpu->vm;
	int wild_fd = ioe_new_eventfd();
	int dm_fd = ioe_new_eventfd();
	int i;

	/* A datamatch for the value being read catches reads treated as writes. */
	for (i = 0; i < ioe_nr_access_sizes(pio); i++) {
		u32 len = ioe_access_sizes[i];
		u64 val = PATTERN & ioe_size_mask(len);

		ioe_assign_wildcard(vm, pio, ioe_addr(pio, 2 * i), len, wild_fd);
		ioe_assign_datamatch(vm, pio, ioe_addr(pio, 2 * i + 1), len, dm_fd, val);

		ioe_read(vcpu, pio, ioe_addr(pio, 2 * i), len, val);
		ioe_read(vcpu, pio, ioe_addr(pio, 2 * i + 1), len, val);
	}

	/*
	 * Zero-length PIO too.  Not zero-length MMIO: on VMX the fast MMIO path
	 * can't tell reads from writes and signals the eventfd for both.
	 */
	if (pio) {
		ioe_assign_wildcard(vm, pio, ioe_addr(pio, 10), 0, wild_fd);
		for (i = 0; i < ioe_nr_access_sizes(pio); i++)
			ioe_read(vcpu, pio, ioe_addr(pio, 10), ioe_access_sizes[i],
				 PATTERN & ioe_size_mask(ioe_access_sizes[i]));
	}

	ioe_assert_eventfd(wild_fd, 0, "wildcard");
	ioe_assert_eventfd(dm_fd, 0, "datamatch");
	close(wild_fd);
	close(dm_fd);
}

#ifdef __x86_64__
KVM_ONE_VCPU_TEST(ioeventfd, pio_reads, ioe_guest_code)
{
	test_reads(vcpu, true);
}
#endif

KVM_ONE_VCPU_TEST(ioeventfd, mmio_reads, ioe_guest_code)
{
	test_reads(vcpu, false);
}

static void test_deassign(struct kvm_vcpu *vcpu, bool pio)
{
	const u32 dm_flags = ioe_bus_flag(pio) | KVM_IOEVENTFD_FLAG_DATAMATCH |
				  KVM_IOEVENTFD_FLAG_DEASSIGN;
	const u64 addr = ioe_addr(pio, 0);
	const u64 wild_addr = ioe_addr(pio, 1);
	struct kvm_vm *vm = vcpu->vm;
	int fd = ioe_new_eventfd();
	int other_fd = ioe_new_eventfd();

	ioe_assign_datamatch(vm, pio, addr, 4, fd, 0x1234);
	ioe_write(vcpu, pio, addr, 4, 0x1234, 1);
	ioe_assert_eventfd(fd, 1, "datamatch");

	/* Deassign has to name the registration exactly. */
	ioe_assert_ioeventfd(vm, addr, 4, fd, dm_flags, 0x1235, ENOENT, "wrong datamatch");
	ioe_assert_ioeventfd(vm, addr, 4, fd, dm_flags & ~KVM_IOEVENTFD_FLAG_DATAMATCH, 0,
			     ENOENT, "wildcard instead of datamatch");
	ioe_assert_ioeventfd(vm, addr, 2, fd, dm_flags, 0x1234, ENOENT, "wrong length");
	ioe_assert_ioeventfd(vm, addr + SLOT_SIZE, 4, fd, dm_flags, 0x1234, ENOENT,
			     "wrong address");
	ioe_assert_ioeventfd(vm, addr, 4, other_fd, dm_flags, 0x1234, ENOENT, "wrong eventfd");
	ioe_assert_ioeventfd(vm, addr, 4, fd, dm_flags ^ KVM_IOEVENTFD_FLAG_PIO, 0x1234,
			     ENOENT, "wrong bus");

	ioe_write(vcpu, pio, addr, 4, 0x1234, 1);
	ioe_assert_eventfd(fd, 1, "datamatch after failed deassigns");

	/* Once deassign returns, writes go to userspace. */
	ioe_deassign_datamatch(vm, pio, addr, 4, fd, 0x1234);
	ioe_write_exit(vcpu, pio, addr, 4, 0x1234, 0);
	ioe_assert_eventfd(fd, 0, "deassigned datamatch");
	ioe_assert_ioeventfd(vm, addr, 4, fd, dm_flags, 0x1234, ENOENT, "second deassign");

	ioe_assign_datamatch(vm, pio, addr, 4, fd, 0x1234);
	ioe_write(vcpu, pio, addr, 4, 0x1234, 1);
	ioe_assert_eventfd(fd, 1, "reassigned datamatch");

	ioe_assign_wildcard(vm, pio, wild_addr, 1, fd);
	ioe_write(vcpu, pio, wild_addr, 1, 0x77, 1);
	ioe_assert_eventfd(fd, 1, "wildcard");
	ioe_deassign_wildcard(vm, pio, wild_addr, 1, fd);
	ioe_write_exit(vcpu, pio, wild_addr, 1, 0x77, 0);
	ioe_assert_eventfd(fd, 0, "deassigned wildcard");

	close(fd);
	close(other_fd);
}

#ifdef __x86_64__
KVM_ONE_VCPU_TEST(ioeventfd, pio_deassign, ioe_guest_code)
{
	test_deassign(vcpu, true);
}
#endif

KVM_ONE_VCPU_TEST(ioeventfd, mmio_deassign, ioe_guest_code)
{
	test_deassign(vcpu, false);
}

/*
 * A deassigned address takes a registration of the other kind of length,
 * and a zero-length registration still clashes with a 4-byte one that has
 * been reassigned.  KVM may keep deassigned groups for reuse: they must
 * neither take writes nor refuse registrations.
 */
static void test_reassign_other_length(struct kvm_vcpu *vcpu, bool pio)
{
	const u32 flags = ioe_bus_flag(pio);
	const u64 addr = ioe_addr(pio, 0);
	struct kvm_vm *vm = vcpu->vm;
	int fd = ioe_new_eventfd();
	int i;

	/*
	 * Have eight other doorbells at once first, so that a KVM that keeps
	 * no more empty groups than that keeps both of those below.
	 */
	for (i = 1; i <= 8; i++)
		ioe_assign_wildcard(vm, pio, ioe_addr(pio, i), 4, fd);
	for (i = 1; i <= 8; i++)
		ioe_deassign_wildcard(vm, pio, ioe_addr(pio, i), 4, fd);

	ioe_assign_datamatch(vm, pio, addr, 4, fd, 0x1234);
	ioe_deassign_datamatch(vm, pio, addr, 4, fd, 0x1234);

	ioe_assign_wildcard(vm, pio, addr, 0, fd);
	ioe_write(vcpu, pio, addr, 4, 0x1234, 1);
	ioe_write(vcpu, pio, addr, 2, 0x5678, 1);
	ioe_assert_eventfd(fd, 2, "zero-length after a deassigned 4-byte one");
	ioe_deassign_wildcard(vm, pio, addr, 0, fd);
	ioe_write_exit(vcpu, pio, addr, 4, 0x1234, 0);

	ioe_assign_datamatch(vm, pio, addr, 4, fd, 0x1234);
	ioe_write(vcpu, pio, addr, 4, 0x1234, 1);
	ioe_write_exit(vcpu, pio, addr, 4, 0x5678, 1);
	ioe_write_exit(vcpu, pio, addr, 2, 0x1234, 0);
	ioe_assert_eventfd(fd, 1, "4-byte after a deassigned zero-length one");

	ioe_assert_ioeventfd(vm, addr, 0, fd, flags, 0, EEXIST,
			     "zero-length over a 4-byte registration");
	ioe_write(vcpu, pio, addr, 4, 0x1234, 1);
	ioe_assert_eventfd(fd, 1, "4-byte after a refused zero-length one");

	ioe_deassign_datamatch(vm, pio, addr, 4, fd, 0x1234);
	ioe_assign_wildcard(vm, pio, addr, 0, fd);
	ioe_write(vcpu, pio, addr, 4, 0x5678, 1);
	ioe_assert_eventfd(fd, 1, "zero-length reassigned");
	ioe_deassign_wildcard(vm, pio, addr, 0, fd);
	ioe_write_exit(vcpu, pio, addr, 4, 0x1234, 0);
	ioe_write_exit(vcpu, pio, addr, 2, 0x1234, 0);
	ioe_assert_eventfd(fd, 0, "all deassigned");
	close(fd);
}

#ifdef __x86_64__
KVM_ONE_VCPU_TEST(ioeventfd, pio_reassign_other_length, ioe_guest_code)
{
	test_reassign_other_length(vcpu, true);
}
#endif

KVM_ONE_VCPU_TEST(ioeventfd, mmio_reassign_other_length, ioe_guest_code)
{
	test_reassign_other_length(vcpu, false);
}

/* All 64 bits of an 8-byte datamatch count, not just the lower half. */
KVM_ONE_VCPU_TEST(ioeventfd, mmio_64bit_datamatch, ioe_guest_code)
{
	const u64 val_a = 0x1234567800000001ull;
	const u64 val_b = 0x1234567900000001ull;
	const u64 addr = ioe_addr(false, 0);
	struct kvm_vm *vm = vcpu->vm;
	int fds[2] = { ioe_new_eventfd(), ioe_new_eventfd() };

	ioe_assign_datamatch(vm, false, addr, 8, fds[0], val_a);
	ioe_assign_datamatch(vm, false, addr, 8, fds[1], val_b);

	ioe_write(vcpu, false, addr, 8, val_a, 1);
	ioe_assert_eventfds(fds, (u64[]){ 1, 0 }, 2, "write of val_a");
	ioe_write(vcpu, false, addr, 8, val_b, 1);
	ioe_assert_eventfds(fds, (u64[]){ 0, 1 }, 2, "write of val_b");

	ioe_write_exit(vcpu, false, addr, 8, 0x0000000000000001ull, 1);
	ioe_write_exit(vcpu, false, addr, 8, 0x9234567800000001ull, 1);
	ioe_write_exit(vcpu, false, addr, 8, 0x1234567800000000ull, 1);
	ioe_write_exit(vcpu, false, addr, 8, 0x0000000112345678ull, 1);
	ioe_write_exit(vcpu, false, addr, 4, 0x00000001, 0);
	ioe_assert_eventfds(fds, (u64[]){ 0, 0 }, 2, "mismatching writes");

	ioe_close_fds(fds, 2);
}

#ifdef __x86_64__
/* The 16-byte part of mmio_page_straddle. */
static void test_page_straddle_sse(struct kvm_vcpu *vcpu, int *fds)
{
	const u64 b3 = MMIO_GPA + 3 * vcpu->vm->page_size;
	struct ioe_op op16 = { .type = IO_WRITE_SSE, .addr = b3 - 4, .size = 16 };
	struct kvm_vm *vm = vcpu->vm;
	struct ioe_exit exits[2];
	u32 lo4, hi4;
	u64 mid8;
	u8 bytes[16];
	int i;

	/*
	 * 16 bytes, 4 before the boundary.  After the boundary KVM writes 8
	 * bytes from offset 4 of its buffer, i.e. from an address that isn't
	 * 8-byte aligned: that used to hit a BUG_ON() in ioeventfd_in_range().
	 * The last 4 bytes follow as another 4-byte write.
	 */
	for (i = 0; i < 16; i++)
		bytes[i] = 0xa0 + i;
	memcpy(op16.val, bytes, 16);
	memcpy(&lo4, &bytes[0], 4);
	memcpy(&mid8, &bytes[4], 8);
	memcpy(&hi4, &bytes[12], 4);

	ioe_assign_datamatch(vm, false, b3 - 4, 4, fds[0], lo4);
	ioe_assign_datamatch(vm, false, b3, 8, fds[1], mid8);
	ioe_assign_datamatch(vm, false, b3 + 8, 4, fds[2], hi4);
	ioe_run_io(vcpu, &op16, NULL, 0, 3, 0);
	ioe_assert_eventfds(fds, (u64[]){ 1, 1, 1 }, 3, "straddling 16-byte write");

	ioe_deassign_datamatch(vm, false, b3 + 8, 4, fds[2], hi4);
	exits[0] = (struct ioe_exit){ .addr = b3 + 8, .len = 4, .data = hi4 };
	ioe_run_io(vcpu, &op16, exits, 1, 2, 0);
	ioe_assert_eventfds(fds, (u64[]){ 1, 1, 0 }, 3,
			    "straddling 16-byte write, last 4 bytes unclaimed");

	/* Once a piece is unclaimed, KVM passes the rest of the page on too. */
	ioe_deassign_datamatch(vm, false, b3, 8, fds[1], mid8);
	exits[0] = (struct ioe_exit){ .addr = b3, .len = 8, .data = mid8 };
	exits[1] = (struct ioe_exit){ .addr = b3 + 8, .len = 4, .data = hi4 };
	ioe_run_io(vcpu, &op16, exits, 2, 1, 0);
	ioe_assert_eventfds(fds, (u64[]){ 1, 0, 0 }, 3,
			    "straddling 16-byte write, last 12 bytes unclaimed");
}

/*
 * MMIO stores that straddle two MMIO pages reach KVM's MMIO bus in pieces,
 * each with a pointer into the emulator's buffer.  Every piece must be
 * matched at its own address and width, the rest must exit to userspace.
 * The pieces are x86's emulator's: arm64 KVM handles a data abort whole.
 */
KVM_ONE_VCPU_TEST(ioeventfd, mmio_page_straddle, ioe_guest_code)
{
	const u64 b1 = MMIO_GPA + vcpu->vm->page_size;
	const u64 b2 = MMIO_GPA + 2 * vcpu->vm->page_size;
	const u64 val8 = 0x1122334455667788ull;
	struct kvm_vm *vm = vcpu->vm;
	struct ioe_op op8 = {
		.type = IO_WRITE, .addr = b1 - 4, .size = 8, .val = { val8 },
	};
	struct ioe_op op4 = {
		.type = IO_WRITE, .addr = b2 - 2, .size = 4, .val = { 0xaabbccdd },
	};
	struct ioe_exit exits[2];
	int fds[3], i;

	for (i = 0; i < 3; i++)
		fds[i] = ioe_new_eventfd();

	/* 8 bytes at the end of a page: 4 bytes on each side. */
	ioe_assign_datamatch(vm, false, b1 - 4, 4, fds[0], 0x55667788);
	ioe_assign_datamatch(vm, false, b1, 4, fds[1], 0x11223344);
	ioe_run_io(vcpu, &op8, NULL, 0, 2, 0);
	ioe_assert_eventfds(fds, (u64[]){ 1, 1, 0 }, 3, "straddling 8-byte write");

	ioe_deassign_datamatch(vm, false, b1, 4, fds[1], 0x11223344);
	exits[0] = (struct ioe_exit){ .addr = b1, .len = 4, .data = 0x11223344 };
	ioe_run_io(vcpu, &op8, exits, 1, 1, 0);
	ioe_assert_eventfds(fds, (u64[]){ 1, 0, 0 }, 3, "straddling write, upper half unclaimed");

	ioe_deassign_datamatch(vm, false, b1 - 4, 4, fds[0], 0x55667788);
	ioe_assign_datamatch(vm, false, b1, 4, fds[1], 0x11223344);
	exits[0] = (struct ioe_exit){ .addr = b1 - 4, .len = 4, .data = 0x55667788 };
	ioe_run_io(vcpu, &op8, exits, 1, 1, 0);
	ioe_assert_eventfds(fds, (u64[]){ 0, 1, 0 }, 3, "straddling write, lower half unclaimed");

	ioe_deassign_datamatch(vm, false, b1, 4, fds[1], 0x11223344);
	exits[1] = (struct ioe_exit){ .addr = b1, .len = 4, .data = 0x11223344 };
	ioe_run_io(vcpu, &op8, exits, 2, 0, 0);
	ioe_assert_eventfds(fds, (u64[]){ 0, 0, 0 }, 3, "straddling write, unclaimed");

	/* 4 bytes: 2 on each side. */
	ioe_assign_datamatch(vm, false, b2 - 2, 2, fds[0], 0xccdd);
	ioe_assign_datamatch(vm, false, b2, 2, fds[1], 0xaabb);
	ioe_run_io(vcpu, &op4, NULL, 0, 2, 0);
	ioe_assert_eventfds(fds, (u64[]){ 1, 1, 0 }, 3, "straddling 4-byte write");

	test_page_straddle_sse(vcpu, fds);
	ioe_close_fds(fds, 3);
}
#endif

/* Invalid input is refused with the errno KVM has always used. */
KVM_ONE_VCPU_TEST(ioeventfd, bad_args, ioe_guest_code)
{
	struct kvm_vm *vm = vcpu->vm;
	int efd = ioe_new_eventfd();
	int pipe_fds[2], file_fd, closed_fd;
	u32 bit;
	int i;

	TEST_ASSERT(!pipe(pipe_fds), "pipe() failed, errno = %d", errno);
	file_fd = memfd_create("ioeventfd_test", 0);
	TEST_ASSERT(file_fd >= 0, "memfd_create() failed, errno = %d", errno);
	closed_fd = dup(efd);
	TEST_ASSERT(closed_fd >= 0, "dup() failed, errno = %d", errno);
	close(closed_fd);

	for (i = 0; i < 2; i++) {
		const bool pio = !i;
		const u32 fl = ioe_bus_flag(pio);
		const u32 dm = fl | KVM_IOEVENTFD_FLAG_DATAMATCH;
		const u64 addr = ioe_addr(pio, 0);

		ioe_assert_ioeventfd(vm, addr, 3, efd, fl, 0, EINVAL, "len 3");
		ioe_assert_ioeventfd(vm, addr, 3, efd, dm, 0, EINVAL, "datamatch len 3");
		ioe_assert_ioeventfd(vm, addr, 16, efd, fl, 0, EINVAL, "len 16");
		ioe_assert_ioeventfd(vm, addr, 16, efd, dm, 0, EINVAL, "datamatch len 16");

		ioe_assert_ioeventfd(vm, ~0ull - 1, 4, efd, fl, 0, EINVAL, "addr + len overflows");
		ioe_assert_ioeventfd(vm, ~0ull, 8, efd, dm, 0, EINVAL, "addr + len overflows");

		for (bit = kvm_ioeventfd_flag_nr_max; bit < 32; bit++)
			ioe_assert_ioeventfd(vm, addr, 4, efd, fl | BIT(bit), 0, EINVAL,
					     "undefined flag");

		/* A zero-length registration ignores the data, it can't match it. */
		ioe_assert_ioeventfd(vm, addr, 0, efd, dm, 0, EINVAL, "datamatch with len 0");

		ioe_assert_ioeventfd(vm, addr, 4, -1, fl, 0, EBADF, "fd -1");
		ioe_assert_ioeventfd(vm, addr, 4, closed_fd, fl, 0, EBADF, "closed fd");
		ioe_assert_ioeventfd(vm, addr, 4, pipe_fds[0], fl, 0, EINVAL, "pipe");
		ioe_assert_ioeventfd(vm, addr, 4, file_fd, fl, 0, EINVAL, "regular file");
		ioe_assert_ioeventfd(vm, addr, 4, vm->fd, fl, 0, EINVAL, "VM fd");

		ioe_assert_ioeventfd(vm, addr, 4, efd, fl | KVM_IOEVENTFD_FLAG_DEASSIGN, 0,
				     ENOENT, "deassign of nothing");
		ioe_assert_ioeventfd(vm, addr, 4, efd, dm | KVM_IOEVENTFD_FLAG_DEASSIGN, 1,
				     ENOENT, "deassign of nothing");
		ioe_assert_ioeventfd(vm, addr, 4, -1, fl | KVM_IOEVENTFD_FLAG_DEASSIGN, 0,
				     EBADF, "deassign with fd -1");
		ioe_assert_ioeventfd(vm, addr, 4, pipe_fds[0], fl | KVM_IOEVENTFD_FLAG_DEASSIGN, 0,
				     EINVAL, "deassign with a pipe");

		/* None of the above registered anything. */
		ioe_assign_wildcard(vm, pio, addr, 4, efd);
		ioe_deassign_wildcard(vm, pio, addr, 4, efd);
		ioe_assert_ioeventfd(vm, addr, 4, efd, fl | KVM_IOEVENTFD_FLAG_DEASSIGN, 0,
				     ENOENT, "second deassign");
	}

	close(pipe_fds[0]);
	close(pipe_fds[1]);
	close(file_fd);
	close(efd);
}

/*
 * Which registrations at one address can coexist.  Before groups, any two
 * that a write could both match were refused with EEXIST, exact duplicates
 * and zero-length next to sized ones still are.
 */
KVM_ONE_VCPU_TEST(ioeventfd, collisions, ioe_guest_code)
{
	const int overlap = ioe_has_groups ? 0 : EEXIST;
	struct kvm_vm *vm = vcpu->vm;
	int a = ioe_new_eventfd();
	int b = ioe_new_eventfd();
	int c = ioe_new_eventfd();
	int i;

	for (i = 0; i < 2; i++) {
		const bool pio = !i;
		const u32 fl = ioe_bus_flag(pio);
		const u32 dm = fl | KVM_IOEVENTFD_FLAG_DATAMATCH;
		const u64 x = ioe_addr(pio, 0), y = ioe_addr(pio, 1);
		const u64 z = ioe_addr(pio, 2), w = ioe_addr(pio, 3);
		const u64 v = ioe_addr(pio, 4);

		ioe_assert_ioeventfd(vm, x, 4, a, fl, 0, 0, "wildcard");
		ioe_assert_ioeventfd(vm, x, 4, a, fl, 0, EEXIST, "duplicate wildcard");
		ioe_assert_ioeventfd(vm, x, 4, b, dm, 1, overlap, "datamatch next to a wildcard");
		ioe_assert_ioeventfd(vm, x, 4, c, fl, 0, overlap, "second wildcard");

		ioe_assert_ioeventfd(vm, y, 4, a, dm, 5, 0, "datamatch");
		ioe_assert_ioeventfd(vm, y, 4, a, dm, 5, EEXIST, "duplicate datamatch");
		ioe_assert_ioeventfd(vm, y, 4, b, dm, 5, overlap, "same value, other eventfd");
		ioe_assert_ioeventfd(vm, y, 4, b, dm, 6, 0, "other value");
		ioe_assert_ioeventfd(vm, y, 4, a, fl, 0, overlap,
				     "wildcard, eventfd of a datamatch");

		ioe_assert_ioeventfd(vm, z, 0, a, fl, 0, 0, "zero-length");
		ioe_assert_ioeventfd(vm, z, 0, a, fl, 0, EEXIST, "duplicate zero-length");
		ioe_assert_ioeventfd(vm, z, 0, b, fl, 0, overlap, "second zero-length");
		ioe_assert_ioeventfd(vm, z, 4, c, fl, 0, EEXIST, "sized next to zero-length");
		ioe_assert_ioeventfd(vm, z, 2, c, dm, 1, EEXIST, "datamatch next to zero-length");
		ioe_assert_ioeventfd(vm, w, 4, a, fl, 0, 0, "sized");
		ioe_assert_ioeventfd(vm, w, 0, b, fl, 0, EEXIST, "zero-length next to sized");

		/* Another length is another group, as is another bus. */
		ioe_assert_ioeventfd(vm, v, 4, a, fl, 0, 0, "4 bytes");
		ioe_assert_ioeventfd(vm, v, 2, a, fl, 0, 0, "2 bytes at the same address");
		ioe_assert_ioeventfd(vm, v, 1, a, dm, 1, 0, "1 byte at the same address");
	}

	ioe_assert_ioeventfd(vm, PIO_BASE + 0x80, 4, a, KVM_IOEVENTFD_FLAG_PIO, 0, 0, "PIO");
	ioe_assert_ioeventfd(vm, PIO_BASE + 0x80, 4, a, 0, 0, 0, "MMIO at the same address");

	close(a);
	close(b);
	close(c);
}

#define TEARDOWN_PER_GROUP	8

/*
 * Item @n of the VM teardown test, in groups of PIO 4-byte, MMIO 8-byte and
 * MMIO zero-length items.  Without KVM_CAP_IOEVENTFD_GROUPS, only datamatch
 * items with distinct values can share an address, zero-length ones nothing.
 */
static void assign_teardown_item(struct kvm_vm *vm, int n, int fd)
{
	static const u32 lens[] = { 4, 8, 0 };
	const int j = n % TEARDOWN_PER_GROUP, group = n / TEARDOWN_PER_GROUP;
	const u32 len = lens[group % 3];
	const bool pio = group % 3 == 0;
	const u64 addr = ioe_addr(pio, group);

	if (!len) {
		if (ioe_has_groups || !j)
			ioe_assign_wildcard(vm, pio, addr, 0, fd);
	} else if (ioe_has_groups && (j & 1)) {
		ioe_assign_wildcard(vm, pio, addr, len, fd);
	} else {
		ioe_assign_datamatch(vm, pio, addr, len, fd, j);
	}
}

/*
 * Destroying a VM with items still registered releases them: nothing is
 * signalled, the eventfds keep working and can be registered with a new VM.
 */
TEST(vm_teardown)
{
	const int nr = 3 * 16 * TEARDOWN_PER_GROUP;
	struct kvm_vm *vm;
	u64 one = 1;
	int *fds, iter, n;

	if (!ioe_raise_nofile_limit(nr + 64))
		SKIP(return, "Can't raise RLIMIT_NOFILE to %d", nr + 64);

	fds = calloc(nr, sizeof(*fds));
	TEST_ASSERT(fds, "Failed to allocate %d fds", nr);
	for (n = 0; n < nr; n++)
		fds[n] = ioe_new_eventfd();

	for (iter = 0; iter < 3; iter++) {
		vm = vm_create_barebones();
		for (n = 0; n < nr; n++)
			assign_teardown_item(vm, n, fds[n]);
		kvm_vm_free(vm);

		for (n = 0; n < nr; n++) {
			ioe_assert_eventfd(fds[n], 0, "eventfd of a destroyed VM's item");
			TEST_ASSERT(write(fds[n], &one, sizeof(one)) == sizeof(one),
				    "write(eventfd) failed, errno = %d", errno);
			ioe_assert_eventfd(fds[n], 1, "eventfd of a destroyed VM's item");
		}
	}

	ioe_close_fds(fds, nr);
	free(fds);
}

int main(int argc, char *argv[])
{
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_IOEVENTFD));
	ioe_has_groups = kvm_has_cap(KVM_CAP_IOEVENTFD_GROUPS);

	return test_harness_run(argc, argv);
}
