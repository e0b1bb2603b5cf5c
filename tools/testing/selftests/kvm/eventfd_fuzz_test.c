// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzz KVM_IOEVENTFD and KVM_SET_IOREGION with random addresses, lengths,
 * flags and fds of every kind, drawn from a seeded PRNG.  A model tracks
 * what must be registered.  It predicts the errno of every call from the
 * tables in Documentation/virt/kvm/api.rst, and guest writes check that KVM
 * routes them as the model says: to eventfds, to an ioregion's device, or to
 * userspace.  An ioeventfd may lie inside an ioregion and takes the writes
 * it matches; every other write whose first byte lies in a region goes to
 * that region's device, which is served over AF_UNIX stream sockets only.
 * A thread of the test is the device: it records the commands and answers
 * those that want a response when they come, never before, since KVM takes
 * data that nobody asked for as a protocol error.
 *
 * Each of the three tests makes 40000 calls by default.  KVM_FUZZ_SEED
 * replays a run.  KVM_FUZZ_CALLS sets the calls per test; a failure names
 * its call, so setting it to that number stops right there.
 * KVM_FUZZ_TRACE=1 logs every call.  KVM_FUZZ_ANYWHERE=1 drops the layout
 * rule below that keeps the I/O buses sortable.
 *
 * Outside x86 the guest has no port I/O: KVM_IOREGION_PIO is refused with
 * EINVAL, ioeventfds on the PIO bus are registered but never written, and
 * the VM has no in-kernel device on either bus.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/sizes.h>

#include "eventfd_fuzz.h"
#include "guest_io.h"
#include "ioregion_device.h"
#include "kvm_test_harness.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

#define DEFAULT_SEED		0x6576656e7466647aull
#define DEFAULT_CALLS		40000

/* Clear of the ucall port and of the in-kernel PIC and PIT. */
#define PIO_BASE		0x6000

/* Outside every memslot and identity mapped; the window sits mid-page. */
#define MMIO_GPA		(4ull * SZ_1G)
#define MMIO_BASE		(MMIO_GPA + 0x800)

/*
 * kvm_io_bus_cmp() is no ordering for ranges that partly overlap, nor for a
 * zero-length range where another range ends: a bus holding such a pair is
 * misordered and its lookups miss devices.  So by default ioeventfds start
 * at slot starts, which are further apart than any access is long.
 * ioregions are not devices on the bus, so they go anywhere.
 */
#define SLOT_SIZE		16
#define NR_SLOTS		4
#define WINDOW			(NR_SLOTS * SLOT_SIZE)

/* Guest writes also land a little around the window. */
#define MARGIN			8

/* Past these, deassign more than assign. */
#define ITEMS_HIGH		192
#define REGIONS_HIGH		24

#define SWEEP_EVERY		128
#define SWEEP_WRITES		8
/* A vCPU that waits this long waits for a response nobody will send. */
#define RUN_TIMEOUT_S		20

/* Small, so that writes and datamatches often agree. */
static const u64 fz_values[] = { 0, 1, 0xff, 0x1234, 0xfedcba9876543210ull };

/* The writes the guest makes next, set by the host before each KVM_RUN. */
static struct fz_write guest_writes[MAX_BATCH];
static u32 guest_nr_writes;

static void guest_code(void)
{
	const struct fz_write *w;
	u32 i;

	for (;;) {
		for (i = 0; i < READ_ONCE(guest_nr_writes); i++) {
			w = &guest_writes[i];
			if (w->pio)
				guest_pio_write(w->addr, w->len, w->val);
			else
				guest_mmio_write(w->addr, w->len, w->val);
		}
		GUEST_SYNC(i);
	}
}

/* splitmix64: tiny, and the same sequence for a seed everywhere. */
static u64 fz_rand(struct fuzz *fz)
{
	u64 z = (fz->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static u32 fz_below(struct fuzz *fz, u32 n)
{
	return fz_rand(fz) % n;
}

static bool fz_chance(struct fuzz *fz, u32 percent)
{
	return fz_below(fz, 100) < percent;
}

static u64 fz_value(struct fuzz *fz)
{
	if (fz_chance(fz, 10))
		return fz_rand(fz);
	return fz_values[fz_below(fz, ARRAY_SIZE(fz_values))];
}

static u32 fz_access_len(struct fuzz *fz, bool pio)
{
	/* x86 port I/O is at most 4 bytes wide, MMIO (without SSE) 8. */
	return 1u << fz_below(fz, pio ? 3 : 4);
}

static u64 bus_base(bool pio)
{
	return pio ? PIO_BASE : MMIO_BASE;
}

static u64 fz_slot(struct fuzz *fz, bool pio)
{
	return bus_base(pio) + fz_below(fz, NR_SLOTS) * SLOT_SIZE;
}

static u64 fz_window_addr(struct fuzz *fz, bool pio)
{
	return bus_base(pio) - MARGIN + fz_below(fz, WINDOW + 2 * MARGIN);
}

/* Whether the guest can write @len bytes at @addr. */
static bool fz_writable(bool pio, u64 addr, u32 len)
{
	u64 lo = bus_base(pio) - MARGIN, hi = bus_base(pio) + WINDOW + MARGIN;

	if (len != 1 && len != 2 && len != 4 && (pio || len != 8))
		return false;
	return addr >= lo && addr <= hi - len;
}

/* An fd kind that stands for eventfd @efd. */
static int fz_efd_kind(struct fuzz *fz, int efd)
{
	if (!efd && fz_chance(fz, 50))
		return FD_EFD0_DUP;
	return FD_EFD0 + efd;
}

static int fz_any_kind(struct fuzz *fz)
{
	return fz_below(fz, NR_FDS);
}

static void fz_run(struct fuzz *fz)
{
	int ret;

	alarm(RUN_TIMEOUT_S);
	ret = __vcpu_run(fz->vcpu);
	alarm(0);
	/* A vCPU that the alarm took out of a wait for the device has an access pending. */
	if (ret)
		fz_fail(fz, "KVM_RUN returned %d, errno %d (%s), exit reason %u%s", ret, errno,
			strerror(errno), fz->vcpu->run->exit_reason,
			fz->vcpu->run->exit_reason == KVM_EXIT_IOREGIONFD_PENDING ?
			": the vCPU waited for an ioregion response" : "");
}

static void check_no_ucall(struct fuzz *fz, u32 i)
{
	struct ucall uc;
	char buf[160];

	switch (get_ucall(fz->vcpu, &uc)) {
	case UCALL_NONE:
		return;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	}
	fz_fail(fz, "KVM consumed write %u, expected an exit: %s", i,
		fz_describe_write(fz, &fz->batch.writes[i], buf, sizeof(buf)));
}

static void check_exit(struct fuzz *fz, u32 i)
{
	const struct fz_write *w = &fz->batch.writes[i];
	struct kvm_run *run = fz->vcpu->run;
	char buf[160];
	u64 data = 0;
	bool ok;

	check_no_ucall(fz, i);
	if (w->pio) {
		ok = run->exit_reason == KVM_EXIT_IO && run->io.port == w->addr &&
		     run->io.size == w->len && run->io.count == 1 &&
		     run->io.direction == KVM_EXIT_IO_OUT;
		if (ok)
			memcpy(&data, (void *)run + run->io.data_offset, w->len);
	} else {
		ok = run->exit_reason == KVM_EXIT_MMIO && run->mmio.phys_addr == w->addr &&
		     run->mmio.len == w->len && run->mmio.is_write;
		if (ok)
			memcpy(&data, run->mmio.data, w->len);
	}

	if (!ok || data != w->val)
		fz_fail(fz, "Expected an exit for write %u, got %s", i,
			describe_io_exit(fz->vcpu, buf, sizeof(buf)));
}

static void check_sync(struct fuzz *fz)
{
	struct ucall uc;
	char buf[160];

	switch (get_ucall(fz->vcpu, &uc)) {
	case UCALL_SYNC:
		return;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		return;
	default:
		fz_fail(fz,
			"Expected KVM to consume the remaining writes, got %s (exit reason %u, ioregionfd addr 0x%llx len %u flags 0x%x error %u)",
			describe_io_exit(fz->vcpu, buf, sizeof(buf)), fz->vcpu->run->exit_reason,
			fz->vcpu->run->ioregionfd.addr, fz->vcpu->run->ioregionfd.len,
			fz->vcpu->run->ioregionfd.flags, fz->vcpu->run->ioregionfd.error);
	}
}

static void check_eventfds(struct fuzz *fz)
{
	u64 count;
	int e;

	for (e = 0; e < NR_EFDS; e++) {
		count = eventfd_count(fz->fds[FD_EFD0 + e]);
		if (count != fz->batch.signals[e])
			fz_fail(fz, "eventfd%d was signalled %lu times, expected %lu",
				e, count, fz->batch.signals[e]);
	}
}

/* Make the guest do the batched writes and check all they did. */
static void batch_run(struct fuzz *fz)
{
	struct fz_batch *b = &fz->batch;
	u32 i;

	if (!b->nr)
		return;

	fz_device_arm(fz);
	memcpy(guest_writes, b->writes, sizeof(guest_writes));
	guest_nr_writes = b->nr;
	sync_global_to_guest(fz->vm, guest_writes);
	sync_global_to_guest(fz->vm, guest_nr_writes);

	for (i = 0; i < b->nr; i++) {
		if (!b->exits[i])
			continue;
		fz_run(fz);
		check_exit(fz, i);
	}
	fz_run(fz);
	check_sync(fz);
	check_eventfds(fz);
	fz_check_device(fz);

	fz->stats.writes += b->nr;
	fz->stats.runs++;
	memset(b, 0, sizeof(*b));
}

static void batch_add(struct fuzz *fz, bool pio, u64 addr, u32 len, u64 val)
{
	struct fz_batch *b = &fz->batch;
	struct fz_write *w;
	int r;

	/* The guest has no port I/O to make the write with. */
	if (pio && !GUEST_HAS_PIO)
		return;

	if (b->nr == MAX_BATCH)
		batch_run(fz);

	w = &b->writes[b->nr];
	*w = (struct fz_write) {
		.addr = addr, .val = val & ioregion_size_mask(len), .len = len, .pio = pio,
	};

	/* An ioeventfd that matches takes the write, even inside a region. */
	if (!fz_items_signal(fz, w, b->signals)) {
		r = fz_region_at(fz, w);
		if (r >= 0)
			fz_batch_expect_cmd(b, &fz->regions[r], w);
		else
			b->exits[b->nr] = true;
	}
	b->nr++;
}

/* Random writes in and around the window of both buses. */
static void sweep(struct fuzz *fz, u32 nr)
{
	bool pio;
	u32 len;
	u64 addr;

	while (nr--) {
		pio = fz_chance(fz, 50);
		len = fz_access_len(fz, pio);
		addr = fz_chance(fz, 50) ? fz_slot(fz, pio) : fz_window_addr(fz, pio);
		if (addr > bus_base(pio) + WINDOW + MARGIN - len)
			addr = bus_base(pio) + WINDOW + MARGIN - len;
		batch_add(fz, pio, addr, len, fz_value(fz));
	}
	batch_run(fz);
}

/* Every length and value at every slot start. */
static void full_sweep(struct fuzz *fz)
{
	u32 slot, len, v;
	int pio;

	for (pio = 0; pio < 2; pio++)
		for (slot = 0; slot < NR_SLOTS; slot++)
			for (len = 1; len <= (pio ? 4 : 8); len *= 2)
				for (v = 0; v < ARRAY_SIZE(fz_values); v++)
					batch_add(fz, pio, bus_base(pio) + slot * SLOT_SIZE, len,
						  fz_values[v]);
	batch_run(fz);
}

static void probe_ioeventfd(struct fuzz *fz, const struct kvm_ioeventfd *args)
{
	enum fz_bus bus = ioeventfd_bus(args->flags);
	bool pio = bus == BUS_PIO;
	u32 len = args->len;

	if (!fz_writable(pio, args->addr, len))
		len = fz_access_len(fz, pio);
	if (bus == BUS_CCW || !fz_writable(pio, args->addr, len))
		return;

	batch_add(fz, pio, args->addr, len, fz_chance(fz, 75) ? args->datamatch : fz_value(fz));
	if (fz_chance(fz, 25))
		batch_add(fz, pio, args->addr, len, fz_value(fz));
	batch_run(fz);
}

static void probe_ioregion(struct fuzz *fz, const struct kvm_ioregion *args)
{
	bool pio = args->flags & KVM_IOREGION_PIO;
	u64 lo = bus_base(pio) - MARGIN, hi = bus_base(pio) + WINDOW + MARGIN - 1;
	u64 last = range_last(args->guest_paddr, args->memory_size);
	u32 len = fz_access_len(fz, pio);
	u64 addr;

	if (last < args->guest_paddr)
		last = ~0ull;
	lo = max_t(u64, lo, args->guest_paddr);
	hi = min(hi, last);
	if (lo > hi)
		return;

	addr = lo + fz_below(fz, hi - lo + 1);
	if (!fz_writable(pio, addr, len))
		addr = bus_base(pio) + WINDOW + MARGIN - len;
	batch_add(fz, pio, addr, len, fz_value(fz));
	batch_run(fz);
}

/* Random arguments. */

static const u32 bad_lens[] = { 3, 5, 16, 0x80000000 };

static u32 gen_ioeventfd_len(struct fuzz *fz)
{
	if (fz_chance(fz, 8))
		return bad_lens[fz_below(fz, ARRAY_SIZE(bad_lens))];
	return fz_chance(fz, 20) ? 0 : 1u << fz_below(fz, 4);
}

static u32 fz_unknown_bit(struct fuzz *fz)
{
	return kvm_ioeventfd_flag_nr_max + fz_below(fz, 32 - kvm_ioeventfd_flag_nr_max);
}

static u64 gen_ioeventfd_addr(struct fuzz *fz, bool pio)
{
	u32 r = fz_below(fz, 100);

	if (r < 85)
		return fz->anywhere ? fz_window_addr(fz, pio) : fz_slot(fz, pio);
	if (r < 92)
		return ~0ull - fz_below(fz, 9);
	if (r < 96)
		return pio ? 0x10000 : 0;
	return fz_rand(fz);
}

static u32 gen_ioeventfd_flags(struct fuzz *fz)
{
	u32 r = fz_below(fz, 100), flags;

	if (r < 45)
		flags = KVM_IOEVENTFD_FLAG_PIO;
	else if (r < 90)
		flags = 0;
	else if (r < 95)
		flags = KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY;
	else
		flags = KVM_IOEVENTFD_FLAG_PIO | KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY;

	if (fz_chance(fz, 50))
		flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
	if (fz_chance(fz, 3))
		flags |= 1u << kvm_ioeventfd_flag_nr_fast_mmio;
	if (fz_chance(fz, 3))
		flags |= 1u << fz_unknown_bit(fz);
	return flags;
}

static int gen_ioeventfd_kind(struct fuzz *fz)
{
	if (fz_chance(fz, 85))
		return fz_efd_kind(fz, fz_below(fz, NR_EFDS));
	return fz_any_kind(fz);
}

/* Change one thing about the arguments of an existing ioeventfd. */
static void mutate_ioeventfd(struct fuzz *fz, struct kvm_ioeventfd *args, int *kind)
{
	switch (fz_below(fz, 6)) {
	case 0:
		*kind = gen_ioeventfd_kind(fz);
		break;
	case 1:
		args->datamatch = fz_value(fz);
		break;
	case 2:
		args->len = gen_ioeventfd_len(fz);
		break;
	case 3:
		args->flags ^= KVM_IOEVENTFD_FLAG_DATAMATCH;
		break;
	case 4:
		args->flags |= 1u << fz_unknown_bit(fz);
		break;
	default:
		args->flags ^= KVM_IOEVENTFD_FLAG_PIO;
		break;
	}
}

/* Arguments that name an existing ioeventfd, for a deassign or a duplicate. */
static bool gen_ioeventfd_existing(struct fuzz *fz, struct kvm_ioeventfd *args, int *kind)
{
	const struct fz_item *item;

	if (!fz->nr_items)
		return false;

	item = &fz->items[fz_below(fz, fz->nr_items)];
	args->addr = item->addr;
	args->len = item->len;
	args->datamatch = item->wildcard ? fz_value(fz) : item->datamatch;
	args->flags = bus_ioeventfd_flags(item->bus) |
		      (item->wildcard ? 0 : KVM_IOEVENTFD_FLAG_DATAMATCH);
	*kind = fz_efd_kind(fz, item->efd);
	if (fz_chance(fz, 20))
		mutate_ioeventfd(fz, args, kind);
	return true;
}

static void gen_ioeventfd(struct fuzz *fz, struct kvm_ioeventfd *args, int *kind)
{
	bool deassign = fz_chance(fz, fz->nr_items > ITEMS_HIGH ? 80 : 45);

	memset(args, 0, sizeof(*args));
	if (!fz_chance(fz, deassign ? 70 : 15) || !gen_ioeventfd_existing(fz, args, kind)) {
		args->flags = gen_ioeventfd_flags(fz);
		args->addr = gen_ioeventfd_addr(fz, args->flags & KVM_IOEVENTFD_FLAG_PIO);
		args->len = gen_ioeventfd_len(fz);
		args->datamatch = fz_value(fz);
		*kind = gen_ioeventfd_kind(fz);
	}
	if (deassign)
		args->flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;

	/* KVM never checked this pad, and must not start now. */
	if (fz_chance(fz, 5))
		args->pad[fz_below(fz, sizeof(args->pad))] = 1 + fz_below(fz, 255);
}

static void call_ioeventfd(struct fuzz *fz)
{
	struct kvm_ioeventfd args;
	int kind, err;

	gen_ioeventfd(fz, &args, &kind);
	err = fz_do_ioeventfd(fz, &args, kind);

	/* A failed call must have changed nothing; look now and then. */
	if (!err || fz_chance(fz, 12))
		probe_ioeventfd(fz, &args);
}

static const u64 region_sizes[] = { 1, 2, 3, 4, 5, 8, 12, 16, 24, 32, 48, 64, 0x1000 };

static u64 gen_region_size(struct fuzz *fz, u64 paddr, bool pio)
{
	u32 r = fz_below(fz, 100);

	if (r < 15)
		return 0;
	if (r < 85)
		return region_sizes[fz_below(fz, ARRAY_SIZE(region_sizes))];
	if (r < 89)
		return ~0ull;
	if (r < 93)
		return -paddr;
	if (r < 97)
		return (pio ? 0x10000 : 0) - paddr + fz_below(fz, 2);
	return fz_rand(fz);
}

static u64 gen_region_paddr(struct fuzz *fz, bool pio)
{
	u32 r = fz_below(fz, 100);

	if (r < 88)
		return fz_window_addr(fz, pio);
	if (r < 94)
		return pio ? 0xfff0 + fz_below(fz, 0x11) : 0;
	return ~0ull - fz_below(fz, 16);
}

/*
 * A small region at or next to an in-kernel device of the bus: small, so
 * that one that misses the device stays clear of the ucall port too.
 */
static void gen_region_near_device(struct fuzz *fz, struct kvm_ioregion *args, bool pio)
{
#ifdef __x86_64__
	u32 i;

	do {
		i = fz_below(fz, ARRAY_SIZE(kernel_devs));
	} while (kernel_devs[i].bus != (pio ? BUS_PIO : BUS_MMIO));

	args->guest_paddr = kernel_devs[i].addr - 4 +
			    fz_below(fz, kernel_devs[i].len + 8);
	args->memory_size = fz_below(fz, 5);
#else
	/* There is none: a region like any other. */
	args->guest_paddr = gen_region_paddr(fz, pio);
	args->memory_size = gen_region_size(fz, args->guest_paddr, pio);
#endif
}

/*
 * A read_fd or write_fd.  The device's ends stand for their peers: KVM
 * would take them, and then read commands meant for the device.
 */
static int gen_ioregion_kind(struct fuzz *fz)
{
	static const int good[] = { FD_P0, FD_Q0, FD_S0 };
	int kind;

	if (fz_chance(fz, 80))
		return good[fz_below(fz, ARRAY_SIZE(good))];

	kind = fz_any_kind(fz);
	switch (kind) {
	case FD_P1:
		return FD_P0;
	case FD_Q1:
		return FD_Q0;
	case FD_S1:
		return FD_S0;
	default:
		return kind;
	}
}

static bool gen_ioregion_existing(struct fuzz *fz, struct kvm_ioregion *args)
{
	const struct fz_region *r;

	if (!fz->nr_regions)
		return false;

	r = &fz->regions[fz_below(fz, fz->nr_regions)];
	args->guest_paddr = r->paddr;
	args->memory_size = r->size;
	args->flags = (r->bus == BUS_PIO ? KVM_IOREGION_PIO : 0) |
		      (r->posted ? KVM_IOREGION_POSTED_WRITES : 0);
	if (fz_chance(fz, 10))
		args->flags ^= KVM_IOREGION_POSTED_WRITES;
	if (fz_chance(fz, 10))
		args->guest_paddr += fz_chance(fz, 50) ? 1 : -1;
	if (fz_chance(fz, 10))
		args->flags ^= KVM_IOREGION_PIO;
	return true;
}

/*
 * Outside x86 a ucall is an MMIO write: keep a region to be assigned clear
 * of its first byte, or the region's device would take the guest's ucalls.
 */
static void avoid_ucall(struct fuzz *fz, struct kvm_ioregion *args)
{
#ifndef __x86_64__
	u64 ucall = fz->vm->ucall_mmio_addr;

	if (args->flags & (KVM_IOREGION_PIO | KVM_IOREGION_DEASSIGN) ||
	    !ranges_overlap(args->guest_paddr, args->memory_size, ucall, 1))
		return;
	if (args->guest_paddr < ucall)
		args->memory_size = ucall - args->guest_paddr;
	else
		args->guest_paddr = ucall + 8;
#endif
}

static void gen_ioregion(struct fuzz *fz, struct kvm_ioregion *args)
{
	bool deassign = fz_chance(fz, fz->nr_regions > REGIONS_HIGH ? 80 : 40);
	bool pio;

	memset(args, 0, sizeof(*args));
	if (!fz_chance(fz, deassign ? 70 : 10) || !gen_ioregion_existing(fz, args)) {
		pio = fz_chance(fz, 50);
		args->flags = pio ? KVM_IOREGION_PIO : 0;
		if (fz_chance(fz, 4)) {
			gen_region_near_device(fz, args, pio);
		} else {
			args->guest_paddr = gen_region_paddr(fz, pio);
			args->memory_size = gen_region_size(fz, args->guest_paddr, pio);
		}
		if (fz_chance(fz, args->memory_size ? 50 : 90))
			args->flags |= KVM_IOREGION_POSTED_WRITES;
	}
	if (deassign)
		args->flags |= KVM_IOREGION_DEASSIGN;
	if (fz_chance(fz, 3))
		args->flags |= 1u << (3 + fz_below(fz, 29));
	if (fz_chance(fz, 3))
		args->pad[fz_below(fz, sizeof(args->pad))] = 1 + fz_below(fz, 255);
	args->user_data = fz_rand(fz);
	avoid_ucall(fz, args);
}

static void call_ioregion(struct fuzz *fz)
{
	struct kvm_ioregion args;
	int rkind, wkind, err;

	gen_ioregion(fz, &args);
	rkind = gen_ioregion_kind(fz);
	wkind = gen_ioregion_kind(fz);
	err = fz_do_ioregion(fz, &args, rkind, wkind);

	if (!err || fz_chance(fz, 12))
		probe_ioregion(fz, &args);
}

/* The tests. */

/*
 * Deassign what the model has, each of which must succeed, then check that
 * every write exits.  VM teardown frees anything the model missed.
 */
static void fz_drain(struct fuzz *fz)
{
	fz_deassign_all(fz);
	full_sweep(fz);
}

static u64 env_u64(const char *name, u64 def)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : def;
}

/* @ioregion_percent of the calls are KVM_SET_IOREGION, the rest KVM_IOEVENTFD. */
static void fz_run_calls(struct fuzz *fz, const char *name, u64 salt, u32 ioregion_percent)
{
	u32 i;

	fz->seed = env_u64("KVM_FUZZ_SEED", DEFAULT_SEED);
	fz->nr_calls = env_u64("KVM_FUZZ_CALLS", DEFAULT_CALLS);
	fz->trace = env_u64("KVM_FUZZ_TRACE", 0);
	fz->anywhere = env_u64("KVM_FUZZ_ANYWHERE", 0);
	fz->rng = fz->seed ^ salt;
	ksft_print_msg("%s: seed 0x%lx (KVM_FUZZ_SEED), %u calls (KVM_FUZZ_CALLS)\n",
		       name, fz->seed, fz->nr_calls);

	for (i = 0; i < fz->nr_calls; i++) {
		if (fz_below(fz, 100) < ioregion_percent)
			call_ioregion(fz);
		else
			call_ioeventfd(fz);
		if (!(fz->call % SWEEP_EVERY))
			sweep(fz, SWEEP_WRITES);
	}

	full_sweep(fz);
	fz_drain(fz);
	fz_print_stats(fz, name);
	fz_check_mismatches(fz);
}

static void nop_handler(int sig)
{
}

FIXTURE(eventfd_fuzz) {
	struct fuzz *fz;
};

FIXTURE_SETUP(eventfd_fuzz)
{
	struct sigaction sa = { .sa_handler = nop_handler };
	struct fuzz *fz;

	/* No SA_RESTART: the alarm must get a waiting KVM_RUN out. */
	sigemptyset(&sa.sa_mask);
	TEST_ASSERT(!sigaction(SIGALRM, &sa, NULL), "sigaction() failed, errno %d", errno);

	fz = calloc(1, sizeof(*fz));
	TEST_ASSERT(fz, "Failed to allocate the model");
	fz->vm = vm_create_with_one_vcpu(&fz->vcpu, guest_code);
	virt_map(fz->vm, MMIO_GPA, MMIO_GPA, 1);
	fz_open_fds(fz);
	fz_device_start(fz);
	self->fz = fz;
}

FIXTURE_TEARDOWN(eventfd_fuzz)
{
	/* The VM goes first: it holds the files of everything registered. */
	kvm_vm_free(self->fz->vm);
	fz_device_stop(self->fz);
	fz_close_fds(self->fz);
	free(self->fz);
}

/* ioeventfd groups: wildcards, datamatches and zero lengths sharing addresses. */
TEST_F_TIMEOUT(eventfd_fuzz, ioeventfd, 900)
{
	if (!kvm_has_cap(KVM_CAP_IOEVENTFD_GROUPS))
		SKIP(return, "KVM_CAP_IOEVENTFD_GROUPS not supported");

	fz_run_calls(self->fz, "ioeventfd", 0x100, 0);
}

/*
 * ioregions over stream socketpairs, split into one per direction or not,
 * posted or not, and their overlaps; pipes and other fds refused.
 */
TEST_F_TIMEOUT(eventfd_fuzz, ioregion, 900)
{
	if (!kvm_has_cap(KVM_CAP_IOREGIONFD))
		SKIP(return, "KVM_CAP_IOREGIONFD not supported");

	fz_run_calls(self->fz, "ioregion", 0x200, 100);
}

/* Both, so that each runs into the other in both directions. */
TEST_F_TIMEOUT(eventfd_fuzz, mixed, 900)
{
	if (!kvm_has_cap(KVM_CAP_IOEVENTFD_GROUPS) || !kvm_has_cap(KVM_CAP_IOREGIONFD))
		SKIP(return, "KVM_CAP_IOEVENTFD_GROUPS or KVM_CAP_IOREGIONFD not supported");

	fz_run_calls(self->fz, "mixed", 0x300, 50);
}

int main(int argc, char *argv[])
{
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_IOEVENTFD_GROUPS) || kvm_has_cap(KVM_CAP_IOREGIONFD));

	return test_harness_run(argc, argv);
}
