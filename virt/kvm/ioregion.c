// SPDX-License-Identifier: GPL-2.0-only
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/kvm_host.h>
#include <linux/net.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/unaligned.h>

#include <kvm/iodev.h>
#include <kvm/ioregion.h>

/*
 * ioregionfd: guest accesses to a region become 32-byte commands on the
 * region's write_fd, answered on its read_fd by a device task.
 *
 * The I/O bus callback runs under kvm->srcu and must not sleep for as long
 * as a device may take to answer, or synchronize_srcu() callers would wait
 * for the device.  So, string I/O aside (see kvm_ioregion_set_sync()), the
 * callback only sends posted writes, and only if that needs no waiting.
 * Anything else is left in vcpu->ioregion and the access is failed, which
 * makes the instruction exit to KVM_RUN exactly as for a userspace MMIO or
 * PIO exit; KVM_RUN then finishes the access outside the SRCU read side,
 * where it can wait interruptibly and return to userspace on a signal, and
 * resumes the instruction as if userspace had handled it.
 */

enum {
	IOREGION_IDLE,
	IOREGION_CLAIM,		/* waiting to own the wires */
	IOREGION_SEND,		/* sending the command */
	IOREGION_RECV,		/* receiving the response */
	IOREGION_FAILED,	/* the device failed, to be reported */
	IOREGION_REPORTED,	/* reported, userspace completes the access */
};

/*
 * A wire is an fd as seen by all the regions, of any VM, that use it.  A
 * vCPU owns the wires of a transaction from sending the command until the
 * response is in, even across a return to userspace on a signal, so that
 * transactions never interleave on the byte stream.
 */
struct ioregion_wire {
	struct hlist_node node;
	struct file *file;
	refcount_t refs;
	struct kvm_vcpu_ioregion *owner;
	wait_queue_head_t wq;
	/* Bytes of an abandoned response that the next owner must drop. */
	u32 discard;
	/* Set once the byte stream can no longer be trusted. */
	int error;
};

static DEFINE_MUTEX(ioregion_wires_lock);
static DEFINE_HASHTABLE(ioregion_wires, 6);

struct ioregion {
	struct kvm_io_device dev;
	/* Zero-length MMIO regions are on KVM_FAST_MMIO_BUS too. */
	struct kvm_io_device fast_dev;
	/* On kvm->ioregions. */
	struct list_head node;
	struct kvm *kvm;
	gpa_t paddr;
	u64 size;
	u64 user_data;
	enum kvm_bus bus_idx;
	bool posted_writes;
	bool on_fast_bus;
	/* Buses that still hold the region; the last destructor frees it. */
	unsigned int nr_buses;
	struct ioregion_wire *rwire;
	struct ioregion_wire *wwire;
};

static struct ioregion_wire *ioregion_wire_get(struct file *file)
{
	struct ioregion_wire *wire;

	mutex_lock(&ioregion_wires_lock);
	hash_for_each_possible(ioregion_wires, wire, node, (unsigned long)file) {
		if (wire->file == file) {
			refcount_inc(&wire->refs);
			goto out_unlock;
		}
	}

	wire = kzalloc(sizeof(*wire), GFP_KERNEL_ACCOUNT);
	if (wire) {
		wire->file = get_file(file);
		refcount_set(&wire->refs, 1);
		init_waitqueue_head(&wire->wq);
		hash_add(ioregion_wires, &wire->node, (unsigned long)file);
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
	fput(wire->file);
	kfree(wire);
}

static bool ioregion_wire_try_claim(struct ioregion_wire *wire, struct kvm_vcpu_ioregion *ctx)
{
	struct kvm_vcpu_ioregion *none = NULL;

	/* Full barrier on success: the previous owner's I/O is visible. */
	return try_cmpxchg(&wire->owner, &none, ctx);
}

static void ioregion_wire_release(struct ioregion_wire *wire)
{
	/* Release barrier: the next owner sees this owner's I/O and state. */
	smp_store_release(&wire->owner, NULL);
	if (wq_has_sleeper(&wire->wq))
		wake_up_all(&wire->wq);
}

/*
 * Wait for a file to become ready.  @state is TASK_INTERRUPTIBLE or
 * TASK_KILLABLE; pipes and sockets poll on at most two wait queues.
 */
struct ioregion_poll {
	poll_table pt;
	__poll_t events;
	bool triggered;
	bool overflow;
	unsigned int nr;
	struct ioregion_poll_entry {
		struct ioregion_poll *poll;
		wait_queue_head_t *head;
		wait_queue_entry_t wait;
	} entry[2];
};

static int ioregion_pollwake(wait_queue_entry_t *wait, unsigned int mode, int sync, void *key)
{
	struct ioregion_poll_entry *entry = container_of(wait, struct ioregion_poll_entry, wait);
	struct ioregion_poll *poll = entry->poll;

	if (key && !(key_to_poll(key) & poll->events))
		return 0;

	/* Pairs with smp_store_mb() in ioregion_poll_wait(). */
	smp_wmb();
	WRITE_ONCE(poll->triggered, true);
	/*
	 * Pipes and sockets wake their readers and writers with
	 * TASK_INTERRUPTIBLE, which would leave a TASK_KILLABLE waiter asleep.
	 */
	return default_wake_function(wait, TASK_NORMAL, sync, key);
}

static void ioregion_queue_proc(struct file *file, wait_queue_head_t *head, poll_table *pt)
{
	struct ioregion_poll *poll = container_of(pt, struct ioregion_poll, pt);
	struct ioregion_poll_entry *entry;

	/* Fall back to polling rather than miss a wakeup. */
	if (poll->nr == ARRAY_SIZE(poll->entry)) {
		poll->overflow = true;
		return;
	}

	entry = &poll->entry[poll->nr++];
	entry->poll = poll;
	entry->head = head;
	init_waitqueue_func_entry(&entry->wait, ioregion_pollwake);
	entry->wait.private = current;
	add_wait_queue(head, &entry->wait);
}

static int ioregion_poll_wait(struct file *file, __poll_t events, unsigned int state)
{
	struct ioregion_poll poll = { .events = events | EPOLLERR | EPOLLHUP };
	poll_table *pt = &poll.pt;
	unsigned int i;
	int ret = 0;

	init_poll_funcptr(&poll.pt, ioregion_queue_proc);
	poll.pt._key = poll.events;

	while (!(vfs_poll(file, pt) & poll.events)) {
		pt = NULL;
		if (signal_pending_state(state, current)) {
			ret = -EINTR;
			break;
		}

		set_current_state(state);
		if (!READ_ONCE(poll.triggered))
			schedule_timeout(poll.overflow ? 1 : MAX_SCHEDULE_TIMEOUT);
		__set_current_state(TASK_RUNNING);
		/* Clear before polling again, so that a new wakeup is not lost. */
		smp_store_mb(poll.triggered, false);
	}

	for (i = 0; i < poll.nr; i++)
		remove_wait_queue(poll.entry[i].head, &poll.entry[i].wait);
	return ret;
}

static ssize_t ioregion_io_nowait(struct file *file, void *buf, size_t len, bool out)
{
	struct kvec kvec = { .iov_base = buf, .iov_len = len };
	struct socket *sock = sock_from_file(file);
	struct iov_iter iter;
	struct kiocb kiocb;

	if (sock) {
		/* A closed peer is a device failure, not a reason for SIGPIPE. */
		struct msghdr msg = { .msg_flags = MSG_DONTWAIT | MSG_NOSIGNAL };

		if (out)
			return kernel_sendmsg(sock, &msg, &kvec, 1, len);
		return kernel_recvmsg(sock, &msg, &kvec, 1, len, MSG_DONTWAIT);
	}

	/* Pipes have no MSG_NOSIGNAL; catch a gone reader before writing. */
	if (out && (vfs_poll(file, NULL) & EPOLLERR))
		return -EPIPE;

	init_sync_kiocb(&kiocb, file);
	kiocb.ki_flags |= IOCB_NOWAIT;
	iov_iter_kvec(&iter, out ? ITER_SOURCE : ITER_DEST, &kvec, 1, len);
	if (out)
		return file->f_op->write_iter(&kiocb, &iter);
	return file->f_op->read_iter(&kiocb, &iter);
}

/*
 * Move @len bytes, counting progress in @done so that a transfer that has
 * to wait can be resumed.  @state 0 means never wait, return -EAGAIN.
 */
static int ioregion_xfer(struct ioregion_wire *wire, void *buf, u32 len, u32 *done, bool out,
			 unsigned int state)
{
	ssize_t ret;

	while (*done < len) {
		/*
		 * A response is rarely in before the vCPU waits for it: wait
		 * for the fd first, which costs less than a failed receive.
		 */
		if (!out && state) {
			ret = ioregion_poll_wait(wire->file, EPOLLIN, state);
			if (ret)
				return ret;
		}

		ret = ioregion_io_nowait(wire->file, buf + *done, len - *done, out);
		if (ret > 0) {
			*done += ret;
			continue;
		}
		/* End of file: the device closed its end. */
		if (!ret)
			return -EPIPE;
		if (ret != -EAGAIN || !state)
			return ret;

		/* A receive waits at the top of the loop. */
		if (out) {
			ret = ioregion_poll_wait(wire->file, EPOLLOUT, state);
			if (ret)
				return ret;
		}
	}
	return 0;
}

static int ioregion_wire_wait_claim(struct ioregion_wire *wire, struct kvm_vcpu_ioregion *ctx,
				    unsigned int state)
{
	int ret;

	if (ioregion_wire_try_claim(wire, ctx))
		return 0;
	if (!state)
		return -EAGAIN;

	if (state == TASK_KILLABLE)
		ret = wait_event_killable(wire->wq, ioregion_wire_try_claim(wire, ctx));
	else
		ret = wait_event_interruptible(wire->wq, ioregion_wire_try_claim(wire, ctx));
	return ret ? -EINTR : 0;
}

static int ioregion_claim(struct kvm_vcpu_ioregion *ctx, unsigned int state)
{
	struct ioregion_wire *wire;
	int ret;

	while (ctx->nr_claimed < ARRAY_SIZE(ctx->wire) && ctx->wire[ctx->nr_claimed]) {
		wire = ctx->wire[ctx->nr_claimed];
		ret = ioregion_wire_wait_claim(wire, ctx, state);
		if (ret)
			return ret;
		ctx->nr_claimed++;

		if (wire->error)
			return wire->error;
	}
	return 0;
}

static void ioregion_release(struct kvm_vcpu_ioregion *ctx)
{
	while (ctx->nr_claimed)
		ioregion_wire_release(ctx->wire[--ctx->nr_claimed]);
}

static int ioregion_recv(struct kvm_vcpu_ioregion *ctx, unsigned int state)
{
	struct ioregion_wire *in = ctx->in;
	u8 scratch[sizeof(ctx->resp)];
	u32 got;
	int ret;

	/* Drop the response to a command whose vCPU went away. */
	while (in->discard) {
		got = 0;
		ret = ioregion_xfer(in, scratch, min_t(u32, in->discard, sizeof(scratch)), &got,
				    false, state);
		in->discard -= got;
		if (ret)
			return ret;
	}

	ret = ioregion_xfer(in, &ctx->resp, sizeof(ctx->resp), &ctx->done, false, state);
	if (ret)
		return ret;

	if (memchr_inv(ctx->resp.pad, 0, sizeof(ctx->resp.pad)))
		return -EPROTO;
	return 0;
}

/* Run the transaction from wherever it stopped; 0 once it is complete. */
static int ioregion_run(struct kvm_vcpu_ioregion *ctx, unsigned int state)
{
	int ret;

	switch (ctx->state) {
	case IOREGION_CLAIM:
		ret = ioregion_claim(ctx, state);
		if (ret)
			return ret;
		ctx->state = IOREGION_SEND;
		ctx->done = 0;
		fallthrough;
	case IOREGION_SEND:
		ret = ioregion_xfer(ctx->out, &ctx->cmd, sizeof(ctx->cmd), &ctx->done, true, state);
		if (ret)
			return ret;
		if (!(ctx->cmd.flags & IOREGIONFD_CMD_RESP))
			break;
		ctx->state = IOREGION_RECV;
		ctx->done = 0;
		fallthrough;
	case IOREGION_RECV:
		ret = ioregion_recv(ctx, state);
		if (ret)
			return ret;
		break;
	default:
		return -EINVAL;
	}

	ioregion_release(ctx);
	return 0;
}

static u64 ioregion_get_value(const void *val, u32 len)
{
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
		return 0;
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
	}
}

static void ioregion_start(struct kvm_vcpu_ioregion *ctx, struct ioregion *region, gpa_t addr,
			   u32 len, const void *val, bool is_write)
{
	bool resp = !is_write || !region->posted_writes;
	struct ioregion_wire *out = region->wwire;
	struct ioregion_wire *in = resp ? region->rwire : NULL;

	memset(&ctx->cmd, 0, sizeof(ctx->cmd));
	ctx->cmd.cmd = is_write ? IOREGIONFD_CMD_WRITE : IOREGIONFD_CMD_READ;
	ctx->cmd.size = len;
	ctx->cmd.flags = resp ? IOREGIONFD_CMD_RESP : 0;
	ctx->cmd.user_data = region->user_data;
	ctx->cmd.offset = region->size ? addr - region->paddr : 0;
	ctx->cmd.data = is_write ? ioregion_get_value(val, len) : 0;

	/* Hold the wires: the region may go away while the access waits. */
	refcount_inc(&out->refs);
	if (in && in != out)
		refcount_inc(&in->refs);

	/* Claim in a global order so that two vCPUs never deadlock. */
	ctx->out = out;
	ctx->in = in ?: out;
	ctx->wire[0] = (in && in < out) ? in : out;
	ctx->wire[1] = (in && in != out) ? (in < out ? out : in) : NULL;
	ctx->nr_claimed = 0;
	ctx->addr = addr;
	ctx->len = len;
	ctx->user_data = region->user_data;
	ctx->pio = region->bus_idx == KVM_PIO_BUS;
	ctx->error = 0;
	ctx->done = 0;
	ctx->state = IOREGION_CLAIM;
}

/* Drop everything the access holds and make the vCPU idle. */
static void ioregion_reset(struct kvm_vcpu_ioregion *ctx)
{
	ioregion_release(ctx);
	if (ctx->in != ctx->out)
		ioregion_wire_put(ctx->in);
	ioregion_wire_put(ctx->out);
	ctx->in = NULL;
	ctx->out = NULL;
	ctx->wire[0] = NULL;
	ctx->wire[1] = NULL;
	ctx->state = IOREGION_IDLE;
}

/* Abandon the access, keeping the stream in step for the fds' other users. */
static void ioregion_cancel(struct kvm_vcpu_ioregion *ctx)
{
	if (ctx->state == IOREGION_RECV)
		ctx->in->discard += sizeof(ctx->resp) - ctx->done;
	else if (ctx->state == IOREGION_SEND && ctx->done)
		ctx->out->error = -ECANCELED;
	ioregion_reset(ctx);
}

static void ioregion_fail(struct kvm_vcpu *vcpu, struct kvm_vcpu_ioregion *ctx, int error)
{
	unsigned int i;

	/* Whatever the device sent or got so far, the stream is out of step. */
	for (i = 0; i < ctx->nr_claimed; i++)
		if (!ctx->wire[i]->error)
			ctx->wire[i]->error = error;

	ioregion_release(ctx);
	ctx->error = error;
	ctx->state = IOREGION_FAILED;
	++vcpu->stat.generic.ioregion_failures;
}

static void ioregion_finish(struct kvm_vcpu *vcpu, struct kvm_vcpu_ioregion *ctx, void *val)
{
	if (ctx->cmd.cmd == IOREGIONFD_CMD_READ)
		ioregion_put_value(val, ctx->len, ctx->resp.data);

	if (ctx->cmd.flags & IOREGIONFD_CMD_RESP)
		++vcpu->stat.generic.ioregion_round_trips;
	else
		++vcpu->stat.generic.ioregion_posted_writes;

	ioregion_reset(ctx);
}

static bool ioregion_in_range(const struct ioregion *region, gpa_t addr, int len)
{
	/* A zero-length region takes writes of any size at its address. */
	if (!region->size)
		return addr == region->paddr;

	if (len != 1 && len != 2 && len != 4 && len != 8)
		return false;

	return addr >= region->paddr && len <= region->size &&
	       addr - region->paddr <= region->size - len;
}

static int ioregion_access(struct kvm_vcpu *vcpu, struct ioregion *region, gpa_t addr, int len,
			   void *val, bool is_write)
{
	struct kvm_vcpu_ioregion *ctx;
	int ret;

	if (!vcpu || !ioregion_in_range(region, addr, len))
		return -EOPNOTSUPP;

	/* A zero-length region has posted writes only, reads go to userspace. */
	if (!region->size && !is_write)
		return -EOPNOTSUPP;

	/* The instruction already has a deferred access: let it exit. */
	if (kvm_ioregion_pending(vcpu))
		return -EOPNOTSUPP;

	ctx = &vcpu->ioregion;

	ioregion_start(ctx, region, addr, len, val, is_write);

	/*
	 * A command that needs a response is sent by KVM_RUN, right before it
	 * waits: the device is then woken as the vCPU gives up the CPU, and
	 * the callback does not try a receive that is bound to fail.
	 */
	if (!ctx->sync && (ctx->cmd.flags & IOREGIONFD_CMD_RESP))
		return -EOPNOTSUPP;

	ret = ioregion_run(ctx, ctx->sync ? TASK_KILLABLE : 0);
	if (!ret) {
		ioregion_finish(vcpu, ctx, val);
		return 0;
	}

	/* Defer to KVM_RUN, which finishes or reports the access. */
	if (ret != -EAGAIN)
		ioregion_fail(vcpu, ctx, ret);

	/*
	 * A caller that cannot defer gets a plain userspace exit, or reads
	 * zero in the middle of a string instruction.
	 */
	if (ctx->sync)
		ioregion_cancel(ctx);
	return -EOPNOTSUPP;
}

static int ioregion_read(struct kvm_vcpu *vcpu, struct kvm_io_device *dev, gpa_t addr, int len,
			 void *val)
{
	return ioregion_access(vcpu, container_of(dev, struct ioregion, dev), addr, len, val,
			       false);
}

static int ioregion_write(struct kvm_vcpu *vcpu, struct kvm_io_device *dev, gpa_t addr, int len,
			  const void *val)
{
	return ioregion_access(vcpu, container_of(dev, struct ioregion, dev), addr, len,
			       (void *)val, true);
}

static int ioregion_fast_write(struct kvm_vcpu *vcpu, struct kvm_io_device *dev, gpa_t addr,
			       int len, const void *val)
{
	return ioregion_access(vcpu, container_of(dev, struct ioregion, fast_dev), addr, len,
			       (void *)val, true);
}

static void ioregion_free(struct ioregion *region)
{
	ioregion_wire_put(region->rwire);
	ioregion_wire_put(region->wwire);
	kfree(region);
}

/* Called once the region is off a bus and no vCPU can reach it there. */
static void ioregion_put_bus(struct ioregion *region)
{
	if (--region->nr_buses)
		return;

	list_del(&region->node);
	ioregion_free(region);
}

static void ioregion_destructor(struct kvm_io_device *dev)
{
	ioregion_put_bus(container_of(dev, struct ioregion, dev));
}

static void ioregion_fast_destructor(struct kvm_io_device *dev)
{
	struct ioregion *region = container_of(dev, struct ioregion, fast_dev);

	region->on_fast_bus = false;
	ioregion_put_bus(region);
}

static const struct kvm_io_device_ops ioregion_ops = {
	.read = ioregion_read,
	.write = ioregion_write,
	.destructor = ioregion_destructor,
};

static const struct kvm_io_device_ops ioregion_fast_ops = {
	.write = ioregion_fast_write,
	.destructor = ioregion_fast_destructor,
};

/*
 * Finish the deferred access of @vcpu, or report it.  @mmio_data and
 * @pio_data are where the arch's completion of a userspace MMIO or PIO exit
 * takes a read's value from.  Return 1
 * when the access is complete, 0 for a KVM_EXIT_IOREGIONFD_FAILURE exit, or
 * -EINTR on a signal, in which case the next call picks up from there.
 */
int kvm_ioregion_complete(struct kvm_vcpu *vcpu, void *mmio_data, void *pio_data)
{
	struct kvm_vcpu_ioregion *ctx = &vcpu->ioregion;
	void *data = ctx->pio ? pio_data : mmio_data;
	struct kvm_run *run = vcpu->run;
	int ret;

	if (ctx->state == IOREGION_REPORTED) {
		/* Take userspace's value, as for KVM_EXIT_MMIO. */
		if (ctx->cmd.cmd == IOREGIONFD_CMD_READ)
			ioregion_put_value(data, ctx->len, READ_ONCE(run->ioregionfd.data));
		ioregion_reset(ctx);
		return 1;
	}

	if (ctx->state != IOREGION_FAILED) {
		/* Wait for the device outside the SRCU read side. */
		kvm_vcpu_srcu_read_unlock(vcpu);
		ret = ioregion_run(ctx, TASK_INTERRUPTIBLE);
		kvm_vcpu_srcu_read_lock(vcpu);
		if (ret == -EINTR)
			return ret;
		if (ret)
			ioregion_fail(vcpu, ctx, ret);
	}

	if (ctx->state == IOREGION_FAILED) {
		memset(&run->ioregionfd, 0, sizeof(run->ioregionfd));
		run->exit_reason = KVM_EXIT_IOREGIONFD_FAILURE;
		run->ioregionfd.addr = ctx->addr;
		run->ioregionfd.data = ctx->cmd.data;
		run->ioregionfd.user_data = ctx->user_data;
		run->ioregionfd.len = ctx->len;
		run->ioregionfd.error = -ctx->error;
		if (ctx->cmd.cmd == IOREGIONFD_CMD_WRITE)
			run->ioregionfd.flags |= KVM_IOREGIONFD_FAILURE_WRITE;
		if (ctx->pio)
			run->ioregionfd.flags |= KVM_IOREGIONFD_FAILURE_PIO;
		ctx->state = IOREGION_REPORTED;
		return 0;
	}

	ioregion_finish(vcpu, ctx, data);
	return 1;
}

void kvm_ioregion_vcpu_destroy(struct kvm_vcpu *vcpu)
{
	if (kvm_ioregion_pending(vcpu))
		ioregion_cancel(&vcpu->ioregion);
}

static bool ioregion_ranges_overlap(gpa_t a, u64 a_len, gpa_t b, u64 b_len)
{
	/* A zero length covers the one address it names. */
	gpa_t a_last = a + max_t(u64, a_len, 1) - 1;
	gpa_t b_last = b + max_t(u64, b_len, 1) - 1;

	return a <= b_last && b <= a_last;
}

bool kvm_ioregion_overlaps(struct kvm *kvm, enum kvm_bus bus_idx, gpa_t addr, u64 len)
{
	struct ioregion *region;

	lockdep_assert_held(&kvm->slots_lock);

	list_for_each_entry(region, &kvm->ioregions, node)
		if (region->bus_idx == bus_idx &&
		    ioregion_ranges_overlap(region->paddr, region->size, addr, len))
			return true;
	return false;
}

static struct ioregion *ioregion_find(struct kvm *kvm, enum kvm_bus bus_idx, gpa_t addr, u64 len)
{
	struct ioregion *region;

	lockdep_assert_held(&kvm->slots_lock);

	list_for_each_entry(region, &kvm->ioregions, node)
		if (region->bus_idx == bus_idx && region->paddr == addr && region->size == len)
			return region;
	return NULL;
}

static int ioregion_check_args(const struct kvm_ioregion *args)
{
	u64 end = args->guest_paddr + max_t(u64, args->memory_size, 1) - 1;

	if (args->flags & ~KVM_IOREGION_VALID_FLAG_MASK)
		return -EINVAL;

	if (memchr_inv(args->pad, 0, sizeof(args->pad)))
		return -EINVAL;

	/* Only a posted write can be served without knowing the access size. */
	if (!args->memory_size && !(args->flags & KVM_IOREGION_POSTED_WRITES))
		return -EINVAL;

	/*
	 * The I/O bus holds a range as an int length and compares range ends,
	 * so the size must fit in an int and the end must not wrap to 0.
	 */
	if (args->memory_size > INT_MAX ||
	    args->guest_paddr + args->memory_size < args->guest_paddr)
		return -EINVAL;

	if ((args->flags & KVM_IOREGION_PIO) && end > U16_MAX)
		return -EINVAL;

	return 0;
}

/*
 * Accept only stream sockets and pipes: they carry bytes in order, and both
 * honour MSG_DONTWAIT or IOCB_NOWAIT.  Do not ask for FMODE_NOWAIT, because
 * a named FIFO opened with open(2) lacks it although pipe_read() and
 * pipe_write() never sleep for data or room when given IOCB_NOWAIT.
 */
static bool ioregion_file_usable(struct file *file)
{
	struct socket *sock = sock_from_file(file);

	if (sock)
		return sock->type == SOCK_STREAM;

	return S_ISFIFO(file_inode(file)->i_mode) &&
	       file->f_op->read_iter && file->f_op->write_iter;
}

static struct ioregion_wire *ioregion_wire_get_fd(int fd, fmode_t mode)
{
	struct ioregion_wire *wire;
	struct file *file;

	file = fget(fd);
	if (!file)
		return ERR_PTR(-EBADF);

	if (!(file->f_mode & mode))
		wire = ERR_PTR(-EBADF);
	else if (!ioregion_file_usable(file))
		wire = ERR_PTR(-EINVAL);
	else
		wire = ioregion_wire_get(file) ?: ERR_PTR(-ENOMEM);

	fput(file);
	return wire;
}

static struct ioregion *ioregion_alloc(const struct kvm_ioregion *args)
{
	struct ioregion *region;
	int ret;

	region = kzalloc(sizeof(*region), GFP_KERNEL_ACCOUNT);
	if (!region)
		return ERR_PTR(-ENOMEM);

	region->rwire = ioregion_wire_get_fd(args->read_fd, FMODE_READ);
	if (IS_ERR(region->rwire)) {
		ret = PTR_ERR(region->rwire);
		goto out_free_region;
	}

	region->wwire = ioregion_wire_get_fd(args->write_fd, FMODE_WRITE);
	if (IS_ERR(region->wwire)) {
		ret = PTR_ERR(region->wwire);
		goto out_put_rwire;
	}

	region->paddr = args->guest_paddr;
	region->size = args->memory_size;
	region->user_data = args->user_data;
	region->posted_writes = args->flags & KVM_IOREGION_POSTED_WRITES;
	region->bus_idx = (args->flags & KVM_IOREGION_PIO) ? KVM_PIO_BUS : KVM_MMIO_BUS;
	kvm_iodevice_init(&region->dev, &ioregion_ops);
	kvm_iodevice_init(&region->fast_dev, &ioregion_fast_ops);
	return region;

out_put_rwire:
	ioregion_wire_put(region->rwire);
out_free_region:
	kfree(region);
	return ERR_PTR(ret);
}

/* On failure the region is freed, by the destructor once it was on a bus. */
static int ioregion_register(struct kvm *kvm, struct ioregion *region)
{
	int ret;

	lockdep_assert_held(&kvm->slots_lock);

	if (kvm_ioregion_overlaps(kvm, region->bus_idx, region->paddr, region->size) ||
	    kvm_ioeventfd_overlaps(kvm, region->bus_idx, region->paddr, region->size)) {
		ret = -EEXIST;
		goto out_free_region;
	}

	ret = kvm_io_bus_register_dev(kvm, region->bus_idx, region->paddr, region->size,
				      &region->dev);
	if (ret)
		goto out_free_region;

	region->kvm = kvm;
	region->nr_buses = 1;
	list_add_tail(&region->node, &kvm->ioregions);

	if (region->size || region->bus_idx != KVM_MMIO_BUS)
		return 0;

	ret = kvm_io_bus_register_dev(kvm, KVM_FAST_MMIO_BUS, region->paddr, 0, &region->fast_dev);
	if (ret) {
		kvm_io_bus_unregister_dev(kvm, region->bus_idx, &region->dev);
		return ret;
	}

	region->nr_buses++;
	region->on_fast_bus = true;
	return 0;

out_free_region:
	ioregion_free(region);
	return ret;
}

static int kvm_assign_ioregion(struct kvm *kvm, struct kvm_ioregion *args)
{
	struct ioregion *region;
	int ret;

	region = ioregion_alloc(args);
	if (IS_ERR(region))
		return PTR_ERR(region);

	mutex_lock(&kvm->slots_lock);
	ret = ioregion_register(kvm, region);
	mutex_unlock(&kvm->slots_lock);
	return ret;
}

static int kvm_deassign_ioregion(struct kvm *kvm, struct kvm_ioregion *args)
{
	enum kvm_bus bus_idx = (args->flags & KVM_IOREGION_PIO) ? KVM_PIO_BUS : KVM_MMIO_BUS;
	struct ioregion *region;
	int ret = 0;

	mutex_lock(&kvm->slots_lock);

	region = ioregion_find(kvm, bus_idx, args->guest_paddr, args->memory_size);
	if (!region) {
		ret = -ENOENT;
		goto out_unlock;
	}

	/* Unregistering waits for vCPUs on the bus; the destructors free the region. */
	if (region->on_fast_bus)
		kvm_io_bus_unregister_dev(kvm, KVM_FAST_MMIO_BUS, &region->fast_dev);
	kvm_io_bus_unregister_dev(kvm, bus_idx, &region->dev);

out_unlock:
	mutex_unlock(&kvm->slots_lock);
	return ret;
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
