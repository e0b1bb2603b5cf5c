// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzz KVM_IOEVENTFD and KVM_SET_IOREGION with random addresses, lengths,
 * flags and fds of every kind, drawn from a seeded PRNG.  A model tracks
 * what must be registered.  It predicts the errno of every call from the
 * tables in Documentation/virt/kvm/api.rst, and guest writes check that KVM
 * routes them as the model says: to eventfds, to an ioregion's device, or to
 * userspace.  An ioeventfd may lie inside an ioregion and takes the writes
 * it matches; every other write whose first byte lies in a region goes to
 * that region's device, which is served over AF_UNIX stream sockets only.
 * A thread of the test is the device: it records the commands and answers
 * those that want a response when they come, never before, since KVM takes
 * data that nobody asked for as a protocol error.
 *
 * Each of the three tests makes 40000 calls by default.  KVM_FUZZ_SEED
 * replays a run.  KVM_FUZZ_CALLS sets the calls per test; a failure names
 * its call, so setting it to that number stops right there.
 * KVM_FUZZ_TRACE=1 logs every call.  KVM_FUZZ_ANYWHERE=1 drops the layout
 * rule below that keeps the I/O buses sortable.
 *
 * Outside x86 the guest has no port I/O: KVM_IOREGION_PIO is refused with
 * EINVAL, ioeventfds on the PIO bus are registered but never written, and
 * the VM has no in-kernel device on either bus.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <linux/ioregion.h>
#include <linux/sizes.h>

#include "guest_io.h"
#include "ioregion_device.h"
#include "kvm_test_harness.h"
#include "kvm_util.h"
#include "processor.h"
#include "test_util.h"
#include "ucall_common.h"

#define DEFAULT_SEED		0x6576656e7466647aull
#define DEFAULT_CALLS		40000

/* Clear of the ucall port and of the in-kernel PIC and PIT. */
#define PIO_BASE		0x6000

/* Outside every memslot and identity mapped; the window sits mid-page. */
#define MMIO_GPA		(4ull * SZ_1G)
#define MMIO_BASE		(MMIO_GPA + 0x800)

/*
 * kvm_io_bus_cmp() is no ordering for ranges that partly overlap, nor for a
 * zero-length range where another range ends: a bus holding such a pair is
 * misordered and its lookups miss devices.  So by default ioeventfds start
 * at slot starts, which are further apart than any access is long.
 * ioregions are not devices on the bus, so they go anywhere.
 */
#define SLOT_SIZE		16
#define NR_SLOTS		4
#define WINDOW			(NR_SLOTS * SLOT_SIZE)

/* Guest writes also land a little around the window. */
#define MARGIN			8

#define MAX_ITEMS		2048
#define MAX_REGIONS		256
/* Past these, deassign more than assign. */
#define ITEMS_HIGH		192
#define REGIONS_HIGH		24

#define MAX_BATCH		16
#define SWEEP_EVERY		128
#define SWEEP_WRITES		8
/* A vCPU that waits this long waits for a response nobody will send. */
#define RUN_TIMEOUT_S		20
/* Far above the fds the test opens, so that no open() reuses it. */
#define CLOSED_FD_MIN		500
#define MAX_MISMATCHES		32

/* Small, so that writes and datamatches often agree. */
static const u64 fz_values[] = { 0, 1, 0xff, 0x1234, 0xfedcba9876543210ull };

struct fz_write {
	u64 addr;
	u64 val;
	u32 len;
	bool pio;
};

/* The writes the guest makes next, set by the host before each KVM_RUN. */
static struct fz_write guest_writes[MAX_BATCH];
static u32 guest_nr_writes;

static void guest_code(void)
{
	const struct fz_write *w;
	u32 i;

	for (;;) {
		for (i = 0; i < READ_ONCE(guest_nr_writes); i++) {
			w = &guest_writes[i];
			if (w->pio)
				guest_pio_write(w->addr, w->len, w->val);
			else
				guest_mmio_write(w->addr, w->len, w->val);
		}
		GUEST_SYNC(i);
	}
}

enum {
	FD_EFD0,
	FD_EFD1,
	FD_EFD2,
	/* FD_EFD0 under another number: the same eventfd to KVM. */
	FD_EFD0_DUP,
	/*
	 * Ends of three AF_UNIX stream socketpairs.  KVM gets the [0] ends
	 * only, the device thread keeps the [1] ends: with both ends of a pair,
	 * KVM would read its own commands, which api.rst rules out.  One end
	 * as read_fd and write_fd makes the layout of one socket for both
	 * directions, two ends the split layout of one socket per direction.
	 */
	FD_P0,
	FD_P1,
	FD_Q0,
	FD_Q1,
	FD_S0,
	FD_S1,
	/* What KVM_SET_IOREGION refuses: a pipe, and sockets of other kinds. */
	FD_PIPE0,
	FD_PIPE1,
	FD_DGRAM,
	FD_SEQPACKET,
	FD_UNCONNECTED,
	FD_LISTENING,
	FD_OPATH,
	FD_CLOSED,
	FD_NONE,
	NR_FDS,
};

#define NR_EFDS			3

/*
 * Byte streams between KVM and the test; Q_S0 is what FD_S0 receives.  The
 * device thread takes commands from Q_P1, Q_Q1 and Q_S1, and KVM responses
 * from Q_P0, Q_Q0 and Q_S0.
 */
enum { Q_P0, Q_P1, Q_Q0, Q_Q1, Q_S0, Q_S1, NR_QUEUES };

static const int cmd_queues[] = { Q_P1, Q_Q1, Q_S1 };
static const int resp_queues[] = { Q_P0, Q_Q0, Q_S0 };

#define NR_CMD_QUEUES		ARRAY_SIZE(cmd_queues)

/* What KVM finds behind each kind of fd. */
struct fz_fd_info {
	const char *name;
	/* The eventfd behind the fd, or -1. */
	int efd;
	/* fget() finds no file. */
	bool bad;
	/*
	 * A connected AF_UNIX SOCK_STREAM socket, the only kind of fd that
	 * KVM_SET_IOREGION takes, for reading and for writing alike.
	 */
	bool stream;
	/* The queue that a read takes from and a write adds to, or -1. */
	int rq;
	int wq;
};

static const struct fz_fd_info fd_info[NR_FDS] = {
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

enum fz_bus { BUS_MMIO, BUS_PIO, BUS_CCW };

static const char * const bus_names[] = { "MMIO", "PIO", "CCW" };

/* One KVM_IOEVENTFD registration. */
struct fz_item {
	u64 addr;
	u64 datamatch;
	u32 len;
	u8 bus;
	u8 efd;
	bool wildcard;
};

struct fz_region {
	u64 paddr;
	u64 size;
	u64 user_data;
	u8 bus;
	bool posted;
	/* The queues that carry its responses and its commands. */
	u8 rq;
	u8 wq;
};

struct fz_expect {
	int err;
	const char *why;
};

/*
 * A command as KVM must send it.  A write to a zero-length region, which
 * used to come from the fast MMIO bus without a size, now comes from the
 * exit path like any other: with its size and data.
 */
struct fz_cmd {
	struct ioregionfd_cmd cmd;
};

/* Guest writes for one KVM_RUN and what the model says they must do. */
struct fz_batch {
	struct fz_write writes[MAX_BATCH];
	bool exits[MAX_BATCH];
	u32 nr;
	u64 signals[NR_EFDS];
	struct fz_cmd cmds[NR_QUEUES][MAX_BATCH];
	u32 nr_cmds[NR_QUEUES];
	u32 nr_resps[NR_QUEUES];
};

/* Where the device answers a command, by the user_data of its region. */
struct fz_route {
	u64 user_data;
	u8 rq;
};

/*
 * The device thread.  The test arms it with the routes of the regions
 * before a KVM_RUN and syncs with it after, and reads what it recorded
 * only then; the lock orders all of that.
 */
struct fz_device {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* An eventfd that asks the thread to sync, or to stop. */
	int kick;
	u32 syncs;
	u32 synced;
	bool stop;
	const int *fds;
	struct fz_route routes[MAX_REGIONS];
	u32 nr_routes;
	/* A command coming in, and its bytes so far. */
	struct ioregionfd_cmd partial[NR_QUEUES];
	u32 partial_len[NR_QUEUES];
	/* The commands taken, one more than a batch can need, and how many. */
	struct ioregionfd_cmd cmds[NR_QUEUES][MAX_BATCH + 1];
	u32 nr_cmds[NR_QUEUES];
	/* Responses sent, by the queue they went to, and failed sends. */
	u32 nr_resps[NR_QUEUES];
	u32 unrouted;
	int send_errno;
};

enum { IOC_IOEVENTFD, IOC_IOREGION, NR_IOCS };

static const char * const ioc_names[] = { "KVM_IOEVENTFD", "KVM_SET_IOREGION" };

/* errnos counted per ioctl; the last slot counts any other. */
static const int counted_errnos[] = { 0, EINVAL, EBADF, EEXIST, ENOENT };
static const char * const counted_names[] = { "ok", "EINVAL", "EBADF", "EEXIST", "ENOENT",
					      "other" };

#define NR_COUNTED		ARRAY_SIZE(counted_errnos)

/* One kind of errno disagreement: reported once, counted always. */
struct fz_mismatch {
	int ioc;
	bool deassign;
	int expected;
	int got;
	u32 count;
	u32 first_call;
};

struct fz_stats {
	u32 results[NR_IOCS][NR_COUNTED + 1];
	u32 errno_checks;
	u32 writes;
	u32 runs;
};

struct fuzz {
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int fds[NR_FDS];
	u64 seed;
	u64 rng;
	u32 nr_calls;
	/* The call being made or checked, counted from 1. */
	u32 call;
	bool trace;
	bool anywhere;
	struct fz_item items[MAX_ITEMS];
	u32 nr_items;
	struct fz_region regions[MAX_REGIONS];
	u32 nr_regions;
	struct fz_batch batch;
	struct fz_device dev;
	struct fz_mismatch mismatches[MAX_MISMATCHES];
	u32 nr_mismatches;
	struct fz_stats stats;
};

/* splitmix64: tiny, and the same sequence for a seed everywhere. */
static u64 fz_rand(struct fuzz *fz)
{
	u64 z = (fz->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static u32 fz_below(struct fuzz *fz, u32 n)
{
	return fz_rand(fz) % n;
}

static bool fz_chance(struct fuzz *fz, u32 percent)
{
	return fz_below(fz, 100) < percent;
}

static u64 fz_value(struct fuzz *fz)
{
	if (fz_chance(fz, 10))
		return fz_rand(fz);
	return fz_values[fz_below(fz, ARRAY_SIZE(fz_values))];
}

static u32 fz_access_len(struct fuzz *fz, bool pio)
{
	/* x86 port I/O is at most 4 bytes wide, MMIO (without SSE) 8. */
	return 1u << fz_below(fz, pio ? 3 : 4);
}

static u64 bus_base(bool pio)
{
	return pio ? PIO_BASE : MMIO_BASE;
}

static u64 fz_slot(struct fuzz *fz, bool pio)
{
	return bus_base(pio) + fz_below(fz, NR_SLOTS) * SLOT_SIZE;
}

static u64 fz_window_addr(struct fuzz *fz, bool pio)
{
	return bus_base(pio) - MARGIN + fz_below(fz, WINDOW + 2 * MARGIN);
}

/* Whether the guest can write @len bytes at @addr. */
static bool fz_writable(bool pio, u64 addr, u32 len)
{
	u64 lo = bus_base(pio) - MARGIN, hi = bus_base(pio) + WINDOW + MARGIN;

	if (len != 1 && len != 2 && len != 4 && (pio || len != 8))
		return false;
	return addr >= lo && addr <= hi - len;
}

/* The last byte of a range, where a zero length covers the byte it names. */
static u64 range_last(u64 addr, u64 len)
{
	return addr + max_t(u64, len, 1) - 1;
}

static bool ranges_overlap(u64 a, u64 a_len, u64 b, u64 b_len)
{
	return a <= range_last(b, b_len) && b <= range_last(a, a_len);
}

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

static void fz_open_fds(struct fuzz *fz)
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
			    fd_info[i].name, errno);
}

static void fz_close_fds(struct fuzz *fz)
{
	int i;

	for (i = 0; i < FD_CLOSED; i++)
		close(fz->fds[i]);
}

/* An fd kind that stands for eventfd @efd. */
static int fz_efd_kind(struct fuzz *fz, int efd)
{
	if (!efd && fz_chance(fz, 50))
		return FD_EFD0_DUP;
	return FD_EFD0 + efd;
}

static int fz_any_kind(struct fuzz *fz)
{
	return fz_below(fz, NR_FDS);
}

/* The model of KVM_IOEVENTFD. */

static enum fz_bus ioeventfd_bus(u32 flags)
{
	if (flags & KVM_IOEVENTFD_FLAG_PIO)
		return BUS_PIO;
	if (flags & KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY)
		return BUS_CCW;
	return BUS_MMIO;
}

static u32 bus_ioeventfd_flags(enum fz_bus bus)
{
	if (bus == BUS_PIO)
		return KVM_IOEVENTFD_FLAG_PIO;
	if (bus == BUS_CCW)
		return KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY;
	return 0;
}

static struct fz_item ioeventfd_item(const struct kvm_ioeventfd *args, int efd)
{
	bool wildcard = !(args->flags & KVM_IOEVENTFD_FLAG_DATAMATCH);

	return (struct fz_item) {
		.addr = args->addr,
		.datamatch = wildcard ? 0 : args->datamatch,
		.len = args->len,
		.bus = ioeventfd_bus(args->flags),
		.efd = efd,
		.wildcard = wildcard,
	};
}

static int find_item(struct fuzz *fz, const struct fz_item *key)
{
	const struct fz_item *item;
	u32 i;

	for (i = 0; i < fz->nr_items; i++) {
		item = &fz->items[i];
		if (item->bus == key->bus && item->addr == key->addr && item->len == key->len &&
		    item->efd == key->efd && item->wildcard == key->wildcard &&
		    item->datamatch == key->datamatch)
			return i;
	}
	return -1;
}

/* Zero-length and sized ioeventfds at one address would shadow each other. */
static bool item_collides(struct fuzz *fz, const struct fz_item *key)
{
	const struct fz_item *item;
	u32 i;

	for (i = 0; i < fz->nr_items; i++) {
		item = &fz->items[i];
		if (item->bus == key->bus && item->addr == key->addr && !item->len != !key->len)
			return true;
	}
	return false;
}

static bool region_overlaps(struct fuzz *fz, enum fz_bus bus, u64 addr, u64 len)
{
	const struct fz_region *r;
	u32 i;

	for (i = 0; i < fz->nr_regions; i++) {
		r = &fz->regions[i];
		if (r->bus == bus && ranges_overlap(r->paddr, r->size, addr, len))
			return true;
	}
	return false;
}

#ifdef __x86_64__
/* The in-kernel devices of the VM's irqchip; the fuzz VM has no PIT. */
static const struct {
	enum fz_bus bus;
	u64 addr;
	u64 len;
	const char *name;
} kernel_devs[] = {
	{ BUS_PIO, 0x20, 2, "the master PIC" },
	{ BUS_PIO, 0xa0, 2, "the slave PIC" },
	{ BUS_PIO, 0x4d0, 2, "the ELCR" },
	{ BUS_MMIO, 0xfec00000, 0x100, "the IOAPIC" },
};
#endif

/* The in-kernel device that a range overlaps, or NULL. */
static const char *kernel_dev_overlaps(enum fz_bus bus, u64 addr, u64 len)
{
#ifdef __x86_64__
	u32 i;

	for (i = 0; i < ARRAY_SIZE(kernel_devs); i++)
		if (kernel_devs[i].bus == bus &&
		    ranges_overlap(kernel_devs[i].addr, kernel_devs[i].len, addr, len))
			return kernel_devs[i].name;
#endif
	return NULL;
}

static bool ioeventfd_len_valid(u32 len)
{
	return len <= 8 && !(len & (len - 1));
}

/*
 * Deassign checks no argument, as upstream never did: it looks up the fd,
 * then an ioeventfd that matches, and ignores unknown flags.
 */
static struct fz_expect ioeventfd_deassign_expect(struct fuzz *fz,
						  const struct kvm_ioeventfd *args, int kind)
{
	const struct fz_fd_info *fd = &fd_info[kind];
	struct fz_item key;

	if (fd->bad)
		return (struct fz_expect){ EBADF, "fd is not an open file descriptor" };
	if (fd->efd < 0)
		return (struct fz_expect){ EINVAL, "fd is not an eventfd" };

	key = ioeventfd_item(args, fd->efd);
	if (find_item(fz, &key) < 0)
		return (struct fz_expect){ ENOENT, "no such ioeventfd" };
	return (struct fz_expect){ 0, "deassign of an ioeventfd" };
}

/*
 * Where api.rst's table says nothing of precedence, follow the code:
 * arguments, then the fd, then the lookup.
 */
static struct fz_expect ioeventfd_expect(struct fuzz *fz, const struct kvm_ioeventfd *args,
					 int kind)
{
	const struct fz_fd_info *fd = &fd_info[kind];
	struct fz_item key;

	if (args->flags & KVM_IOEVENTFD_FLAG_DEASSIGN)
		return ioeventfd_deassign_expect(fz, args, kind);
	if (!ioeventfd_len_valid(args->len))
		return (struct fz_expect){ EINVAL, "len is not 0, 1, 2, 4 or 8" };
	if (args->addr + args->len < args->addr)
		return (struct fz_expect){ EINVAL, "addr + len overflows" };
	if (args->flags & ~KVM_IOEVENTFD_VALID_FLAG_MASK)
		return (struct fz_expect){ EINVAL, "flags has unknown bits" };
	if (!args->len && (args->flags & KVM_IOEVENTFD_FLAG_DATAMATCH))
		return (struct fz_expect){ EINVAL, "len 0 with DATAMATCH" };
	if (fd->bad)
		return (struct fz_expect){ EBADF, "fd is not an open file descriptor" };
	if (fd->efd < 0)
		return (struct fz_expect){ EINVAL, "fd is not an eventfd" };

	key = ioeventfd_item(args, fd->efd);
	if (find_item(fz, &key) >= 0)
		return (struct fz_expect){ EEXIST, "duplicate of an ioeventfd" };
	if (item_collides(fz, &key))
		return (struct fz_expect){ EEXIST, "zero and nonzero length at one address" };
	/* An ioeventfd may lie inside or across an ioregion: it takes what it matches. */
	if (key.bus != BUS_CCW && region_overlaps(fz, key.bus, key.addr, key.len))
		return (struct fz_expect){ 0, "new ioeventfd inside an ioregion" };
	return (struct fz_expect){ 0, "new ioeventfd" };
}

static void ioeventfd_apply(struct fuzz *fz, const struct kvm_ioeventfd *args, int kind)
{
	struct fz_item key = ioeventfd_item(args, fd_info[kind].efd);
	int i = find_item(fz, &key);

	if (!(args->flags & KVM_IOEVENTFD_FLAG_DEASSIGN)) {
		TEST_ASSERT(fd_info[kind].efd >= 0,
			    "seed 0x%lx, call %u: KVM took %s as an eventfd",
			    fz->seed, fz->call, fd_info[kind].name);
		TEST_ASSERT(fz->nr_items < MAX_ITEMS, "Too many ioeventfds in the model");
		fz->items[fz->nr_items++] = key;
		return;
	}

	TEST_ASSERT(i >= 0, "seed 0x%lx, call %u: KVM deassigned an ioeventfd the model lacks",
		    fz->seed, fz->call);
	fz->items[i] = fz->items[--fz->nr_items];
}

/* The model of KVM_SET_IOREGION. */

static enum fz_bus ioregion_bus(u32 flags)
{
	return (flags & KVM_IOREGION_PIO) ? BUS_PIO : BUS_MMIO;
}

static int find_region(struct fuzz *fz, enum fz_bus bus, u64 paddr, u64 size)
{
	const struct fz_region *r;
	u32 i;

	for (i = 0; i < fz->nr_regions; i++) {
		r = &fz->regions[i];
		if (r->bus == bus && r->paddr == paddr && r->size == size)
			return i;
	}
	return -1;
}

/*
 * Pipes are refused now, whichever end and for either direction, as is
 * every socket but a connected AF_UNIX stream one, which is open both ways.
 */
static struct fz_expect ioregion_fd_expect(int kind)
{
	const struct fz_fd_info *fd = &fd_info[kind];

	if (fd->bad)
		return (struct fz_expect){ EBADF, "an fd is not an open file descriptor" };
	if (!fd->stream)
		return (struct fz_expect){ EINVAL,
					   "an fd is not a connected AF_UNIX stream socket" };
	return (struct fz_expect){ 0, NULL };
}

static bool ioregion_pad_zero(const struct kvm_ioregion *args)
{
	u32 i;

	for (i = 0; i < sizeof(args->pad); i++)
		if (args->pad[i])
			return false;
	return true;
}

/* As for KVM_IOEVENTFD, where api.rst is silent on precedence, follow the code. */
static struct fz_expect ioregion_expect(struct fuzz *fz, const struct kvm_ioregion *args,
					int rkind, int wkind)
{
	u64 last = range_last(args->guest_paddr, args->memory_size);
	enum fz_bus bus = ioregion_bus(args->flags);
	struct fz_expect fd;

	if (args->flags & ~KVM_IOREGION_VALID_FLAG_MASK)
		return (struct fz_expect){ EINVAL, "flags has unknown bits" };
	if (!ioregion_pad_zero(args))
		return (struct fz_expect){ EINVAL, "pad is not zero" };
	if ((args->flags & KVM_IOREGION_PIO) && !GUEST_HAS_PIO)
		return (struct fz_expect){ EINVAL, "no port I/O on this architecture" };

	/* A deassign checks nothing more: what names no region is not there. */
	if (args->flags & KVM_IOREGION_DEASSIGN) {
		if (find_region(fz, bus, args->guest_paddr, args->memory_size) < 0)
			return (struct fz_expect){ ENOENT, "no such ioregion" };
		return (struct fz_expect){ 0, "deassign of an ioregion" };
	}

	if (!args->memory_size && !(args->flags & KVM_IOREGION_POSTED_WRITES))
		return (struct fz_expect){ EINVAL, "memory_size 0 without POSTED_WRITES" };
	/* Any size, as long as the range ends at 2^64 or below. */
	if (last < args->guest_paddr)
		return (struct fz_expect){ EINVAL, "the range ends above 2^64" };
	if (bus == BUS_PIO && last > 0xffff)
		return (struct fz_expect){ EINVAL, "PIO range ends above 0x10000" };

	fd = ioregion_fd_expect(wkind);
	if (fd.err)
		return fd;
	/* A zero-length region gets posted writes only: it may have no read_fd. */
	if (args->memory_size || rkind != FD_NONE) {
		fd = ioregion_fd_expect(rkind);
		if (fd.err)
			return fd;
	}
	if (region_overlaps(fz, bus, args->guest_paddr, args->memory_size))
		return (struct fz_expect){ EEXIST, "overlaps an ioregion" };
	if (kernel_dev_overlaps(bus, args->guest_paddr, args->memory_size))
		return (struct fz_expect){ EEXIST, "overlaps an in-kernel device" };
	/* ioeventfds are the exception: a region may hold them. */
	return (struct fz_expect){ 0, "new ioregion" };
}

static void ioregion_apply(struct fuzz *fz, const struct kvm_ioregion *args, int rkind,
			   int wkind)
{
	enum fz_bus bus = ioregion_bus(args->flags);
	int i = find_region(fz, bus, args->guest_paddr, args->memory_size);

	if (!(args->flags & KVM_IOREGION_DEASSIGN)) {
		TEST_ASSERT((fd_info[rkind].rq >= 0 || !args->memory_size) &&
			    fd_info[wkind].wq >= 0,
			    "seed 0x%lx, call %u: KVM took %s and %s as read_fd and write_fd",
			    fz->seed, fz->call, fd_info[rkind].name, fd_info[wkind].name);
		TEST_ASSERT(fz->nr_regions < MAX_REGIONS, "Too many ioregions in the model");
		fz->regions[fz->nr_regions++] = (struct fz_region) {
			.paddr = args->guest_paddr,
			.size = args->memory_size,
			.user_data = args->user_data,
			.bus = bus,
			.posted = args->flags & KVM_IOREGION_POSTED_WRITES,
			.rq = fd_info[rkind].rq,
			.wq = fd_info[wkind].wq,
		};
		return;
	}

	TEST_ASSERT(i >= 0, "seed 0x%lx, call %u: KVM deassigned an ioregion the model lacks",
		    fz->seed, fz->call);
	fz->regions[i] = fz->regions[--fz->nr_regions];
}

/* Guest writes, and what the model says they do. */

/*
 * An exit belongs to the region that holds its first byte, even if it
 * reaches past the region's end.
 */
static bool region_takes(const struct fz_region *r, const struct fz_write *w)
{
	if (r->bus != (w->pio ? BUS_PIO : BUS_MMIO))
		return false;
	/* A zero-length region takes writes of any length at its address. */
	if (!r->size)
		return w->addr == r->paddr;
	return w->addr >= r->paddr && w->addr - r->paddr < r->size;
}

/* The ioregion that @w reaches, or -1; regions never overlap, so there is one at most. */
static int region_at(struct fuzz *fz, const struct fz_write *w)
{
	u32 i;

	for (i = 0; i < fz->nr_regions; i++)
		if (region_takes(&fz->regions[i], w))
			return i;
	return -1;
}

static bool item_matches(const struct fz_item *item, const struct fz_write *w)
{
	if (item->bus != (w->pio ? BUS_PIO : BUS_MMIO) || item->addr != w->addr)
		return false;
	if (item->len && item->len != w->len)
		return false;
	/* The written value is zero-extended before it is compared. */
	return item->wildcard || item->datamatch == w->val;
}

/* Add the signals that @w makes to @signals; return how many. */
static u32 items_signal(struct fuzz *fz, const struct fz_write *w, u64 *signals)
{
	u32 i, n = 0;

	for (i = 0; i < fz->nr_items; i++) {
		if (!item_matches(&fz->items[i], w))
			continue;
		signals[fz->items[i].efd]++;
		n++;
	}
	return n;
}

static void batch_expect_cmd(struct fz_batch *b, const struct fz_region *r,
			     const struct fz_write *w)
{
	struct fz_cmd *c = &b->cmds[r->wq][b->nr_cmds[r->wq]++];

	*c = (struct fz_cmd) {
		.cmd = {
			.cmd = IOREGIONFD_CMD_WRITE,
			.size = w->len,
			.flags = r->posted ? 0 : IOREGIONFD_CMD_RESP,
			.user_data = r->user_data,
			.offset = w->addr - r->paddr,
			.data = w->val,
		},
	};

	/* The device thread answers it on the region's read_fd. */
	if (!r->posted)
		b->nr_resps[r->rq]++;
}

static const char *describe_write(struct fuzz *fz, const struct fz_write *w, char *buf,
				  size_t size)
{
	u64 signals[NR_EFDS] = {};
	int r = region_at(fz, w);
	u32 n;

	n = items_signal(fz, w, signals);
	if (!n && r >= 0) {
		snprintf(buf, size, "%u-byte %s write of 0x%lx at 0x%lx: ioregion 0x%lx+0x%lx",
			 w->len, bus_names[w->pio], w->val, w->addr, fz->regions[r].paddr,
			 fz->regions[r].size);
		return buf;
	}

	snprintf(buf, size, "%u-byte %s write of 0x%lx at 0x%lx: %s %lu/%lu/%lu%s",
		 w->len, bus_names[w->pio], w->val, w->addr,
		 n ? "signals eventfds" : "exits, signals", signals[0], signals[1], signals[2],
		 r >= 0 ? ", inside an ioregion" : "");
	return buf;
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
static void device_arm(struct fuzz *fz)
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

static void device_start(struct fuzz *fz)
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

static void device_stop(struct fuzz *fz)
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
static void device_dump(struct fuzz *fz)
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
				       fd_info[queue_drain[q]].name,
				       ioregion_cmd_str(&dev->cmds[q][j], buf, sizeof(buf)));
	}
}

static void batch_dump(struct fuzz *fz)
{
	struct fz_batch *b = &fz->batch;
	char buf[160];
	u32 i;

	for (i = 0; i < b->nr; i++) {
		describe_write(fz, &b->writes[i], buf, sizeof(buf));
		ksft_print_msg("write %u: %s\n", i, buf);
	}
}

static void model_dump(struct fuzz *fz)
{
	const struct fz_region *r;
	const struct fz_item *it;
	u32 i;

	for (i = 0; i < fz->nr_regions; i++) {
		r = &fz->regions[i];
		ksft_print_msg("ioregion %u: %s 0x%lx+0x%lx%s\n", i, bus_names[r->bus], r->paddr,
			       r->size, r->posted ? " posted" : "");
	}
	for (i = 0; i < fz->nr_items; i++) {
		it = &fz->items[i];
		ksft_print_msg("ioeventfd %u: %s 0x%lx len %u eventfd%u %s 0x%lx\n", i,
			       bus_names[it->bus], it->addr, it->len, it->efd,
			       it->wildcard ? "wildcard" : "datamatch", it->datamatch);
	}
}

/* Fail, naming the seed and the call, after what the model holds. */
static void __printf(2, 3) fz_fail(struct fuzz *fz, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	model_dump(fz);
	batch_dump(fz);
	device_dump(fz);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	TEST_FAIL("seed 0x%lx, call %u: %s", fz->seed, fz->call, msg);
}

static void fz_run(struct fuzz *fz)
{
	int ret;

	alarm(RUN_TIMEOUT_S);
	ret = __vcpu_run(fz->vcpu);
	alarm(0);
	/* A vCPU that the alarm took out of a wait for the device has an access pending. */
	if (ret)
		fz_fail(fz, "KVM_RUN returned %d, errno %d (%s), exit reason %u%s", ret, errno,
			strerror(errno), fz->vcpu->run->exit_reason,
			fz->vcpu->run->exit_reason == KVM_EXIT_IOREGIONFD_PENDING ?
			": the vCPU waited for an ioregion response" : "");
}

static void check_no_ucall(struct fuzz *fz, u32 i)
{
	struct ucall uc;
	char buf[160];

	switch (get_ucall(fz->vcpu, &uc)) {
	case UCALL_NONE:
		return;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	}
	fz_fail(fz, "KVM consumed write %u, expected an exit: %s", i,
		describe_write(fz, &fz->batch.writes[i], buf, sizeof(buf)));
}

static void check_exit(struct fuzz *fz, u32 i)
{
	const struct fz_write *w = &fz->batch.writes[i];
	struct kvm_run *run = fz->vcpu->run;
	char buf[160];
	u64 data = 0;
	bool ok;

	check_no_ucall(fz, i);
	if (w->pio) {
		ok = run->exit_reason == KVM_EXIT_IO && run->io.port == w->addr &&
		     run->io.size == w->len && run->io.count == 1 &&
		     run->io.direction == KVM_EXIT_IO_OUT;
		if (ok)
			memcpy(&data, (void *)run + run->io.data_offset, w->len);
	} else {
		ok = run->exit_reason == KVM_EXIT_MMIO && run->mmio.phys_addr == w->addr &&
		     run->mmio.len == w->len && run->mmio.is_write;
		if (ok)
			memcpy(&data, run->mmio.data, w->len);
	}

	if (!ok || data != w->val)
		fz_fail(fz, "Expected an exit for write %u, got %s", i,
			describe_io_exit(fz->vcpu, buf, sizeof(buf)));
}

static void check_sync(struct fuzz *fz)
{
	struct ucall uc;
	char buf[160];

	switch (get_ucall(fz->vcpu, &uc)) {
	case UCALL_SYNC:
		return;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		return;
	default:
		fz_fail(fz,
			"Expected KVM to consume the remaining writes, got %s (exit reason %u, ioregionfd addr 0x%llx len %u flags 0x%x error %u)",
			describe_io_exit(fz->vcpu, buf, sizeof(buf)), fz->vcpu->run->exit_reason,
			fz->vcpu->run->ioregionfd.addr, fz->vcpu->run->ioregionfd.len,
			fz->vcpu->run->ioregionfd.flags, fz->vcpu->run->ioregionfd.error);
	}
}

static void check_eventfds(struct fuzz *fz)
{
	u64 count;
	int e;

	for (e = 0; e < NR_EFDS; e++) {
		count = eventfd_count(fz->fds[FD_EFD0 + e]);
		if (count != fz->batch.signals[e])
			fz_fail(fz, "eventfd%d was signalled %lu times, expected %lu",
				e, count, fz->batch.signals[e]);
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
	const char *name = fd_info[queue_drain[q]].name;
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
	const char *name = fd_info[queue_drain[q]].name;
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
static void check_device(struct fuzz *fz)
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

/* Make the guest do the batched writes and check all they did. */
static void batch_run(struct fuzz *fz)
{
	struct fz_batch *b = &fz->batch;
	u32 i;

	if (!b->nr)
		return;

	device_arm(fz);
	memcpy(guest_writes, b->writes, sizeof(guest_writes));
	guest_nr_writes = b->nr;
	sync_global_to_guest(fz->vm, guest_writes);
	sync_global_to_guest(fz->vm, guest_nr_writes);

	for (i = 0; i < b->nr; i++) {
		if (!b->exits[i])
			continue;
		fz_run(fz);
		check_exit(fz, i);
	}
	fz_run(fz);
	check_sync(fz);
	check_eventfds(fz);
	check_device(fz);

	fz->stats.writes += b->nr;
	fz->stats.runs++;
	memset(b, 0, sizeof(*b));
}

static void batch_add(struct fuzz *fz, bool pio, u64 addr, u32 len, u64 val)
{
	struct fz_batch *b = &fz->batch;
	struct fz_write *w;
	int r;

	/* The guest has no port I/O to make the write with. */
	if (pio && !GUEST_HAS_PIO)
		return;

	if (b->nr == MAX_BATCH)
		batch_run(fz);

	w = &b->writes[b->nr];
	*w = (struct fz_write) {
		.addr = addr, .val = val & ioregion_size_mask(len), .len = len, .pio = pio,
	};

	/* An ioeventfd that matches takes the write, even inside a region. */
	if (!items_signal(fz, w, b->signals)) {
		r = region_at(fz, w);
		if (r >= 0)
			batch_expect_cmd(b, &fz->regions[r], w);
		else
			b->exits[b->nr] = true;
	}
	b->nr++;
}

/* Random writes in and around the window of both buses. */
static void sweep(struct fuzz *fz, u32 nr)
{
	bool pio;
	u32 len;
	u64 addr;

	while (nr--) {
		pio = fz_chance(fz, 50);
		len = fz_access_len(fz, pio);
		addr = fz_chance(fz, 50) ? fz_slot(fz, pio) : fz_window_addr(fz, pio);
		if (addr > bus_base(pio) + WINDOW + MARGIN - len)
			addr = bus_base(pio) + WINDOW + MARGIN - len;
		batch_add(fz, pio, addr, len, fz_value(fz));
	}
	batch_run(fz);
}

/* Every length and value at every slot start. */
static void full_sweep(struct fuzz *fz)
{
	u32 slot, len, v;
	int pio;

	for (pio = 0; pio < 2; pio++)
		for (slot = 0; slot < NR_SLOTS; slot++)
			for (len = 1; len <= (pio ? 4 : 8); len *= 2)
				for (v = 0; v < ARRAY_SIZE(fz_values); v++)
					batch_add(fz, pio, bus_base(pio) + slot * SLOT_SIZE, len,
						  fz_values[v]);
	batch_run(fz);
}

static void probe_ioeventfd(struct fuzz *fz, const struct kvm_ioeventfd *args)
{
	enum fz_bus bus = ioeventfd_bus(args->flags);
	bool pio = bus == BUS_PIO;
	u32 len = args->len;

	if (!fz_writable(pio, args->addr, len))
		len = fz_access_len(fz, pio);
	if (bus == BUS_CCW || !fz_writable(pio, args->addr, len))
		return;

	batch_add(fz, pio, args->addr, len, fz_chance(fz, 75) ? args->datamatch : fz_value(fz));
	if (fz_chance(fz, 25))
		batch_add(fz, pio, args->addr, len, fz_value(fz));
	batch_run(fz);
}

static void probe_ioregion(struct fuzz *fz, const struct kvm_ioregion *args)
{
	bool pio = args->flags & KVM_IOREGION_PIO;
	u64 lo = bus_base(pio) - MARGIN, hi = bus_base(pio) + WINDOW + MARGIN - 1;
	u64 last = range_last(args->guest_paddr, args->memory_size);
	u32 len = fz_access_len(fz, pio);
	u64 addr;

	if (last < args->guest_paddr)
		last = ~0ull;
	lo = max_t(u64, lo, args->guest_paddr);
	hi = min(hi, last);
	if (lo > hi)
		return;

	addr = lo + fz_below(fz, hi - lo + 1);
	if (!fz_writable(pio, addr, len))
		addr = bus_base(pio) + WINDOW + MARGIN - len;
	batch_add(fz, pio, addr, len, fz_value(fz));
	batch_run(fz);
}

/* The calls. */

static const char *errno_str(int err)
{
	return err ? strerror(err) : "success";
}

static void count_result(struct fuzz *fz, int ioc, int err)
{
	u32 i;

	for (i = 0; i < NR_COUNTED; i++)
		if (counted_errnos[i] == err)
			break;
	fz->stats.results[ioc][i]++;
}

/*
 * Report the first call of each kind of disagreement and go on, so that one
 * run shows every kind; the test fails at its end.
 */
static void check_errno(struct fuzz *fz, int ioc, bool deassign, const struct fz_expect *exp,
			int got, const char *desc)
{
	struct fz_mismatch *m;
	u32 i;

	count_result(fz, ioc, got);
	fz->stats.errno_checks++;
	if (fz->trace)
		ksft_print_msg("call %u: %s(%s): %s (model: %s, %s)\n", fz->call, ioc_names[ioc],
			       desc, errno_str(got), errno_str(exp->err), exp->why);
	if (got == exp->err)
		return;

	for (i = 0; i < fz->nr_mismatches; i++) {
		m = &fz->mismatches[i];
		if (m->ioc == ioc && m->deassign == deassign && m->expected == exp->err &&
		    m->got == got) {
			m->count++;
			return;
		}
	}

	ksft_print_msg("seed 0x%lx, call %u: %s(%s) returned %s, the model expects %s: %s\n",
		       fz->seed, fz->call, ioc_names[ioc], desc, errno_str(got),
		       errno_str(exp->err), exp->why);
	TEST_ASSERT(fz->nr_mismatches < MAX_MISMATCHES, "Too many kinds of errno mismatch");
	fz->mismatches[fz->nr_mismatches++] = (struct fz_mismatch) {
		.ioc = ioc, .deassign = deassign, .expected = exp->err, .got = got,
		.count = 1, .first_call = fz->call,
	};
}

static const char *ioeventfd_str(const struct kvm_ioeventfd *args, int kind, char *buf,
				 size_t size)
{
	snprintf(buf, size, "addr 0x%llx, len %u, fd %s, flags 0x%x, datamatch 0x%llx",
		 args->addr, args->len, fd_info[kind].name, args->flags, args->datamatch);
	return buf;
}

static const char *ioregion_str(const struct kvm_ioregion *args, int rkind, int wkind,
				char *buf, size_t size)
{
	snprintf(buf, size, "paddr 0x%llx, size 0x%llx, read_fd %s, write_fd %s, flags 0x%x%s",
		 args->guest_paddr, args->memory_size, fd_info[rkind].name, fd_info[wkind].name,
		 args->flags, ioregion_pad_zero(args) ? "" : ", nonzero pad");
	return buf;
}

/* Make the call, check its errno and keep the model in step with KVM. */
static int do_ioeventfd(struct fuzz *fz, struct kvm_ioeventfd *args, int kind)
{
	struct fz_expect exp = ioeventfd_expect(fz, args, kind);
	char desc[160];
	int ret, err;

	args->fd = fz->fds[kind];
	fz->call++;
	ret = __vm_ioctl(fz->vm, KVM_IOEVENTFD, args);
	err = ret ? errno : 0;
	TEST_ASSERT(ret == 0 || ret == -1, "KVM_IOEVENTFD returned %d", ret);

	ioeventfd_str(args, kind, desc, sizeof(desc));
	check_errno(fz, IOC_IOEVENTFD, args->flags & KVM_IOEVENTFD_FLAG_DEASSIGN, &exp, err, desc);
	if (!err)
		ioeventfd_apply(fz, args, kind);
	return err;
}

static int do_ioregion(struct fuzz *fz, struct kvm_ioregion *args, int rkind, int wkind)
{
	struct fz_expect exp = ioregion_expect(fz, args, rkind, wkind);
	char desc[160];
	int ret, err;

	args->read_fd = fz->fds[rkind];
	args->write_fd = fz->fds[wkind];
	fz->call++;
	ret = __vm_set_ioregion(fz->vm, args);
	err = ret ? errno : 0;
	TEST_ASSERT(ret == 0 || ret == -1, "KVM_SET_IOREGION returned %d", ret);

	ioregion_str(args, rkind, wkind, desc, sizeof(desc));
	check_errno(fz, IOC_IOREGION, args->flags & KVM_IOREGION_DEASSIGN, &exp, err, desc);
	if (!err)
		ioregion_apply(fz, args, rkind, wkind);
	return err;
}

/* Random arguments. */

static const u32 bad_lens[] = { 3, 5, 16, 0x80000000 };

static u32 gen_ioeventfd_len(struct fuzz *fz)
{
	if (fz_chance(fz, 8))
		return bad_lens[fz_below(fz, ARRAY_SIZE(bad_lens))];
	return fz_chance(fz, 20) ? 0 : 1u << fz_below(fz, 4);
}

static u32 fz_unknown_bit(struct fuzz *fz)
{
	return kvm_ioeventfd_flag_nr_max + fz_below(fz, 32 - kvm_ioeventfd_flag_nr_max);
}

static u64 gen_ioeventfd_addr(struct fuzz *fz, bool pio)
{
	u32 r = fz_below(fz, 100);

	if (r < 85)
		return fz->anywhere ? fz_window_addr(fz, pio) : fz_slot(fz, pio);
	if (r < 92)
		return ~0ull - fz_below(fz, 9);
	if (r < 96)
		return pio ? 0x10000 : 0;
	return fz_rand(fz);
}

static u32 gen_ioeventfd_flags(struct fuzz *fz)
{
	u32 r = fz_below(fz, 100), flags;

	if (r < 45)
		flags = KVM_IOEVENTFD_FLAG_PIO;
	else if (r < 90)
		flags = 0;
	else if (r < 95)
		flags = KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY;
	else
		flags = KVM_IOEVENTFD_FLAG_PIO | KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY;

	if (fz_chance(fz, 50))
		flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
	if (fz_chance(fz, 3))
		flags |= 1u << kvm_ioeventfd_flag_nr_fast_mmio;
	if (fz_chance(fz, 3))
		flags |= 1u << fz_unknown_bit(fz);
	return flags;
}

static int gen_ioeventfd_kind(struct fuzz *fz)
{
	if (fz_chance(fz, 85))
		return fz_efd_kind(fz, fz_below(fz, NR_EFDS));
	return fz_any_kind(fz);
}

/* Change one thing about the arguments of an existing ioeventfd. */
static void mutate_ioeventfd(struct fuzz *fz, struct kvm_ioeventfd *args, int *kind)
{
	switch (fz_below(fz, 6)) {
	case 0:
		*kind = gen_ioeventfd_kind(fz);
		break;
	case 1:
		args->datamatch = fz_value(fz);
		break;
	case 2:
		args->len = gen_ioeventfd_len(fz);
		break;
	case 3:
		args->flags ^= KVM_IOEVENTFD_FLAG_DATAMATCH;
		break;
	case 4:
		args->flags |= 1u << fz_unknown_bit(fz);
		break;
	default:
		args->flags ^= KVM_IOEVENTFD_FLAG_PIO;
		break;
	}
}

/* Arguments that name an existing ioeventfd, for a deassign or a duplicate. */
static bool gen_ioeventfd_existing(struct fuzz *fz, struct kvm_ioeventfd *args, int *kind)
{
	const struct fz_item *item;

	if (!fz->nr_items)
		return false;

	item = &fz->items[fz_below(fz, fz->nr_items)];
	args->addr = item->addr;
	args->len = item->len;
	args->datamatch = item->wildcard ? fz_value(fz) : item->datamatch;
	args->flags = bus_ioeventfd_flags(item->bus) |
		      (item->wildcard ? 0 : KVM_IOEVENTFD_FLAG_DATAMATCH);
	*kind = fz_efd_kind(fz, item->efd);
	if (fz_chance(fz, 20))
		mutate_ioeventfd(fz, args, kind);
	return true;
}

static void gen_ioeventfd(struct fuzz *fz, struct kvm_ioeventfd *args, int *kind)
{
	bool deassign = fz_chance(fz, fz->nr_items > ITEMS_HIGH ? 80 : 45);

	memset(args, 0, sizeof(*args));
	if (!fz_chance(fz, deassign ? 70 : 15) || !gen_ioeventfd_existing(fz, args, kind)) {
		args->flags = gen_ioeventfd_flags(fz);
		args->addr = gen_ioeventfd_addr(fz, args->flags & KVM_IOEVENTFD_FLAG_PIO);
		args->len = gen_ioeventfd_len(fz);
		args->datamatch = fz_value(fz);
		*kind = gen_ioeventfd_kind(fz);
	}
	if (deassign)
		args->flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;

	/* KVM never checked this pad, and must not start now. */
	if (fz_chance(fz, 5))
		args->pad[fz_below(fz, sizeof(args->pad))] = 1 + fz_below(fz, 255);
}

static void call_ioeventfd(struct fuzz *fz)
{
	struct kvm_ioeventfd args;
	int kind, err;

	gen_ioeventfd(fz, &args, &kind);
	err = do_ioeventfd(fz, &args, kind);

	/* A failed call must have changed nothing; look now and then. */
	if (!err || fz_chance(fz, 12))
		probe_ioeventfd(fz, &args);
}

static const u64 region_sizes[] = { 1, 2, 3, 4, 5, 8, 12, 16, 24, 32, 48, 64, 0x1000 };

static u64 gen_region_size(struct fuzz *fz, u64 paddr, bool pio)
{
	u32 r = fz_below(fz, 100);

	if (r < 15)
		return 0;
	if (r < 85)
		return region_sizes[fz_below(fz, ARRAY_SIZE(region_sizes))];
	if (r < 89)
		return ~0ull;
	if (r < 93)
		return -paddr;
	if (r < 97)
		return (pio ? 0x10000 : 0) - paddr + fz_below(fz, 2);
	return fz_rand(fz);
}

static u64 gen_region_paddr(struct fuzz *fz, bool pio)
{
	u32 r = fz_below(fz, 100);

	if (r < 88)
		return fz_window_addr(fz, pio);
	if (r < 94)
		return pio ? 0xfff0 + fz_below(fz, 0x11) : 0;
	return ~0ull - fz_below(fz, 16);
}

/*
 * A small region at or next to an in-kernel device of the bus: small, so
 * that one that misses the device stays clear of the ucall port too.
 */
static void gen_region_near_device(struct fuzz *fz, struct kvm_ioregion *args, bool pio)
{
#ifdef __x86_64__
	u32 i;

	do {
		i = fz_below(fz, ARRAY_SIZE(kernel_devs));
	} while (kernel_devs[i].bus != (pio ? BUS_PIO : BUS_MMIO));

	args->guest_paddr = kernel_devs[i].addr - 4 +
			    fz_below(fz, kernel_devs[i].len + 8);
	args->memory_size = fz_below(fz, 5);
#else
	/* There is none: a region like any other. */
	args->guest_paddr = gen_region_paddr(fz, pio);
	args->memory_size = gen_region_size(fz, args->guest_paddr, pio);
#endif
}

/*
 * A read_fd or write_fd.  The device's ends stand for their peers: KVM
 * would take them, and then read commands meant for the device.
 */
static int gen_ioregion_kind(struct fuzz *fz)
{
	static const int good[] = { FD_P0, FD_Q0, FD_S0 };
	int kind;

	if (fz_chance(fz, 80))
		return good[fz_below(fz, ARRAY_SIZE(good))];

	kind = fz_any_kind(fz);
	switch (kind) {
	case FD_P1:
		return FD_P0;
	case FD_Q1:
		return FD_Q0;
	case FD_S1:
		return FD_S0;
	default:
		return kind;
	}
}

static bool gen_ioregion_existing(struct fuzz *fz, struct kvm_ioregion *args)
{
	const struct fz_region *r;

	if (!fz->nr_regions)
		return false;

	r = &fz->regions[fz_below(fz, fz->nr_regions)];
	args->guest_paddr = r->paddr;
	args->memory_size = r->size;
	args->flags = (r->bus == BUS_PIO ? KVM_IOREGION_PIO : 0) |
		      (r->posted ? KVM_IOREGION_POSTED_WRITES : 0);
	if (fz_chance(fz, 10))
		args->flags ^= KVM_IOREGION_POSTED_WRITES;
	if (fz_chance(fz, 10))
		args->guest_paddr += fz_chance(fz, 50) ? 1 : -1;
	if (fz_chance(fz, 10))
		args->flags ^= KVM_IOREGION_PIO;
	return true;
}

/*
 * Outside x86 a ucall is an MMIO write: keep a region to be assigned clear
 * of its first byte, or the region's device would take the guest's ucalls.
 */
static void avoid_ucall(struct fuzz *fz, struct kvm_ioregion *args)
{
#ifndef __x86_64__
	u64 ucall = fz->vm->ucall_mmio_addr;

	if (args->flags & (KVM_IOREGION_PIO | KVM_IOREGION_DEASSIGN) ||
	    !ranges_overlap(args->guest_paddr, args->memory_size, ucall, 1))
		return;
	if (args->guest_paddr < ucall)
		args->memory_size = ucall - args->guest_paddr;
	else
		args->guest_paddr = ucall + 8;
#endif
}

static void gen_ioregion(struct fuzz *fz, struct kvm_ioregion *args)
{
	bool deassign = fz_chance(fz, fz->nr_regions > REGIONS_HIGH ? 80 : 40);
	bool pio;

	memset(args, 0, sizeof(*args));
	if (!fz_chance(fz, deassign ? 70 : 10) || !gen_ioregion_existing(fz, args)) {
		pio = fz_chance(fz, 50);
		args->flags = pio ? KVM_IOREGION_PIO : 0;
		if (fz_chance(fz, 4)) {
			gen_region_near_device(fz, args, pio);
		} else {
			args->guest_paddr = gen_region_paddr(fz, pio);
			args->memory_size = gen_region_size(fz, args->guest_paddr, pio);
		}
		if (fz_chance(fz, args->memory_size ? 50 : 90))
			args->flags |= KVM_IOREGION_POSTED_WRITES;
	}
	if (deassign)
		args->flags |= KVM_IOREGION_DEASSIGN;
	if (fz_chance(fz, 3))
		args->flags |= 1u << (3 + fz_below(fz, 29));
	if (fz_chance(fz, 3))
		args->pad[fz_below(fz, sizeof(args->pad))] = 1 + fz_below(fz, 255);
	args->user_data = fz_rand(fz);
	avoid_ucall(fz, args);
}

static void call_ioregion(struct fuzz *fz)
{
	struct kvm_ioregion args;
	int rkind, wkind, err;

	gen_ioregion(fz, &args);
	rkind = gen_ioregion_kind(fz);
	wkind = gen_ioregion_kind(fz);
	err = do_ioregion(fz, &args, rkind, wkind);

	if (!err || fz_chance(fz, 12))
		probe_ioregion(fz, &args);
}

/* The tests. */

/*
 * Deassign what the model has, each of which must succeed, then check that
 * every write exits.  VM teardown frees anything the model missed.
 */
static void fz_drain(struct fuzz *fz)
{
	struct kvm_ioeventfd ioeventfd;
	struct kvm_ioregion ioregion;
	const struct fz_item *item;
	const struct fz_region *r;

	while (fz->nr_items) {
		item = &fz->items[fz->nr_items - 1];
		ioeventfd = (struct kvm_ioeventfd) {
			.addr = item->addr, .len = item->len, .datamatch = item->datamatch,
			.flags = bus_ioeventfd_flags(item->bus) | KVM_IOEVENTFD_FLAG_DEASSIGN |
				 (item->wildcard ? 0 : KVM_IOEVENTFD_FLAG_DATAMATCH),
		};
		if (do_ioeventfd(fz, &ioeventfd, FD_EFD0 + item->efd))
			fz_fail(fz, "Failed to deassign an ioeventfd of the model");
	}

	while (fz->nr_regions) {
		r = &fz->regions[fz->nr_regions - 1];
		ioregion = (struct kvm_ioregion) {
			.guest_paddr = r->paddr, .memory_size = r->size,
			.flags = (r->bus == BUS_PIO ? KVM_IOREGION_PIO : 0) |
				 (r->posted ? KVM_IOREGION_POSTED_WRITES : 0) |
				 KVM_IOREGION_DEASSIGN,
		};
		if (do_ioregion(fz, &ioregion, FD_NONE, FD_NONE))
			fz_fail(fz, "Failed to deassign an ioregion of the model");
	}

	full_sweep(fz);
}

static u64 env_u64(const char *name, u64 def)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 0) : def;
}

static void fz_print_stats(struct fuzz *fz, const char *name)
{
	const struct fz_stats *st = &fz->stats;
	char buf[160];
	int ioc, len;
	u32 i, nr;

	ksft_print_msg("%s: seed 0x%lx, %u calls, %u errno checks, %u state checks (%u runs)\n",
		       name, fz->seed, fz->call, st->errno_checks, st->writes, st->runs);
	for (ioc = 0; ioc < NR_IOCS; ioc++) {
		len = 0;
		nr = 0;
		for (i = 0; i <= NR_COUNTED; i++) {
			nr += st->results[ioc][i];
			len += snprintf(buf + len, sizeof(buf) - len, ", %s %u", counted_names[i],
					st->results[ioc][i]);
		}
		ksft_print_msg("%s: %u %s calls%s\n", name, nr, ioc_names[ioc], buf);
	}
}

static void fz_check_mismatches(struct fuzz *fz)
{
	const struct fz_mismatch *m;
	u32 i;

	for (i = 0; i < fz->nr_mismatches; i++) {
		m = &fz->mismatches[i];
		ksft_print_msg("%u %s%s calls: %s, the model expects %s; first: call %u\n",
			       m->count, ioc_names[m->ioc], m->deassign ? " deassign" : "",
			       errno_str(m->got), errno_str(m->expected), m->first_call);
	}
	TEST_ASSERT(!fz->nr_mismatches,
		    "seed 0x%lx: %u kinds of errno disagree with the model, see above",
		    fz->seed, fz->nr_mismatches);
}

/* @ioregion_percent of the calls are KVM_SET_IOREGION, the rest KVM_IOEVENTFD. */
static void fz_run_calls(struct fuzz *fz, const char *name, u64 salt, u32 ioregion_percent)
{
	u32 i;

	fz->seed = env_u64("KVM_FUZZ_SEED", DEFAULT_SEED);
	fz->nr_calls = env_u64("KVM_FUZZ_CALLS", DEFAULT_CALLS);
	fz->trace = env_u64("KVM_FUZZ_TRACE", 0);
	fz->anywhere = env_u64("KVM_FUZZ_ANYWHERE", 0);
	fz->rng = fz->seed ^ salt;
	ksft_print_msg("%s: seed 0x%lx (KVM_FUZZ_SEED), %u calls (KVM_FUZZ_CALLS)\n",
		       name, fz->seed, fz->nr_calls);

	for (i = 0; i < fz->nr_calls; i++) {
		if (fz_below(fz, 100) < ioregion_percent)
			call_ioregion(fz);
		else
			call_ioeventfd(fz);
		if (!(fz->call % SWEEP_EVERY))
			sweep(fz, SWEEP_WRITES);
	}

	full_sweep(fz);
	fz_drain(fz);
	fz_print_stats(fz, name);
	fz_check_mismatches(fz);
}

static void nop_handler(int sig)
{
}

FIXTURE(eventfd_fuzz) {
	struct fuzz *fz;
};

FIXTURE_SETUP(eventfd_fuzz)
{
	struct sigaction sa = { .sa_handler = nop_handler };
	struct fuzz *fz;

	/* No SA_RESTART: the alarm must get a waiting KVM_RUN out. */
	sigemptyset(&sa.sa_mask);
	TEST_ASSERT(!sigaction(SIGALRM, &sa, NULL), "sigaction() failed, errno %d", errno);

	fz = calloc(1, sizeof(*fz));
	TEST_ASSERT(fz, "Failed to allocate the model");
	fz->vm = vm_create_with_one_vcpu(&fz->vcpu, guest_code);
	virt_map(fz->vm, MMIO_GPA, MMIO_GPA, 1);
	fz_open_fds(fz);
	device_start(fz);
	self->fz = fz;
}

FIXTURE_TEARDOWN(eventfd_fuzz)
{
	/* The VM goes first: it holds the files of everything registered. */
	kvm_vm_free(self->fz->vm);
	device_stop(self->fz);
	fz_close_fds(self->fz);
	free(self->fz);
}

/* ioeventfd groups: wildcards, datamatches and zero lengths sharing addresses. */
TEST_F_TIMEOUT(eventfd_fuzz, ioeventfd, 900)
{
	if (!kvm_has_cap(KVM_CAP_IOEVENTFD_GROUPS))
		SKIP(return, "KVM_CAP_IOEVENTFD_GROUPS not supported");

	fz_run_calls(self->fz, "ioeventfd", 0x100, 0);
}

/*
 * ioregions over stream socketpairs, split into one per direction or not,
 * posted or not, and their overlaps; pipes and other fds refused.
 */
TEST_F_TIMEOUT(eventfd_fuzz, ioregion, 900)
{
	if (!kvm_has_cap(KVM_CAP_IOREGIONFD))
		SKIP(return, "KVM_CAP_IOREGIONFD not supported");

	fz_run_calls(self->fz, "ioregion", 0x200, 100);
}

/* Both, so that each runs into the other in both directions. */
TEST_F_TIMEOUT(eventfd_fuzz, mixed, 900)
{
	if (!kvm_has_cap(KVM_CAP_IOEVENTFD_GROUPS) || !kvm_has_cap(KVM_CAP_IOREGIONFD))
		SKIP(return, "KVM_CAP_IOEVENTFD_GROUPS or KVM_CAP_IOREGIONFD not supported");

	fz_run_calls(self->fz, "mixed", 0x300, 50);
}

int main(int argc, char *argv[])
{
	TEST_REQUIRE(kvm_has_cap(KVM_CAP_IOEVENTFD_GROUPS) || kvm_has_cap(KVM_CAP_IOREGIONFD));

	return test_harness_run(argc, argv);
}
