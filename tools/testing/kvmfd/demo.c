// SPDX-License-Identifier: GPL-2.0-only
/*
 * The demo that `make` runs in the VM.
 *
 * 1. ioeventfd groups, the 2009 iosignalfd scenario: on one 1-byte port,
 *    fd0 is a wildcard, fd1 matches 0xa5 and fd2 matches 0x42.  The guest
 *    writes 0, 0xa5 and 0x42 without leaving KVM_RUN, and the counts are
 *    3, 1 and 1.
 * 2. ioregionfd: the guest reads and writes a register file that a device
 *    thread serves over a socketpair, and rings its doorbell with posted
 *    writes, again without leaving KVM_RUN.
 */
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ioregion_device.h"
#include "kvm_util.h"
#include "processor.h"
#include "ucall_common.h"

#define DEMO_PORT	0x3000
#define DEMO_GPA	(4ull << 30)
/* The register file's last register is its doorbell, with posted writes. */
#define DEMO_DOORBELL	(DEMO_GPA + IOREGION_REGFILE_DOORBELL)

static const u8 demo_writes[] = { 0, 0xa5, 0x42 };

static void guest_outb(u16 port, u8 value)
{
	__asm__ __volatile__("outb %%al, %%dx" : : "d"(port), "a"(value));
}

static void guest_code(void)
{
	u64 *regs = (u64 *)DEMO_GPA;
	int i;

	for (i = 0; i < ARRAY_SIZE(demo_writes); i++)
		guest_outb(DEMO_PORT, demo_writes[i]);
	GUEST_SYNC(1);

	for (i = 0; i < 4; i++)
		WRITE_ONCE(regs[i], 0x1111111111111111ull * (i + 1));
	for (i = 0; i < 4; i++)
		GUEST_ASSERT_EQ(READ_ONCE(regs[i]), 0x1111111111111111ull * (i + 1));
	for (i = 0; i < 3; i++)
		WRITE_ONCE(*(u32 *)DEMO_DOORBELL, i);
	/* The doorbell reads as its number of writes: none got lost. */
	GUEST_ASSERT_EQ(READ_ONCE(*(u64 *)DEMO_DOORBELL), 3);
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

static void assign(struct kvm_vm *vm, int fd, bool match, u64 value)
{
	struct kvm_ioeventfd args = {
		.addr = DEMO_PORT,
		.len = 1,
		.fd = fd,
		.datamatch = value,
		.flags = KVM_IOEVENTFD_FLAG_PIO | (match ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0),
	};

	vm_ioctl(vm, KVM_IOEVENTFD, &args);
}

static void run_until(struct kvm_vcpu *vcpu, uint64_t cmd)
{
	struct ucall uc;

	vcpu_run(vcpu);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
	case UCALL_NONE:
		TEST_FAIL("the guest left KVM_RUN: %s", exit_reason_str(vcpu->run->exit_reason));
	default:
		TEST_ASSERT(uc.cmd == cmd, "unexpected ucall %lu", uc.cmd);
	}
}

static void demo_ioeventfd(struct kvm_vcpu *vcpu)
{
	u64 count[3];
	int fd[3], i;

	for (i = 0; i < 3; i++) {
		fd[i] = eventfd(0, EFD_NONBLOCK);
		TEST_ASSERT(fd[i] >= 0, "eventfd() failed");
	}
	assign(vcpu->vm, fd[0], false, 0);
	assign(vcpu->vm, fd[1], true, 0xa5);
	assign(vcpu->vm, fd[2], true, 0x42);

	printf("demo: port %#x: fd0 wildcard, fd1 matches 0xa5, fd2 matches 0x42\n", DEMO_PORT);
	printf("demo: the guest writes 0, 0xa5, 0x42\n");
	run_until(vcpu, UCALL_SYNC);

	for (i = 0; i < 3; i++) {
		count[i] = eventfd_count(fd[i]);
		close(fd[i]);
	}
	printf("demo: counts fd0=%lu fd1=%lu fd2=%lu (expected 3 1 1), no exit to userspace\n",
	       count[0], count[1], count[2]);
	TEST_ASSERT(count[0] == 3 && count[1] == 1 && count[2] == 1,
		    "the ioeventfd demo did not behave as expected");
}

/* Regions pass their offset in the register file as user_data. */
static u64 demo_handler(void *opaque, const struct ioregionfd_cmd *cmd)
{
	struct ioregionfd_cmd in_file = *cmd;

	in_file.offset += cmd->user_data;
	return ioregion_regfile_access(opaque, &in_file);
}

static struct ioregion_regfile regfile;
static int device_fd;

static void *device_thread(void *arg)
{
	int ret = ioregion_device_serve(device_fd, device_fd, demo_handler, &regfile);

	TEST_ASSERT(!ret, "the device failed, errno = %d", -ret);
	return NULL;
}

static void demo_ioregionfd(struct kvm_vcpu *vcpu)
{
	struct kvm_ioregion region = {
		.guest_paddr = DEMO_GPA,
		.memory_size = IOREGION_REGFILE_DOORBELL,
	};
	pthread_t thread;
	int sv[2];

	if (!kvm_has_cap(KVM_CAP_IOREGIONFD)) {
		printf("demo: KVM_CAP_IOREGIONFD is missing, skipping ioregionfd\n");
		return;
	}

	TEST_ASSERT(!socketpair(AF_UNIX, SOCK_STREAM, 0, sv), "socketpair() failed");
	region.read_fd = sv[0];
	region.write_fd = sv[0];
	vm_set_ioregion(vcpu->vm, &region);

	region.guest_paddr = DEMO_DOORBELL;
	region.memory_size = 8;
	region.user_data = IOREGION_REGFILE_DOORBELL;
	region.flags = KVM_IOREGION_POSTED_WRITES;
	vm_set_ioregion(vcpu->vm, &region);
	/* KVM holds its own reference; closing ours lets the device see EOF. */
	close(sv[0]);

	ioregion_regfile_init(&regfile);
	device_fd = sv[1];
	TEST_ASSERT(!pthread_create(&thread, NULL, device_thread, NULL), "pthread_create() failed");
	printf("demo: ioregionfd: a register file at %#llx served by a device thread,\n"
	       "demo: its doorbell at %#llx takes posted writes\n", DEMO_GPA, DEMO_DOORBELL);
	run_until(vcpu, UCALL_DONE);
	kvm_vm_free(vcpu->vm);
	pthread_join(thread, NULL);
	close(sv[1]);

	printf("demo: the device saw %lu reads, %lu writes, %lu doorbells (expected 5 7 3),\n"
	       "demo: registers %#lx %#lx %#lx %#lx, no exit to userspace\n",
	       regfile.reads, regfile.writes, regfile.doorbells, regfile.regs[0],
	       regfile.regs[1], regfile.regs[2], regfile.regs[3]);
	TEST_ASSERT(regfile.reads == 5 && regfile.writes == 7 && regfile.doorbells == 3 &&
		    !regfile.bad, "the ioregionfd demo did not behave as expected");
}

int main(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	TEST_REQUIRE(kvm_has_cap(KVM_CAP_IOEVENTFD_GROUPS));

	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	virt_map(vm, DEMO_GPA, DEMO_GPA, 1);

	demo_ioeventfd(vcpu);
	/* Frees the VM, so that the device sees its fds close. */
	demo_ioregionfd(vcpu);
	printf("demo: done\n");
	return 0;
}
