// SPDX-License-Identifier: GPL-2.0-only
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/kvm_host.h>
#include <linux/maple_tree.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/unaligned.h>
#include <linux/workqueue.h>
#include <net/sock.h>

#include <kvm/iodev.h>
#include <kvm/ioregion.h>
#include <trace/events/kvm.h>

/*
 * ioregionfd: the MMIO and PIO exits that KVM would return to userspace for
 * a guest access to a region become 32-byte commands on the region's
 * write_fd, answered on its read_fd by a device task.
 *
 * Regions are not devices on the I/O bus.  The arch hands every such exit
 * to kvm_ioregion_serve() at the point where KVM_RUN would return it, out
 * of the SRCU read side, and completes it exactly as if userspace had
 * answered.  So whatever the guest instruction (string I/O, 16-byte moves,
 * read-modify-write, page-crossing fragments), every piece that userspace
 * would have seen as an exit becomes one command, and nothing is left for
 * userspace.  In-kernel devices, ioeventfds included, keep the accesses
 * they take.
 *
 * Only connected AF_UNIX stream sockets are accepted: a 32-byte send on one
 * is atomic, and a task waiting on one is woken by any signal whatever the
 * peer does.  A pipe is neither: its mutex is taken uninterruptibly and a
 * device may hold it indefinitely by splicing into the pipe.
 */

enum {
	IOREGION_IDLE,
	IOREGION_START,		/* the piece's command is not sent yet */
	IOREGION_RECV,		/* sent, receiving the response */
	IOREGION_FAILED,	/* the device failed, to be reported */
	IOREGION_REPORTED,	/* reported, userspace completes the piece */
};

enum {
	IOREGION_MMIO,
	IOREGION_PIO,
};

/*
 * A wire is a socket as seen by all the regions, of any VM, that use it.
 * A vCPU owns the response side of a wire from before sending a command
 * until the response is in, even across a return to userspace on a
 * signal, so that responses reach the vCPU that asked for them.  Commands
 * need no owner: each is sent whole or not at all.
 */
struct ioregion_wire {
	struct hlist_node node;
	struct file *file;
	struct socket *sock;
	refcount_t refs;
	struct kvm_vcpu_ioregion *owner;
	/* The owner's task while it waits for the response. */
	struct task_struct *rx_task;
	wait_queue_head_t wq;
	/* Bytes of an abandoned response that the next owner must drop. */
	u32 discard;
	/* Set once the byte stream can no longer be trusted. */
	int error;
	/* Serializes receiving between the owner and the reaper. */
	struct mutex rx_lock;
	/*
	 * The owner is out of KVM_RUN, its response still to come: the reaper
	 * receives it in the owner's stead, see ioregion_park().
	 */
	bool parked;
	/* Woken by the socket, see ioregion_wire_wake(). */
	wait_queue_entry_t wait;
	struct work_struct reap;
};

static DEFINE_MUTEX(ioregion_wires_lock);
static DEFINE_HASHTABLE(ioregion_wires, 6);

struct ioregion {
	struct rcu_head rcu;
	/* One for the VM's tree, one for each vCPU serving an access. */
	refcount_t refs;
	struct kvm *kvm;
	gpa_t paddr;
	u64 size;
	u64 user_data;
	bool pio;
	bool posted_writes;
	/* Deassigned: send nothing more, see ioregion_send(). */
	bool dead;
	struct ioregion_wire *rwire;
	struct ioregion_wire *wwire;
};

/* Owns a wire while ioregion_wire_reap() drains it. */
static struct kvm_vcpu_ioregion ioregion_reaper;

static bool ioregion_wire_try_claim(struct ioregion_wire *wire, struct kvm_vcpu_ioregion *ctx)
{
	struct kvm_vcpu_ioregion *none = NULL;

	/* Full barrier on success: the previous owner's I/O is visible. */
	return try_cmpxchg(&wire->owner, &none, ctx);
}

static void ioregion_wire_unclaim(struct ioregion_wire *wire)
{
	/* Release barrier: the next owner sees this owner's I/O and state. */
	smp_store_release(&wire->owner, NULL);
	if (wq_has_sleeper(&wire->wq))
		wake_up_all(&wire->wq);
}

/*
 * Read and drop whatever the socket holds that no vCPU waits for: what is
 * left of abandoned responses, and, once the peer is gone or sent data
 * nobody asked for, everything.  Dropping it also drops the files it may
 * carry with SCM_RIGHTS: left queued, a VM's own fd would keep the VM, and
 * so this socket, alive for good, since the AF_UNIX garbage collector does
 * not see KVM's reference to the socket.
 */
static void ioregion_wire_drop(struct ioregion_wire *wire)
{
	u8 scratch[sizeof(struct ioregionfd_resp)];
	struct kvec kvec = { .iov_base = scratch };
	int ret;

	do {
		struct msghdr msg = {};

		kvec.iov_len = wire->error ? sizeof(scratch) :
					     min_t(u32, wire->discard, sizeof(scratch));
		if (!kvec.iov_len)
			break;
		ret = kernel_recvmsg(wire->sock, &msg, &kvec, 1, kvec.iov_len, MSG_DONTWAIT);
		if (ret > 0 && !wire->error)
			wire->discard -= ret;
	} while (ret > 0);
}

static bool ioregion_wire_has_data(struct ioregion_wire *wire)
{
	return !skb_queue_empty_lockless(&wire->sock->sk->sk_receive_queue);
}

/*
 * Receive, without waiting, what has come in for @ctx: first what is left of
 * abandoned responses, then the response of @ctx.  Return 0 once that is
 * whole, -EAGAIN while more is to come.
 */
static int ioregion_pull(struct ioregion_wire *wire, struct kvm_vcpu_ioregion *ctx)
{
	u8 scratch[sizeof(struct ioregionfd_resp)];
	struct kvec kvec;
	int ret;

	lockdep_assert_held(&wire->rx_lock);

	while (ctx->done < sizeof(ctx->resp)) {
		struct msghdr msg = {};

		if (wire->discard) {
			kvec.iov_base = scratch;
			kvec.iov_len = min_t(u32, wire->discard, sizeof(scratch));
		} else {
			kvec.iov_base = (u8 *)&ctx->resp + ctx->done;
			kvec.iov_len = sizeof(ctx->resp) - ctx->done;
		}
		ret = kernel_recvmsg(wire->sock, &msg, &kvec, 1, kvec.iov_len, MSG_DONTWAIT);
		/* End of file: the device closed its end. */
		if (!ret)
			return -EPIPE;
		if (ret < 0)
			return ret;
		if (wire->discard)
			wire->discard -= ret;
		else
			ctx->done += ret;
	}
	return 0;
}

/* Take the parked owner's response; drop whatever comes after it. */
static void ioregion_reap_parked(struct ioregion_wire *wire)
{
	lockdep_assert_held(&wire->rx_lock);

	if (ioregion_pull(wire, wire->owner) || !ioregion_wire_has_data(wire))
		return;

	if (!READ_ONCE(wire->error))
		WRITE_ONCE(wire->error, -EPROTO);
	ioregion_wire_drop(wire);
}

static void ioregion_wire_reap(struct work_struct *work)
{
	struct ioregion_wire *wire = container_of(work, struct ioregion_wire, reap);
	__poll_t mask;

	mutex_lock(&wire->rx_lock);
	if (wire->parked) {
		ioregion_reap_parked(wire);
		mutex_unlock(&wire->rx_lock);
		return;
	}
	mutex_unlock(&wire->rx_lock);

	if (!ioregion_wire_try_claim(wire, &ioregion_reaper))
		return;

	mask = vfs_poll(wire->file, NULL);
	if (!READ_ONCE(wire->error) && (mask & (EPOLLHUP | EPOLLERR)))
		WRITE_ONCE(wire->error, -EPIPE);
	else if (!READ_ONCE(wire->error) && !wire->discard && (mask & EPOLLIN))
		WRITE_ONCE(wire->error, -EPROTO);

	ioregion_wire_drop(wire);
	ioregion_wire_unclaim(wire);
}

/*
 * Data or a hang-up on the socket: wake the owner if it waits for its
 * response, or let the reaper look at what no vCPU waits for.  Ignore room
 * to write, which the owner's own command frees as the device reads it.
 */
static int ioregion_wire_wake(wait_queue_entry_t *wait, unsigned int mode, int sync, void *key)
{
	struct ioregion_wire *wire = container_of(wait, struct ioregion_wire, wait);
	struct task_struct *task;

	if (key && !(key_to_poll(key) & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)))
		return 0;

	/* The task clears rx_task before it can exit, see ioregion_wait_readable(). */
	task = READ_ONCE(wire->rx_task);
	if (task)
		wake_up_process(task);
	else if (!READ_ONCE(wire->owner) || READ_ONCE(wire->parked))
		schedule_work(&wire->reap);
	return 0;
}

/* One wire per socket, whichever descriptor or VM names it. */
static struct ioregion_wire *ioregion_wire_get(struct file *file)
{
	struct socket *sock = sock_from_file(file);
	struct ioregion_wire *wire;

	mutex_lock(&ioregion_wires_lock);
	hash_for_each_possible(ioregion_wires, wire, node, (unsigned long)sock) {
		if (wire->sock == sock) {
			refcount_inc(&wire->refs);
			goto out_unlock;
		}
	}

	wire = kzalloc(sizeof(*wire), GFP_KERNEL_ACCOUNT);
	if (wire) {
		wire->file = get_file(file);
		wire->sock = sock;
		refcount_set(&wire->refs, 1);
		mutex_init(&wire->rx_lock);
		init_waitqueue_head(&wire->wq);
		INIT_WORK(&wire->reap, ioregion_wire_reap);
		init_waitqueue_func_entry(&wire->wait, ioregion_wire_wake);
		add_wait_queue(sk_sleep(wire->sock->sk), &wire->wait);
		hash_add(ioregion_wires, &wire->node, (unsigned long)sock);
		/* Reap what was queued before the wire existed. */
		schedule_work(&wire->reap);
	}
out_unlock:
	mutex_unlock(&ioregion_wires_lock);
	return wire;
}

static void ioregion_wire_put(struct ioregion_wire *wire)
{
	if (!wire || !refcount_dec_and_mutex_lock(&wire->refs, &ioregion_wires_lock))
		return;

	hash_del(&wire->node);
	mutex_unlock(&ioregion_wires_lock);
	remove_wait_queue(sk_sleep(wire->sock->sk), &wire->wait);
	cancel_work_sync(&wire->reap);
	fput(wire->file);
	kfree(wire);
}

static void ioregion_put(struct ioregion *region)
{
	if (!refcount_dec_and_test(&region->refs))
		return;

	ioregion_wire_put(region->rwire);
	ioregion_wire_put(region->wwire);
	/* Lockless lookups may still hold the pointer, see ioregion_lookup(). */
	kfree_rcu(region, rcu);
}

static int ioregion_claim(struct kvm_vcpu_ioregion *ctx)
{
	struct ioregion_wire *wire = ctx->region->rwire;

	if (!ioregion_wire_try_claim(wire, ctx) &&
	    wait_event_interruptible(wire->wq, ioregion_wire_try_claim(wire, ctx)))
		return -EINTR;

	ctx->claimed = true;
	return 0;
}

static void ioregion_release(struct kvm_vcpu_ioregion *ctx)
{
	struct ioregion_wire *wire = ctx->region->rwire;

	if (!ctx->claimed)
		return;

	ctx->claimed = false;
	/*
	 * Past the owner's response, only what is left of abandoned ones may
	 * come.  Fail the stream on anything else before the next owner can
	 * send a command, whose response it would garble.
	 */
	if (!wire->discard && !READ_ONCE(wire->error) && ioregion_wire_has_data(wire))
		WRITE_ONCE(wire->error, -EPROTO);
	ioregion_wire_unclaim(wire);
	/* Something may have come in that nobody will wait for. */
	if (READ_ONCE(wire->discard) || READ_ONCE(wire->error))
		schedule_work(&wire->reap);
}

/* Wait until a command fits in the socket's send buffer. */
static int ioregion_wait_writable(struct ioregion_wire *wire)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	wait_queue_head_t *wq = sk_sleep(wire->sock->sk);
	int ret = 0;

	add_wait_queue(wq, &wait);
	while (!(vfs_poll(wire->file, NULL) & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		if (signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		wait_woken(&wait, TASK_INTERRUPTIBLE, MAX_SCHEDULE_TIMEOUT);
	}
	remove_wait_queue(wq, &wait);
	return ret;
}

/*
 * Send the command, unless the region was deassigned.  The send never
 * waits for the device inside kvm->srcu, so that a deassign, which waits
 * for the SRCU readers, never waits for the device either, and once it
 * returns nothing more is sent for the region.
 */
static int ioregion_send(struct ioregion *region, struct ioregionfd_cmd *cmd)
{
	struct ioregion_wire *wire = region->wwire;
	struct kvec kvec = { .iov_base = cmd, .iov_len = sizeof(*cmd) };
	int idx, ret;

	for (;;) {
		/* A closed peer is a device failure, not a reason for SIGPIPE. */
		struct msghdr msg = { .msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL };

		idx = srcu_read_lock(&region->kvm->srcu);
		if (READ_ONCE(region->dead))
			ret = -ENOENT;
		else
			ret = kernel_sendmsg(wire->sock, &msg, &kvec, 1, sizeof(*cmd));
		srcu_read_unlock(&region->kvm->srcu, idx);

		if (ret != -EAGAIN)
			break;
		ret = ioregion_wait_writable(wire);
		if (ret)
			return ret;
	}

	if (ret == sizeof(*cmd))
		return 0;
	/* A stream socket queues a small message whole or not at all. */
	return ret < 0 ? ret : -EIO;
}

/*
 * Sleep until the socket has data or the peer is gone.  ioregion_wire_wake()
 * wakes the task, which spares it the wakeups for room to write that a
 * sleeper on the socket's own wait queue would get.  Any signal, fatal ones
 * included, ends the wait.
 */
static int ioregion_wait_readable(struct ioregion_wire *wire)
{
	int ret = 0;

	WRITE_ONCE(wire->rx_task, current);
	set_current_state(TASK_INTERRUPTIBLE);
	if (!(vfs_poll(wire->file, NULL) & (EPOLLIN | EPOLLERR | EPOLLHUP)) &&
	    !signal_pending(current))
		schedule();
	__set_current_state(TASK_RUNNING);
	/* The RCU read side of the waker keeps the task alive until here. */
	WRITE_ONCE(wire->rx_task, NULL);

	if (signal_pending(current))
		ret = -EINTR;
	return ret;
}

/*
 * A signal takes the owner out of KVM_RUN before its response is in.  Have
 * the reaper receive the response meanwhile: left queued, it may carry the
 * VM's own fd, which would keep the VM alive once userspace closes all.
 */
static void ioregion_park(struct ioregion_wire *wire)
{
	mutex_lock(&wire->rx_lock);
	WRITE_ONCE(wire->parked, true);
	mutex_unlock(&wire->rx_lock);
	/* What came in before woke nobody. */
	schedule_work(&wire->reap);
}

/* Receive the response of @ctx, after whatever came in so far. */
static int ioregion_recv_resp(struct kvm_vcpu_ioregion *ctx)
{
	struct ioregion_wire *wire = ctx->region->rwire;
	int ret;

	if (wire->parked) {
		if (mutex_lock_interruptible(&wire->rx_lock))
			return -EINTR;
		WRITE_ONCE(wire->parked, false);
		mutex_unlock(&wire->rx_lock);
	}

	while (ctx->done < sizeof(ctx->resp)) {
		/* A response is rarely in yet: a poll costs less than a receive. */
		ret = ioregion_wait_readable(wire);
		if (ret)
			return ret;

		if (mutex_lock_interruptible(&wire->rx_lock))
			return -EINTR;
		ret = ioregion_pull(wire, ctx);
		mutex_unlock(&wire->rx_lock);
		if (ret && ret != -EAGAIN)
			return ret;
	}
	return 0;
}

static u64 ioregion_get_value(const void *val, u32 len)
{
	u64 data = 0;

	switch (len) {
	case 1:
		return *(const u8 *)val;
	case 2:
		return get_unaligned((const u16 *)val);
	case 4:
		return get_unaligned((const u32 *)val);
	case 8:
		return get_unaligned((const u64 *)val);
	default:
		/* The fragment of an access that crosses a page. */
		memcpy(&data, val, min_t(u32, len, sizeof(data)));
		return data;
	}
}

static void ioregion_put_value(void *val, u32 len, u64 data)
{
	switch (len) {
	case 1:
		*(u8 *)val = data;
		break;
	case 2:
		put_unaligned((u16)data, (u16 *)val);
		break;
	case 4:
		put_unaligned((u32)data, (u32 *)val);
		break;
	case 8:
		put_unaligned(data, (u64 *)val);
		break;
	default:
		memcpy(val, &data, min_t(u32, len, sizeof(data)));
		break;
	}
}

/* Where the piece being served keeps its data. */
static void *ioregion_piece_data(struct kvm_vcpu_ioregion *ctx, void *pio_data)
{
	return ctx->pio ? pio_data + ctx->idx * ctx->size : ctx->data;
}

static bool ioregion_needs_resp(struct kvm_vcpu_ioregion *ctx)
{
	return !ctx->write || !ctx->region->posted_writes;
}

/* Zero-length regions take writes at their one address only. */
static u64 ioregion_offset(struct kvm_vcpu_ioregion *ctx)
{
	return ctx->region->size ? ctx->addr - ctx->region->paddr : 0;
}

static void ioregion_make_cmd(struct kvm_vcpu_ioregion *ctx, void *pio_data)
{
	struct ioregion *region = ctx->region;

	memset(&ctx->cmd, 0, sizeof(ctx->cmd));
	ctx->cmd.cmd = ctx->write ? IOREGIONFD_CMD_WRITE : IOREGIONFD_CMD_READ;
	ctx->cmd.size = ctx->size;
	ctx->cmd.flags = ioregion_needs_resp(ctx) ? IOREGIONFD_CMD_RESP : 0;
	ctx->cmd.user_data = region->user_data;
	ctx->cmd.offset = ioregion_offset(ctx);
	if (ctx->write)
		ctx->cmd.data = ioregion_get_value(ioregion_piece_data(ctx, pio_data), ctx->size);
}

/*
 * Serve the current piece from wherever it stopped.  Return 0 once it is
 * done, or -ENOENT if it is userspace's: the region was deassigned before
 * the command went out, or the device handed the access back.
 */
static int ioregion_serve_piece(struct kvm_vcpu *vcpu, void *pio_data)
{
	struct kvm_vcpu_ioregion *ctx = &vcpu->ioregion;
	struct ioregion_wire *in = ctx->region->rwire;
	bool resp = ioregion_needs_resp(ctx);
	int ret;

	if (ctx->state == IOREGION_START) {
		if (resp && !ctx->claimed) {
			ret = ioregion_claim(ctx);
			if (ret)
				return ret;
		}
		ret = resp ? READ_ONCE(in->error) : 0;
		if (ret)
			return ret;

		/* A task that is being killed must not start a transaction. */
		if (fatal_signal_pending(current))
			return -EINTR;

		ioregion_make_cmd(ctx, pio_data);
		ret = ioregion_send(ctx->region, &ctx->cmd);
		if (ret)
			return ret;
		trace_kvm_ioregionfd_send(ctx->cmd.user_data, ctx->cmd.offset, ctx->size,
					  ctx->write, ctx->cmd.data, !resp);
		if (!resp) {
			++vcpu->stat.generic.ioregion_posted_writes;
			return 0;
		}
		ctx->state = IOREGION_RECV;
		ctx->done = 0;
	}

	ret = ioregion_recv_resp(ctx);
	if (ret)
		return ret;
	trace_kvm_ioregionfd_resp(ctx->cmd.user_data, ctx->cmd.offset, ctx->size,
				  ctx->resp.data, ctx->resp.status);

	if (memchr_inv(ctx->resp.pad, 0, sizeof(ctx->resp.pad)))
		return -EPROTO;

	switch (ctx->resp.status) {
	case IOREGIONFD_RESP_DONE:
		break;
	case IOREGIONFD_RESP_UNHANDLED:
		ioregion_release(ctx);
		return -ENOENT;
	default:
		return -EPROTO;
	}

	if (!ctx->write)
		ioregion_put_value(ioregion_piece_data(ctx, pio_data), ctx->size, ctx->resp.data);
	ioregion_release(ctx);
	++vcpu->stat.generic.ioregion_round_trips;
	return 0;
}

static struct ioregion *ioregion_lookup(struct kvm *kvm, bool pio, gpa_t addr)
{
	struct ioregion *region;

	rcu_read_lock();
	region = mtree_load(&kvm->ioregions[pio ? IOREGION_PIO : IOREGION_MMIO], addr);
	if (region && !refcount_inc_not_zero(&region->refs))
		region = NULL;
	rcu_read_unlock();
	return region;
}

/*
 * Take the exit in kvm_run if it belongs to a region: the region that holds
 * its first byte.  A hostile VMM may rewrite kvm_run under our feet, so
 * check what is read; at worst the device then gets that VMM's nonsense.
 */
static bool ioregion_begin(struct kvm_vcpu *vcpu)
{
	struct kvm_vcpu_ioregion *ctx = &vcpu->ioregion;
	struct kvm_run *run = vcpu->run;
	struct ioregion *region;

	switch (READ_ONCE(run->exit_reason)) {
	case KVM_EXIT_MMIO:
		ctx->pio = false;
		ctx->addr = READ_ONCE(run->mmio.phys_addr);
		ctx->size = READ_ONCE(run->mmio.len);
		ctx->write = READ_ONCE(run->mmio.is_write);
		ctx->count = 1;
		if (!ctx->size || ctx->size > sizeof(ctx->data))
			return false;
		memcpy(ctx->data, run->mmio.data, sizeof(ctx->data));
		break;
	case KVM_EXIT_IO:
		/* Only a hostile VMM writes this exit where the arch has no PIO. */
		if (!IS_ENABLED(CONFIG_HAVE_KVM_IOREGION_PIO))
			return false;
		ctx->pio = true;
		ctx->addr = READ_ONCE(run->io.port);
		ctx->size = READ_ONCE(run->io.size);
		ctx->write = READ_ONCE(run->io.direction) == KVM_EXIT_IO_OUT;
		ctx->count = READ_ONCE(run->io.count);
		ctx->data_offset = READ_ONCE(run->io.data_offset);
		if ((ctx->size != 1 && ctx->size != 2 && ctx->size != 4) || !ctx->count ||
		    ctx->count > PAGE_SIZE / ctx->size)
			return false;
		break;
	default:
		return false;
	}

	region = ioregion_lookup(vcpu->kvm, ctx->pio, ctx->addr);
	if (!region)
		return false;

	/* A zero-length region takes writes only, at its one address. */
	if (!region->size && (!ctx->write || ctx->addr != region->paddr)) {
		ioregion_put(region);
		return false;
	}

	ctx->region = region;
	ctx->idx = 0;
	ctx->claimed = false;
	ctx->state = IOREGION_START;
	return true;
}

/* Put the exit back in kvm_run, for the arch's completion or userspace. */
static void ioregion_restore_exit(struct kvm_vcpu_ioregion *ctx, struct kvm_run *run)
{
	if (ctx->pio) {
		run->exit_reason = KVM_EXIT_IO;
		run->io.direction = ctx->write ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN;
		run->io.size = ctx->size;
		run->io.port = ctx->addr;
		/* Only the elements not yet served, if any are left. */
		run->io.count = ctx->count - ctx->idx;
		run->io.data_offset = ctx->data_offset + ctx->idx * ctx->size;
	} else {
		run->exit_reason = KVM_EXIT_MMIO;
		run->mmio.phys_addr = ctx->addr;
		run->mmio.len = ctx->size;
		run->mmio.is_write = ctx->write;
		memcpy(run->mmio.data, ctx->data, sizeof(run->mmio.data));
	}
}

/* Drop the access; the vCPU no longer serves an exit. */
static void ioregion_end(struct kvm_vcpu_ioregion *ctx)
{
	ioregion_release(ctx);
	ioregion_put(ctx->region);
	ctx->region = NULL;
	ctx->state = IOREGION_IDLE;
}

/* Abandon the piece, keeping the stream in step for the fds' other users. */
static void ioregion_abandon(struct kvm_vcpu_ioregion *ctx)
{
	struct ioregion_wire *wire = ctx->region->rwire;

	if (ctx->claimed && ctx->state == IOREGION_RECV) {
		/* The reaper may be receiving for a parked owner. */
		mutex_lock(&wire->rx_lock);
		WRITE_ONCE(wire->parked, false);
		wire->discard += sizeof(ctx->resp) - ctx->done;
		mutex_unlock(&wire->rx_lock);
	}
	ioregion_release(ctx);
}

static void ioregion_fill_exit(struct kvm_vcpu_ioregion *ctx, struct kvm_run *run, u32 reason,
			       int error, void *pio_data)
{
	run->exit_reason = reason;
	memset(&run->ioregionfd, 0, sizeof(run->ioregionfd));
	run->ioregionfd.addr = ctx->addr;
	if (ctx->write)
		run->ioregionfd.data = ioregion_get_value(ioregion_piece_data(ctx, pio_data),
							  ctx->size);
	run->ioregionfd.user_data = ctx->region->user_data;
	run->ioregionfd.len = ctx->size;
	run->ioregionfd.error = -error;
	if (ctx->write)
		run->ioregionfd.flags |= KVM_IOREGIONFD_FAILURE_WRITE;
	if (ctx->pio)
		run->ioregionfd.flags |= KVM_IOREGIONFD_FAILURE_PIO;
}

static void ioregion_fail(struct kvm_vcpu *vcpu, int error)
{
	struct kvm_vcpu_ioregion *ctx = &vcpu->ioregion;

	/* A response may be partly in: the stream is out of step. */
	if (ctx->claimed && !READ_ONCE(ctx->region->rwire->error))
		WRITE_ONCE(ctx->region->rwire->error, error);

	ioregion_release(ctx);
	ctx->error = error;
	ctx->state = IOREGION_FAILED;
	trace_kvm_ioregionfd_fail(ctx->region->user_data, ioregion_offset(ctx), ctx->size,
				  ctx->write, -error);
	++vcpu->stat.generic.ioregion_failures;
}

/* A signal stopped the piece: KVM_RUN returns -EINTR. */
static int ioregion_interrupted(struct kvm_vcpu *vcpu, void *pio_data)
{
	struct kvm_vcpu_ioregion *ctx = &vcpu->ioregion;

	/*
	 * A dying task never comes back to finish the piece: keep the stream
	 * in step for the fds' other users now, and report the access as
	 * failed should the vCPU run again.
	 */
	if (fatal_signal_pending(current)) {
		ioregion_abandon(ctx);
		ioregion_fail(vcpu, -ECANCELED);
	} else {
		if (ctx->claimed && ctx->state == IOREGION_RECV)
			ioregion_park(ctx->region->rwire);
		ioregion_fill_exit(ctx, vcpu->run, KVM_EXIT_IOREGIONFD_PENDING, -EINTR, pio_data);
	}
	return -EINTR;
}

/* Take a failed piece's value from userspace and go on with the next one. */
static void ioregion_take_reported(struct kvm_vcpu *vcpu, void *pio_data)
{
	struct kvm_vcpu_ioregion *ctx = &vcpu->ioregion;

	if (!ctx->write)
		ioregion_put_value(ioregion_piece_data(ctx, pio_data), ctx->size,
				   READ_ONCE(vcpu->run->ioregionfd.data));
	ctx->idx++;
	ctx->state = IOREGION_START;
}

/**
 * kvm_ioregion_serve - serve an MMIO or PIO exit with an ioregionfd device
 * @vcpu: the vCPU whose kvm_run holds the exit, or that has one pending
 * @pio_data: where the arch keeps the data of a KVM_EXIT_IO exit
 *
 * Called by KVM_RUN outside the SRCU read side, instead of returning the
 * exit to userspace.
 *
 * Return: 1 when the exit is served and kvm_run holds it with its data, to
 * be completed as if userspace had answered; 0 to return the exit in
 * kvm_run to userspace, which is then the original exit or a
 * KVM_EXIT_IOREGIONFD_FAILURE; -EINTR on a signal, with the access left
 * pending for the next call.
 */
int kvm_ioregion_serve(struct kvm_vcpu *vcpu, void *pio_data)
{
	struct kvm_vcpu_ioregion *ctx = &vcpu->ioregion;
	int ret;

	RCU_LOCKDEP_WARN(srcu_read_lock_held(&vcpu->kvm->srcu),
			 "ioregionfd: a device is waited for inside kvm->srcu");

	switch (ctx->state) {
	case IOREGION_IDLE:
		if (!ioregion_begin(vcpu))
			return 0;
		break;
	case IOREGION_REPORTED:
		ioregion_take_reported(vcpu, pio_data);
		break;
	}

	while (ctx->state != IOREGION_FAILED && ctx->idx < ctx->count) {
		ret = ioregion_serve_piece(vcpu, pio_data);
		if (ret == -EINTR)
			return ioregion_interrupted(vcpu, pio_data);
		if (ret == -ENOENT) {
			/* Return this piece and the rest of the exit to userspace. */
			ioregion_restore_exit(ctx, vcpu->run);
			ioregion_end(ctx);
			return 0;
		}
		if (ret) {
			ioregion_fail(vcpu, ret);
			break;
		}
		ctx->idx++;
		ctx->state = IOREGION_START;
	}

	if (ctx->state == IOREGION_FAILED) {
		ioregion_fill_exit(ctx, vcpu->run, KVM_EXIT_IOREGIONFD_FAILURE, ctx->error,
				   pio_data);
		ctx->state = IOREGION_REPORTED;
		return 0;
	}

	ctx->idx = 0;
	ioregion_restore_exit(ctx, vcpu->run);
	ioregion_end(ctx);
	return 1;
}

void kvm_ioregion_vcpu_destroy(struct kvm_vcpu *vcpu)
{
	struct kvm_vcpu_ioregion *ctx = &vcpu->ioregion;

	if (!ctx->region)
		return;

	ioregion_abandon(ctx);
	ioregion_end(ctx);
}

static struct maple_tree *ioregion_tree(struct kvm *kvm, enum kvm_bus bus_idx)
{
	switch (bus_idx) {
	case KVM_MMIO_BUS:
	case KVM_FAST_MMIO_BUS:
		return &kvm->ioregions[IOREGION_MMIO];
	case KVM_PIO_BUS:
		return &kvm->ioregions[IOREGION_PIO];
	default:
		return NULL;
	}
}

/* The last address of a range; a zero length covers the one it names. */
static u64 ioregion_last(gpa_t addr, u64 len)
{
	return addr + max_t(u64, len, 1) - 1;
}

bool kvm_ioregion_overlaps(struct kvm *kvm, enum kvm_bus bus_idx, gpa_t addr, u64 len)
{
	struct maple_tree *mt = ioregion_tree(kvm, bus_idx);
	unsigned long index = addr;
	bool found;

	lockdep_assert_held(&kvm->slots_lock);

	if (!mt)
		return false;

	rcu_read_lock();
	found = mt_find(mt, &index, ioregion_last(addr, len));
	rcu_read_unlock();
	return found;
}

static bool ioregion_blocked_by(struct kvm_io_device *dev)
{
	return !kvm_io_device_is_ioeventfd(dev);
}

/* Any device on the bus but an ioeventfd that shares an address. */
static bool ioregion_bus_overlaps(struct kvm *kvm, struct ioregion *region)
{
	lockdep_assert_held(&kvm->slots_lock);

	return kvm_io_bus_any_dev(kvm, region->pio ? KVM_PIO_BUS : KVM_MMIO_BUS,
				  region->paddr, ioregion_last(region->paddr, region->size),
				  ioregion_blocked_by);
}

static int ioregion_check_args(const struct kvm_ioregion *args)
{
	if (args->flags & ~KVM_IOREGION_VALID_FLAG_MASK)
		return -EINVAL;

	if (memchr_inv(args->pad, 0, sizeof(args->pad)))
		return -EINVAL;

	/* Nothing would ever serve a port I/O region on this arch. */
	if ((args->flags & KVM_IOREGION_PIO) && !IS_ENABLED(CONFIG_HAVE_KVM_IOREGION_PIO))
		return -EINVAL;

	if (args->flags & KVM_IOREGION_DEASSIGN)
		return 0;

	/* Only a posted write can be served without knowing the access size. */
	if (!args->memory_size && !(args->flags & KVM_IOREGION_POSTED_WRITES))
		return -EINVAL;

	/* The region may end at 2^64, or at port 0x10000, but not beyond. */
	if (ioregion_last(args->guest_paddr, args->memory_size) < args->guest_paddr ||
	    ((args->flags & KVM_IOREGION_PIO) &&
	     ioregion_last(args->guest_paddr, args->memory_size) > U16_MAX))
		return -EINVAL;

	return 0;
}

/*
 * Accept only connected AF_UNIX stream sockets: see the comment at the top
 * of this file.
 */
static bool ioregion_file_usable(struct file *file)
{
	struct socket *sock = sock_from_file(file);

	return sock && sock->type == SOCK_STREAM && sock->sk->sk_family == AF_UNIX &&
	       READ_ONCE(sock->sk->sk_state) == TCP_ESTABLISHED;
}

static struct ioregion_wire *ioregion_wire_get_fd(int fd)
{
	struct ioregion_wire *wire;
	struct file *file;

	file = fget(fd);
	if (!file)
		return ERR_PTR(-EBADF);

	if (ioregion_file_usable(file))
		wire = ioregion_wire_get(file) ?: ERR_PTR(-ENOMEM);
	else
		wire = ERR_PTR(-EINVAL);

	fput(file);
	return wire;
}

static struct ioregion *ioregion_alloc(struct kvm *kvm, const struct kvm_ioregion *args)
{
	struct ioregion *region;
	int ret;

	region = kzalloc(sizeof(*region), GFP_KERNEL_ACCOUNT);
	if (!region)
		return ERR_PTR(-ENOMEM);

	region->wwire = ioregion_wire_get_fd(args->write_fd);
	if (IS_ERR(region->wwire)) {
		ret = PTR_ERR(region->wwire);
		goto out_free_region;
	}

	/* A zero-length region takes posted writes only, so it may lack a read_fd. */
	if (!args->memory_size && args->read_fd == -1) {
		refcount_inc(&region->wwire->refs);
		region->rwire = region->wwire;
	} else {
		region->rwire = ioregion_wire_get_fd(args->read_fd);
	}
	if (IS_ERR(region->rwire)) {
		ret = PTR_ERR(region->rwire);
		goto out_put_wwire;
	}

	refcount_set(&region->refs, 1);
	region->kvm = kvm;
	region->paddr = args->guest_paddr;
	region->size = args->memory_size;
	region->user_data = args->user_data;
	region->posted_writes = args->flags & KVM_IOREGION_POSTED_WRITES;
	region->pio = args->flags & KVM_IOREGION_PIO;
	return region;

out_put_wwire:
	ioregion_wire_put(region->wwire);
out_free_region:
	kfree(region);
	return ERR_PTR(ret);
}

static int kvm_assign_ioregion(struct kvm *kvm, struct kvm_ioregion *args)
{
	struct maple_tree *mt;
	struct ioregion *region;
	int ret;

	region = ioregion_alloc(kvm, args);
	if (IS_ERR(region))
		return PTR_ERR(region);

	mt = ioregion_tree(kvm, region->pio ? KVM_PIO_BUS : KVM_MMIO_BUS);
	mutex_lock(&kvm->slots_lock);
	if (ioregion_bus_overlaps(kvm, region))
		ret = -EEXIST;
	else
		ret = mtree_insert_range(mt, region->paddr,
					 ioregion_last(region->paddr, region->size), region,
					 GFP_KERNEL_ACCOUNT);
	mutex_unlock(&kvm->slots_lock);

	if (ret)
		ioregion_put(region);
	return ret;
}

static int kvm_deassign_ioregion(struct kvm *kvm, struct kvm_ioregion *args)
{
	bool pio = args->flags & KVM_IOREGION_PIO;
	struct maple_tree *mt = ioregion_tree(kvm, pio ? KVM_PIO_BUS : KVM_MMIO_BUS);
	struct ioregion *region;

	mutex_lock(&kvm->slots_lock);
	region = mtree_load(mt, args->guest_paddr);
	if (!region || region->paddr != args->guest_paddr ||
	    region->size != args->memory_size) {
		mutex_unlock(&kvm->slots_lock);
		return -ENOENT;
	}
	mtree_erase(mt, args->guest_paddr);
	WRITE_ONCE(region->dead, true);
	mutex_unlock(&kvm->slots_lock);

	/* Wait for sends that may have seen the region alive. */
	synchronize_srcu_expedited(&kvm->srcu);
	ioregion_put(region);
	return 0;
}

int kvm_set_ioregion(struct kvm *kvm, struct kvm_ioregion *args)
{
	int ret;

	ret = ioregion_check_args(args);
	if (ret)
		return ret;

	if (args->flags & KVM_IOREGION_DEASSIGN)
		return kvm_deassign_ioregion(kvm, args);

	return kvm_assign_ioregion(kvm, args);
}

void kvm_ioregion_init(struct kvm *kvm)
{
	mt_init_flags(&kvm->ioregions[IOREGION_MMIO], MT_FLAGS_USE_RCU);
	mt_init_flags(&kvm->ioregions[IOREGION_PIO], MT_FLAGS_USE_RCU);
}

/* Called once the vCPUs are gone. */
void kvm_ioregion_destroy(struct kvm *kvm)
{
	struct ioregion *region;
	unsigned long index;
	int i;

	for (i = 0; i < ARRAY_SIZE(kvm->ioregions); i++) {
		index = 0;
		mt_for_each(&kvm->ioregions[i], region, index, ULONG_MAX)
			ioregion_put(region);
		/* No reader is left: free the nodes now, not after an RCU walk. */
		mt_clear_in_rcu(&kvm->ioregions[i]);
		mtree_destroy(&kvm->ioregions[i]);
	}
}
