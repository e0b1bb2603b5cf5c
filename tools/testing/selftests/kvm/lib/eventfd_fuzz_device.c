// SPDX-License-Identifier: GPL-2.0-only
/*
 * eventfd_fuzz_test's fds, and the device thread that serves its ioregions
 * over AF_UNIX stream sockets: it records the commands and answers those
 * that want a response when they come, never before, since KVM takes data
 * that nobody asked for as a protocol error.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "eventfd_fuzz.h"
#include "ioregion_device.h"
#include "test_util.h"

/* Far above the fds the test opens, so that no open() reuses it. */
#define CLOSED_FD_MIN		500

static const int cmd_queues[] = { Q_P1, Q_Q1, Q_S1 };
static const int resp_queues[] = { Q_P0, Q_Q0, Q_S0 };

#define NR_CMD_QUEUES		ARRAY_SIZE(cmd_queues)

/* What KVM finds behind each kind of fd, the index of fz->fds. */
const struct fz_fd_info fz_fd_kinds[NR_FDS] = {
	/*                   name             efd  bad     stream  rq     wq */
	[FD_EFD0]       = { "eventfd0",       0,   false,  false,  -1,    -1 },
	[FD_EFD1]       = { "eventfd1",       1,   false,  false,  -1,    -1 },
	[FD_EFD2]       = { "eventfd2",       2,   false,  false,  -1,    -1 },
	[FD_EFD0_DUP]   = { "dup(eventfd0)",  0,   false,  false,  -1,    -1 },
	[FD_P0]         = { "P[0]",           -1,  false,  true,   Q_P0,  Q_P1 },
	[FD_P1]         = { "P[1]",           -1,  false,  true,   Q_P1,  Q_P0 },
	[FD_Q0]         = { "Q[0]",           -1,  false,  true,   Q_Q0,  Q_Q1 },
	[FD_Q1]         = { "Q[1]",           -1,  false,  true,   Q_Q1,  Q_Q0 },
	[FD_S0]         = { "S[0]",           -1,  false,  true,   Q_S0,  Q_S1 },
	[FD_S1]         = { "S[1]",           -1,  false,  true,   Q_S1,  Q_S0 },
	[FD_PIPE0]      = { "pipe[0]",        -1,  false,  false,  -1,    -1 },
	[FD_PIPE1]      = { "pipe[1]",        -1,  false,  false,  -1,    -1 },
	[FD_DGRAM]      = { "SOCK_DGRAM",     -1,  false,  false,  -1,    -1 },
	[FD_SEQPACKET]  = { "SOCK_SEQPACKET", -1,  false,  false,  -1,    -1 },
	[FD_UNCONNECTED] = { "unconnected",   -1,  false,  false,  -1,    -1 },
	[FD_LISTENING]  = { "listening",      -1,  false,  false,  -1,    -1 },
	[FD_OPATH]      = { "O_PATH",         -1,  true,   false,  -1,    -1 },
	[FD_CLOSED]     = { "closed",         -1,  true,   false,  -1,    -1 },
	[FD_NONE]       = { "-1",             -1,  true,   false,  -1,    -1 },
};

/* The ends the test uses to fill and to drain each queue: the peer and the end itself. */
static const int queue_fill[NR_QUEUES] = { FD_P1, FD_P0, FD_Q1, FD_Q0, FD_S1, FD_S0 };
static const int queue_drain[NR_QUEUES] = { FD_P0, FD_P1, FD_Q0, FD_Q1, FD_S0, FD_S1 };

/* An AF_UNIX stream socket bound to an abstract address and listening. */
static int fz_listening_socket(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	/* An address of just the family autobinds to a free abstract name. */
	TEST_ASSERT(fd >= 0 && !bind(fd, (struct sockaddr *)&addr, sizeof(sa_family_t)) &&
		    !listen(fd, 1), "Failed to create a listening socket, errno %d", errno);
	return fd;
}

void fz_open_fds(struct fuzz *fz)
{
	const int stream = SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC;
	int p[2], q[2], s[2], pipe_fds[2], d[2], sp[2], i;

	for (i = 0; i < NR_EFDS; i++)
		fz->fds[FD_EFD0 + i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	fz->fds[FD_EFD0_DUP] = fcntl(fz->fds[FD_EFD0], F_DUPFD_CLOEXEC, 0);

	TEST_ASSERT(!socketpair(AF_UNIX, stream, 0, p) && !socketpair(AF_UNIX, stream, 0, q) &&
		    !socketpair(AF_UNIX, stream, 0, s) && !pipe2(pipe_fds, O_CLOEXEC) &&
		    !socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, d) &&
		    !socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp),
		    "Failed to create pipes and sockets, errno %d", errno);
	fz->fds[FD_P0] = p[0];
	fz->fds[FD_P1] = p[1];
	fz->fds[FD_Q0] = q[0];
	fz->fds[FD_Q1] = q[1];
	fz->fds[FD_S0] = s[0];
	fz->fds[FD_S1] = s[1];
	fz->fds[FD_PIPE0] = pipe_fds[0];
	fz->fds[FD_PIPE1] = pipe_fds[1];
	fz->fds[FD_DGRAM] = d[0];
	close(d[1]);
	fz->fds[FD_SEQPACKET] = sp[0];
	close(sp[1]);
	fz->fds[FD_UNCONNECTED] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	fz->fds[FD_LISTENING] = fz_listening_socket();
	fz->fds[FD_OPATH] = open("/", O_PATH | O_CLOEXEC);

	fz->fds[FD_CLOSED] = fcntl(fz->fds[FD_EFD0], F_DUPFD_CLOEXEC, CLOSED_FD_MIN);
	TEST_ASSERT(fz->fds[FD_CLOSED] >= 0, "F_DUPFD failed, errno %d", errno);
	close(fz->fds[FD_CLOSED]);
	fz->fds[FD_NONE] = -1;

	for (i = 0; i < FD_CLOSED; i++)
		TEST_ASSERT(fz->fds[i] >= 0, "Failed to open the %s fd, errno %d",
			    fz_fd_kinds[i].name, errno);
}

void fz_close_fds(struct fuzz *fz)
{
	int i;

	for (i = 0; i < FD_CLOSED; i++)
		close(fz->fds[i]);
}

/* The device thread. */

/* The queue that a command's response goes to, or -1 if no region has its user_data. */
static int device_route(struct fz_device *dev, const struct ioregionfd_cmd *cmd)
{
	u32 i;

	for (i = 0; i < dev->nr_routes; i++)
		if (dev->routes[i].user_data == cmd->user_data)
			return dev->routes[i].rq;
	return -1;
}

/* Record a command and answer it if it wants a response. */
static void device_take(struct fz_device *dev, int q, const struct ioregionfd_cmd *cmd)
{
	struct ioregionfd_resp resp;
	int rq = -1;

	pthread_mutex_lock(&dev->lock);
	if (dev->nr_cmds[q] < ARRAY_SIZE(dev->cmds[q]))
		dev->cmds[q][dev->nr_cmds[q]] = *cmd;
	dev->nr_cmds[q]++;
	if (cmd->flags & IOREGIONFD_CMD_RESP) {
		rq = device_route(dev, cmd);
		if (rq < 0)
			dev->unrouted++;
	}
	pthread_mutex_unlock(&dev->lock);
	if (rq < 0)
		return;

	memset(&resp, 0, sizeof(resp));
	if (write(dev->fds[queue_fill[rq]], &resp, sizeof(resp)) != sizeof(resp)) {
		pthread_mutex_lock(&dev->lock);
		dev->send_errno = errno ?: EIO;
		pthread_mutex_unlock(&dev->lock);
		return;
	}
	pthread_mutex_lock(&dev->lock);
	dev->nr_resps[rq]++;
	pthread_mutex_unlock(&dev->lock);
}

/* Take whatever the socket of queue @q holds; commands may come in pieces. */
static void device_drain(struct fz_device *dev, int q)
{
	struct ioregionfd_cmd *c = &dev->partial[q];
	u32 *len = &dev->partial_len[q];
	ssize_t ret;

	for (;;) {
		ret = read(dev->fds[queue_drain[q]], (void *)c + *len, sizeof(*c) - *len);
		if (ret <= 0)
			return;
		*len += ret;
		if (*len < sizeof(*c))
			continue;
		*len = 0;
		device_take(dev, q, c);
	}
}

static void *device_thread(void *arg)
{
	struct fz_device *dev = arg;
	struct pollfd pfds[NR_CMD_QUEUES + 1];
	bool stop = false;
	u64 kicks;
	u32 i;

	for (i = 0; i < NR_CMD_QUEUES; i++)
		pfds[i] = (struct pollfd){ .fd = dev->fds[queue_drain[cmd_queues[i]]],
					   .events = POLLIN };
	pfds[i] = (struct pollfd){ .fd = dev->kick, .events = POLLIN };

	while (!stop) {
		if (poll(pfds, ARRAY_SIZE(pfds), -1) < 0)
			continue;
		for (i = 0; i < NR_CMD_QUEUES; i++)
			if (pfds[i].revents)
				device_drain(dev, cmd_queues[i]);
		if (!pfds[NR_CMD_QUEUES].revents || read(dev->kick, &kicks, sizeof(kicks)) < 0)
			continue;

		/*
		 * Posted writes may be on their way still: KVM queued them
		 * before its KVM_RUN returned, so one more look takes them all.
		 */
		for (i = 0; i < NR_CMD_QUEUES; i++)
			device_drain(dev, cmd_queues[i]);
		pthread_mutex_lock(&dev->lock);
		dev->synced = dev->syncs;
		stop = dev->stop;
		pthread_cond_broadcast(&dev->cond);
		pthread_mutex_unlock(&dev->lock);
	}
	return NULL;
}

/* Wait until the device took every command KVM sent so far. */
static void device_sync(struct fz_device *dev)
{
	u64 one = 1;
	u32 want;

	pthread_mutex_lock(&dev->lock);
	want = ++dev->syncs;
	pthread_mutex_unlock(&dev->lock);
	TEST_ASSERT(write(dev->kick, &one, sizeof(one)) == sizeof(one),
		    "Failed to kick the device thread, errno %d", errno);
	pthread_mutex_lock(&dev->lock);
	while (dev->synced != want)
		pthread_cond_wait(&dev->cond, &dev->lock);
	pthread_mutex_unlock(&dev->lock);
}

/* Forget the last batch, and learn where the regions of the next one answer. */
void fz_device_arm(struct fuzz *fz)
{
	struct fz_device *dev = &fz->dev;
	u32 i;

	pthread_mutex_lock(&dev->lock);
	for (i = 0; i < fz->nr_regions; i++)
		dev->routes[i] = (struct fz_route){
			.user_data = fz->regions[i].user_data, .rq = fz->regions[i].rq,
		};
	dev->nr_routes = fz->nr_regions;
	memset(dev->nr_cmds, 0, sizeof(dev->nr_cmds));
	memset(dev->nr_resps, 0, sizeof(dev->nr_resps));
	dev->unrouted = 0;
	dev->send_errno = 0;
	pthread_mutex_unlock(&dev->lock);
}

void fz_device_start(struct fuzz *fz)
{
	struct fz_device *dev = &fz->dev;
	sigset_t all, old;

	dev->fds = fz->fds;
	dev->kick = eventfd(0, EFD_CLOEXEC);
	TEST_ASSERT(dev->kick >= 0, "eventfd() failed, errno %d", errno);
	pthread_mutex_init(&dev->lock, NULL);
	pthread_cond_init(&dev->cond, NULL);

	/* The alarm must interrupt KVM_RUN, so the thread takes no signal. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	TEST_ASSERT(!pthread_create(&dev->thread, NULL, device_thread, dev),
		    "pthread_create() failed");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void fz_device_stop(struct fuzz *fz)
{
	struct fz_device *dev = &fz->dev;

	pthread_mutex_lock(&dev->lock);
	dev->stop = true;
	pthread_mutex_unlock(&dev->lock);
	device_sync(dev);
	pthread_join(dev->thread, NULL);
	close(dev->kick);
}

/* What the device took in this batch, for a failure's report. */
void fz_device_dump(struct fuzz *fz)
{
	struct fz_device *dev = &fz->dev;
	char buf[160];
	u32 i, j, n;
	int q;

	device_sync(dev);
	for (i = 0; i < NR_CMD_QUEUES; i++) {
		q = cmd_queues[i];
		n = min_t(u32, dev->nr_cmds[q], ARRAY_SIZE(dev->cmds[q]));
		for (j = 0; j < n; j++)
			ksft_print_msg("device: command %u on %s: %s\n", j,
				       fz_fd_kinds[queue_drain[q]].name,
				       ioregion_cmd_str(&dev->cmds[q][j], buf, sizeof(buf)));
	}
}

static bool cmd_matches(const struct ioregionfd_cmd *got, const struct fz_cmd *want)
{
	return !memcmp(got, &want->cmd, sizeof(*got));
}

/* The device took the commands the model expects, in order, and answered as asked. */
static void check_cmd_queue(struct fuzz *fz, int q)
{
	const struct fz_device *dev = &fz->dev;
	const char *name = fz_fd_kinds[queue_drain[q]].name;
	u32 want = fz->batch.nr_cmds[q];
	char buf[2][160];
	u32 i;

	if (dev->nr_cmds[q] != want)
		fz_fail(fz, "The device took %u commands on %s, expected %u", dev->nr_cmds[q],
			name, want);

	for (i = 0; i < want; i++)
		if (!cmd_matches(&dev->cmds[q][i], &fz->batch.cmds[q][i]))
			fz_fail(fz, "Command %u on %s: %s, expected %s", i, name,
				ioregion_cmd_str(&dev->cmds[q][i], buf[0], sizeof(buf[0])),
				ioregion_cmd_str(&fz->batch.cmds[q][i].cmd, buf[1],
						 sizeof(buf[1])));
}

/* KVM asked for the responses the model expects on @q, and read them all. */
static void check_resp_queue(struct fuzz *fz, int q)
{
	const char *name = fz_fd_kinds[queue_drain[q]].name;
	u8 buf[sizeof(struct ioregionfd_resp)];
	ssize_t ret;

	if (fz->dev.nr_resps[q] != fz->batch.nr_resps[q])
		fz_fail(fz, "The device sent %u responses to %s, expected %u",
			fz->dev.nr_resps[q], name, fz->batch.nr_resps[q]);

	ret = read(fz->fds[queue_drain[q]], buf, sizeof(buf));
	if (ret >= 0 || errno != EAGAIN)
		fz_fail(fz, "read(%s) returned %ld, errno %d: KVM left data unread", name, ret,
			errno);
}

/*
 * With the vCPU stopped, the device thread gets nothing more to do after a
 * sync, so what it recorded stays put.
 */
void fz_check_device(struct fuzz *fz)
{
	u32 i;

	device_sync(&fz->dev);
	if (fz->dev.unrouted || fz->dev.send_errno)
		fz_fail(fz,
			"The device got %u commands of unknown regions that want a response, and failed to send one with errno %d",
			fz->dev.unrouted, fz->dev.send_errno);
	for (i = 0; i < NR_CMD_QUEUES; i++)
		check_cmd_queue(fz, cmd_queues[i]);
	for (i = 0; i < ARRAY_SIZE(resp_queues); i++)
		check_resp_queue(fz, resp_queues[i]);
}
