// SPDX-License-Identifier: GPL-2.0-only
/*
 * The lifetime of a VM whose ioregionfd sockets carry its own fd: KVM holds
 * the sockets, and a socket that holds the VM's fd in its receive queue,
 * sent there with SCM_RIGHTS, would keep the VM alive for good once
 * userspace closes everything, since the AF_UNIX garbage collector cannot
 * see KVM's reference.  Each case builds such a cycle in a loop and checks
 * that every VM's debugfs directory goes away.  A round waits for its VM
 * before the next one, whose fd then has the same number: a directory left
 * behind would otherwise make the next VM's creation skip its own.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include <linux/ioregion.h>

#include "ioregion_device.h"
#include "kselftest_harness.h"
#include "kvm_util.h"
#include "test_util.h"

#define NR_ROUNDS	16
#define REGION_GPA	0x10000000ull
#define REGION_SIZE	0x1000ull

/* Seconds to wait for the VMs to go; the release runs from workqueues. */
#define RELEASE_TIMEOUT	20

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

static void send_fds(int sock, const int *fds, int nr)
{
	char buf[CMSG_SPACE(sizeof(int) * 4)] = {};
	char byte = 'k';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = buf,
		.msg_controllen = CMSG_SPACE(sizeof(int) * nr),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nr);
	memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nr);
	TEST_ASSERT(sendmsg(sock, &msg, 0) == 1, "sendmsg(SCM_RIGHTS) failed, errno = %d", errno);
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
TEST_F(lifetime, vm_fd_in_read_fd)
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
TEST_F(lifetime, vm_and_peer_fds_in_read_fd)
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
TEST_F(lifetime, vm_fd_in_write_fd)
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
TEST_F(lifetime, no_region)
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

TEST_HARNESS_MAIN
