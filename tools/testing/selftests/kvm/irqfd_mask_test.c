// SPDX-License-Identifier: GPL-2.0-only
/*
 * irqfd masking: a VMM masks an MSI by deassigning its irqfd
 * (KVM_IRQFD_FLAG_DEASSIGN) and unmasks it by assigning the irqfd again,
 * without involving the device, which may keep signalling.  That is only
 * correct if KVM keeps the contract VMMs rely on:
 *
 *  - an interrupt may be delayed, and identical ones may be coalesced;
 *  - a signal is never lost across mask and unmask: one that arrives while
 *    the irqfd is masked is delivered on unmask;
 *  - an interrupt is never injected when nothing was signalled.
 *
 * Check it for an edge-triggered route (an MSI on x86, an SPI of the vGIC on
 * arm64) and for a resampling irqfd on a level-triggered IOAPIC pin or SPI:
 * step by step with the vCPU stopped; with one host thread
 * signalling while another masks and unmasks, checking the guest's
 * interrupts at every point where both have stopped; and masking while the
 * guest takes and EOIs an interrupt.
 *
 * The host bumps a sequence number before each signal and the guest's
 * handler records the number it sees.  A signal whose number is above what
 * the latest handler saw came after the guest took that interrupt, so it
 * needs another one; and no window may hold more interrupts than signals.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "kvm_test_harness.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"
#ifdef __x86_64__
#include "apic.h"
#else
#include "gic.h"
#include "gic_v3.h"
#include "vgic.h"
#endif

/* Any GSI works, the route decides where it goes; avoid the RTC's pin 8. */
#define IRQFD_GSI		11

#ifdef __x86_64__
#define IRQ_VECTOR		0x50
#define IOAPIC_PIN		11

#define IOAPIC_GPA		0xfec00000ull
#define IOAPIC_REGSEL		0x00
#define IOAPIC_WINDOW		0x10
#define IOAPIC_REDTBL_LO(pin)	(0x10 + 2 * (pin))
#define IOAPIC_REDTBL_HI(pin)	(0x11 + 2 * (pin))
#define IOAPIC_LEVEL_TRIGGER	BIT(15)
#define IOAPIC_MASKED		BIT(16)

/* Local APIC in-service register, next to apic.h's APIC_IRR. */
#define LAPIC_ISR		0x100

/* The exit of a ucall. */
#define UCALL_EXIT_REASON	KVM_EXIT_IO
#else
/* The SPI that the default routing gives the GSI. */
#define SPI_INTID		(32 + IRQFD_GSI)
#define NR_IRQS			64

#define UCALL_EXIT_REASON	KVM_EXIT_MMIO
#endif

/* Interrupt windows the guest opens between two exits to the host. */
#define GUEST_WINDOWS		64

/* Guest runs, with the irqfd masked, in which no interrupt may arrive. */
#define MASKED_RUNS		32

/* A generous bound for an interrupt that must come, even under TCG. */
#define WAIT_MS			10000

/* The concurrent test stops starting rounds after this long, or this many. */
#define ROUNDS_MS		15000
#define MAX_ROUNDS		500
#define MAX_SIGNALS		16
#define MAX_MASKS		8

/* Shared by the guest's handler and the host, which reads it concurrently. */
struct irq_state {
	u64 seq;	/* host: bumped before every signal */
	u64 seen;	/* guest: @seq as read by the latest interrupt handler */
	u64 irqs;	/* guest: interrupts taken */
	u64 eois;	/* guest: EOIs written */
};

static struct irq_state irq_state;

#ifdef __x86_64__
static void guest_irq_handler(struct ex_regs *regs)
{
	WRITE_ONCE(irq_state.seen, READ_ONCE(irq_state.seq));
	WRITE_ONCE(irq_state.irqs, irq_state.irqs + 1);
	x2apic_write_reg(APIC_EOI, 0);
	WRITE_ONCE(irq_state.eois, irq_state.eois + 1);
}

static void guest_ioapic_write(u32 reg, u32 val)
{
	WRITE_ONCE(*(u32 *)(IOAPIC_GPA + IOAPIC_REGSEL), reg);
	WRITE_ONCE(*(u32 *)(IOAPIC_GPA + IOAPIC_WINDOW), val);
}

static u32 guest_ioapic_read(u32 reg)
{
	WRITE_ONCE(*(u32 *)(IOAPIC_GPA + IOAPIC_REGSEL), reg);
	return READ_ONCE(*(u32 *)(IOAPIC_GPA + IOAPIC_WINDOW));
}

/* Route the pin, level-triggered and unmasked, to this vCPU's vector. */
static void guest_route_ioapic_pin(u32 apic_id)
{
	const u32 lo = IRQ_VECTOR | IOAPIC_LEVEL_TRIGGER;
	u32 val;

	guest_ioapic_write(IOAPIC_REDTBL_HI(IOAPIC_PIN), apic_id << 24);
	guest_ioapic_write(IOAPIC_REDTBL_LO(IOAPIC_PIN), lo);

	val = guest_ioapic_read(IOAPIC_REDTBL_LO(IOAPIC_PIN));
	__GUEST_ASSERT((val & (0xff | IOAPIC_LEVEL_TRIGGER | IOAPIC_MASKED)) == lo,
		       "IOAPIC pin %u reads 0x%x, wrote 0x%x", IOAPIC_PIN, val, lo);
}

/*
 * Keep interrupts off except in short windows of hand-written code: the
 * handler runs on the interrupted stack, and compiled code may keep data in
 * the red zone below it.
 */
static void guest_irq_windows(void)
{
	int i;

	for (i = 0; i < GUEST_WINDOWS; i++)
		asm volatile("sti; nop; cli" ::: "memory");
}

static void guest_arch_init(bool level)
{
	x2apic_enable();
	if (level)
		guest_route_ioapic_pin(x2apic_read_reg(APIC_ID));
}
#else
static void guest_irq_handler(struct ex_regs *regs)
{
	u32 intid = gic_get_and_ack_irq();

	if (intid == IAR_SPURIOUS)
		return;
	__GUEST_ASSERT(intid == SPI_INTID, "Interrupt %u, expected %u", intid, SPI_INTID);
	WRITE_ONCE(irq_state.seen, READ_ONCE(irq_state.seq));
	WRITE_ONCE(irq_state.irqs, irq_state.irqs + 1);
	gic_set_eoi(intid);
	WRITE_ONCE(irq_state.eois, irq_state.eois + 1);
}

/* Keep interrupts off except in short windows, as on x86. */
static void guest_irq_windows(void)
{
	int i;

	for (i = 0; i < GUEST_WINDOWS; i++) {
		local_irq_enable();
		isb();
		local_irq_disable();
	}
}

static void guest_arch_init(bool level)
{
	gic_init(GIC_V3, 1);
	gic_irq_set_config(SPI_INTID, !level);
	gic_irq_enable(SPI_INTID);
}
#endif

static void guest_code(bool level)
{
	guest_arch_init(level);
	for (;;) {
		guest_irq_windows();
		GUEST_SYNC(0);
	}
}

struct irqfd_ctx {
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	/* The guest's irq_state, which the host threads read and update. */
	struct irq_state *guest;
	bool resample;
	int efd;
	int rfd;
	/* arm64: the vGIC device, whose state tells what is pending. */
	int gic_fd;
	/* Resamplefd notifications read so far, by the vCPU thread only. */
	u64 resamples;
};

/* What the quiescent checks compare: the counts before a step. */
struct irq_snap {
	u64 seq;
	u64 irqs;
	u64 eois;
	u64 resamples;
};

static long ms_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000 + (now.tv_nsec - start->tv_nsec) / 1000000;
}

/*
 * Bump the sequence number before writing the eventfd, so that a handler
 * taking this signal's interrupt sees it.
 */
static void signal_irq(struct irqfd_ctx *c)
{
	u64 one = 1;

	__atomic_add_fetch(&c->guest->seq, 1, __ATOMIC_SEQ_CST);
	TEST_ASSERT(write(c->efd, &one, sizeof(one)) == sizeof(one),
		    "write(irqfd eventfd) failed, errno = %d", errno);
}

static void irqfd_assign(struct irqfd_ctx *c)
{
	struct kvm_irqfd args = {
		.fd = c->efd,
		.gsi = IRQFD_GSI,
	};

	if (c->resample) {
		args.flags = KVM_IRQFD_FLAG_RESAMPLE;
		args.resamplefd = c->rfd;
	}
	vm_ioctl(c->vm, KVM_IRQFD, &args);
}

static void irqfd_deassign(struct irqfd_ctx *c)
{
	struct kvm_irqfd args = {
		.fd = c->efd,
		.gsi = IRQFD_GSI,
		.flags = KVM_IRQFD_FLAG_DEASSIGN,
	};

	vm_ioctl(c->vm, KVM_IRQFD, &args);
}

/*
 * Mask, and return the last signal that may have reached KVM before the
 * irqfd was gone: anything later waits in the eventfd for the unmask.
 */
static u64 irqfd_mask(struct irqfd_ctx *c)
{
	irqfd_deassign(c);
	return READ_ONCE(c->guest->seq);
}

/*
 * Unmask.  Deassigning a resampling irqfd de-asserts its line without a
 * resamplefd notification, and an EOI while masked isn't notified either, so
 * a signal from before the mask that the guest hasn't seen may have lost its
 * line.  Re-raise it like a VMM whose device still needs service, as KVM's
 * API leaves to userspace.  Later signals are KVM's to deliver.
 */
static void irqfd_unmask(struct irqfd_ctx *c, u64 masked_seq)
{
	irqfd_assign(c);
	if (c->resample && READ_ONCE(c->guest->seen) < masked_seq)
		signal_irq(c);
}

/*
 * Act on the resamplefd like a VMM: the line is de-asserted, re-raise it if
 * the device still needs service.
 */
static void vmm_resample(struct irqfd_ctx *c)
{
	u64 n;

	if (read(c->rfd, &n, sizeof(n)) != sizeof(n)) {
		TEST_ASSERT(errno == EAGAIN, "read(resamplefd) failed, errno = %d", errno);
		return;
	}
	c->resamples += n;
	if (READ_ONCE(c->guest->seq) > READ_ONCE(c->guest->seen))
		signal_irq(c);
}

/* Run the guest through one batch of interrupt windows. */
static void run_guest(struct irqfd_ctx *c)
{
	struct ucall uc;

	vcpu_run(c->vcpu);
	TEST_ASSERT_KVM_EXIT_REASON(c->vcpu, UCALL_EXIT_REASON);

	switch (get_ucall(c->vcpu, &uc)) {
	case UCALL_SYNC:
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	default:
		TEST_FAIL("Unexpected ucall %lu", uc.cmd);
	}

	if (c->resample)
		vmm_resample(c);
}

/* Run the guest until @cond holds, or return false after @ms. */
static bool run_guest_until(struct irqfd_ctx *c, bool (*cond)(struct irqfd_ctx *c), long ms)
{
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!cond(c)) {
		if (ms_since(&start) > ms)
			return false;
		run_guest(c);
	}
	return true;
}

static bool all_seen(struct irqfd_ctx *c)
{
	return READ_ONCE(c->guest->seen) == READ_ONCE(c->guest->seq);
}

#ifdef __x86_64__
static bool lapic_has_vector(struct kvm_lapic_state *lapic, u32 reg)
{
	u32 bits = *(u32 *)&lapic->regs[reg + (IRQ_VECTOR / 32) * 0x10];

	return bits & BIT(IRQ_VECTOR % 32);
}

/* Nothing pending or in service, in the local APIC and on the IOAPIC pin. */
static bool irq_idle(struct irqfd_ctx *c)
{
	struct kvm_irqchip chip = { .chip_id = KVM_IRQCHIP_IOAPIC };
	struct kvm_lapic_state lapic;

	vcpu_ioctl(c->vcpu, KVM_GET_LAPIC, &lapic);
	if (lapic_has_vector(&lapic, APIC_IRR) || lapic_has_vector(&lapic, LAPIC_ISR))
		return false;
	if (!c->resample)
		return true;

	vm_ioctl(c->vm, KVM_GET_IRQCHIP, &chip);
	return !(chip.chip.ioapic.irr & BIT(IOAPIC_PIN)) &&
	       !chip.chip.ioapic.redirtbl[IOAPIC_PIN].fields.remote_irr;
}

/* Pending in the local APIC. */
static bool irq_pending(struct irqfd_ctx *c)
{
	struct kvm_lapic_state lapic;

	vcpu_ioctl(c->vcpu, KVM_GET_LAPIC, &lapic);
	return lapic_has_vector(&lapic, APIC_IRR);
}
#else
static bool spi_in(struct irqfd_ctx *c, u32 group, u64 attr)
{
	u32 val;

	kvm_device_attr_get(c->gic_fd, group, attr, &val);
	return val & BIT(SPI_INTID % 32);
}

/*
 * Pending: latched (an edge, as userspace reads ISPENDR) or a line held
 * high (a level, which the line level information shows).
 */
static bool irq_pending(struct irqfd_ctx *c)
{
	const u64 level = (u64)VGIC_LEVEL_INFO_LINE_LEVEL <<
			  KVM_DEV_ARM_VGIC_LINE_LEVEL_INFO_SHIFT;

	return spi_in(c, KVM_DEV_ARM_VGIC_GRP_DIST_REGS, GICD_ISPENDR + SPI_INTID / 32 * 4) ||
	       spi_in(c, KVM_DEV_ARM_VGIC_GRP_LEVEL_INFO, level | (SPI_INTID & ~31));
}

/* Nothing pending or active on the SPI. */
static bool irq_idle(struct irqfd_ctx *c)
{
	return !irq_pending(c) &&
	       !spi_in(c, KVM_DEV_ARM_VGIC_GRP_DIST_REGS, GICD_ISACTIVER + SPI_INTID / 32 * 4);
}
#endif

static struct irq_snap irq_snap(struct irqfd_ctx *c)
{
	return (struct irq_snap) {
		.seq = READ_ONCE(c->guest->seq),
		.irqs = READ_ONCE(c->guest->irqs),
		.eois = READ_ONCE(c->guest->eois),
		.resamples = c->resamples,
	};
}

/*
 * Reach a quiescent point, with signaller and masker stopped and the irqfd
 * assigned: wait for the interrupt every signal since the guest's last one
 * needs, then mask and unmask once more, as deassign flushes the injections
 * KVM still has in flight, and let the guest take whatever is left.
 */
static void settle(struct irqfd_ctx *c, const char *step)
{
	TEST_ASSERT(run_guest_until(c, all_seen, WAIT_MS),
		    "%s: signal %lu got no interrupt in %d ms, the latest one saw signal %lu",
		    step, READ_ONCE(c->guest->seq), WAIT_MS, READ_ONCE(c->guest->seen));

	irqfd_unmask(c, irqfd_mask(c));

	TEST_ASSERT(run_guest_until(c, irq_idle, WAIT_MS),
		    "%s: interrupt still pending or in service after %d ms", step, WAIT_MS);
}

/*
 * Settle, then check the interrupts since @before: none if nothing was
 * signalled, never more than the signals.  Return them.
 */
static u64 settle_and_check(struct irqfd_ctx *c, const struct irq_snap *before,
			    const char *step)
{
	struct irq_snap now;
	u64 signals, irqs;

	settle(c, step);
	now = irq_snap(c);
	signals = now.seq - before->seq;
	irqs = now.irqs - before->irqs;

	TEST_ASSERT(irqs <= signals,
		    "%s: %lu interrupts for %lu signals, KVM injected some that nothing signalled",
		    step, irqs, signals);
	TEST_ASSERT(now.eois == now.irqs, "%s: the guest took %lu interrupts but wrote %lu EOIs",
		    step, now.irqs, now.eois);
	return irqs;
}

/* Every EOI of a step, with the irqfd assigned, notifies the resamplefd. */
static void check_resamples(struct irqfd_ctx *c, const struct irq_snap *before,
			    const char *step)
{
	u64 eois = READ_ONCE(c->guest->eois) - before->eois;
	u64 resamples = c->resamples - before->resamples;

	if (c->resample)
		TEST_ASSERT(resamples == eois,
			    "%s: the guest wrote %lu EOIs, the resamplefd was notified %lu times",
			    step, eois, resamples);
}

#ifdef __x86_64__
static void set_route(struct kvm_vm *vm, bool resample)
{
	struct kvm_irq_routing *routing = kvm_gsi_routing_create();
	struct kvm_irq_routing_entry *e = &routing->entries[0];

	e->gsi = IRQFD_GSI;
	if (resample) {
		e->type = KVM_IRQ_ROUTING_IRQCHIP;
		e->u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		e->u.irqchip.pin = IOAPIC_PIN;
	} else {
		/* Fixed delivery, edge-triggered, physical destination vCPU 0. */
		e->type = KVM_IRQ_ROUTING_MSI;
		e->u.msi.address_lo = APIC_DEFAULT_GPA;
		e->u.msi.data = IRQ_VECTOR;
	}
	routing->nr = 1;
	kvm_gsi_routing_write(vm, routing);
}

/* The guest's interrupt handler, the IOAPIC it programs, and the route. */
static void arch_vm_setup(struct irqfd_ctx *c)
{
	vm_install_exception_handler(c->vm, IRQ_VECTOR, guest_irq_handler);
	virt_pg_map(c->vm, IOAPIC_GPA, IOAPIC_GPA);
	set_route(c->vm, c->resample);
	c->gic_fd = -1;
}
#else
/* The guest's interrupt handler and a vGICv3, whose default routing we use. */
static void arch_vm_setup(struct irqfd_ctx *c)
{
	vm_init_descriptor_tables(c->vm);
	vcpu_init_descriptor_tables(c->vcpu);
	vm_install_exception_handler(c->vm, VECTOR_IRQ_CURRENT, guest_irq_handler);
	c->gic_fd = vgic_v3_setup(c->vm, 1, NR_IRQS);
	__TEST_REQUIRE(c->gic_fd >= 0, "No GICv3");
}
#endif

static int new_eventfd(int flags)
{
	int fd = eventfd(0, flags);

	TEST_ASSERT(fd >= 0, "eventfd() failed, errno = %d", errno);
	return fd;
}

FIXTURE(irqfd_mask) {
	struct irqfd_ctx c;
};

FIXTURE_VARIANT(irqfd_mask) {
	bool resample;
};

#ifdef __x86_64__
FIXTURE_VARIANT_ADD(irqfd_mask, msi) {
	.resample = false,
};
#else
FIXTURE_VARIANT_ADD(irqfd_mask, edge) {
	.resample = false,
};
#endif

FIXTURE_VARIANT_ADD(irqfd_mask, resample) {
	.resample = true,
};

/*
 * One vCPU with the in-kernel irqchip, the irqfd assigned on a route of its
 * own, and the guest's setup done: no interrupt is pending or signalled.
 */
FIXTURE_SETUP(irqfd_mask)
{
	struct irqfd_ctx *c = &self->c;

	c->resample = variant->resample;
	c->vm = vm_create_with_one_vcpu(&c->vcpu, guest_code);
	arch_vm_setup(c);
	vcpu_args_set(c->vcpu, 1, c->resample);
	c->guest = addr_gva2hva(c->vm, (vm_vaddr_t)&irq_state);

	c->efd = new_eventfd(0);
	c->rfd = new_eventfd(EFD_NONBLOCK);
	irqfd_assign(c);

	/* The local APIC or the GIC drops interrupts until the guest enables it. */
	run_guest(c);
	settle(c, "setup");
	TEST_ASSERT(!READ_ONCE(c->guest->irqs), "setup: %lu interrupts, nothing was signalled",
		    READ_ONCE(c->guest->irqs));
}

FIXTURE_TEARDOWN(irqfd_mask)
{
	kvm_vm_free(self->c.vm);
	close(self->c.efd);
	close(self->c.rfd);
	if (self->c.gic_fd >= 0)
		close(self->c.gic_fd);
}

/* Masking and unmasking with nothing signalled injects nothing. */
static void step_mask_unmask_idle(struct irqfd_ctx *c)
{
	const struct irq_snap before = irq_snap(c);
	int i;

	for (i = 0; i < 4; i++) {
		irqfd_unmask(c, irqfd_mask(c));
		run_guest(c);
	}
	settle_and_check(c, &before, "mask/unmask, no signal");
}

/* A signal while unmasked gets its interrupt, and nothing follows. */
static void step_signal_unmasked(struct irqfd_ctx *c)
{
	const struct irq_snap before = irq_snap(c);

	signal_irq(c);
	settle_and_check(c, &before, "signal while unmasked");
	check_resamples(c, &before, "signal while unmasked");
}

/*
 * Signals while masked inject nothing until the unmask, then at least one
 * interrupt, no more than the signals.
 */
static void step_signal_masked(struct irqfd_ctx *c, int nr_signals)
{
	const struct irq_snap before = irq_snap(c);
	u64 masked_seq = irqfd_mask(c);
	int i;

	for (i = 0; i < nr_signals; i++)
		signal_irq(c);
	for (i = 0; i < MASKED_RUNS; i++)
		run_guest(c);
	TEST_ASSERT(READ_ONCE(c->guest->irqs) == before.irqs,
		    "%d signals while masked: the guest took %lu interrupts before the unmask",
		    nr_signals, READ_ONCE(c->guest->irqs) - before.irqs);

	irqfd_unmask(c, masked_seq);
	settle_and_check(c, &before, "signals while masked");
	check_resamples(c, &before, "signals while masked");
}

/*
 * A signal right before a mask, before the guest could run: the interrupt
 * may come during the mask or after the unmask, but it must come.
 */
static void step_signal_then_mask(struct irqfd_ctx *c)
{
	const struct irq_snap before = irq_snap(c);

	signal_irq(c);
	irqfd_unmask(c, irqfd_mask(c));
	settle_and_check(c, &before, "signal, then mask/unmask");
	check_resamples(c, &before, "signal, then mask/unmask");
}

/* Each contract point in turn, with the vCPU stopped while the host acts. */
TEST_F_TIMEOUT(irqfd_mask, step_by_step, 60)
{
	struct irqfd_ctx *c = &self->c;

	step_mask_unmask_idle(c);
	step_signal_unmasked(c);
	step_signal_masked(c, 1);
	step_signal_masked(c, 3);
	step_signal_then_mask(c);
	step_mask_unmask_idle(c);
}

/* One round of the concurrent test: what each host thread does. */
struct round {
	struct irqfd_ctx *c;
	int nr_signals;
	int nr_masks;
	unsigned int signal_seed;
	unsigned int mask_seed;
	unsigned int vcpu_seed;
	int threads_done;
};

/* Vary the gaps between operations, from none to a couple of milliseconds. */
static void random_delay(unsigned int *seed)
{
	switch (rand_r(seed) % 4) {
	case 0:
		break;
	case 1:
		sched_yield();
		break;
	case 2:
		usleep(rand_r(seed) % 200);
		break;
	default:
		usleep(rand_r(seed) % 2000);
		break;
	}
}

static void *signaller(void *arg)
{
	struct round *r = arg;
	int i;

	for (i = 0; i < r->nr_signals; i++) {
		random_delay(&r->signal_seed);
		signal_irq(r->c);
	}
	__atomic_add_fetch(&r->threads_done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* Leave the irqfd assigned, as every quiescent point wants it. */
static void *masker(void *arg)
{
	struct round *r = arg;
	u64 masked_seq;
	int i;

	for (i = 0; i < r->nr_masks; i++) {
		random_delay(&r->mask_seed);
		masked_seq = irqfd_mask(r->c);
		random_delay(&r->mask_seed);
		irqfd_unmask(r->c, masked_seq);
	}
	__atomic_add_fetch(&r->threads_done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* A quarter of the rounds signal nothing, a quarter once, the rest more. */
static int random_nr_signals(unsigned int *seed)
{
	switch (rand_r(seed) % 4) {
	case 0:
		return 0;
	case 1:
		return 1;
	default:
		return 2 + rand_r(seed) % (MAX_SIGNALS - 1);
	}
}

/* Let the vCPU take interrupts while the signaller and masker run. */
static void run_round(struct irqfd_ctx *c, struct round *r)
{
	pthread_t threads[2];
	int i;

	TEST_ASSERT(!pthread_create(&threads[0], NULL, signaller, r), "pthread_create() failed");
	TEST_ASSERT(!pthread_create(&threads[1], NULL, masker, r), "pthread_create() failed");

	random_delay(&r->vcpu_seed);
	while (__atomic_load_n(&r->threads_done, __ATOMIC_SEQ_CST) < 2)
		run_guest(c);

	for (i = 0; i < 2; i++)
		TEST_ASSERT(!pthread_join(threads[i], NULL), "pthread_join() failed");
}

/*
 * Signal while another thread masks and unmasks, in rounds, the guest taking
 * interrupts all along.  At the end of each round, check the interrupts
 * against the signals and that a lone signal still gets its interrupt.
 */
TEST_F_TIMEOUT(irqfd_mask, concurrent, 120)
{
	struct irqfd_ctx *c = &self->c;
	unsigned int seed = time(NULL) ^ getpid();
	u64 signals = 0, irqs = 0, masks = 0;
	struct irq_snap before;
	struct timespec start;
	char step[64];
	int round;

	ksft_print_msg("seed %u\n", seed);
	clock_gettime(CLOCK_MONOTONIC, &start);

	for (round = 0; round < MAX_ROUNDS && ms_since(&start) < ROUNDS_MS; round++) {
		struct round r = {
			.c = c,
			.nr_signals = random_nr_signals(&seed),
			.nr_masks = 1 + rand_r(&seed) % MAX_MASKS,
			.signal_seed = rand_r(&seed),
			.mask_seed = rand_r(&seed),
			.vcpu_seed = rand_r(&seed),
		};

		before = irq_snap(c);
		run_round(c, &r);
		snprintf(step, sizeof(step), "round %d (%d signals, %d masks)",
			 round, r.nr_signals, r.nr_masks);
		irqs += settle_and_check(c, &before, step);
		signals += READ_ONCE(c->guest->seq) - before.seq;
		masks += r.nr_masks;

		step_signal_unmasked(c);
	}

	ksft_print_msg("%d rounds in %ld ms: %lu signals, %lu interrupts, %lu masks\n",
		       round, ms_since(&start), signals, irqs, masks);
}

/* Wait, without running the guest, for the interrupt to be pending. */
static bool wait_irr(struct irqfd_ctx *c)
{
	struct timespec start;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (irq_pending(c))
			return true;
		if (ms_since(&start) > WAIT_MS)
			return false;
		usleep(100);
	}
}

/*
 * Mask while the guest takes and EOIs an interrupt that is already pending:
 * a resampling irqfd's line is still asserted then, and must not raise an
 * interrupt again once the guest EOIs, whether or not the irqfd is gone.
 */
TEST_F_TIMEOUT(irqfd_mask, mask_during_eoi, 120)
{
	struct irqfd_ctx *c = &self->c;
	unsigned int seed = time(NULL) ^ getpid();
	struct irq_snap before;
	struct timespec start;
	char step[64];
	int i;

	ksft_print_msg("seed %u\n", seed);
	clock_gettime(CLOCK_MONOTONIC, &start);

	for (i = 0; i < MAX_ROUNDS && ms_since(&start) < ROUNDS_MS; i++) {
		struct round r = {
			.c = c,
			.nr_masks = 1,
			.mask_seed = rand_r(&seed),
			.vcpu_seed = rand_r(&seed),
		};

		before = irq_snap(c);
		signal_irq(c);
		TEST_ASSERT(wait_irr(c), "mask during EOI %d: no interrupt pending after %d ms",
			    i, WAIT_MS);
		run_round(c, &r);
		snprintf(step, sizeof(step), "mask during EOI %d", i);
		settle_and_check(c, &before, step);
	}

	ksft_print_msg("%d masks during an EOI in %ld ms\n", i, ms_since(&start));
}

int main(int argc, char *argv[])
{
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_IRQ_ROUTING));
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_IRQFD));
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_IRQFD_RESAMPLE));

	return test_harness_run(argc, argv);
}
