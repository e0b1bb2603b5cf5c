// SPDX-License-Identifier: GPL-2.0-only
/*
 * The lifetime of a VM whose ioregionfd sockets carry its own fd: KVM holds
 * the sockets, and a socket that holds the VM's fd in its receive queue,
 * sent there with SCM_RIGHTS, would keep the VM alive for good once
 * userspace closes everything, since the AF_UNIX garbage collector cannot
 * see KVM's reference.  Each cycle case builds such a cycle in a loop and checks
 * that every VM's debugfs directory goes away.  A round waits for its VM
 * before the next one, whose fd then has the same number: a directory left
 * behind would otherwise make the next VM's creation skip its own.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <linux/ioregion.h>

#include "ioregion_device.h"
#include "kselftest_harness.h"
#include "kvm_util.h"
#include "test_util.h"
#include "ucall_common.h"

#define NR_ROUNDS	16
#define REGION_GPA	0x10000000ull
#define REGION_SIZE	0x1000ull

/* Seconds to wait for the VMs to go; the release runs from workqueues. */
#define RELEASE_TIMEOUT	20

/* Milliseconds to wait for a command that must come. */
#define CMD_TIMEOUT_MS	10000

/* NR_ROUNDS VMs a case: the debug kernel on a loaded host needs minutes. */
#define CASE_TIMEOUT	300

static void guest_read(void)
{
	GUEST_SYNC(READ_ONCE(*(u64 *)REGION_GPA));
	GUEST_DONE();
}

/* The number of VMs of this process that still have a debugfs directory. */
static int count_vms(void)
{
	char prefix[32];
	struct dirent *de;
	int n = 0;
	DIR *dir;

	dir = opendir("/sys/kernel/debug/kvm");
	if (!dir)
		return -1;

	snprintf(prefix, sizeof(prefix), "%d-", getpid());
	while ((de = readdir(dir)))
		n += !strncmp(de->d_name, prefix, strlen(prefix));
	closedir(dir);
	return n;
}

/* Send @len bytes of @buf with @nr fds attached. */
static void send_with_fds(int sock, const void *buf, size_t len, const int *fds, int nr)
{
	char cbuf[CMSG_SPACE(sizeof(int) * 4)] = {};
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = CMSG_SPACE(sizeof(int) * nr),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nr);
	memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nr);
	TEST_ASSERT(sendmsg(sock, &msg, 0) == len, "sendmsg(SCM_RIGHTS) failed, errno = %d",
		    errno);
}

/* One byte, to carry @nr fds. */
static void send_fds(int sock, const int *fds, int nr)
{
	char byte = 'k';

	send_with_fds(sock, &byte, 1, fds, nr);
}

static void add_region(struct kvm_vm *vm, int read_fd, int write_fd)
{
	struct kvm_ioregion args = {
		.guest_paddr = REGION_GPA,
		.memory_size = REGION_SIZE,
		.read_fd = read_fd,
		.write_fd = write_fd,
	};

	vm_set_ioregion(vm, &args);
}

/* Close the VM's own fds, leaving the one in flight. */
static void drop_vm(struct kvm_vm *vm)
{
	kvm_vm_free(vm);
}

static void wait_for_vms(struct __test_metadata *_metadata, int before, int round)
{
	time_t end = time(NULL) + RELEASE_TIMEOUT;
	int n;

	while ((n = count_vms()) > before && time(NULL) < end)
		usleep(10000);
	ASSERT_EQ(n, before) {
		TH_LOG("the VM of round %d was not freed within %d s", round, RELEASE_TIMEOUT);
	}
}

FIXTURE(lifetime) {
	int before;
};

FIXTURE_SETUP(lifetime)
{
	if (!kvm_has_cap(KVM_CAP_IOREGIONFD))
		SKIP(return, "KVM_CAP_IOREGIONFD is not available");
	self->before = count_vms();
	if (self->before < 0)
		SKIP(return, "debugfs is not mounted at /sys/kernel/debug");
}

FIXTURE_TEARDOWN(lifetime)
{
}

/* The VM's fd sits in the receive queue of the socket that serves it. */
TEST_F_TIMEOUT(lifetime, vm_fd_in_read_fd, CASE_TIMEOUT)
{
	int i, sv[2];

	for (i = 0; i < NR_ROUNDS; i++) {
		struct kvm_vm *vm = vm_create_barebones();

		ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		add_region(vm, sv[0], sv[0]);
		send_fds(sv[1], &vm->fd, 1);
		close(sv[0]);
		close(sv[1]);
		drop_vm(vm);
		wait_for_vms(_metadata, self->before, i);
	}
}

/*
 * The peer's fd travels with the VM's, so that the peer is never closed
 * and the socket never sees a hang-up.
 */
TEST_F_TIMEOUT(lifetime, vm_and_peer_fds_in_read_fd, CASE_TIMEOUT)
{
	int i, sv[2];

	for (i = 0; i < NR_ROUNDS; i++) {
		struct kvm_vm *vm = vm_create_barebones();
		int fds[2];

		ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		add_region(vm, sv[0], sv[0]);
		fds[0] = vm->fd;
		fds[1] = sv[1];
		send_fds(sv[1], fds, 2);
		close(sv[0]);
		close(sv[1]);
		drop_vm(vm);
		wait_for_vms(_metadata, self->before, i);
	}
}

/* The socket KVM only writes commands to is the one holding the VM. */
TEST_F_TIMEOUT(lifetime, vm_fd_in_write_fd, CASE_TIMEOUT)
{
	int i, cmd[2], resp[2];

	for (i = 0; i < NR_ROUNDS; i++) {
		struct kvm_vm *vm = vm_create_barebones();
		int fds[2];

		ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, cmd), 0);
		ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, resp), 0);
		add_region(vm, resp[0], cmd[0]);
		fds[0] = vm->fd;
		fds[1] = cmd[1];
		send_fds(cmd[1], fds, 2);
		close(cmd[0]);
		close(cmd[1]);
		close(resp[0]);
		close(resp[1]);
		drop_vm(vm);
		wait_for_vms(_metadata, self->before, i);
	}
}

/* The control: the same cycle without a region is the AF_UNIX GC's. */
TEST_F_TIMEOUT(lifetime, no_region, CASE_TIMEOUT)
{
	int i, sv[2];

	for (i = 0; i < NR_ROUNDS; i++) {
		struct kvm_vm *vm = vm_create_barebones();

		ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		send_fds(sv[1], &vm->fd, 1);
		close(sv[0]);
		close(sv[1]);
		drop_vm(vm);
		wait_for_vms(_metadata, self->before, i);
	}
}

static struct kvm_vm *reader_vm(struct kvm_vcpu **vcpu, int sock, u64 user_data)
{
	struct kvm_vm *vm = vm_create_with_one_vcpu(vcpu, guest_read);
	struct kvm_ioregion args = {
		.guest_paddr = REGION_GPA,
		.memory_size = REGION_SIZE,
		.user_data = user_data,
		.read_fd = sock,
		.write_fd = sock,
	};

	virt_map(vm, REGION_GPA, REGION_GPA, 1);
	vm_set_ioregion(vm, &args);
	return vm;
}

/* Take the next command from the device's end, or fail within a bound. */
static void take_cmd(struct __test_metadata *_metadata, int dev, u64 user_data)
{
	struct pollfd pfd = { .fd = dev, .events = POLLIN };
	struct ioregionfd_cmd cmd;

	ASSERT_EQ(poll(&pfd, 1, CMD_TIMEOUT_MS), 1) {
		TH_LOG("no command for user_data 0x%lx within %d ms", user_data, CMD_TIMEOUT_MS);
	}
	ASSERT_EQ(ioregion_device_recv_cmd(dev, &cmd), 0);
	ASSERT_EQ(cmd.user_data, user_data);
	ASSERT_EQ(cmd.cmd, IOREGIONFD_CMD_READ);
}

struct run_arg {
	struct kvm_vcpu *vcpu;
	u64 value;
	int ret;
	int err;
	/* Run as SCHED_IDLE, on the CPU of the thread that plays the device. */
	bool idle;
	cpu_set_t cpus;
};

static void *run_reader(void *arg)
{
	struct run_arg *ra = arg;
	struct sched_param param = {};
	struct ucall uc;

	if (ra->idle) {
		TEST_ASSERT(!sched_setaffinity(0, sizeof(ra->cpus), &ra->cpus),
			    "sched_setaffinity() failed");
		TEST_ASSERT(!sched_setscheduler(0, SCHED_IDLE, &param),
			    "sched_setscheduler(SCHED_IDLE) failed");
	}
	ra->ret = __vcpu_run(ra->vcpu);
	ra->err = errno;
	if (!ra->ret && get_ucall(ra->vcpu, &uc) == UCALL_SYNC)
		ra->value = uc.args[1];
	return NULL;
}

static int recv_fd(int sock)
{
	char buf[CMSG_SPACE(sizeof(int))] = {};
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = buf,
		.msg_controllen = sizeof(buf),
	};
	int fd;

	if (recvmsg(sock, &msg, 0) != 1 || !CMSG_FIRSTHDR(&msg))
		return -1;
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&msg)), sizeof(fd));
	return fd;
}

/*
 * A vCPU killed while it waits for its response, in a VM that lives on
 * because another process holds its fd, must not keep the shared socket
 * from a second VM, and the answer to its command must not reach that VM.
 */
TEST_F_TIMEOUT(lifetime, killed_vcpu_of_a_live_vm, CASE_TIMEOUT)
{
	struct kvm_vcpu *vcpu1, *vcpu2;
	struct run_arg ra = {};
	int sv[2], ctl[2], status, vm1_fd;
	struct kvm_vm *vm2;
	pthread_t thread;
	pid_t child;

	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, ctl), 0);

	/* KVM serves a VM only to the process that created it. */
	child = fork();
	ASSERT_GE(child, 0);
	if (!child) {
		struct kvm_vm *vm1 = reader_vm(&vcpu1, sv[0], 1);

		send_fds(ctl[1], &vm1->fd, 1);
		vcpu_run(vcpu1);
		_exit(1);
	}

	vm1_fd = recv_fd(ctl[0]);
	ASSERT_GE(vm1_fd, 0);
	/* The child waits for this response until it is killed. */
	take_cmd(_metadata, sv[1], 1);
	kill(child, SIGKILL);
	ASSERT_EQ(waitpid(child, &status, 0), child);
	ASSERT_TRUE(WIFSIGNALED(status));

	vm2 = reader_vm(&vcpu2, sv[0], 2);
	ra.vcpu = vcpu2;
	ASSERT_EQ(pthread_create(&thread, NULL, run_reader, &ra), 0);
	/* The dead vCPU's answer comes first on the stream, then VM 2's. */
	ASSERT_EQ(ioregion_device_send_resp(sv[1], 0x1111), 0);
	take_cmd(_metadata, sv[1], 2);
	ASSERT_EQ(ioregion_device_send_resp(sv[1], 0x2222), 0);
	ASSERT_EQ(pthread_join(thread, NULL), 0);

	ASSERT_EQ(ra.ret, 0);
	ASSERT_EQ(ra.value, 0x2222) {
		TH_LOG("VM 2 read 0x%lx, the stream is out of step", ra.value);
	}

	kvm_vm_free(vm2);
	close(vm1_fd);
	close(ctl[0]);
	close(ctl[1]);
	close(sv[0]);
	close(sv[1]);
}

static void on_signal(int sig)
{
}

/*
 * Stop a vCPU with a signal while it waits for its response on @sv[0], so
 * that it returns to userspace with the access pending and still owns the
 * stream.
 */
static struct kvm_vm *interrupted_reader(struct __test_metadata *_metadata, const int *sv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct run_arg ra = {};
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	pthread_t thread;

	TEST_ASSERT(!sigaction(SIGUSR1, &sa, NULL), "sigaction() failed");
	vm = reader_vm(&vcpu, sv[0], 1);
	ra.vcpu = vcpu;
	TEST_ASSERT(!pthread_create(&thread, NULL, run_reader, &ra), "pthread_create() failed");
	take_cmd(_metadata, sv[1], 1);
	TEST_ASSERT(!pthread_kill(thread, SIGUSR1), "pthread_kill() failed");
	TEST_ASSERT(!pthread_join(thread, NULL), "pthread_join() failed");
	TEST_ASSERT(ra.ret == -1 && ra.err == EINTR &&
		    vcpu->run->exit_reason == KVM_EXIT_IOREGIONFD_PENDING,
		    "KVM_RUN returned %d, exit %s", ra.ret,
		    exit_reason_str(vcpu->run->exit_reason));
	return vm;
}

/*
 * The VM's fd rides in the response to a vCPU that a signal took out of
 * KVM_RUN, and userspace closes everything without running it again.
 */
TEST_F_TIMEOUT(lifetime, vm_fd_in_the_response_of_an_interrupted_read, CASE_TIMEOUT)
{
	struct ioregionfd_resp resp = { .data = 0x1234 };
	int i, sv[2];

	for (i = 0; i < NR_ROUNDS; i++) {
		struct kvm_vm *vm;

		ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		vm = interrupted_reader(_metadata, sv);
		send_with_fds(sv[1], &resp, sizeof(resp), &vm->fd, 1);
		close(sv[0]);
		close(sv[1]);
		drop_vm(vm);
		wait_for_vms(_metadata, self->before, i);
	}
}

/* The same, with the VM's fd in data that follows the whole response. */
TEST_F_TIMEOUT(lifetime, vm_fd_after_the_response_of_an_interrupted_read, CASE_TIMEOUT)
{
	char byte = 'k';
	int i, sv[2];

	for (i = 0; i < NR_ROUNDS; i++) {
		struct kvm_vm *vm;

		ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		vm = interrupted_reader(_metadata, sv);
		ASSERT_EQ(ioregion_device_send_resp(sv[1], 0x1234), 0);
		send_with_fds(sv[1], &byte, 1, &vm->fd, 1);
		close(sv[0]);
		close(sv[1]);
		drop_vm(vm);
		wait_for_vms(_metadata, self->before, i);
	}
}

/*
 * A running vCPU takes its response while data nobody asked for, with the
 * VM's fd, queues up behind it.  The vCPU is SCHED_IDLE on the device's
 * CPU, so that the response does not let it run before the rest is sent.
 */
TEST_F_TIMEOUT(lifetime, vm_fd_behind_a_response, CASE_TIMEOUT)
{
	int i, sv[2], fds[2];
	cpu_set_t saved;
	char byte = 'k';

	ASSERT_EQ(sched_getaffinity(0, sizeof(saved), &saved), 0);
	for (i = 0; i < NR_ROUNDS; i++) {
		struct run_arg ra = { .idle = true };
		struct kvm_vcpu *vcpu;
		struct kvm_vm *vm;
		pthread_t thread;

		CPU_ZERO(&ra.cpus);
		CPU_SET(sched_getcpu(), &ra.cpus);
		ASSERT_EQ(sched_setaffinity(0, sizeof(ra.cpus), &ra.cpus), 0);
		ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		vm = reader_vm(&vcpu, sv[0], 1);
		ra.vcpu = vcpu;
		ASSERT_EQ(pthread_create(&thread, NULL, run_reader, &ra), 0);
		take_cmd(_metadata, sv[1], 1);
		ASSERT_EQ(ioregion_device_send_resp(sv[1], 0x1234), 0);
		/* The peer travels too, so that KVM's end sees no hang-up. */
		fds[0] = vm->fd;
		fds[1] = sv[1];
		send_with_fds(sv[1], &byte, 1, fds, 2);
		ASSERT_EQ(pthread_join(thread, NULL), 0);
		ASSERT_EQ(ra.ret, 0);
		ASSERT_EQ(ra.value, 0x1234);
		ASSERT_EQ(sched_setaffinity(0, sizeof(saved), &saved), 0);
		close(sv[0]);
		close(sv[1]);
		drop_vm(vm);
		wait_for_vms(_metadata, self->before, i);
	}
}

TEST_HARNESS_MAIN
