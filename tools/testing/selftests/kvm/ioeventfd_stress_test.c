// SPDX-License-Identifier: GPL-2.0-only
/*
 * Stress of ioeventfd groups: four vCPUs ring doorbells while a thread
 * assigns and deassigns items and whole groups.  Stable items must count
 * exactly the guest's matching writes, and a removed item must count
 * nothing once its deassign has returned.
 *
 * Built for x86_64 and aarch64.  arm64 has no port I/O: there every PIO
 * doorbell is an MMIO one instead.
 *
 * The case stops after KVM_STRESS_SECONDS (default 8, at most 240) or a
 * fixed number of rounds, whichever comes first.  KVM_STRESS_SEED sets the
 * seed of the random choices.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>

#include <asm/barrier.h>

#include "eventfd_stress.h"
#include "guest_io.h"
#include "ioregion_device.h"
#include "kvm_test_harness.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

/* Upper bits set in every byte, so that truncation or sign extension shows. */
#define PATTERN			0xf1e2d3c4b5a69788ull

/*
 * ioeventfd doorbells.  The guest writes to targets.  The shared ones, which
 * every vCPU rings, keep a wildcard and a datamatch item per vCPU for the
 * whole run, while transient items come and go.  The own ones have a slot
 * per vCPU and keep a datamatch item for it.  The churn ones are whole groups
 * that come and go, always with a wildcard while they exist.
 */
#define SLOT_SIZE		0x10

enum {
	T_SHARED_PIO,
	T_SHARED_MMIO,
	T_OWN_PIO,
	T_OWN_MMIO,
	T_CHURN_PIO1,
	T_CHURN_PIO4,
	T_CHURN_MMIO8,
	T_CHURN_MMIO0,
	NR_TARGETS,
};

#define FIRST_CHURN		T_CHURN_PIO1
#define NR_CHURN		(NR_TARGETS - FIRST_CHURN)

struct target {
	bool pio;
	bool own;
	/* Of the ioeventfds, 0 for a zero-length group. */
	u32 len;
	/* Of the guest's writes. */
	u32 size;
	u32 slot;
	const char *name;
};

static const struct target targets[NR_TARGETS] = {
#ifdef __x86_64__
	[T_SHARED_PIO]	= { .pio = true, .len = 4, .size = 4, .slot = 0, .name = "shared PIO" },
#else
	/* No port I/O: each PIO target is an MMIO one of its own, past the others. */
	[T_SHARED_PIO]	= { .len = 4, .size = 4, .slot = NR_VCPUS + 3,
			    .name = "second shared MMIO" },
#endif
	[T_SHARED_MMIO]	= { .len = 8, .size = 8, .slot = 0, .name = "shared MMIO" },
#ifdef __x86_64__
	[T_OWN_PIO]	= { .pio = true, .own = true, .len = 2, .size = 2, .slot = 1,
			    .name = "own PIO" },
#else
	[T_OWN_PIO]	= { .own = true, .len = 2, .size = 2, .slot = NR_VCPUS + 4,
			    .name = "second own MMIO" },
#endif
	[T_OWN_MMIO]	= { .own = true, .len = 4, .size = 4, .slot = 1, .name = "own MMIO" },
#ifdef __x86_64__
	[T_CHURN_PIO1]	= { .pio = true, .len = 1, .size = 1, .slot = NR_VCPUS + 1,
			    .name = "1-byte PIO group" },
	[T_CHURN_PIO4]	= { .pio = true, .len = 4, .size = 4, .slot = NR_VCPUS + 2,
			    .name = "4-byte PIO group" },
#else
	[T_CHURN_PIO1]	= { .len = 1, .size = 1, .slot = 2 * NR_VCPUS + 4,
			    .name = "1-byte MMIO group" },
	[T_CHURN_PIO4]	= { .len = 4, .size = 4, .slot = 2 * NR_VCPUS + 5,
			    .name = "4-byte MMIO group" },
#endif
	[T_CHURN_MMIO8]	= { .len = 8, .size = 8, .slot = NR_VCPUS + 1,
			    .name = "8-byte MMIO group" },
	[T_CHURN_MMIO0]	= { .len = 0, .size = 4, .slot = NR_VCPUS + 2,
			    .name = "zero-length MMIO group" },
};

static u64 target_addr(int t, u32 idx)
{
	const struct target *tg = &targets[t];
	u32 slot = tg->slot + (tg->own ? idx : 0);

	return (tg->pio ? PIO_BASE : MMIO_GPA) + slot * SLOT_SIZE;
}

static u64 top_bit(u32 size)
{
	return 1ull << (size * 8 - 1);
}

/* What vCPU @idx writes to match the datamatch items on its value, or not to. */
static u64 db_val(u32 idx, u32 size, bool nomatch)
{
	u64 val = (PATTERN + idx) & ioregion_size_mask(size);

	return nomatch ? val ^ top_bit(size) : val;
}

/* A value that no vCPU writes. */
static u64 db_never(u32 size)
{
	return (PATTERN & ioregion_size_mask(size)) ^ (top_bit(size) >> 1);
}

#define DB_MAX_WRITES		1000000000ull
#define DB_MIN_CYCLES		64
#define DB_MAX_CYCLES		20000

/* The guest's writes per vCPU, target and nomatch, each counted once made. */
static u64 db_writes[NR_VCPUS][NR_TARGETS][2];
static bool db_stop;
static u32 db_seed;

static void guest_doorbells(u32 idx)
{
	struct guest_random_state rng = new_rng(db_seed + idx);
	const struct target *tg;
	u64 n, *count, val;
	bool nomatch;
	u32 r;
	int t;

	for (n = 0; n < DB_MAX_WRITES && !READ_ONCE(db_stop); n++) {
		r = guest_random_u32(&rng);
		t = r % NR_TARGETS;
		nomatch = !(r / NR_TARGETS % 4);
		tg = &targets[t];
		val = db_val(idx, tg->size, nomatch);
		if (tg->pio)
			guest_pio_write(target_addr(t, idx), tg->size, val);
		else
			guest_mmio_write(target_addr(t, idx), tg->size, val);

		/* Count the write only once it is done, the host's bounds rely on it. */
		barrier();
		count = &db_writes[idx][t][nomatch];
		WRITE_ONCE(*count, *count + 1);
	}
	GUEST_DONE();
}

struct db_snap {
	u64 w[NR_VCPUS][NR_TARGETS][2];
};

struct db_item {
	int fd;
	int t;
	u64 addr;
	bool wildcard;
	u64 datamatch;
	/* Per vCPU, the writes that match the item before its assign and after it. */
	u64 base_hi[NR_VCPUS];
	u64 base_lo[NR_VCPUS];
};

#define NR_STABLE		(2 * (NR_VCPUS + 1) + 2 * NR_VCPUS)
#define NR_TRANSIENT		8
/* Enough datamatch items that a new group's table grows twice under the vCPUs. */
#define MAX_GROUP_ITEMS		20
#define NR_RETIRED		32

struct db_group {
	int nr;
	/* items[0] is a wildcard, assigned first and deassigned last. */
	struct db_item items[MAX_GROUP_ITEMS];
	/* What items[0] was signalled, over every lifetime of the group. */
	u64 anchor_signals;
};

struct db_vcpu {
	struct kvm_vcpu *vcpu;
	pthread_t thread;
	u32 idx;
	/* Writes that reached userspace, per target and nomatch. */
	u64 exits[NR_TARGETS][2];
	bool done;
};

struct db_stress {
	struct kvm_vm *vm;
	struct guest_random_state rng;
	struct db_vcpu vcpus[NR_VCPUS];
	/* db_writes in guest memory. */
	u64 (*writes)[NR_TARGETS][2];
	struct db_item stable[NR_STABLE];
	struct db_item transient[NR_TRANSIENT];
	bool transient_live[NR_TRANSIENT];
	struct db_group groups[NR_CHURN];
	/* Deassigned items whose eventfds must stay quiet. */
	struct db_item retired[NR_RETIRED];
	u64 nr_retired;
	/* Signals read from all the eventfds. */
	u64 signals;
	u64 assigns;
	u64 deassigns;
	u64 groups_created;
	u64 groups_removed;
	u64 cycles;
};

static const char *db_item_str(const struct db_item *it, char *buf, size_t size)
{
	if (it->wildcard)
		snprintf(buf, size, "wildcard at %s 0x%lx", targets[it->t].name, it->addr);
	else
		snprintf(buf, size, "datamatch 0x%lx at %s 0x%lx", it->datamatch,
			 targets[it->t].name, it->addr);
	return buf;
}

static void db_snap(const struct db_stress *s, struct db_snap *snap)
{
	int i, t, k;

	for (i = 0; i < NR_VCPUS; i++)
		for (t = 0; t < NR_TARGETS; t++)
			for (k = 0; k < 2; k++)
				snap->w[i][t][k] = READ_ONCE(s->writes[i][t][k]);
}

static bool db_item_matches(const struct db_item *it, u32 idx, bool nomatch)
{
	return target_addr(it->t, idx) == it->addr &&
	       (it->wildcard || it->datamatch == db_val(idx, targets[it->t].size, nomatch));
}

/* The writes of vCPU @idx in @snap that signal @it. */
static u64 db_item_writes(const struct db_item *it, const struct db_snap *snap, u32 idx)
{
	u64 n = 0;
	int k;

	for (k = 0; k < 2; k++)
		if (db_item_matches(it, idx, k))
			n += snap->w[idx][it->t][k];
	return n;
}

static void db_item_init(struct db_item *it, int t, u64 addr, bool wildcard, u64 datamatch)
{
	*it = (struct db_item) {
		.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC),
		.t = t,
		.addr = addr,
		.wildcard = wildcard,
		.datamatch = wildcard ? 0 : datamatch,
	};
	TEST_ASSERT(it->fd >= 0, "eventfd() failed, errno = %d", errno);
}

/* A wildcard, or a datamatch on some vCPU's value, on its nomatch value, or on neither. */
static void db_random_item(struct db_stress *s, struct db_item *it, int t, bool wildcard)
{
	u32 r = guest_random_u32(&s->rng), size = targets[t].size;
	u64 val = db_val(r / 4 % NR_VCPUS, size, r % 4 == 1);

	db_item_init(it, t, target_addr(t, 0), wildcard, r % 4 ? val : db_never(size));
}

static int __vm_ioeventfd(struct kvm_vm *vm, const struct db_item *it, u32 flags)
{
	const struct target *tg = &targets[it->t];
	struct kvm_ioeventfd args = {
		.datamatch = it->datamatch,
		.addr = it->addr,
		.len = tg->len,
		.fd = it->fd,
		.flags = flags | (tg->pio ? KVM_IOEVENTFD_FLAG_PIO : 0) |
			 (it->wildcard ? 0 : KVM_IOEVENTFD_FLAG_DATAMATCH),
	};

	return __vm_ioctl(vm, KVM_IOEVENTFD, &args);
}

static void vm_ioeventfd(struct kvm_vm *vm, const struct db_item *it, u32 flags)
{
	int ret = __vm_ioeventfd(vm, it, flags);
	char buf[96];

	TEST_ASSERT(!ret, "KVM_IOEVENTFD(%s, flags 0x%x) failed, errno = %d (%s)",
		    db_item_str(it, buf, sizeof(buf)), flags, errno, strerror(errno));
}

/* Once its deassign has returned, an item's eventfd must stay quiet for good. */
static void db_check_retired(struct db_item *it)
{
	u64 count = eventfd_count(it->fd);
	char buf[96];

	TEST_ASSERT(!count, "The %s was signalled %lu times after its deassign returned",
		    db_item_str(it, buf, sizeof(buf)), count);
	close(it->fd);
}

/* Check retired items a while later too, giving a stray signal time to land. */
static void db_retire(struct db_stress *s, const struct db_item *it)
{
	struct db_item *slot = &s->retired[s->nr_retired++ % NR_RETIRED];

	if (s->nr_retired > NR_RETIRED)
		db_check_retired(slot);
	*slot = *it;
}

/*
 * A vCPU counts a write once it is made, so at any time at most one write per
 * vCPU is made but not counted.  All writes counted after the assign returned
 * but for the first, and before the deassign began, must have signalled the
 * item.  Writes counted before the assign began, or after the deassign
 * returned but for the first, can't have.
 */
static void db_item_check(const struct db_item *it, const struct db_snap *before,
			  const struct db_snap *after, u64 count)
{
	u64 lo = 0, hi = 0, n;
	char buf[96];
	u32 i;

	for (i = 0; i < NR_VCPUS; i++) {
		if (!db_item_matches(it, i, false) && !db_item_matches(it, i, true))
			continue;

		n = db_item_writes(it, before, i);
		if (n > it->base_lo[i] + 1)
			lo += n - it->base_lo[i] - 1;
		hi += db_item_writes(it, after, i) - it->base_hi[i] + 1;
	}
	TEST_ASSERT(count >= lo && count <= hi,
		    "The %s was signalled %lu times while registered, the guest's writes allow %lu to %lu",
		    db_item_str(it, buf, sizeof(buf)), count, lo, hi);
}

static void db_add(struct db_stress *s, struct db_item *its, int nr)
{
	struct db_snap before, after;
	int i, j;

	db_snap(s, &before);
	for (i = 0; i < nr; i++)
		vm_ioeventfd(s->vm, &its[i], 0);
	db_snap(s, &after);

	for (i = 0; i < nr; i++) {
		for (j = 0; j < NR_VCPUS; j++) {
			its[i].base_hi[j] = db_item_writes(&its[i], &before, j);
			its[i].base_lo[j] = db_item_writes(&its[i], &after, j);
		}
	}
	s->assigns += nr;
}

/* Deassign @its, the first last, and check what each was signalled. */
static u64 db_remove(struct db_stress *s, struct db_item *its, int nr)
{
	struct db_snap before, after;
	u64 count, first = 0;
	int i;

	db_snap(s, &before);
	for (i = nr - 1; i >= 0; i--)
		vm_ioeventfd(s->vm, &its[i], KVM_IOEVENTFD_FLAG_DEASSIGN);
	db_snap(s, &after);

	for (i = 0; i < nr; i++) {
		count = eventfd_count(its[i].fd);
		db_item_check(&its[i], &before, &after, count);
		s->signals += count;
		if (!i)
			first = count;
		db_retire(s, &its[i]);
	}
	s->deassigns += nr;
	return first;
}

static void db_group_toggle(struct db_stress *s, int t)
{
	struct db_group *g = &s->groups[t - FIRST_CHURN];
	int i;

	if (g->nr) {
		g->anchor_signals += db_remove(s, g->items, g->nr);
		g->nr = 0;
		s->groups_removed++;
		return;
	}

	/* A zero-length group takes only wildcards. */
	g->nr = 1 + rand_below(&s->rng, MAX_GROUP_ITEMS);
	db_item_init(&g->items[0], t, target_addr(t, 0), true, 0);
	for (i = 1; i < g->nr; i++)
		db_random_item(s, &g->items[i], t, !targets[t].len || !rand_below(&s->rng, 4));
	db_add(s, g->items, g->nr);
	s->groups_created++;
}

static void db_transient_toggle(struct db_stress *s, int j)
{
	int t = rand_below(&s->rng, 2) ? T_SHARED_PIO : T_SHARED_MMIO;

	if (s->transient_live[j]) {
		db_remove(s, &s->transient[j], 1);
	} else {
		db_random_item(s, &s->transient[j], t, !rand_below(&s->rng, 4));
		db_add(s, &s->transient[j], 1);
	}
	s->transient_live[j] = !s->transient_live[j];
}

static void db_setup_stable(struct db_stress *s)
{
	struct db_item *it = s->stable;
	int t, i;

	for (t = T_SHARED_PIO; t <= T_SHARED_MMIO; t++) {
		db_item_init(it++, t, target_addr(t, 0), true, 0);
		for (i = 0; i < NR_VCPUS; i++)
			db_item_init(it++, t, target_addr(t, 0), false,
				     db_val(i, targets[t].size, false));
	}
	for (t = T_OWN_PIO; t <= T_OWN_MMIO; t++)
		for (i = 0; i < NR_VCPUS; i++)
			db_item_init(it++, t, target_addr(t, i), false,
				     db_val(i, targets[t].size, false));

	for (i = 0; i < NR_STABLE; i++)
		vm_ioeventfd(s->vm, &s->stable[i], 0);
}

/*
 * A write that no item took.  That is right for a churn group that doesn't
 * exist and for the nomatch writes to the vCPU's own slots, and wrong for
 * everything else.
 */
static bool db_handle_exit(struct db_vcpu *v)
{
	const struct target *tg;
	struct io_access io;
	char buf[160];
	int t, k;

	if (!decode_io_exit(v->vcpu, &io))
		return false;

	for (t = 0; t < NR_TARGETS; t++) {
		tg = &targets[t];
		if (tg->pio != io.pio || target_addr(t, v->idx) != io.addr)
			continue;

		for (k = 0; k < 2; k++)
			if (io.write && io.size == tg->size &&
			    io.data == db_val(v->idx, tg->size, k))
				break;
		TEST_ASSERT(k < 2 && (t >= FIRST_CHURN || (tg->own && k)),
			    "vCPU %u: a write to the %s target reached userspace: %s",
			    v->idx, tg->name, describe_io_exit(v->vcpu, buf, sizeof(buf)));
		v->exits[t][k]++;
		return true;
	}
	TEST_FAIL("vCPU %u: unexpected %s", v->idx, describe_io_exit(v->vcpu, buf, sizeof(buf)));
	return false;
}

static void *db_vcpu_thread(void *arg)
{
	struct db_vcpu *v = arg;
	struct ucall uc;
	char buf[160];

	for (;;) {
		vcpu_run(v->vcpu);
		if (db_handle_exit(v))
			continue;

		switch (get_ucall(v->vcpu, &uc)) {
		case UCALL_DONE:
			WRITE_ONCE(v->done, true);
			return NULL;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
			break;
		default:
			TEST_FAIL("vCPU %u: unexpected %s", v->idx,
				  describe_io_exit(v->vcpu, buf, sizeof(buf)));
		}
	}
}

static bool db_any_done(struct db_stress *s)
{
	int i;

	for (i = 0; i < NR_VCPUS; i++)
		if (READ_ONCE(s->vcpus[i].done))
			return true;
	return false;
}

static void db_wait_ringing(struct db_stress *s)
{
	u64 deadline = now_ms() + PROMPT_MS;
	struct db_snap snap;
	u64 n;
	int i, t;

	for (i = 0; i < NR_VCPUS; i++) {
		do {
			TEST_ASSERT(now_ms() < deadline, "vCPU %d made no doorbell write in %d s",
				    i, PROMPT_MS / 1000);
			usleep(1000);
			db_snap(s, &snap);
			for (n = 0, t = 0; t < NR_TARGETS; t++)
				n += snap.w[i][t][0] + snap.w[i][t][1];
		} while (!n);
	}
}

/* With the vCPUs stopped, stable items must have seen exactly the guest's writes. */
static void db_check_final(struct db_stress *s)
{
	u64 count, want, exits, writes;
	struct db_snap final;
	char buf[96];
	int i, t, k;

	db_snap(s, &final);
	for (i = 0; i < NR_STABLE; i++) {
		count = eventfd_count(s->stable[i].fd);
		for (want = 0, k = 0; k < NR_VCPUS; k++)
			want += db_item_writes(&s->stable[i], &final, k);
		TEST_ASSERT(count == want,
			    "The stable %s was signalled %lu times, the guest made %lu matching writes",
			    db_item_str(&s->stable[i], buf, sizeof(buf)), count, want);
		s->signals += count;
		close(s->stable[i].fd);
	}

	for (t = T_OWN_PIO; t <= T_OWN_MMIO; t++)
		for (i = 0; i < NR_VCPUS; i++)
			TEST_ASSERT(s->vcpus[i].exits[t][1] == final.w[i][t][1],
				    "vCPU %d made %lu nomatch writes to its %s slot, %lu reached userspace",
				    i, final.w[i][t][1], targets[t].name, s->vcpus[i].exits[t][1]);

	/* Whenever a churn group exists, its first item takes every write. */
	for (t = FIRST_CHURN; t < NR_TARGETS; t++) {
		exits = 0;
		writes = 0;
		for (i = 0; i < NR_VCPUS; i++) {
			for (k = 0; k < 2; k++) {
				exits += s->vcpus[i].exits[t][k];
				writes += final.w[i][t][k];
			}
		}
		count = s->groups[t - FIRST_CHURN].anchor_signals;
		TEST_ASSERT(exits + count == writes,
			    "%lu writes to the %s, %lu reached userspace and its first wildcard saw %lu",
			    writes, targets[t].name, exits, count);
	}
}

/* Every signal is on some eventfd; the only misses are nomatch writes to own slots. */
static void db_check_stats(struct db_stress *s, const u64 *signals0, const u64 *misses0)
{
	u64 signals = 0, misses = 0, nomatch = 0;
	int i, t;

	for (i = 0; i < NR_VCPUS; i++) {
		signals += vcpu_get_stat(s->vcpus[i].vcpu, "ioeventfd_signals") - signals0[i];
		misses += vcpu_get_stat(s->vcpus[i].vcpu, "ioeventfd_misses") - misses0[i];
		for (t = T_OWN_PIO; t <= T_OWN_MMIO; t++)
			nomatch += s->vcpus[i].exits[t][1];
	}
	TEST_ASSERT(signals == s->signals,
		    "ioeventfd_signals grew by %lu, the eventfds counted %lu", signals, s->signals);
	TEST_ASSERT(misses == nomatch,
		    "ioeventfd_misses grew by %lu, %lu writes matched no item of their group",
		    misses, nomatch);
}

static u64 db_total_writes(struct db_stress *s, u64 *exits)
{
	u64 total = 0;
	int i, t, k;

	*exits = 0;
	for (i = 0; i < NR_VCPUS; i++) {
		for (t = 0; t < NR_TARGETS; t++) {
			for (k = 0; k < 2; k++) {
				total += READ_ONCE(s->writes[i][t][k]);
				*exits += s->vcpus[i].exits[t][k];
			}
		}
	}
	return total;
}

FIXTURE(ioeventfd_stress) {
	struct kvm_vm *vm;
	struct kvm_vcpu *vcpus[NR_VCPUS];
};

FIXTURE_SETUP(ioeventfd_stress)
{
	/* Without groups, an address takes one wildcard or distinct datamatches. */
	if (!kvm_has_cap(KVM_CAP_IOEVENTFD_GROUPS))
		SKIP(return, "KVM_CAP_IOEVENTFD_GROUPS not supported");

	self->vm = vm_create_with_vcpus(NR_VCPUS, guest_doorbells, self->vcpus);
	virt_map(self->vm, MMIO_GPA, MMIO_GPA, MMIO_NR_PAGES);
	check_ucall_clear(self->vm, MMIO_NR_PAGES);
}

FIXTURE_TEARDOWN(ioeventfd_stress)
{
	kvm_vm_free(self->vm);
}

/*
 * Four vCPUs ring doorbells on shared and own addresses, PIO and MMIO (only
 * MMIO outside x86), while this thread assigns and deassigns transient items
 * at the shared addresses and whole groups at others.  Stable items must
 * receive exactly the guest's matching writes, transient ones what the
 * guest wrote while they were registered and nothing once their deassign
 * returned.
 */
TEST_F_TIMEOUT(ioeventfd_stress, doorbells, CASE_TIMEOUT)
{
	u64 signals0[NR_VCPUS], misses0[NR_VCPUS], start, end, writes, exits;
	static struct db_stress s;
	struct db_vcpu *v;
	bool *stop;
	int i;

	s.vm = self->vm;
	db_seed = stress_seed();
	s.rng = new_rng(~db_seed);
	sync_global_to_guest(s.vm, db_seed);
	s.writes = addr_gva2hva(s.vm, (vm_vaddr_t)db_writes);
	stop = addr_gva2hva(s.vm, (vm_vaddr_t)&db_stop);
	db_setup_stable(&s);

	for (i = 0; i < NR_VCPUS; i++) {
		v = &s.vcpus[i];
		v->vcpu = self->vcpus[i];
		v->idx = i;
		signals0[i] = vcpu_get_stat(v->vcpu, "ioeventfd_signals");
		misses0[i] = vcpu_get_stat(v->vcpu, "ioeventfd_misses");
		vcpu_args_set(v->vcpu, 1, i);
		TEST_ASSERT(!pthread_create(&v->thread, NULL, db_vcpu_thread, v),
			    "pthread_create() failed");
	}
	db_wait_ringing(&s);

	start = now_ms();
	end = start + stress_ms();
	do {
		if (rand_below(&s.rng, 4))
			db_transient_toggle(&s, rand_below(&s.rng, NR_TRANSIENT));
		else
			db_group_toggle(&s, FIRST_CHURN + rand_below(&s.rng, NR_CHURN));
	} while (++s.cycles < DB_MIN_CYCLES ||
		 (s.cycles < DB_MAX_CYCLES && now_ms() < end && !db_any_done(&s)));

	WRITE_ONCE(*stop, true);
	for (i = 0; i < NR_VCPUS; i++)
		join_vcpu(s.vcpus[i].thread, i);

	for (i = 0; i < NR_TRANSIENT; i++)
		if (s.transient_live[i])
			db_remove(&s, &s.transient[i], 1);
	for (i = 0; i < NR_CHURN; i++)
		if (s.groups[i].nr)
			db_group_toggle(&s, FIRST_CHURN + i);
	for (i = 0; i < min_t(u64, s.nr_retired, NR_RETIRED); i++)
		db_check_retired(&s.retired[i]);

	db_check_final(&s);
	db_check_stats(&s, signals0, misses0);

	writes = db_total_writes(&s, &exits);
	ksft_print_msg("doorbells: %lu ms, %lu guest writes, %lu of them to userspace\n",
		       now_ms() - start, writes, exits);
	ksft_print_msg("doorbells: %lu cycles: %lu assigns, %lu deassigns, %lu groups created\n",
		       s.cycles, s.assigns, s.deassigns, s.groups_created);
	ksft_print_msg("doorbells: %lu eventfd signals\n", s.signals);
	TEST_ASSERT(s.groups_created && s.deassigns, "The run was too short to churn anything");
}

int main(int argc, char *argv[])
{
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_IOEVENTFD_GROUPS));

	return test_harness_run(argc, argv);
}
