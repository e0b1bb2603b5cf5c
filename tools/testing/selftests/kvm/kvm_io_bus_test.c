// SPDX-License-Identifier: GPL-2.0-only
/*
 * The KVM I/O bus as guest MMIO writes see it: lookups among nested and
 * partly overlapping devices, a bus far larger than the old 1000-device
 * array, and writes that keep reaching the right device while neighbours
 * come and go.  Coalesced MMIO zones and wildcard ioeventfds stand in for
 * devices, since userspace can register both at any address.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "eventfd_stress.h"
#include "guest_io.h"
#include "ioeventfd_test.h"
#include "kvm_test_harness.h"
#include "kvm_util.h"
#include "test_util.h"
#include "ucall_common.h"

/* MMIO_NR_PAGES of eventfd_stress.h would not hold 65536 zones. */
#define BUS_NR_PAGES		1024
/* KVM_IO_BUS_DEVICES lowers it, for a debug kernel under TCG. */
#define NR_MANY			65536

#define NR_CHURN_VCPUS		2
#define NR_STABLE		4
/* Each stable doorbell sits alone in a page, its neighbours around it. */
#define STABLE_STRIDE		0x1000
#define STABLE_OFFSET		0x800

static u64 g_addr;
static u32 g_len;
static u64 g_val;

static void guest_code(void)
{
	for (;;) {
		GUEST_SYNC(0);
		guest_mmio_write(READ_ONCE(g_addr), READ_ONCE(g_len), READ_ONCE(g_val));
	}
}

static struct kvm_coalesced_mmio_ring *coalesced_ring(struct kvm_vcpu *vcpu)
{
	return (void *)vcpu->run + KVM_COALESCED_MMIO_PAGE_OFFSET * getpagesize();
}

static void bus_setup(struct kvm_vcpu *vcpu)
{
	struct ucall uc;

	TEST_REQUIRE(kvm_has_cap(KVM_CAP_COALESCED_MMIO));
	virt_map(vcpu->vm, MMIO_GPA, MMIO_GPA, BUS_NR_PAGES);
	vcpu_run(vcpu);
	TEST_ASSERT_EQ(get_ucall(vcpu, &uc), UCALL_SYNC);
}

/*
 * Make the guest write @val to @addr.  Return true if a device in KVM took
 * the write, false if it reached userspace as KVM_EXIT_MMIO.
 */
static bool bus_write(struct kvm_vcpu *vcpu, u64 addr, u32 len, u64 val)
{
	struct kvm_run *run = vcpu->run;
	bool in_kernel = true;
	struct ucall uc;
	char buf[128];

	g_addr = addr;
	g_len = len;
	g_val = val;
	sync_global_to_guest(vcpu->vm, g_addr);
	sync_global_to_guest(vcpu->vm, g_len);
	sync_global_to_guest(vcpu->vm, g_val);

	vcpu_run(vcpu);
	if (!is_ucall_exit(vcpu)) {
		TEST_ASSERT(run->exit_reason == KVM_EXIT_MMIO && run->mmio.is_write &&
			    run->mmio.phys_addr == addr && run->mmio.len == len,
			    "A %u-byte write to 0x%lx gave %s", len, addr,
			    describe_io_exit(vcpu, buf, sizeof(buf)));
		in_kernel = false;
		vcpu_run(vcpu);
	}
	TEST_ASSERT(get_ucall(vcpu, &uc) == UCALL_SYNC, "Guest failed: %s",
		    uc.cmd == UCALL_ABORT ? uc.buffer : "unexpected ucall");
	return in_kernel;
}

/* Take the writes the coalesced ring holds; return how many there were. */
static u32 ring_take(struct kvm_vcpu *vcpu, u64 *last_addr)
{
	struct kvm_coalesced_mmio_ring *ring = coalesced_ring(vcpu);
	u32 size = (getpagesize() - sizeof(*ring)) / sizeof(ring->coalesced_mmio[0]);
	u32 n = 0;

	while (ring->first != ring->last) {
		*last_addr = ring->coalesced_mmio[ring->first].phys_addr;
		ring->first = (ring->first + 1) % size;
		n++;
	}
	return n;
}

/* A write at @addr must land in the coalesced ring, and nowhere else. */
static void expect_coalesced(struct kvm_vcpu *vcpu, u64 addr, u32 len)
{
	u64 got = 0;

	TEST_ASSERT(bus_write(vcpu, addr, len, addr),
		    "A %u-byte write to 0x%lx exited, but a zone covers it", len, addr);
	TEST_ASSERT(ring_take(vcpu, &got) == 1 && got == addr,
		    "A %u-byte write to 0x%lx did not go to the zone that covers it first",
		    len, addr);
}

static void expect_exit(struct kvm_vcpu *vcpu, u64 addr, u32 len)
{
	u64 got;

	TEST_ASSERT(!bus_write(vcpu, addr, len, addr),
		    "A %u-byte write to 0x%lx, which no device covers whole, did not exit",
		    len, addr);
	TEST_ASSERT(!ring_take(vcpu, &got), "A write that exited also went to the ring");
}

static int __coalesced(struct kvm_vm *vm, u64 addr, u32 size, bool unregister)
{
	struct kvm_coalesced_mmio_zone zone = {
		.addr = addr,
		.size = size,
	};

	return __vm_ioctl(vm, unregister ? KVM_UNREGISTER_COALESCED_MMIO :
					   KVM_REGISTER_COALESCED_MMIO, &zone);
}

KVM_ONE_VCPU_TEST_SUITE(io_bus);

/*
 * A = [0x100, +0x100) holds B = [0x110, +4) and C = [0x180, +4).  A sorted
 * array cannot order these for a binary search: a write at 0x190 used to
 * stop its search at C and never reach A.  Devices that cover an address
 * are tried by address, so A also takes the writes at B and C.
 */
KVM_ONE_VCPU_TEST(io_bus, overlap_lookup, guest_code)
{
	struct kvm_vm *vm = vcpu->vm;
	int efd_b = ioe_new_eventfd(), efd_c = ioe_new_eventfd();
	u64 base = MMIO_GPA;

	bus_setup(vcpu);
	/* One inner device before A, one after: the order must not matter. */
	ioe_vm_ioeventfd(vm, base + 0x110, 4, efd_b, 0, 0);
	TEST_ASSERT(!__coalesced(vm, base + 0x100, 0x100, false), "Zone A: errno = %d", errno);
	ioe_vm_ioeventfd(vm, base + 0x180, 4, efd_c, 0, 0);

	expect_exit(vcpu, base + 0xfc, 4);
	expect_coalesced(vcpu, base + 0x100, 4);
	expect_coalesced(vcpu, base + 0x110, 4);
	expect_coalesced(vcpu, base + 0x120, 4);
	expect_coalesced(vcpu, base + 0x180, 4);
	expect_coalesced(vcpu, base + 0x190, 4);
	expect_coalesced(vcpu, base + 0x1fc, 4);
	expect_exit(vcpu, base + 0x1fe, 4);
	expect_exit(vcpu, base + 0x200, 4);
	TEST_ASSERT(!eventfd_count(efd_b) && !eventfd_count(efd_c),
		    "An ioeventfd inside zone A was signalled, but A comes first");

	/* Without A, B and C take their own writes, and 0x190 exits. */
	TEST_ASSERT(!__coalesced(vm, base + 0x100, 0x100, true), "Removing A: errno = %d", errno);
	TEST_ASSERT(bus_write(vcpu, base + 0x110, 4, 1) && eventfd_count(efd_b) == 1,
		    "B did not take its write once A was gone");
	TEST_ASSERT(bus_write(vcpu, base + 0x180, 4, 1) && eventfd_count(efd_c) == 1,
		    "C did not take its write once A was gone");
	expect_exit(vcpu, base + 0x190, 4);

	/* Partly overlapping zones: the lower one takes what both cover. */
	TEST_ASSERT(!__coalesced(vm, base + 0x408, 0x10, false), "Zone E: errno = %d", errno);
	TEST_ASSERT(!__coalesced(vm, base + 0x400, 0x10, false), "Zone D: errno = %d", errno);
	expect_coalesced(vcpu, base + 0x404, 4);
	expect_coalesced(vcpu, base + 0x40c, 4);
	expect_coalesced(vcpu, base + 0x414, 4);
	expect_exit(vcpu, base + 0x416, 4);
	TEST_ASSERT(!__coalesced(vm, base + 0x400, 0x10, true), "Removing D: errno = %d", errno);
	expect_exit(vcpu, base + 0x404, 4);
	expect_coalesced(vcpu, base + 0x40c, 4);

	close(efd_b);
	close(efd_c);
}

/* More than a registration can cut into pieces on the stack, see kvm_main.c. */
#define NR_COVERED		12

/*
 * A zone over many devices, with gaps between them, touches more spans than
 * the 8 pieces that a registration cuts without allocating.  The zone comes
 * first at every address it covers, and once it goes, each device inside
 * takes its own writes again.
 */
KVM_ONE_VCPU_TEST(io_bus, covering_zone, guest_code)
{
	struct kvm_vm *vm = vcpu->vm;
	u64 base = MMIO_GPA + 0x600, size = 0x20 * (NR_COVERED + 1);
	int efd[NR_COVERED], i;

	bus_setup(vcpu);
	for (i = 0; i < NR_COVERED; i++) {
		efd[i] = ioe_new_eventfd();
		ioe_vm_ioeventfd(vm, base + 0x20 * (i + 1), 4, efd[i], 0, 0);
	}
	TEST_ASSERT(!__coalesced(vm, base, size, false), "Covering zone: errno = %d", errno);

	for (i = 0; i < NR_COVERED; i++) {
		expect_coalesced(vcpu, base + 0x20 * (i + 1), 4);
		expect_coalesced(vcpu, base + 0x20 * (i + 1) + 0x10, 4);
		TEST_ASSERT(!eventfd_count(efd[i]),
			    "ioeventfd %d inside the zone was signalled, but the zone is first", i);
	}
	expect_coalesced(vcpu, base, 4);
	expect_exit(vcpu, base + size, 4);

	TEST_ASSERT(!__coalesced(vm, base, size, true), "Removing the zone: errno = %d", errno);
	for (i = 0; i < NR_COVERED; i++) {
		u64 addr = base + 0x20 * (i + 1);

		TEST_ASSERT(bus_write(vcpu, addr, 4, 1) && eventfd_count(efd[i]) == 1,
			    "ioeventfd %d did not take its write once the zone was gone", i);
		expect_exit(vcpu, addr + 0x10, 4);
		close(efd[i]);
	}
	expect_exit(vcpu, base, 4);
}

/*
 * 65536 zones, then 65536 ioeventfds, on one bus: the old array stopped at
 * 1000 devices (ioeventfds aside).  A few of each still take their writes,
 * and one removed from the middle no longer does.
 */
FIXTURE(io_bus_many) {
	struct kvm_vcpu *vcpu;
};

FIXTURE_SETUP(io_bus_many)
{
	vm_create_with_one_vcpu(&self->vcpu, guest_code);
}

FIXTURE_TEARDOWN(io_bus_many)
{
	kvm_vm_free(self->vcpu->vm);
}

/* Registering 131072 devices takes minutes on a debug kernel under TCG. */
TEST_F_TIMEOUT(io_bus_many, many_devices, 900)
{
	const char *env = getenv("KVM_IO_BUS_DEVICES");
	int nr = env ? atoi(env) : NR_MANY;
	const u64 probes[] = { 0, 1, nr / 2, nr - 1 };
	u64 zones = MMIO_GPA, doorbells = MMIO_GPA + NR_MANY * 8;
	struct kvm_vcpu *vcpu = self->vcpu;
	struct kvm_vm *vm = vcpu->vm;
	int efd = ioe_new_eventfd();
	int i;

	/* Past the old array's 1000 devices, and within the mapped pages. */
	TEST_ASSERT(nr > 1000 && nr <= NR_MANY, "KVM_IO_BUS_DEVICES must be 1001 to %d", NR_MANY);

	bus_setup(vcpu);
	for (i = 0; i < nr; i++)
		TEST_ASSERT(!__coalesced(vm, zones + i * 8, 8, false),
			    "Zone %d of %d: errno = %d", i, nr, errno);
	for (i = 0; i < nr; i++)
		TEST_ASSERT(!__ioe_vm_ioeventfd(vm, doorbells + i * 4, 4, efd, 0, 0),
			    "ioeventfd %d of %d: errno = %d", i, nr, errno);

	for (i = 0; i < ARRAY_SIZE(probes); i++) {
		expect_coalesced(vcpu, zones + probes[i] * 8, 8);
		TEST_ASSERT(bus_write(vcpu, doorbells + probes[i] * 4, 4, 0) &&
			    eventfd_count(efd) == 1, "ioeventfd %lu missed its write", probes[i]);
	}

	TEST_ASSERT(!__coalesced(vm, zones + nr / 2 * 8, 8, true), "errno = %d", errno);
	TEST_ASSERT(!__ioe_vm_ioeventfd(vm, doorbells + nr / 2 * 4, 4, efd,
					KVM_IOEVENTFD_FLAG_DEASSIGN, 0),
		    "errno = %d", errno);
	expect_exit(vcpu, zones + nr / 2 * 8, 8);
	expect_exit(vcpu, doorbells + nr / 2 * 4, 4);
	expect_coalesced(vcpu, zones + (nr / 2 + 1) * 8, 8);

	/* Leave the rest to VM destruction. */
	close(efd);
}

static u64 churn_writes[NR_CHURN_VCPUS][NR_STABLE];
static bool churn_stop;

static u64 stable_addr(u32 idx, u32 j)
{
	return MMIO_GPA + (idx * NR_STABLE + j) * STABLE_STRIDE + STABLE_OFFSET;
}

static void guest_churn(u32 idx)
{
	u64 n;

	for (n = 0; !READ_ONCE(churn_stop); n++) {
		guest_mmio_write(stable_addr(idx, n % NR_STABLE), 4, n);
		churn_writes[idx][n % NR_STABLE]++;
	}
	GUEST_DONE();
}

static void *churn_vcpu_thread(void *arg)
{
	struct kvm_vcpu *vcpu = arg;
	struct ucall uc;
	char buf[128];

	vcpu_run(vcpu);
	TEST_ASSERT(is_ucall_exit(vcpu), "vCPU %u: a stable doorbell gave %s", vcpu->id,
		    describe_io_exit(vcpu, buf, sizeof(buf)));
	TEST_ASSERT(get_ucall(vcpu, &uc) == UCALL_DONE, "vCPU %u: guest failed: %s",
		    vcpu->id, uc.cmd == UCALL_ABORT ? uc.buffer : "unexpected ucall");
	return NULL;
}

/* The neighbours of a stable doorbell at @addr, none covering its 4 bytes. */
static void churn_toggle(struct kvm_vm *vm, u64 addr, u32 kind, bool on, int efd)
{
	u32 flags = on ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN;
	int r;

	switch (kind) {
	case 0:
		r = __ioe_vm_ioeventfd(vm, addr - 8, 8, efd, flags, 0);
		break;
	case 1:
		r = __ioe_vm_ioeventfd(vm, addr + 4, 4, efd, flags, 0);
		break;
	case 2:
		r = __ioe_vm_ioeventfd(vm, addr + 8, 0, efd, flags, 0);
		break;
	case 3:
		r = __coalesced(vm, addr - 0x100, 0x100, !on);
		break;
	default:
		r = __coalesced(vm, addr + 4, 0x20, !on);
		break;
	}
	TEST_ASSERT(!r, "Turning neighbour %u of 0x%lx %s failed, errno = %d", kind, addr,
		    on ? "on" : "off", errno);
}

#define NR_KINDS	5

/*
 * vCPUs ring doorbells that stay registered while this thread registers and
 * unregisters their neighbours on the same bus, splitting and joining the
 * spans around them.  Each doorbell must count exactly the guest's writes:
 * none lost to a neighbour, none taken twice, and none exits.
 */
FIXTURE(io_bus_churn) {};
FIXTURE_SETUP(io_bus_churn) {}
FIXTURE_TEARDOWN(io_bus_churn) {}

TEST_F_TIMEOUT(io_bus_churn, churn, CASE_TIMEOUT)
{
	bool on[NR_CHURN_VCPUS * NR_STABLE][NR_KINDS] = {};
	int stable[NR_CHURN_VCPUS][NR_STABLE], efd_neighbour = ioe_new_eventfd();
	struct kvm_vcpu *vcpus[NR_CHURN_VCPUS];
	pthread_t threads[NR_CHURN_VCPUS];
	struct guest_random_state rng = new_rng(stress_seed());
	u64 end = now_ms() + stress_ms(), rounds = 0;
	struct kvm_vm *vm;
	u32 i, j, k;

	vm = vm_create_with_vcpus(NR_CHURN_VCPUS, guest_churn, vcpus);
	virt_map(vm, MMIO_GPA, MMIO_GPA, NR_CHURN_VCPUS * NR_STABLE);
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_COALESCED_MMIO));

	for (i = 0; i < NR_CHURN_VCPUS; i++) {
		vcpu_args_set(vcpus[i], 1, i);
		for (j = 0; j < NR_STABLE; j++) {
			stable[i][j] = ioe_new_eventfd();
			ioe_vm_ioeventfd(vm, stable_addr(i, j), 4, stable[i][j], 0, 0);
		}
	}
	for (i = 0; i < NR_CHURN_VCPUS; i++)
		pthread_create(&threads[i], NULL, churn_vcpu_thread, vcpus[i]);

	while (now_ms() < end) {
		i = rand_below(&rng, NR_CHURN_VCPUS * NR_STABLE);
		k = rand_below(&rng, NR_KINDS);
		on[i][k] = !on[i][k];
		churn_toggle(vm, stable_addr(i / NR_STABLE, i % NR_STABLE), k, on[i][k],
			     efd_neighbour);
		rounds++;
	}

	WRITE_ONCE(*(bool *)addr_gva2hva(vm, (vm_vaddr_t)&churn_stop), true);
	for (i = 0; i < NR_CHURN_VCPUS; i++)
		join_vcpu(threads[i], i);

	sync_global_from_guest(vm, churn_writes);
	for (i = 0; i < NR_CHURN_VCPUS; i++) {
		for (j = 0; j < NR_STABLE; j++) {
			u64 got = eventfd_count(stable[i][j]);

			TEST_ASSERT(got == churn_writes[i][j],
				    "Doorbell %u of vCPU %u counted %lu of the guest's %lu writes",
				    j, i, got, churn_writes[i][j]);
			TEST_ASSERT(churn_writes[i][j], "vCPU %u never rang doorbell %u", i, j);
			close(stable[i][j]);
		}
	}
	TEST_ASSERT(!eventfd_count(efd_neighbour), "A neighbour took a doorbell's write");
	ksft_print_msg("%lu registrations and removals of neighbours\n", rounds);
	close(efd_neighbour);
	kvm_vm_free(vm);
}

int main(int argc, char *argv[])
{
	return test_harness_run(argc, argv);
}
