// SPDX-License-Identifier: GPL-2.0-only
/*
 * The tracepoints of ioeventfd groups and ioregionfd, read through tracefs:
 * the guest drives each event, and the host checks every field of every
 * event it produced, in order.  A user must be able to tell from them alone
 * why an access went to userspace: an ioeventfd miss, a device that handed
 * the access back, or a device failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Outside every memslot, identity mapped. */
#define MMIO_GPA		(4ull * SZ_1G)
#define REGION_GPA		(MMIO_GPA + PAGE_SIZE)
#define REGION_SIZE		0x100
#define POSTED_GPA		(MMIO_GPA + 2 * PAGE_SIZE)
#define PORT			0x6100

#define REGION_USER_DATA	0xfeedull
#define POSTED_USER_DATA	0xbeefull
#define DEV_VAL			0x1234
#define DECLINED_OFFSET		0x80

#define MAX_EVENTS		16
#define TRACE_SIZE		SZ_1M

static const char * const events[] = {
	"kvm_ioeventfd_write", "kvm_ioregionfd_send", "kvm_ioregionfd_resp",
	"kvm_ioregionfd_fail",
};

static char tracefs[64];

static void trace_write(const char *file, const char *val)
{
	char path[160];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tracefs, file);
	fd = open(path, O_WRONLY | O_TRUNC);
	TEST_ASSERT(fd >= 0, "open(%s) failed, errno = %d", path, errno);
	TEST_ASSERT(write(fd, val, strlen(val)) == strlen(val), "write(%s) failed", path);
	close(fd);
}

/* Find tracefs; a kernel with the feature must have the events too. */
static void trace_start(void)
{
	static const char * const dirs[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	char path[160];
	int i;

	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(path, sizeof(path), "%s/events/kvm", dirs[i]);
		if (!access(path, F_OK))
			break;
	}
	__TEST_REQUIRE(i < ARRAY_SIZE(dirs), "tracefs with KVM events is not mounted");
	snprintf(tracefs, sizeof(tracefs), "%s", dirs[i]);

	trace_write("tracing_on", "0");
	for (i = 0; i < ARRAY_SIZE(events); i++) {
		snprintf(path, sizeof(path), "events/kvm/%s/enable", events[i]);
		trace_write(path, "1");
	}
	trace_write("trace", "");
	trace_write("tracing_on", "1");
}

/* Stop tracing; return the events of this test, each from its name on. */
static int trace_stop(char **lines)
{
	char path[160], *buf, *line, *save, *event;
	ssize_t len, ret;
	int fd, i, n = 0;

	trace_write("tracing_on", "0");
	for (i = 0; i < ARRAY_SIZE(events); i++) {
		snprintf(path, sizeof(path), "events/kvm/%s/enable", events[i]);
		trace_write(path, "0");
	}

	snprintf(path, sizeof(path), "%s/trace", tracefs);
	fd = open(path, O_RDONLY);
	TEST_ASSERT(fd >= 0, "open(%s) failed, errno = %d", path, errno);
	buf = calloc(1, TRACE_SIZE);
	for (len = 0; (ret = read(fd, buf + len, TRACE_SIZE - 1 - len)) > 0; len += ret)
		;
	close(fd);

	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		event = strstr(line, ": kvm_io");
		if (line[0] == '#' || !event)
			continue;
		TEST_ASSERT(n < MAX_EVENTS, "More than %d events", MAX_EVENTS);
		lines[n++] = strdup(event + 2);
	}
	free(buf);
	return n;
}

static void assert_events(char **got, int n, char **want, int nr_want)
{
	int i;

	for (i = 0; i < n; i++)
		ksft_print_msg("event %d: %s\n", i, got[i]);
	TEST_ASSERT(n == nr_want, "Expected %d events, got %d", nr_want, n);
	for (i = 0; i < n; i++) {
		TEST_ASSERT(!strcmp(got[i], want[i]), "Event %d:\n  got  %s\n  want %s",
			    i, got[i], want[i]);
		free(got[i]);
		free(want[i]);
	}
}

static void run_sync(struct kvm_vcpu *vcpu, u64 want)
{
	struct ucall uc;

	vcpu_run(vcpu);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_SYNC:
	case UCALL_DONE:
		TEST_ASSERT_EQ(uc.cmd, want);
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	default:
		TEST_FAIL("Unexpected exit %s", exit_reason_str(vcpu->run->exit_reason));
	}
}

static void guest_ioeventfd(void)
{
	guest_mmio_write(MMIO_GPA, 4, 1);
	guest_mmio_write(MMIO_GPA, 4, 2);
	guest_pio_write(PORT, 2, 7);
	GUEST_DONE();
}

static void vm_ioeventfd(struct kvm_vm *vm, u64 addr, u32 len, int fd, u32 flags, u64 match)
{
	struct kvm_ioeventfd args = {
		.datamatch = match, .addr = addr, .len = len, .fd = fd, .flags = flags,
	};

	vm_ioctl(vm, KVM_IOEVENTFD, &args);
}

/* A data-match hit with a wildcard beside it, a wildcard hit, and a miss. */
TEST(ioeventfd_write)
{
	int match_fd = eventfd(0, EFD_NONBLOCK), wild_fd = eventfd(0, EFD_NONBLOCK);
	char *got[MAX_EVENTS], *want[3];
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;

	TEST_REQUIRE(kvm_has_cap(KVM_CAP_IOEVENTFD_GROUPS));
	vm = vm_create_with_one_vcpu(&vcpu, guest_ioeventfd);
	virt_map(vm, MMIO_GPA, MMIO_GPA, 1);
	vm_ioeventfd(vm, MMIO_GPA, 4, match_fd, KVM_IOEVENTFD_FLAG_DATAMATCH, 1);
	vm_ioeventfd(vm, MMIO_GPA, 4, wild_fd, 0, 0);
	vm_ioeventfd(vm, PORT, 2, match_fd,
		     KVM_IOEVENTFD_FLAG_DATAMATCH | KVM_IOEVENTFD_FLAG_PIO, 5);

	trace_start();
	vcpu_run(vcpu);
	TEST_ASSERT(vcpu->run->exit_reason == KVM_EXIT_IO && vcpu->run->io.port == PORT,
		    "The missed PIO write did not exit to userspace");
	run_sync(vcpu, UCALL_DONE);

	TEST_ASSERT_EQ(eventfd_count(match_fd), 1);
	TEST_ASSERT_EQ(eventfd_count(wild_fd), 2);
	want[0] = strdup("kvm_ioeventfd_write: mmio addr 0x100000000 len 4 val 0x1 signalled 2");
	want[1] = strdup("kvm_ioeventfd_write: mmio addr 0x100000000 len 4 val 0x2 signalled 1");
	want[2] = strdup("kvm_ioeventfd_write: pio addr 0x6100 len 2 val 0x7 signalled 0 miss");
	assert_events(got, trace_stop(got), want, 3);

	kvm_vm_free(vm);
	close(match_fd);
	close(wild_fd);
}

static void guest_ioregionfd(void)
{
	GUEST_ASSERT_EQ(guest_mmio_read(REGION_GPA + 0x10, 8), DEV_VAL);
	guest_mmio_write(REGION_GPA + 0x20, 4, 0x55);
	GUEST_ASSERT_EQ(guest_mmio_read(REGION_GPA + DECLINED_OFFSET, 2), 0x6666);
	guest_mmio_write(POSTED_GPA, 4, 0x77);
	GUEST_SYNC(0);
	GUEST_ASSERT_EQ(guest_mmio_read(REGION_GPA + 0x8, 8), 0x99);
	GUEST_DONE();
}

static int dev_fd;

static char *ior_event(const char *event, u64 user_data, const char *rest)
{
	char *str;

	TEST_ASSERT(asprintf(&str, "kvm_ioregionfd_%s: user_data 0x%lx %s", event, user_data,
			     rest) > 0, "asprintf() failed");
	return str;
}

static void *dev_thread(void *arg)
{
	struct ioregionfd_cmd cmd;
	u32 status;

	while (!ioregion_device_recv_cmd(dev_fd, &cmd)) {
		if (!(cmd.flags & IOREGIONFD_CMD_RESP))
			continue;
		status = cmd.offset == DECLINED_OFFSET ? IOREGIONFD_RESP_UNHANDLED : 0;
		if (ioregion_device_send_status(dev_fd, status ? 0 : DEV_VAL, status))
			break;
	}
	return NULL;
}

static void vm_ioregion(struct kvm_vm *vm, int fd, u64 gpa, u64 size, u64 user_data)
{
	struct kvm_ioregion args = {
		.guest_paddr = gpa, .memory_size = size, .user_data = user_data,
		.read_fd = size ? fd : -1, .write_fd = fd,
		.flags = size ? 0 : KVM_IOREGION_POSTED_WRITES,
	};

	vm_set_ioregion(vm, &args);
}

/* A read, a write, a declined read and a posted write, then a failure. */
TEST(ioregionfd)
{
	char *got[MAX_EVENTS], *want[8], fail[64];
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	pthread_t thread;
	u32 error;
	u64 *data;
	int sv[2];

	TEST_REQUIRE(kvm_has_cap(KVM_CAP_IOREGIONFD));
	vm = vm_create_with_one_vcpu(&vcpu, guest_ioregionfd);
	virt_map(vm, MMIO_GPA, MMIO_GPA, 3);
	TEST_ASSERT(!socketpair(AF_UNIX, SOCK_STREAM, 0, sv), "socketpair() failed");
	dev_fd = sv[1];
	pthread_create(&thread, NULL, dev_thread, NULL);
	vm_ioregion(vm, sv[0], REGION_GPA, REGION_SIZE, REGION_USER_DATA);
	vm_ioregion(vm, sv[0], POSTED_GPA, 0, POSTED_USER_DATA);

	trace_start();
	vcpu_run(vcpu);
	TEST_ASSERT(vcpu->run->exit_reason == KVM_EXIT_MMIO &&
		    vcpu->run->mmio.phys_addr == REGION_GPA + DECLINED_OFFSET,
		    "The declined read did not exit to userspace");
	data = (u64 *)vcpu->run->mmio.data;
	*data = 0x6666;
	run_sync(vcpu, UCALL_SYNC);

	/* The device goes away: the next access fails. */
	shutdown(sv[1], SHUT_RDWR);
	pthread_join(thread, NULL);
	vcpu_run(vcpu);
	TEST_ASSERT_EQ(vcpu->run->exit_reason, KVM_EXIT_IOREGIONFD_FAILURE);
	error = vcpu->run->ioregionfd.error;
	vcpu->run->ioregionfd.data = 0x99;
	run_sync(vcpu, UCALL_DONE);

	want[0] = ior_event("send", REGION_USER_DATA, "offset 0x10 size 8 read data 0x0");
	want[1] = ior_event("resp", REGION_USER_DATA, "offset 0x10 size 8 data 0x1234 status done");
	want[2] = ior_event("send", REGION_USER_DATA, "offset 0x20 size 4 write data 0x55");
	want[3] = ior_event("resp", REGION_USER_DATA, "offset 0x20 size 4 data 0x1234 status done");
	want[4] = ior_event("send", REGION_USER_DATA, "offset 0x80 size 2 read data 0x0");
	want[5] = ior_event("resp", REGION_USER_DATA,
			    "offset 0x80 size 2 data 0x0 status unhandled");
	want[6] = ior_event("send", POSTED_USER_DATA, "offset 0x0 size 4 posted-write data 0x77");
	snprintf(fail, sizeof(fail), "offset 0x8 size 8 read error %u", error);
	want[7] = ior_event("fail", REGION_USER_DATA, fail);
	assert_events(got, trace_stop(got), want, 8);

	kvm_vm_free(vm);
	close(sv[0]);
	close(sv[1]);
}

TEST_HARNESS_MAIN
