// SPDX-License-Identifier: GPL-2.0-only
/*
 * ioregionfd MMIO on every architecture that has it: plain guest loads and
 * stores of 1, 2, 4 and 8 bytes to a region must reach its device, and
 * never userspace; a signal, a failed device and a device that declines an
 * access must each reach userspace as api.rst says.  The instruction forms
 * that only x86 has are tested in x86_64/ioregionfd_forms_test.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
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
#ifdef __aarch64__
#include "gic.h"
#include "vgic.h"
#endif

/* Outside every memslot, identity mapped. */
#define REGION_GPA		(4ull * SZ_1G)
#define REGION_SIZE		IOREGION_REGFILE_SIZE
/* A wildcard ioeventfd inside the region, on a register of its own. */
#define DOORBELL_OFFSET		0x40
#define NR_DOORBELLS		5
#define VMM_VAL			0x5a5a5a5a5a5a5a5aull

enum dev_mode {
	/* Serve the register file. */
	DEV_SERVE,
	/* Take a command, then wait for the test's go before answering it. */
	DEV_HOLD,
	/* Decline every access with IOREGIONFD_RESP_UNHANDLED. */
	DEV_DECLINE,
	/* Close the socket on the first command, without an answer. */
	DEV_CLOSE,
};

static struct {
	int kvm_fd;
	int fd;
	pthread_t thread;
	enum dev_mode mode;
	struct ioregion_regfile rf;
	sem_t taken;
	sem_t go;
	atomic_int cmds;
	int ret;
} dev;

/* Every size, at a register of its own: the device must see each store. */
static void guest_sizes(void)
{
	u64 val = 0x0123456789abcdefull;
	int size, reg = 2;

	for (size = 1; size <= 8; size *= 2, reg++) {
		guest_mmio_write(REGION_GPA + reg * 8, size, val);
		GUEST_ASSERT_EQ(guest_mmio_read(REGION_GPA + reg * 8, size),
				val & ioregion_size_mask(size));
		GUEST_ASSERT_EQ(guest_mmio_read(REGION_GPA + reg * 8, 8),
				val & ioregion_size_mask(size));
	}
	GUEST_DONE();
}

/* Posted writes, then a read that the device must answer after them. */
static void guest_posted(void)
{
	int i;

	for (i = 0; i < 10; i++)
		guest_mmio_write(REGION_GPA + IOREGION_REGFILE_DOORBELL, 4, i);
	GUEST_ASSERT_EQ(guest_mmio_read(REGION_GPA + IOREGION_REGFILE_DOORBELL, 8), 10);
	GUEST_DONE();
}

/* One read whose value the test chooses, by device or by userspace. */
static void guest_one_read(void)
{
	GUEST_ASSERT_EQ(guest_mmio_read(REGION_GPA + 8, 8), VMM_VAL);
	GUEST_DONE();
}

static void guest_doorbells(void)
{
	int i;

	for (i = 0; i < NR_DOORBELLS; i++)
		guest_mmio_write(REGION_GPA + DOORBELL_OFFSET, 4, i);
	guest_mmio_write(REGION_GPA + 8, 8, VMM_VAL);
	GUEST_ASSERT_EQ(guest_mmio_read(REGION_GPA + 8, 8), VMM_VAL);
	GUEST_DONE();
}

static int dev_answer(const struct ioregionfd_cmd *cmd)
{
	u64 val = ioregion_regfile_access(&dev.rf, cmd);

	switch (dev.mode) {
	case DEV_HOLD:
		sem_post(&dev.taken);
		sem_wait(&dev.go);
		break;
	case DEV_DECLINE:
		return ioregion_device_send_status(dev.fd, 0, IOREGIONFD_RESP_UNHANDLED);
	case DEV_CLOSE:
		close(dev.fd);
		dev.fd = -1;
		return -EPIPE;
	default:
		break;
	}
	if (!(cmd->flags & IOREGIONFD_CMD_RESP))
		return 0;
	return ioregion_device_send_resp(dev.fd, val);
}

static void *dev_thread(void *arg)
{
	struct ioregionfd_cmd cmd;

	for (;;) {
		dev.ret = ioregion_device_recv_cmd(dev.fd, &cmd);
		if (dev.ret)
			break;
		atomic_fetch_add(&dev.cmds, 1);
		dev.ret = dev_answer(&cmd);
		if (dev.ret)
			break;
	}
	/* End of file and our own close are how the device is meant to stop. */
	if (dev.ret == -EPIPE)
		dev.ret = 0;
	return NULL;
}

static void region_set(struct kvm_vm *vm, u32 flags)
{
	struct kvm_ioregion args = {
		.guest_paddr = REGION_GPA,
		.memory_size = REGION_SIZE,
		.user_data = REGION_GPA,
		.read_fd = dev.kvm_fd,
		.write_fd = dev.kvm_fd,
		.flags = flags,
	};

	vm_set_ioregion(vm, &args);
}

/* Run to the next ucall; any other exit, e.g. an MMIO exit, fails. */
static u64 run_ucall(struct kvm_vcpu *vcpu)
{
	struct ucall uc;
	char buf[160];

	vcpu_run(vcpu);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_SYNC:
	case UCALL_DONE:
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	default:
		TEST_FAIL("Unexpected exit: %s", describe_io_exit(vcpu, buf, sizeof(buf)));
	}
	return uc.cmd;
}

static void sigusr1_handler(int sig)
{
}

/* Signal @arg, a pthread_t *, once the device holds a command. */
static void *signaller(void *arg)
{
	sem_wait(&dev.taken);
	pthread_kill(*(pthread_t *)arg, SIGUSR1);
	return NULL;
}

FIXTURE(mmio) {
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
};

FIXTURE_SETUP(mmio)
{
	if (!kvm_has_cap(KVM_CAP_IOREGIONFD))
		SKIP(return, "KVM_CAP_IOREGIONFD not supported");
	self->vm = NULL;
	dev.fd = -1;
}

FIXTURE_TEARDOWN(mmio)
{
	if (!self->vm)
		return;
	kvm_vm_free(self->vm);
	if (dev.fd >= 0)
		shutdown(dev.fd, SHUT_RDWR);
	pthread_join(dev.thread, NULL);
	if (dev.fd >= 0)
		close(dev.fd);
	close(dev.kvm_fd);
	sem_destroy(&dev.taken);
	sem_destroy(&dev.go);
}

/* A VM whose vCPU runs @guest, and a device in @mode behind the region. */
static struct kvm_vm *region_vm_create(struct kvm_vcpu **vcpu, void (*guest)(void),
				       enum dev_mode mode, u32 flags)
{
	struct sigaction sa = { .sa_handler = sigusr1_handler };
	struct kvm_vm *vm = vm_create_with_one_vcpu(vcpu, guest);
	int sv[2];

	virt_map(vm, REGION_GPA, REGION_GPA, 1);
	TEST_ASSERT(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
		    "socketpair() failed, errno = %d", errno);
	dev.kvm_fd = sv[0];
	dev.fd = sv[1];
	dev.mode = mode;
	dev.ret = 0;
	atomic_store(&dev.cmds, 0);
	ioregion_regfile_init(&dev.rf);
	dev.rf.regs[1] = VMM_VAL;
	sem_init(&dev.taken, 0, 0);
	sem_init(&dev.go, 0, 0);
	/* No SA_RESTART: the signal must make KVM_RUN return. */
	TEST_ASSERT(!sigaction(SIGUSR1, &sa, NULL), "sigaction() failed");
	TEST_ASSERT(!pthread_create(&dev.thread, NULL, dev_thread, NULL),
		    "pthread_create() failed");
	region_set(vm, flags);
	return vm;
}

TEST_F(mmio, sizes)
{
	self->vm = region_vm_create(&self->vcpu, guest_sizes, DEV_SERVE, 0);
	TEST_ASSERT_EQ(run_ucall(self->vcpu), UCALL_DONE);
	/* A write and two reads for each of the four sizes. */
	TEST_ASSERT_EQ(atomic_load(&dev.cmds), 12);
	TEST_ASSERT_EQ(dev.rf.bad, 0);
	TEST_ASSERT_EQ(dev.ret, 0);
}

TEST_F(mmio, posted_writes)
{
	self->vm = region_vm_create(&self->vcpu, guest_posted, DEV_SERVE,
				    KVM_IOREGION_POSTED_WRITES);
	TEST_ASSERT_EQ(run_ucall(self->vcpu), UCALL_DONE);
	TEST_ASSERT_EQ(dev.rf.doorbells, 10);
	TEST_ASSERT_EQ(atomic_load(&dev.cmds), 11);
	TEST_ASSERT_EQ(dev.ret, 0);
}

/*
 * A signal while the device holds a read makes KVM_RUN return -EINTR with
 * the access pending; KVM_RUN with immediate_exit then drains it without
 * sending its command again, and the guest gets the device's value.
 */
TEST_F(mmio, signal_then_drain)
{
	struct kvm_run *run;
	pthread_t self_thread = pthread_self(), sig_thread;
	int ret;

	self->vm = region_vm_create(&self->vcpu, guest_one_read, DEV_HOLD, 0);
	run = self->vcpu->run;
	TEST_ASSERT(!pthread_create(&sig_thread, NULL, signaller, &self_thread),
		    "pthread_create() failed");

	ret = __vcpu_run(self->vcpu);
	TEST_ASSERT(ret == -1 && errno == EINTR,
		    "KVM_RUN returned %d, errno %d, while the device held the read", ret, errno);
	pthread_join(sig_thread, NULL);
	TEST_ASSERT(run->exit_reason == KVM_EXIT_IOREGIONFD_PENDING,
		    "Expected KVM_EXIT_IOREGIONFD_PENDING, got %s",
		    exit_reason_str(run->exit_reason));
	TEST_ASSERT_EQ(run->ioregionfd.addr, REGION_GPA + 8);
	TEST_ASSERT_EQ(run->ioregionfd.len, 8);
	TEST_ASSERT_EQ(run->ioregionfd.error, EINTR);

	dev.mode = DEV_SERVE;
	sem_post(&dev.go);
	run->immediate_exit = 1;
	ret = __vcpu_run(self->vcpu);
	TEST_ASSERT(ret == -1 && errno == EINTR && run->exit_reason != KVM_EXIT_IOREGIONFD_PENDING,
		    "Draining returned %d, errno %d, exit %s", ret, errno,
		    exit_reason_str(run->exit_reason));
	run->immediate_exit = 0;

	TEST_ASSERT_EQ(run_ucall(self->vcpu), UCALL_DONE);
	TEST_ASSERT_EQ(atomic_load(&dev.cmds), 1);
	TEST_ASSERT_EQ(dev.ret, 0);
}

/* A declined read comes to userspace as the plain MMIO exit. */
TEST_F(mmio, declined)
{
	struct kvm_run *run;

	self->vm = region_vm_create(&self->vcpu, guest_one_read, DEV_DECLINE, 0);
	run = self->vcpu->run;
	vcpu_run(self->vcpu);
	TEST_ASSERT(run->exit_reason == KVM_EXIT_MMIO && run->mmio.phys_addr == REGION_GPA + 8 &&
		    run->mmio.len == 8 && !run->mmio.is_write,
		    "Expected an MMIO read of 8 bytes at 0x%llx, got exit %s at 0x%llx",
		    REGION_GPA + 8, exit_reason_str(run->exit_reason), run->mmio.phys_addr);
	memcpy(run->mmio.data, &(u64){ VMM_VAL }, 8);
	TEST_ASSERT_EQ(run_ucall(self->vcpu), UCALL_DONE);
	TEST_ASSERT_EQ(atomic_load(&dev.cmds), 1);
	TEST_ASSERT_EQ(dev.ret, 0);
}

/* A device that closes its end fails the access; userspace completes it. */
TEST_F(mmio, device_closed)
{
	struct kvm_run *run;

	self->vm = region_vm_create(&self->vcpu, guest_one_read, DEV_CLOSE, 0);
	run = self->vcpu->run;
	vcpu_run(self->vcpu);
	TEST_ASSERT(run->exit_reason == KVM_EXIT_IOREGIONFD_FAILURE,
		    "Expected KVM_EXIT_IOREGIONFD_FAILURE, got %s",
		    exit_reason_str(run->exit_reason));
	TEST_ASSERT_EQ(run->ioregionfd.addr, REGION_GPA + 8);
	TEST_ASSERT_EQ(run->ioregionfd.len, 8);
	TEST_ASSERT_EQ(run->ioregionfd.user_data, REGION_GPA);
	TEST_ASSERT_EQ(run->ioregionfd.flags, 0);
	TEST_ASSERT_EQ(run->ioregionfd.error, EPIPE);
	run->ioregionfd.data = VMM_VAL;
	TEST_ASSERT_EQ(run_ucall(self->vcpu), UCALL_DONE);
	TEST_ASSERT_EQ(dev.ret, 0);
}

/* Writes that an ioeventfd in the region takes never reach the device. */
TEST_F(mmio, ioeventfd_in_region)
{
	struct kvm_ioeventfd ioeventfd = {
		.addr = REGION_GPA + DOORBELL_OFFSET,
		.len = 4,
	};
	eventfd_t count;

	self->vm = region_vm_create(&self->vcpu, guest_doorbells, DEV_SERVE, 0);
	ioeventfd.fd = eventfd(0, EFD_CLOEXEC);
	TEST_ASSERT(ioeventfd.fd >= 0, "eventfd() failed, errno = %d", errno);
	vm_ioctl(self->vm, KVM_IOEVENTFD, &ioeventfd);
	TEST_ASSERT_EQ(run_ucall(self->vcpu), UCALL_DONE);
	TEST_ASSERT(!eventfd_read(ioeventfd.fd, &count), "eventfd_read() failed");
	TEST_ASSERT_EQ(count, NR_DOORBELLS);
	/* Only the write and the read of register 1. */
	TEST_ASSERT_EQ(atomic_load(&dev.cmds), 2);
	TEST_ASSERT_EQ(dev.rf.regs[DOORBELL_OFFSET / 8], 0);
	close(ioeventfd.fd);
}

/* Port I/O regions exist only where KVM exits with KVM_EXIT_IO. */
TEST(pio_flag)
{
	struct kvm_ioregion args = {
		.guest_paddr = 0x6000,
		.memory_size = 8,
		.flags = KVM_IOREGION_PIO,
	};
	struct kvm_vm *vm;
	int sv[2], ret;

	if (!kvm_has_cap(KVM_CAP_IOREGIONFD))
		SKIP(return, "KVM_CAP_IOREGIONFD not supported");
	vm = vm_create_barebones();
	TEST_ASSERT(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
		    "socketpair() failed, errno = %d", errno);
	args.read_fd = sv[0];
	args.write_fd = sv[0];
	ret = __vm_set_ioregion(vm, &args);
#ifdef __x86_64__
	TEST_ASSERT(!ret, "KVM_IOREGION_PIO refused on x86, errno = %d", errno);
#else
	TEST_ASSERT(ret == -1 && errno == EINVAL,
		    "KVM_IOREGION_PIO gave %d, errno = %d; expected EINVAL", ret, errno);
#endif
	kvm_vm_free(vm);
	close(sv[0]);
	close(sv[1]);
}

#ifdef __aarch64__
static void guest_done(void)
{
	GUEST_DONE();
}

/* A VM with a vGICv3 whose vCPU runs @guest, or NULL without GICv3. */
static struct kvm_vm *vm_create_with_vgic(struct kvm_vcpu **vcpu, void (*guest)(void), int *gic)
{
	struct kvm_vm *vm = vm_create_with_one_vcpu(vcpu, guest);

	*gic = vgic_v3_setup(vm, 1, 64);
	if (*gic < 0) {
		kvm_vm_free(vm);
		return NULL;
	}
	return vm;
}

/*
 * The vGIC's distributor joins the MMIO bus at the first KVM_RUN.  Over a
 * region that KVM_RUN fails with EEXIST, and the VM is dead, as after any
 * failure to map the vGIC; once the distributor is there, a region over it
 * is refused with EEXIST.
 */
TEST(vgic_overlap)
{
	struct kvm_ioregion args = {
		.guest_paddr = GICD_BASE_GPA + 0x1000,
		.memory_size = 8,
	};
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int sv[2], gic, ret;

	if (!kvm_has_cap(KVM_CAP_IOREGIONFD))
		SKIP(return, "KVM_CAP_IOREGIONFD not supported");
	TEST_ASSERT(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
		    "socketpair() failed, errno = %d", errno);
	args.read_fd = sv[0];
	args.write_fd = sv[0];

	vm = vm_create_with_vgic(&vcpu, guest_done, &gic);
	if (!vm)
		SKIP(return, "No GICv3");
	vm_set_ioregion(vm, &args);
	ret = __vcpu_run(vcpu);
	TEST_ASSERT(ret == -1 && errno == EEXIST,
		    "KVM_RUN with a region over the distributor gave %d, errno %d", ret, errno);
	args.flags = KVM_IOREGION_DEASSIGN;
	ret = __vm_set_ioregion(vm, &args);
	TEST_ASSERT(ret == -1 && errno == EIO, "The VM lives on: deassign gave %d, errno %d",
		    ret, errno);
	args.flags = 0;
	close(gic);
	/* kvm_vm_free() would delete the memslots of the dead VM, and fail. */
	kvm_vm_release(vm);

	vm = vm_create_with_vgic(&vcpu, guest_done, &gic);
	TEST_ASSERT_EQ(run_ucall(vcpu), UCALL_DONE);
	ret = __vm_set_ioregion(vm, &args);
	TEST_ASSERT(ret == -1 && errno == EEXIST,
		    "KVM_SET_IOREGION over the distributor gave %d, errno %d", ret, errno);
	close(gic);
	kvm_vm_free(vm);
	close(sv[0]);
	close(sv[1]);
}
#endif

TEST_HARNESS_MAIN
