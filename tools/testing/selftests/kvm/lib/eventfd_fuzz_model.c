// SPDX-License-Identifier: GPL-2.0-only
/*
 * eventfd_fuzz_test's model of KVM_IOEVENTFD and KVM_SET_IOREGION: the errno
 * each call must return, per the tables in Documentation/virt/kvm/api.rst,
 * what it registers, and where KVM must route each guest write.  An
 * ioeventfd may lie inside an ioregion and takes the writes it matches;
 * every other write whose first byte lies in a region goes to that region's
 * device.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "eventfd_fuzz.h"
#include "guest_io.h"
#include "ioregion_device.h"
#include "test_util.h"

static const char * const bus_names[] = { "MMIO", "PIO", "CCW" };

struct fz_expect {
	int err;
	const char *why;
};

static const char * const ioc_names[] = { "KVM_IOEVENTFD", "KVM_SET_IOREGION" };

/* errnos counted per ioctl; the last slot counts any other. */
static const int counted_errnos[] = { 0, EINVAL, EBADF, EEXIST, ENOENT };
static const char * const counted_names[] = { "ok", "EINVAL", "EBADF", "EEXIST", "ENOENT",
					      "other" };

kvm_static_assert(ARRAY_SIZE(counted_errnos) == NR_COUNTED);

/* The model of KVM_IOEVENTFD. */

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
	const struct fz_fd_info *fd = &fz_fd_kinds[kind];
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
	const struct fz_fd_info *fd = &fz_fd_kinds[kind];
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
	struct fz_item key = ioeventfd_item(args, fz_fd_kinds[kind].efd);
	int i = find_item(fz, &key);

	if (!(args->flags & KVM_IOEVENTFD_FLAG_DEASSIGN)) {
		TEST_ASSERT(fz_fd_kinds[kind].efd >= 0,
			    "seed 0x%lx, call %u: KVM took %s as an eventfd",
			    fz->seed, fz->call, fz_fd_kinds[kind].name);
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
	const struct fz_fd_info *fd = &fz_fd_kinds[kind];

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
		TEST_ASSERT((fz_fd_kinds[rkind].rq >= 0 || !args->memory_size) &&
			    fz_fd_kinds[wkind].wq >= 0,
			    "seed 0x%lx, call %u: KVM took %s and %s as read_fd and write_fd",
			    fz->seed, fz->call, fz_fd_kinds[rkind].name, fz_fd_kinds[wkind].name);
		TEST_ASSERT(fz->nr_regions < MAX_REGIONS, "Too many ioregions in the model");
		fz->regions[fz->nr_regions++] = (struct fz_region) {
			.paddr = args->guest_paddr,
			.size = args->memory_size,
			.user_data = args->user_data,
			.bus = bus,
			.posted = args->flags & KVM_IOREGION_POSTED_WRITES,
			.rq = fz_fd_kinds[rkind].rq,
			.wq = fz_fd_kinds[wkind].wq,
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
int fz_region_at(struct fuzz *fz, const struct fz_write *w)
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
u32 fz_items_signal(struct fuzz *fz, const struct fz_write *w, u64 *signals)
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

void fz_batch_expect_cmd(struct fz_batch *b, const struct fz_region *r,
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

const char *fz_describe_write(struct fuzz *fz, const struct fz_write *w, char *buf,
			      size_t size)
{
	u64 signals[NR_EFDS] = {};
	int r = fz_region_at(fz, w);
	u32 n;

	n = fz_items_signal(fz, w, signals);
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

static void batch_dump(struct fuzz *fz)
{
	struct fz_batch *b = &fz->batch;
	char buf[160];
	u32 i;

	for (i = 0; i < b->nr; i++) {
		fz_describe_write(fz, &b->writes[i], buf, sizeof(buf));
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
void fz_fail(struct fuzz *fz, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	model_dump(fz);
	batch_dump(fz);
	fz_device_dump(fz);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	TEST_FAIL("seed 0x%lx, call %u: %s", fz->seed, fz->call, msg);
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
		 args->addr, args->len, fz_fd_kinds[kind].name, args->flags, args->datamatch);
	return buf;
}

static const char *ioregion_str(const struct kvm_ioregion *args, int rkind, int wkind,
				char *buf, size_t size)
{
	snprintf(buf, size, "paddr 0x%llx, size 0x%llx, read_fd %s, write_fd %s, flags 0x%x%s",
		 args->guest_paddr, args->memory_size, fz_fd_kinds[rkind].name,
		 fz_fd_kinds[wkind].name, args->flags,
		 ioregion_pad_zero(args) ? "" : ", nonzero pad");
	return buf;
}

/* Make the call, check its errno and keep the model in step with KVM. */
int fz_do_ioeventfd(struct fuzz *fz, struct kvm_ioeventfd *args, int kind)
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

int fz_do_ioregion(struct fuzz *fz, struct kvm_ioregion *args, int rkind, int wkind)
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

/*
 * Deassign what the model has, each of which must succeed.  VM teardown
 * frees anything the model missed.
 */
void fz_deassign_all(struct fuzz *fz)
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
		if (fz_do_ioeventfd(fz, &ioeventfd, FD_EFD0 + item->efd))
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
		if (fz_do_ioregion(fz, &ioregion, FD_NONE, FD_NONE))
			fz_fail(fz, "Failed to deassign an ioregion of the model");
	}
}

void fz_print_stats(struct fuzz *fz, const char *name)
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

void fz_check_mismatches(struct fuzz *fz)
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
