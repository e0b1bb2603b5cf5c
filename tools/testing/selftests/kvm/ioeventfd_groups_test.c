// SPDX-License-Identifier: GPL-2.0-only
/*
 * KVM_CAP_IOEVENTFD_GROUPS: fan-out of one guest write to every KVM_IOEVENTFD
 * registration that matches it at the same bus/address/length, the vCPU
 * stats, groups of thousands of items, and items added and removed while
 * vCPUs write.  Guests make port I/O on x86 only.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ioeventfd_test.h"
#include "kvm_test_harness.h"
#include "kvm_util.h"
#include "test_util.h"
#include "ucall_common.h"

/* Loops over the buses { PIO, MMIO } that make guest accesses start here. */
#define FIRST_GUEST_BUS		(GUEST_HAS_PIO ? 0 : 1)

/* The writes that @n guest writes to each bus leave on @pio's. */
static u64 bus_writes(bool pio, u64 n)
{
	return pio && !GUEST_HAS_PIO ? 0 : n;
}

/* Tests of fan-out, which needs KVM_CAP_IOEVENTFD_GROUPS. */
FIXTURE(ioeventfd_groups) {
	struct kvm_vcpu *vcpu;
};

FIXTURE_SETUP(ioeventfd_groups)
{
	if (!ioe_has_groups)
		SKIP(return, "KVM_CAP_IOEVENTFD_GROUPS not supported");

	ioe_vm_setup(&self->vcpu);
}

FIXTURE_TEARDOWN(ioeventfd_groups)
{
	kvm_vm_free(self->vcpu->vm);
}

static void test_fanout(struct kvm_vcpu *vcpu, bool pio)
{
	const u64 addr = ioe_addr(pio, 0);
	struct kvm_vm *vm = vcpu->vm;
	u64 count[3];
	int fds[5], i;

	for (i = 0; i < 5; i++)
		fds[i] = ioe_new_eventfd();

	/* A wildcard and two datamatch items on one 1-byte doorbell. */
	ioe_assign_wildcard(vm, pio, addr, 1, fds[0]);
	ioe_assign_datamatch(vm, pio, addr, 1, fds[1], 0xa5);
	ioe_assign_datamatch(vm, pio, addr, 1, fds[2], 0x42);

	ioe_write(vcpu, pio, addr, 1, 0x00, 1);
	ioe_write(vcpu, pio, addr, 1, 0xa5, 2);
	ioe_write(vcpu, pio, addr, 1, 0x42, 2);

	for (i = 0; i < 3; i++)
		count[i] = eventfd_count(fds[i]);
	ksft_print_msg("%s fan-out: fd0 (wildcard) = %lu, fd1 (0xa5) = %lu, fd2 (0x42) = %lu\n",
		       ioe_bus_str(pio), count[0], count[1], count[2]);
	TEST_ASSERT(count[0] == 3 && count[1] == 1 && count[2] == 1,
		    "%s fan-out: expected fd0 = 3, fd1 = 1, fd2 = 1, got %lu, %lu, %lu",
		    ioe_bus_str(pio), count[0], count[1], count[2]);

	/* More items for the same values are signalled alongside. */
	ioe_assign_wildcard(vm, pio, addr, 1, fds[3]);
	ioe_assign_datamatch(vm, pio, addr, 1, fds[4], 0xa5);
	ioe_write(vcpu, pio, addr, 1, 0xa5, 4);
	ioe_assert_eventfds(fds, (u64[]){ 1, 1, 0, 1, 1 }, 5, "second wildcard and 0xa5 item");

	/* Without wildcards, a value nobody matches is a miss. */
	ioe_deassign_wildcard(vm, pio, addr, 1, fds[0]);
	ioe_deassign_wildcard(vm, pio, addr, 1, fds[3]);
	ioe_write_exit(vcpu, pio, addr, 1, 0x77, 1);
	ioe_write(vcpu, pio, addr, 1, 0x42, 1);
	ioe_assert_eventfds(fds, (u64[]){ 0, 0, 1, 0, 0 }, 5, "wildcards deassigned");

	/* Deassigning one item for 0xa5 leaves the other one. */
	ioe_assert_ioeventfd(vm, addr, 1, fds[1],
			     ioe_bus_flag(pio) | KVM_IOEVENTFD_FLAG_DATAMATCH |
			     KVM_IOEVENTFD_FLAG_DEASSIGN,
			     0x42, ENOENT, "deassign with another item's value");
	ioe_deassign_datamatch(vm, pio, addr, 1, fds[1], 0xa5);
	ioe_write(vcpu, pio, addr, 1, 0xa5, 1);
	ioe_assert_eventfds(fds, (u64[]){ 0, 0, 0, 0, 1 }, 5, "one 0xa5 item deassigned");

	/* With the last item gone the group is gone: not even a miss. */
	ioe_deassign_datamatch(vm, pio, addr, 1, fds[2], 0x42);
	ioe_deassign_datamatch(vm, pio, addr, 1, fds[4], 0xa5);
	ioe_write_exit(vcpu, pio, addr, 1, 0xa5, 0);
	ioe_assert_eventfds(fds, (u64[]){ 0, 0, 0, 0, 0 }, 5, "all items deassigned");

	ioe_close_fds(fds, 5);
}

#ifdef __x86_64__
KVM_ONE_VCPU_TEST(ioeventfd_groups, pio_fanout, ioe_guest_code)
{
	test_fanout(vcpu, true);
}
#endif

KVM_ONE_VCPU_TEST(ioeventfd_groups, mmio_fanout, ioe_guest_code)
{
	test_fanout(vcpu, false);
}

/*
 * A group of one item signals it without the item table, so check that the
 * one is the item that is left, whichever of two goes first, and that a
 * second item takes writes as soon as it is assigned.
 */
static void test_one_item_left(struct kvm_vcpu *vcpu, bool pio)
{
	const u64 addr = ioe_addr(pio, 0);
	struct kvm_vm *vm = vcpu->vm;
	int fds[2], first;

	for (first = 0; first < 2; first++) {
		fds[0] = ioe_new_eventfd();
		fds[1] = ioe_new_eventfd();

		ioe_assign_datamatch(vm, pio, addr, 4, fds[0], 0x11);
		ioe_write(vcpu, pio, addr, 4, 0x11, 1);
		ioe_write_exit(vcpu, pio, addr, 4, 0x22, 1);
		ioe_assign_wildcard(vm, pio, addr, 4, fds[1]);
		ioe_write(vcpu, pio, addr, 4, 0x11, 2);
		ioe_write(vcpu, pio, addr, 4, 0x22, 1);
		ioe_assert_eventfds(fds, (u64[]){ 2, 2 }, 2, "one item, then two");

		if (first == 0) {
			ioe_deassign_datamatch(vm, pio, addr, 4, fds[0], 0x11);
			ioe_write(vcpu, pio, addr, 4, 0x11, 1);
			ioe_assert_eventfds(fds, (u64[]){ 0, 1 }, 2, "the wildcard left");
			ioe_deassign_wildcard(vm, pio, addr, 4, fds[1]);
		} else {
			ioe_deassign_wildcard(vm, pio, addr, 4, fds[1]);
			ioe_write(vcpu, pio, addr, 4, 0x11, 1);
			ioe_write_exit(vcpu, pio, addr, 4, 0x22, 1);
			ioe_assert_eventfds(fds, (u64[]){ 1, 0 }, 2, "the data-match item left");
			ioe_deassign_datamatch(vm, pio, addr, 4, fds[0], 0x11);
		}
		ioe_write_exit(vcpu, pio, addr, 4, 0x11, 0);
		ioe_close_fds(fds, 2);
	}
}

#ifdef __x86_64__
KVM_ONE_VCPU_TEST(ioeventfd_groups, pio_one_item_left, ioe_guest_code)
{
	test_one_item_left(vcpu, true);
}
#endif

KVM_ONE_VCPU_TEST(ioeventfd_groups, mmio_one_item_left, ioe_guest_code)
{
	test_one_item_left(vcpu, false);
}

/* Zero-length groups fan out too, including on the fast MMIO bus. */
KVM_ONE_VCPU_TEST(ioeventfd_groups, zero_length_fanout, ioe_guest_code)
{
	struct kvm_vm *vm = vcpu->vm;
	int fds[3], i, j, n;

	for (i = FIRST_GUEST_BUS; i < 2; i++) {
		const bool pio = !i;
		const u64 addr = ioe_addr(pio, 1);
		const u64 nr = 2 * ioe_nr_access_sizes(pio);

		for (j = 0; j < 3; j++) {
			fds[j] = ioe_new_eventfd();
			ioe_assign_wildcard(vm, pio, addr, 0, fds[j]);
		}

		for (j = 0; j < ioe_nr_access_sizes(pio); j++)
			for (n = 0; n < 2; n++)
				ioe_write(vcpu, pio, addr, ioe_access_sizes[j],
					  PATTERN & ioe_size_mask(ioe_access_sizes[j]), 3);
		ioe_assert_eventfds(fds, (u64[]){ nr, nr, nr }, 3, "zero-length fan-out");

		ioe_deassign_wildcard(vm, pio, addr, 0, fds[1]);
		ioe_write(vcpu, pio, addr, 4, 0x12345678, 2);
		ioe_write(vcpu, pio, addr, 4, 0x12345678, 2);
		ioe_assert_eventfds(fds, (u64[]){ 2, 0, 2 }, 3, "one zero-length item deassigned");

		ioe_deassign_wildcard(vm, pio, addr, 0, fds[0]);
		ioe_deassign_wildcard(vm, pio, addr, 0, fds[2]);
		ioe_write_exit(vcpu, pio, addr, 4, 0x12345678, 0);
		ioe_write_exit(vcpu, pio, addr, 4, 0x12345678, 0);
		ioe_assert_eventfds(fds, (u64[]){ 0, 0, 0 }, 3, "zero-length items deassigned");

		ioe_close_fds(fds, 3);
	}
}

/*
 * An eventfd may back several items, in one group or several; each matching
 * item signals it once.
 */
KVM_ONE_VCPU_TEST(ioeventfd_groups, shared_eventfd, ioe_guest_code)
{
	struct kvm_vm *vm = vcpu->vm;
	int i;

	for (i = FIRST_GUEST_BUS; i < 2; i++) {
		const bool pio = !i;
		const u64 x = ioe_addr(pio, 0), y = ioe_addr(pio, 1);
		int fd = ioe_new_eventfd();

		ioe_assign_wildcard(vm, pio, x, 4, fd);
		ioe_assign_datamatch(vm, pio, x, 4, fd, 0x10);
		ioe_assign_datamatch(vm, pio, x, 4, fd, 0x20);
		ioe_assign_datamatch(vm, pio, y, 4, fd, 0x10);
		ioe_assert_ioeventfd(vm, x, 4, fd, ioe_bus_flag(pio) | KVM_IOEVENTFD_FLAG_DATAMATCH,
				     0x10, EEXIST, "duplicate datamatch");

		ioe_write(vcpu, pio, x, 4, 0x10, 2);
		ioe_assert_eventfd(fd, 2, "wildcard + datamatch on one eventfd");
		ioe_write(vcpu, pio, x, 4, 0x20, 2);
		ioe_assert_eventfd(fd, 2, "wildcard + datamatch on one eventfd");
		ioe_write(vcpu, pio, x, 4, 0x30, 1);
		ioe_assert_eventfd(fd, 1, "wildcard alone");
		ioe_write(vcpu, pio, y, 4, 0x10, 1);
		ioe_assert_eventfd(fd, 1, "same eventfd in a second group");

		/* Deassign removes only the named item. */
		ioe_deassign_wildcard(vm, pio, x, 4, fd);
		ioe_write(vcpu, pio, x, 4, 0x10, 1);
		ioe_assert_eventfd(fd, 1, "datamatch after wildcard deassigned");
		ioe_write_exit(vcpu, pio, x, 4, 0x30, 1);
		ioe_assert_eventfd(fd, 0, "miss after wildcard deassigned");

		close(fd);
	}
}

/* The vCPU stats count every signalled eventfd and every miss. */
KVM_ONE_VCPU_TEST(ioeventfd_groups, stats, ioe_guest_code)
{
	const bool pio = GUEST_HAS_PIO;
	const u64 x = ioe_addr(pio, 0), y = ioe_addr(pio, 1);
	struct kvm_vm *vm = vcpu->vm;
	struct ioe_stats before, after;
	int fds[3], i;

	TEST_ASSERT(ioe_vcpu_stats(vcpu, &before), "ioeventfd stats missing");

	for (i = 0; i < 3; i++)
		fds[i] = ioe_new_eventfd();
	ioe_assign_wildcard(vm, pio, x, 2, fds[0]);
	ioe_assign_datamatch(vm, pio, x, 2, fds[1], 0xbeef);
	ioe_assign_datamatch(vm, pio, y, 2, fds[2], 0xcafe);

	ioe_write(vcpu, pio, x, 2, 0x0001, 1);
	ioe_write(vcpu, pio, x, 2, 0xbeef, 2);
	ioe_write(vcpu, pio, y, 2, 0xcafe, 1);
	ioe_write_exit(vcpu, pio, y, 2, 0xcaff, 1);
	ioe_write_exit(vcpu, pio, y, 2, 0xcaff, 1);
	ioe_write_exit(vcpu, pio, y, 4, 0xcafe, 0);
	ioe_read(vcpu, pio, x, 2, 0xbeef);
	ioe_assert_eventfds(fds, (u64[]){ 2, 1, 1 }, 3, "stats");

	ioe_vcpu_stats(vcpu, &after);
	ksft_print_msg("ioeventfd_signals: %lu -> %lu, ioeventfd_misses: %lu -> %lu\n",
		       before.signals, after.signals, before.misses, after.misses);
	TEST_ASSERT(after.signals - before.signals == 4 && after.misses - before.misses == 2,
		    "Expected 4 signals and 2 misses, got %lu and %lu",
		    after.signals - before.signals, after.misses - before.misses);

	ioe_close_fds(fds, 3);
}

static s64 elapsed_ms(struct timespec start)
{
	return timespec_to_ns(timespec_elapsed(start)) / 1000000;
}

#define NR_MANY_ITEMS	4096

/* Distinct in both halves, so that only a full 64-bit compare tells them apart. */
static u64 many_val(int i)
{
	return 0xa000000000000000ull + (u64)i * 0x100000001ull;
}

static void assert_only_signalled(const int *fds, int nr, const int *hits, int nr_hits)
{
	u64 count, expected;
	int i, j;

	for (i = 0; i < nr; i++) {
		expected = 0;
		for (j = 0; j < nr_hits; j++)
			expected += hits[j] == i;

		count = eventfd_count(fds[i]);
		TEST_ASSERT(count == expected,
			    "Item %d (value 0x%lx) was signalled %lu times, expected %lu",
			    i, many_val(i), count, expected);
	}
}

/* Each of thousands of items in one group signals its own eventfd only. */
TEST_F_TIMEOUT(ioeventfd_groups, many_items, 120)
{
	const int last = NR_MANY_ITEMS - 1, mid = NR_MANY_ITEMS / 2;
	const u64 addr = ioe_addr(false, 0);
	struct kvm_vcpu *vcpu = self->vcpu;
	struct kvm_vm *vm = vcpu->vm;
	struct timespec start;
	int *fds, i;

	if (!ioe_raise_nofile_limit(NR_MANY_ITEMS + 64))
		SKIP(return, "Can't raise RLIMIT_NOFILE to %d", NR_MANY_ITEMS + 64);

	vcpu_arch_set_entry_point(vcpu, ioe_guest_code);

	fds = calloc(NR_MANY_ITEMS, sizeof(*fds));
	TEST_ASSERT(fds, "Failed to allocate %d fds", NR_MANY_ITEMS);

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0; i < NR_MANY_ITEMS; i++) {
		fds[i] = ioe_new_eventfd();
		ioe_assign_datamatch(vm, false, addr, 8, fds[i], many_val(i));
	}
	ksft_print_msg("Assigned %d items to one group in %ld ms\n", NR_MANY_ITEMS,
		       elapsed_ms(start));

	ioe_write(vcpu, false, addr, 8, many_val(0), 1);
	ioe_write(vcpu, false, addr, 8, many_val(mid), 1);
	ioe_write(vcpu, false, addr, 8, many_val(last), 1);
	ioe_write_exit(vcpu, false, addr, 8, many_val(NR_MANY_ITEMS), 1);
	assert_only_signalled(fds, NR_MANY_ITEMS, (int[]){ 0, mid, last }, 3);

	ioe_deassign_datamatch(vm, false, addr, 8, fds[0], many_val(0));
	ioe_deassign_datamatch(vm, false, addr, 8, fds[mid], many_val(mid));
	ioe_deassign_datamatch(vm, false, addr, 8, fds[last], many_val(last));

	ioe_write_exit(vcpu, false, addr, 8, many_val(0), 1);
	ioe_write_exit(vcpu, false, addr, 8, many_val(last), 1);
	ioe_write(vcpu, false, addr, 8, many_val(1), 1);
	ioe_write(vcpu, false, addr, 8, many_val(last - 1), 1);
	assert_only_signalled(fds, NR_MANY_ITEMS, (int[]){ 1, last - 1 }, 2);

	ioe_close_fds(fds, NR_MANY_ITEMS);
	free(fds);
}

/*
 * Thousands of wildcards in one group, each on its own eventfd: a write
 * signals each once, a duplicate is refused wherever it sits, and a
 * data-match item may share a wildcard's eventfd.  The item table, as the
 * VM statistic ioeventfd_table_bytes shows, grows and shrinks with them.
 */
TEST_F_TIMEOUT(ioeventfd_groups, many_wildcards, 120)
{
	const int last = NR_MANY_ITEMS - 1, mid = NR_MANY_ITEMS / 2;
	const u64 addr = ioe_addr(false, 0);
	struct kvm_vcpu *vcpu = self->vcpu;
	struct kvm_vm *vm = vcpu->vm;
	struct timespec start;
	u64 bytes, bytes0;
	int *fds, *all, i;

	if (!ioe_raise_nofile_limit(NR_MANY_ITEMS + 64))
		SKIP(return, "Can't raise RLIMIT_NOFILE to %d", NR_MANY_ITEMS + 64);

	vcpu_arch_set_entry_point(vcpu, ioe_guest_code);

	fds = calloc(NR_MANY_ITEMS, sizeof(*fds));
	all = calloc(NR_MANY_ITEMS + 1, sizeof(*all));
	TEST_ASSERT(fds && all, "Failed to allocate %d fds", NR_MANY_ITEMS);

	bytes0 = vm_get_stat(vm, "ioeventfd_table_bytes");
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0; i < NR_MANY_ITEMS; i++) {
		fds[i] = ioe_new_eventfd();
		ioe_assign_wildcard(vm, false, addr, 8, fds[i]);
		all[i] = i;
	}
	ksft_print_msg("Assigned %d wildcards to one group in %ld ms\n", NR_MANY_ITEMS,
		       elapsed_ms(start));

	/* The table grows to at least a bucket per two items. */
	bytes = vm_get_stat(vm, "ioeventfd_table_bytes") - bytes0;
	TEST_ASSERT(bytes >= NR_MANY_ITEMS / 2 * sizeof(void *),
		    "%d items in a table of %lu bytes", NR_MANY_ITEMS, bytes);

	ioe_assert_ioeventfd(vm, addr, 8, fds[0], 0, 0, EEXIST, "duplicate first wildcard");
	ioe_assert_ioeventfd(vm, addr, 8, fds[mid], 0, 0, EEXIST, "duplicate middle wildcard");
	ioe_assert_ioeventfd(vm, addr, 8, fds[last], 0, 0, EEXIST, "duplicate last wildcard");
	ioe_assign_datamatch(vm, false, addr, 8, fds[mid], many_val(mid));

	ioe_write(vcpu, false, addr, 8, many_val(0), NR_MANY_ITEMS);
	assert_only_signalled(fds, NR_MANY_ITEMS, all, NR_MANY_ITEMS);
	ioe_write(vcpu, false, addr, 8, many_val(mid), NR_MANY_ITEMS + 1);
	all[NR_MANY_ITEMS] = mid;
	assert_only_signalled(fds, NR_MANY_ITEMS, all, NR_MANY_ITEMS + 1);

	/* Take away all but the first, then add the middle one back. */
	for (i = 1; i < NR_MANY_ITEMS; i++)
		ioe_deassign_wildcard(vm, false, addr, 8, fds[i]);
	ioe_assert_ioeventfd(vm, addr, 8, fds[last], KVM_IOEVENTFD_FLAG_DEASSIGN, 0, ENOENT,
			     "deassigned wildcard");

	/* Two items left: the table shrinks to 16 buckets, one item per eight. */
	bytes = vm_get_stat(vm, "ioeventfd_table_bytes") - bytes0;
	TEST_ASSERT(bytes <= 16 * sizeof(void *) + 16, "2 items left in a table of %lu bytes",
		    bytes);
	ioe_assign_wildcard(vm, false, addr, 8, fds[mid]);

	ioe_write(vcpu, false, addr, 8, many_val(mid), 3);
	assert_only_signalled(fds, NR_MANY_ITEMS, (int[]){ 0, mid, mid }, 3);

	ioe_close_fds(fds, NR_MANY_ITEMS);
	free(fds);
	free(all);
}

#define NR_SPARE_GROUPS		64

static void assign_spares(struct kvm_vm *vm, int first, int fd, u32 flags)
{
	int i;

	for (i = first; i < first + NR_SPARE_GROUPS; i++)
		ioe_vm_ioeventfd(vm, ioe_addr(false, i), 0, fd, flags, 0);
}

/*
 * KVM keeps the groups of deassigned addresses for reuse, but they never
 * outnumber the most groups that had items at once.  The VM statistic
 * ioeventfd_table_bytes counts every group's table, empty or not.
 */
TEST_F(ioeventfd_groups, empty_groups_are_bounded)
{
	const int a = 0, b = NR_SPARE_GROUPS;
	struct kvm_vcpu *vcpu = self->vcpu;
	struct kvm_vm *vm = vcpu->vm;
	int fd = ioe_new_eventfd();
	u64 bytes0, bytes;

	vcpu_arch_set_entry_point(vcpu, ioe_guest_code);

	/* Zero-length MMIO: a group on the MMIO bus and one on fast MMIO each. */
	bytes0 = vm_get_stat(vm, "ioeventfd_table_bytes");
	assign_spares(vm, a, fd, 0);
	bytes = vm_get_stat(vm, "ioeventfd_table_bytes") - bytes0;
	TEST_ASSERT(bytes, "%d groups and no table bytes", 2 * NR_SPARE_GROUPS);

	assign_spares(vm, a, fd, KVM_IOEVENTFD_FLAG_DEASSIGN);
	ioe_write_exit(vcpu, false, ioe_addr(false, a), 4, 0x1234, 0);
	assign_spares(vm, b, fd, 0);
	TEST_ASSERT_EQ(vm_get_stat(vm, "ioeventfd_table_bytes") - bytes0, bytes);

	ioe_write(vcpu, false, ioe_addr(false, b), 4, 0x1234, 1);
	ioe_write(vcpu, false, ioe_addr(false, b + NR_SPARE_GROUPS - 1), 2, 0x12, 1);
	ioe_write_exit(vcpu, false, ioe_addr(false, a + NR_SPARE_GROUPS - 1), 4, 0x1234, 0);
	ioe_assert_eventfd(fd, 2, "the second set of doorbells");

	assign_spares(vm, b, fd, KVM_IOEVENTFD_FLAG_DEASSIGN);
	assign_spares(vm, a, fd, 0);
	TEST_ASSERT_EQ(vm_get_stat(vm, "ioeventfd_table_bytes") - bytes0, bytes);
	ioe_write(vcpu, false, ioe_addr(false, a), 4, 0x1234, 1);
	ioe_write_exit(vcpu, false, ioe_addr(false, b), 4, 0x1234, 0);
	ioe_assert_eventfd(fd, 1, "the first set, reassigned");

	assign_spares(vm, a, fd, KVM_IOEVENTFD_FLAG_DEASSIGN);
	close(fd);
}

#define NR_CONC_VCPUS		3
#define CONC_MAX_CYCLES		2000
#define CONC_DURATION_MS	1500
#define NR_LIVE_CHURN		8
#define NR_RETIRED		32

/* Guest-side count of completed doorbell iterations, read by the host. */
static u64 conc_writes[NR_CONC_VCPUS];
static bool conc_stop;

static u32 conc_val(int idx)
{
	return 0xd00dfee0 + idx;
}

/* Each iteration rings the PIO (where there is one) and the MMIO doorbell once. */
static void guest_concurrent(u32 idx)
{
	const u32 val = conc_val(idx);

	while (!READ_ONCE(conc_stop)) {
		if (GUEST_HAS_PIO)
			guest_pio_write(ioe_addr(true, 0), 4, val);
		WRITE_ONCE(*(u32 *)ioe_addr(false, 0), val);
		WRITE_ONCE(conc_writes[idx], conc_writes[idx] + 1);
	}
	GUEST_DONE();
}

static void *conc_vcpu_thread(void *arg)
{
	struct kvm_vcpu *vcpu = arg;
	struct ucall uc;
	char buf[160];

	vcpu_run(vcpu);
	describe_io_exit(vcpu, buf, sizeof(buf));
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_DONE:
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	default:
		TEST_FAIL("vCPU %u: a doorbell write wasn't consumed by KVM, got %s",
			  vcpu->id, buf);
	}
	return NULL;
}

struct churn_item {
	int fd;
	bool pio;
	bool datamatch;
	/* In the group the vCPUs write to, as opposed to a silent one. */
	bool doorbell;
	u64 addr;
	u64 val;
};

struct churn {
	struct kvm_vm *vm;
	struct churn_item live[NR_LIVE_CHURN];
	int retired[NR_RETIRED];
	int nr_retired;
	u64 signals;
};

static void churn_assign(struct churn *c, int cycle)
{
	struct churn_item *item = &c->live[cycle % NR_LIVE_CHURN];
	int kind = (cycle / 2) % 4;

	item->fd = ioe_new_eventfd();
	item->pio = cycle & 1;
	item->datamatch = kind & 1;
	item->doorbell = kind < 2;
	item->val = conc_val((cycle / 8) % NR_CONC_VCPUS);
	item->addr = ioe_addr(item->pio, item->doorbell ? 0 : 1 + (cycle / 8) % 4);

	ioe_vm_ioeventfd(c->vm, item->addr, 4, item->fd,
			 ioe_bus_flag(item->pio) |
			 (item->datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0), item->val);
}

/* Once deassign has returned, the item's eventfd must stay quiet. */
static void churn_check_retired(int fd)
{
	u64 count = eventfd_count(fd);

	TEST_ASSERT(!count, "eventfd %d was signalled %lu times after its deassign returned",
		    fd, count);
	close(fd);
}

static void churn_deassign(struct churn *c, int cycle)
{
	struct churn_item *item = &c->live[cycle % NR_LIVE_CHURN];
	int *slot = &c->retired[c->nr_retired++ % NR_RETIRED];
	u64 count;

	ioe_vm_ioeventfd(c->vm, item->addr, 4, item->fd,
			 ioe_bus_flag(item->pio) | KVM_IOEVENTFD_FLAG_DEASSIGN |
			 (item->datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0),
			 item->val);

	count = eventfd_count(item->fd);
	TEST_ASSERT(item->doorbell || !count,
		    "Item at %s 0x%lx, which no vCPU writes, was signalled %lu times",
		    ioe_bus_str(item->pio), item->addr, count);
	c->signals += count;

	/* Check fds some cycles after their deassign, giving stray signals time. */
	if (c->nr_retired > NR_RETIRED)
		churn_check_retired(*slot);
	*slot = item->fd;
}

/*
 * vCPUs ring doorbells while the host adds and removes items in the same
 * groups and adds and removes other groups.  Items that stay registered must
 * see exactly the guests' writes, removed ones nothing after removal.
 */
TEST(concurrent_assign_deassign)
{
	struct kvm_vcpu *vcpus[NR_CONC_VCPUS];
	pthread_t threads[NR_CONC_VCPUS];
	struct ioe_stats before[NR_CONC_VCPUS], after;
	u64 *writes, total = 0, signals = 0;
	int wild_fd[2], own_fd[2][NR_CONC_VCPUS];
	struct churn churn = {};
	struct timespec start;
	struct kvm_vm *vm;
	int i, b, cycle;
	bool *stop;

	if (!ioe_has_groups)
		SKIP(return, "KVM_CAP_IOEVENTFD_GROUPS not supported");

	vm = vm_create_with_vcpus(NR_CONC_VCPUS, guest_concurrent, vcpus);
	virt_map(vm, MMIO_GPA, MMIO_GPA, MMIO_NR_PAGES);
	churn.vm = vm;

	/* Per bus, a wildcard that sees every write and an item per vCPU value. */
	for (b = 0; b < 2; b++) {
		const bool pio = !b;

		wild_fd[b] = ioe_new_eventfd();
		ioe_assign_wildcard(vm, pio, ioe_addr(pio, 0), 4, wild_fd[b]);
		for (i = 0; i < NR_CONC_VCPUS; i++) {
			own_fd[b][i] = ioe_new_eventfd();
			ioe_assign_datamatch(vm, pio, ioe_addr(pio, 0), 4, own_fd[b][i],
					     conc_val(i));
		}
	}

	writes = addr_gva2hva(vm, (vm_vaddr_t)conc_writes);
	stop = addr_gva2hva(vm, (vm_vaddr_t)&conc_stop);

	for (i = 0; i < NR_CONC_VCPUS; i++) {
		vcpu_args_set(vcpus[i], 1, i);
		TEST_ASSERT(ioe_vcpu_stats(vcpus[i], &before[i]), "ioeventfd stats missing");
		TEST_ASSERT(!pthread_create(&threads[i], NULL, conc_vcpu_thread, vcpus[i]),
			    "pthread_create() failed");
	}

	/* Don't start churning before every vCPU is ringing its doorbells. */
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (i = 0; i < NR_CONC_VCPUS; i++) {
		while (!READ_ONCE(writes[i])) {
			TEST_ASSERT(elapsed_ms(start) < 10000,
				    "vCPU %d made no doorbell writes in 10 seconds", i);
			usleep(1000);
		}
	}

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (cycle = 0; cycle < CONC_MAX_CYCLES; cycle++) {
		if (elapsed_ms(start) > CONC_DURATION_MS)
			break;

		if (cycle >= NR_LIVE_CHURN)
			churn_deassign(&churn, cycle);
		churn_assign(&churn, cycle);
	}

	WRITE_ONCE(*stop, true);
	for (i = 0; i < NR_CONC_VCPUS; i++)
		TEST_ASSERT(!pthread_join(threads[i], NULL), "pthread_join() failed");

	for (i = max(cycle - NR_LIVE_CHURN, 0); i < cycle; i++)
		churn_deassign(&churn, i);
	for (i = 0; i < NR_RETIRED && i < churn.nr_retired; i++)
		churn_check_retired(churn.retired[i]);

	for (i = 0; i < NR_CONC_VCPUS; i++) {
		u64 n = READ_ONCE(writes[i]);

		total += n;
		for (b = 0; b < 2; b++) {
			u64 count = eventfd_count(own_fd[b][i]);

			TEST_ASSERT(count == bus_writes(!b, n),
				    "vCPU %d made %lu %s writes, its datamatch item saw %lu",
				    i, bus_writes(!b, n), ioe_bus_str(!b), count);
			signals += count;
			close(own_fd[b][i]);
		}
	}

	for (b = 0; b < 2; b++) {
		u64 count = eventfd_count(wild_fd[b]);

		TEST_ASSERT(count == bus_writes(!b, total),
			    "vCPUs made %lu %s writes, the wildcard saw %lu",
			    bus_writes(!b, total), ioe_bus_str(!b), count);
		signals += count;
		close(wild_fd[b]);
	}
	signals += churn.signals;

	for (i = 0; i < NR_CONC_VCPUS; i++) {
		ioe_vcpu_stats(vcpus[i], &after);
		TEST_ASSERT(after.misses == before[i].misses,
			    "vCPU %d: %lu misses, every write should have hit the wildcard",
			    i, after.misses - before[i].misses);
		signals -= after.signals - before[i].signals;
	}
	TEST_ASSERT(!signals, "ioeventfd_signals over all vCPUs differs from the eventfds by %ld",
		    (long)signals);

	ksft_print_msg("%d churn cycles, %lu writes per bus, %lu signals to churned items\n",
		       cycle, total, churn.signals);
	kvm_vm_free(vm);
}

int main(int argc, char *argv[])
{
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_IOEVENTFD));
	ioe_has_groups = kvm_has_cap(KVM_CAP_IOEVENTFD_GROUPS);

	return test_harness_run(argc, argv);
}
