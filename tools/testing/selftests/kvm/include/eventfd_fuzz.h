/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * eventfd_fuzz_test's state: the fds it hands to KVM, the model of what
 * KVM_IOEVENTFD and KVM_SET_IOREGION registered, the guest writes of a
 * batch and what the model says they do, and the device thread that serves
 * the ioregions.  lib/eventfd_fuzz_model.c keeps the model,
 * lib/eventfd_fuzz_device.c the fds and the device.
 */
#ifndef SELFTEST_KVM_EVENTFD_FUZZ_H
#define SELFTEST_KVM_EVENTFD_FUZZ_H

#include <pthread.h>

#include <linux/ioregion.h>

#include "kvm_util.h"

#define MAX_ITEMS		2048
#define MAX_REGIONS		256
#define MAX_BATCH		16
#define MAX_MISMATCHES		32

struct fz_write {
	u64 addr;
	u64 val;
	u32 len;
	bool pio;
};

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

extern const struct fz_fd_info fz_fd_kinds[NR_FDS];

enum fz_bus { BUS_MMIO, BUS_PIO, BUS_CCW };

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

/* The errnos counted per ioctl, see counted_errnos; one slot more counts any other. */
#define NR_COUNTED		5

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

/* The last byte of a range, where a zero length covers the byte it names. */
static inline u64 range_last(u64 addr, u64 len)
{
	return addr + max_t(u64, len, 1) - 1;
}

static inline bool ranges_overlap(u64 a, u64 a_len, u64 b, u64 b_len)
{
	return a <= range_last(b, b_len) && b <= range_last(a, a_len);
}

static inline enum fz_bus ioeventfd_bus(u32 flags)
{
	if (flags & KVM_IOEVENTFD_FLAG_PIO)
		return BUS_PIO;
	if (flags & KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY)
		return BUS_CCW;
	return BUS_MMIO;
}

static inline u32 bus_ioeventfd_flags(enum fz_bus bus)
{
	if (bus == BUS_PIO)
		return KVM_IOEVENTFD_FLAG_PIO;
	if (bus == BUS_CCW)
		return KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY;
	return 0;
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

void fz_open_fds(struct fuzz *fz);
void fz_close_fds(struct fuzz *fz);
void fz_device_start(struct fuzz *fz);
void fz_device_stop(struct fuzz *fz);
void fz_device_arm(struct fuzz *fz);
void fz_device_dump(struct fuzz *fz);
void fz_check_device(struct fuzz *fz);

u32 fz_items_signal(struct fuzz *fz, const struct fz_write *w, u64 *signals);
int fz_region_at(struct fuzz *fz, const struct fz_write *w);
void fz_batch_expect_cmd(struct fz_batch *b, const struct fz_region *r,
			 const struct fz_write *w);
const char *fz_describe_write(struct fuzz *fz, const struct fz_write *w, char *buf,
			      size_t size);
int fz_do_ioeventfd(struct fuzz *fz, struct kvm_ioeventfd *args, int kind);
int fz_do_ioregion(struct fuzz *fz, struct kvm_ioregion *args, int rkind, int wkind);
void fz_deassign_all(struct fuzz *fz);
void __printf(2, 3) fz_fail(struct fuzz *fz, const char *fmt, ...);
void fz_print_stats(struct fuzz *fz, const char *name);
void fz_check_mismatches(struct fuzz *fz);

#endif /* SELFTEST_KVM_EVENTFD_FUZZ_H */
