// SPDX-License-Identifier: GPL-2.0-only
/*
 * An ioregionfd device that emulates only part of its region, as a
 * vfio-user device that serves some registers of a BAR does, answers the
 * other accesses with IOREGIONFD_RESP_UNHANDLED.  KVM must then return each
 * such access to userspace as the ordinary KVM_EXIT_MMIO or KVM_EXIT_IO,
 * and the guest must see userspace's answer; for string I/O, the elements
 * before the declined one stay the device's.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <linux/ioregion.h>
#include <linux/sizes.h>

#include "guest_io.h"
#include "ioregion_device.h"
#include "kvm_test_harness.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

/* Outside every memslot, identity mapped. */
#define MMIO_GPA		(4ull * SZ_1G)
#define MMIO_SIZE		0x100
/* The device's registers are below this offset; userspace has the rest. */
#define DEV_PART		0x80
/* A read here gets a status that no kernel knows. */
#define BAD_STATUS_OFFSET	0xf8
#define BAD_STATUS		0x7

#define PORT			0x6000
#define PORT_SIZE		0x10

#define DEV_VAL			0x1122334455667788ull
#define VMM_VAL			0x99aabbccddeeff00ull
#define DEV_BYTE(n)		(0xd0 + (n))
#define VMM_BYTE(n)		(0xa0 + (n))
#define STRING_COUNT		4

static struct {
	int kvm_fd;
	int fd;
	pthread_t thread;
	int ret;
	/* PIO commands the device still takes before it declines the rest. */
	atomic_int pio_take;
	atomic_int declined;
	atomic_int served;
	u8 out_bytes[STRING_COUNT];
} dev;

static u8 string_buf[STRING_COUNT];

static void guest_code(void)
{
	u8 out[STRING_COUNT] = { 1, 2, 3, 4 };
	void *ptr;
	u64 count;

	/* The device's register, and then userspace's. */
	guest_mmio_write(MMIO_GPA + 8, 8, DEV_VAL);
	GUEST_ASSERT_EQ(guest_mmio_read(MMIO_GPA + 8, 8), DEV_VAL);
	GUEST_SYNC(1);
	GUEST_ASSERT_EQ(guest_mmio_read(MMIO_GPA + DEV_PART, 8), VMM_VAL);
	guest_mmio_write(MMIO_GPA + DEV_PART + 4, 4, (u32)DEV_VAL);
	GUEST_SYNC(2);

	/* The device takes two elements, userspace the other two. */
	ptr = string_buf;
	count = STRING_COUNT;
	asm volatile("cld; rep insb" : "+D"(ptr), "+c"(count) : "d"(PORT) : "memory");
	GUEST_SYNC(3);

	/* The device takes one element, userspace the other three. */
	ptr = out;
	count = STRING_COUNT;
	asm volatile("cld; rep outsb" : "+S"(ptr), "+c"(count) : "d"(PORT) : "memory");
	GUEST_SYNC(4);

	GUEST_ASSERT_EQ(guest_mmio_read(MMIO_GPA + BAD_STATUS_OFFSET, 4), (u32)VMM_VAL);
	GUEST_DONE();
}

static int dev_answer(const struct ioregionfd_cmd *cmd, u64 *regs)
{
	bool pio = cmd->user_data == PORT;
	int n;

	if (!pio && cmd->offset == BAD_STATUS_OFFSET)
		return ioregion_device_send_status(dev.fd, 0, BAD_STATUS);

	if (pio ? atomic_fetch_sub(&dev.pio_take, 1) <= 0 : cmd->offset >= DEV_PART) {
		atomic_fetch_add(&dev.declined, 1);
		return ioregion_device_send_status(dev.fd, 0, IOREGIONFD_RESP_UNHANDLED);
	}

	n = atomic_fetch_add(&dev.served, 1);
	if (pio) {
		if (cmd->cmd == IOREGIONFD_CMD_WRITE)
			dev.out_bytes[n % STRING_COUNT] = cmd->data;
		return ioregion_device_send_resp(dev.fd, DEV_BYTE(n));
	}

	if (cmd->cmd == IOREGIONFD_CMD_WRITE)
		regs[cmd->offset / 8] = cmd->data;
	return ioregion_device_send_resp(dev.fd, regs[cmd->offset / 8]);
}

static void *dev_thread(void *arg)
{
	u64 regs[MMIO_SIZE / 8] = {};
	struct ioregionfd_cmd cmd;

	for (;;) {
		dev.ret = ioregion_device_recv_cmd(dev.fd, &cmd);
		if (dev.ret) {
			if (dev.ret == -EPIPE)
				dev.ret = 0;
			return NULL;
		}
		dev.ret = dev_answer(&cmd, regs);
		if (dev.ret)
			return NULL;
	}
}

static void region_set(struct kvm_vm *vm, u64 addr, u64 size, u32 flags)
{
	struct kvm_ioregion args = {
		.guest_paddr = addr,
		.memory_size = size,
		.user_data = flags & KVM_IOREGION_PIO ? PORT : MMIO_GPA,
		.read_fd = dev.kvm_fd,
		.write_fd = dev.kvm_fd,
		.flags = flags,
	};

	vm_set_ioregion(vm, &args);
}

static void run_exit(struct kvm_vcpu *vcpu, u32 reason)
{
	char buf[160];

	vcpu_run(vcpu);
	TEST_ASSERT(vcpu->run->exit_reason == reason &&
		    (reason != KVM_EXIT_IO || vcpu->run->io.port != UCALL_PIO_PORT),
		    "Expected %s, got %s", exit_reason_str(reason),
		    describe_io_exit(vcpu, buf, sizeof(buf)));
}

static void run_sync(struct kvm_vcpu *vcpu, u64 stage)
{
	struct ucall uc;

	vcpu_run(vcpu);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_SYNC:
		TEST_ASSERT_EQ(uc.args[1], stage);
		break;
	case UCALL_DONE:
		TEST_ASSERT(stage == UINT64_MAX, "Done at stage %lu", stage);
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	default:
		TEST_FAIL("Expected stage %lu, got exit %s", stage,
			  exit_reason_str(vcpu->run->exit_reason));
	}
}

static void expect_mmio(struct kvm_vcpu *vcpu, u64 offset, u32 len, bool write, u64 val)
{
	struct kvm_run *run = vcpu->run;
	u64 data = 0;

	run_exit(vcpu, KVM_EXIT_MMIO);
	TEST_ASSERT(run->mmio.phys_addr == MMIO_GPA + offset && run->mmio.len == len &&
		    run->mmio.is_write == write,
		    "Expected an MMIO %s of %u bytes at 0x%llx, got one of %u bytes at 0x%llx",
		    write ? "write" : "read", len, MMIO_GPA + offset, run->mmio.len,
		    run->mmio.phys_addr);
	if (write) {
		memcpy(&data, run->mmio.data, len);
		TEST_ASSERT_EQ(data, val);
	} else {
		memcpy(run->mmio.data, &val, len);
	}
}

static u8 *expect_pio(struct kvm_vcpu *vcpu, u8 direction, u32 count)
{
	struct kvm_run *run = vcpu->run;

	run_exit(vcpu, KVM_EXIT_IO);
	TEST_ASSERT(run->io.port == PORT && run->io.direction == direction &&
		    run->io.size == 1 && run->io.count == count,
		    "Expected %u elements of PIO %s at 0x%x, got %u of %s at 0x%x",
		    count, direction == KVM_EXIT_IO_IN ? "in" : "out", PORT, run->io.count,
		    run->io.direction == KVM_EXIT_IO_IN ? "in" : "out", run->io.port);
	return (u8 *)run + run->io.data_offset;
}

FIXTURE(unhandled) {
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
};

FIXTURE_SETUP(unhandled)
{
	int sv[2];

	TEST_REQUIRE(kvm_has_cap(KVM_CAP_IOREGIONFD));

	self->vm = vm_create_with_one_vcpu(&self->vcpu, guest_code);
	virt_map(self->vm, MMIO_GPA, MMIO_GPA, 1);
	TEST_ASSERT(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
		    "socketpair() failed, errno = %d", errno);
	dev.kvm_fd = sv[0];
	dev.fd = sv[1];
	TEST_ASSERT(!pthread_create(&dev.thread, NULL, dev_thread, NULL),
		    "pthread_create() failed");
	region_set(self->vm, MMIO_GPA, MMIO_SIZE, 0);
	region_set(self->vm, PORT, PORT_SIZE, KVM_IOREGION_PIO);
}

FIXTURE_TEARDOWN(unhandled)
{
	kvm_vm_free(self->vm);
	shutdown(dev.fd, SHUT_RDWR);
	pthread_join(dev.thread, NULL);
	close(dev.fd);
	close(dev.kvm_fd);
}

TEST_F(unhandled, partial_device)
{
	struct kvm_vcpu *vcpu = self->vcpu;
	u8 *data;
	int i;

	run_sync(vcpu, 1);
	TEST_ASSERT_EQ(atomic_load(&dev.declined), 0);
	TEST_ASSERT_EQ(atomic_load(&dev.served), 2);

	expect_mmio(vcpu, DEV_PART, 8, false, VMM_VAL);
	expect_mmio(vcpu, DEV_PART + 4, 4, true, (u32)DEV_VAL);
	run_sync(vcpu, 2);
	TEST_ASSERT_EQ(atomic_load(&dev.declined), 2);

	atomic_store(&dev.served, 0);
	atomic_store(&dev.pio_take, 2);
	data = expect_pio(vcpu, KVM_EXIT_IO_IN, STRING_COUNT - 2);
	for (i = 0; i < STRING_COUNT - 2; i++)
		data[i] = VMM_BYTE(i);
	run_sync(vcpu, 3);
	sync_global_from_guest(self->vm, string_buf);
	for (i = 0; i < STRING_COUNT; i++)
		TEST_ASSERT(string_buf[i] == (i < 2 ? DEV_BYTE(i) : VMM_BYTE(i - 2)),
			    "rep insb element %d is 0x%x", i, string_buf[i]);
	TEST_ASSERT_EQ(atomic_load(&dev.declined), 3);

	/* KVM emulates OUTS one element per exit: each goes to the device first. */
	atomic_store(&dev.served, 0);
	atomic_store(&dev.pio_take, 1);
	for (i = 1; i < STRING_COUNT; i++) {
		data = expect_pio(vcpu, KVM_EXIT_IO_OUT, 1);
		TEST_ASSERT(data[0] == i + 1, "rep outsb element %d is 0x%x", i, data[0]);
	}
	run_sync(vcpu, 4);
	TEST_ASSERT_EQ(dev.out_bytes[0], 1);
	TEST_ASSERT_EQ(atomic_load(&dev.served), 1);
	TEST_ASSERT_EQ(atomic_load(&dev.declined), 3 + STRING_COUNT - 1);

	/* A status no kernel knows is a protocol error, not a decline. */
	run_exit(vcpu, KVM_EXIT_IOREGIONFD_FAILURE);
	TEST_ASSERT_EQ(vcpu->run->ioregionfd.error, EPROTO);
	TEST_ASSERT_EQ(vcpu->run->ioregionfd.addr, MMIO_GPA + BAD_STATUS_OFFSET);
	vcpu->run->ioregionfd.data = (u32)VMM_VAL;
	run_sync(vcpu, UINT64_MAX);
	TEST_ASSERT_EQ(dev.ret, 0);
}

TEST_HARNESS_MAIN
