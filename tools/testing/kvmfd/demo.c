// SPDX-License-Identifier: GPL-2.0-only
/*
 * The demo that `make` runs in the VM: a guest doorbell write signals an
 * eventfd without leaving KVM_RUN, and a write the eventfd does not match
 * exits to userspace as before.
 */
#include <sys/eventfd.h>
#include <unistd.h>

#include "kvm_util.h"
#include "processor.h"
#include "ucall_common.h"

#define DEMO_PORT	0x3000
#define DEMO_MATCH	0xa5

static void guest_outb(uint16_t port, uint8_t value)
{
	__asm__ __volatile__("outb %%al, %%dx" : : "d"(port), "a"(value));
}

static void guest_code(void)
{
	guest_outb(DEMO_PORT, 0);
	guest_outb(DEMO_PORT, DEMO_MATCH);
	guest_outb(DEMO_PORT, 0x42);
	GUEST_DONE();
}

static uint64_t eventfd_count(int fd)
{
	uint64_t count = 0;

	/* The eventfd is non-blocking: EAGAIN means it was never signalled. */
	if (read(fd, &count, sizeof(count)) != sizeof(count))
		return 0;
	return count;
}

int main(void)
{
	struct kvm_ioeventfd args = {
		.addr = DEMO_PORT,
		.len = 1,
		.datamatch = DEMO_MATCH,
		.flags = KVM_IOEVENTFD_FLAG_PIO | KVM_IOEVENTFD_FLAG_DATAMATCH,
	};
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	uint64_t count;
	int exits = 0;
	struct ucall uc;
	int fd;

	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	fd = eventfd(0, EFD_NONBLOCK);
	TEST_ASSERT(fd >= 0, "eventfd() failed");
	args.fd = fd;
	vm_ioctl(vm, KVM_IOEVENTFD, &args);

	printf("demo: ioeventfd on port %#x matches %#x; the guest writes 0, %#x, 0x42\n",
	       DEMO_PORT, DEMO_MATCH, DEMO_MATCH);
	for (;;) {
		struct kvm_run *run = vcpu->run;

		vcpu_run(vcpu);
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_NONE:
			TEST_ASSERT(run->exit_reason == KVM_EXIT_IO &&
				    run->io.port == DEMO_PORT,
				    "unexpected exit %s", exit_reason_str(run->exit_reason));
			printf("demo: KVM_EXIT_IO to userspace: port %#x value %#x\n",
			       run->io.port, *((uint8_t *)run + run->io.data_offset));
			exits++;
			break;
		case UCALL_DONE:
			goto done;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
		default:
			TEST_FAIL("unexpected ucall %lu", uc.cmd);
		}
	}
done:
	count = eventfd_count(fd);
	printf("demo: eventfd count %lu (expected 1), exits to userspace %d (expected 2)\n",
	       count, exits);
	TEST_ASSERT(count == 1 && exits == 2, "the demo did not behave as expected");
	close(fd);
	kvm_vm_free(vm);
	return 0;
}
