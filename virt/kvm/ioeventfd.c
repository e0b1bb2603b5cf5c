// SPDX-License-Identifier: GPL-2.0-only
#include <linux/delay.h>
#include <linux/eventfd.h>
#include <linux/fault-inject.h>
#include <linux/file.h>
#include <linux/hash.h>
#include <linux/kvm_host.h>
#include <linux/moduleparam.h>
#include <linux/rculist.h>
#include <linux/slab.h>
#include <linux/srcu.h>
#include <linux/unaligned.h>

#include <kvm/iodev.h>
#include <trace/events/kvm.h>

/*
 * An ioeventfd group is the single device on an I/O bus for one exact
 * (bus, addr, len).  Its items are the KVM_IOEVENTFD registrations for that
 * address.  All of them sit in an SRCU-protected hash table: data-match
 * items keyed by their match value, wildcards by their eventfd, which only
 * serves to find duplicates.  Wildcards are also on an SRCU list.  A guest
 * write signals every wildcard and every data-match item whose value equals
 * the written value.  The table grows and shrinks with the group, so both
 * finding an item and a guest write cost O(1) whatever the group's size.
 *
 * kvm->slots_lock serializes all updates: kvm->ioeventfds (the list of
 * groups), the item lists and table resizing.  Guest writes run under
 * kvm->srcu only, so anything a reader may still see is freed only after
 * synchronize_srcu_expedited().  A group lives on its bus exactly as long as
 * it has items, so bus->ioeventfd_count counts groups.
 */

/*
 * Past 2^20 buckets (8 MiB), let chains grow rather than the table.  Grow
 * past two items per bucket, shrink below one per eight.
 */
#define IOEVENTFD_TABLE_MIN_BITS	2
#define IOEVENTFD_TABLE_MAX_BITS	20

struct ioeventfd_item {
	struct eventfd_ctx *eventfd;
	/* The match value, or for a wildcard the eventfd's address. */
	u64 key;
	bool wildcard;
	/* In ioeventfd_table.buckets, see ioeventfd_table.node. */
	struct hlist_node hnode[2];
	/*
	 * Wildcards only: on ioeventfd_group.wildcards.  Data-match items are
	 * allocated without it, see ioeventfd_item_alloc().
	 */
	struct list_head wildcard_node;
};

struct ioeventfd_table {
	unsigned int bits;
	/*
	 * Index of the hnode[] entry that links items into this table.  A
	 * resize links the items through the other entry, so that readers of
	 * the old table can keep walking it until the grace period ends.
	 */
	unsigned int node;
	struct hlist_head buckets[];
};

struct ioeventfd_group {
	struct kvm_io_device dev;
	/* On kvm->ioeventfds. */
	struct list_head node;
	struct kvm *kvm;
	gpa_t addr;
	int len;
	enum kvm_bus bus_idx;
	unsigned int nr_items;
	/*
	 * The only item while the group has exactly one, else NULL.  Most
	 * groups are a single doorbell, and their writes skip the table.
	 */
	struct ioeventfd_item __rcu *solo;
	struct list_head wildcards;
	struct ioeventfd_table __rcu *table;
};

static inline struct ioeventfd_group *to_ioeventfd_group(struct kvm_io_device *dev)
{
	return container_of(dev, struct ioeventfd_group, dev);
}

static struct ioeventfd_table *ioeventfd_table(struct ioeventfd_group *group)
{
	struct kvm *kvm = group->kvm;

	/* Same rules as kvm_get_bus(): VM teardown has no readers left. */
	return srcu_dereference_check(group->table, &kvm->srcu,
				      lockdep_is_held(&kvm->slots_lock) ||
				      !refcount_read(&kvm->users_count));
}

static struct hlist_head *ioeventfd_bucket(struct ioeventfd_table *table, u64 key)
{
	return &table->buckets[hash_64(key, table->bits)];
}

static u64 ioeventfd_key(struct eventfd_ctx *eventfd, bool wildcard, u64 datamatch)
{
	return wildcard ? (u64)(unsigned long)eventfd : datamatch;
}

static struct ioeventfd_table *ioeventfd_table_alloc(unsigned int bits, unsigned int node,
						     gfp_t gfp)
{
	struct ioeventfd_table *table;

	table = kvzalloc(struct_size(table, buckets, 1U << bits), gfp);
	if (!table)
		return NULL;

	table->bits = bits;
	table->node = node;
	return table;
}

static size_t ioeventfd_table_size(struct ioeventfd_table *table)
{
	return struct_size(table, buckets, 1U << table->bits);
}

/* Keep the VM statistic ioeventfd_table_bytes in step: @sign is 1 or -1. */
static void ioeventfd_table_account(struct kvm *kvm, struct ioeventfd_table *table, int sign)
{
	lockdep_assert_held(&kvm->slots_lock);
	kvm->stat.generic.ioeventfd_table_bytes += sign * (s64)ioeventfd_table_size(table);
}

static void ioeventfd_item_free(struct ioeventfd_item *item)
{
	if (!item)
		return;

	eventfd_ctx_put(item->eventfd);
	kfree(item);
}

static bool ioeventfd_in_range(const struct ioeventfd_group *group, gpa_t addr, int len)
{
	/* A zero-length group takes writes of any length at its address. */
	return addr == group->addr && (!group->len || len == group->len);
}

/* @len is a group's length, which KVM_IOEVENTFD checked to be 1, 2, 4 or 8. */
static u64 ioeventfd_read_value(const void *val, int len)
{
	/* The value may straddle a page, so never assume alignment. */
	switch (len) {
	case 1:
		return *(const u8 *)val;
	case 2:
		return get_unaligned((const u16 *)val);
	case 4:
		return get_unaligned((const u32 *)val);
	default:
		return get_unaligned((const u64 *)val);
	}
}

static unsigned int ioeventfd_signal_wildcards(struct ioeventfd_group *group)
{
	struct ioeventfd_item *item;
	unsigned int signals = 0;

	list_for_each_entry_srcu(item, &group->wildcards, wildcard_node,
				 srcu_read_lock_held(&group->kvm->srcu)) {
		eventfd_signal(item->eventfd);
		signals++;
	}
	return signals;
}

#ifdef CONFIG_FAULT_INJECTION
#define IOEVENTFD_INJECTED_DELAY_MS	50

static DECLARE_FAULT_ATTR(ioeventfd_delay_signal);

/*
 * Stall a vCPU between finding a data-match item and signalling it, so that
 * a test can deassign the item in between and check that deassign waits for
 * the signal.  Only a task's /proc/self/task/TID/fail-nth arms this: the
 * attribute's own probability stays zero.  Sleep, as an SRCU reader may,
 * so that the deassigning task gets to run even on a single CPU.
 */
static void ioeventfd_inject_delay(void)
{
	if (should_fail_ex(&ioeventfd_delay_signal, 1, FAULT_NOWARN))
		msleep(IOEVENTFD_INJECTED_DELAY_MS);
}
#else
static inline void ioeventfd_inject_delay(void)
{
}
#endif

static unsigned int ioeventfd_signal_datamatch(struct ioeventfd_group *group, u64 value)
{
	struct ioeventfd_table *table = ioeventfd_table(group);
	unsigned int idx = table->node;
	struct ioeventfd_item *item;
	unsigned int signals = 0;

	hlist_for_each_entry_srcu(item, ioeventfd_bucket(table, value), hnode[idx],
				  srcu_read_lock_held(&group->kvm->srcu)) {
		/* A wildcard's key is no value: it was signalled already. */
		if (item->key != value || item->wildcard)
			continue;

		ioeventfd_inject_delay();
		eventfd_signal(item->eventfd);
		signals++;
	}
	return signals;
}

/*
 * Trace a guest write and count it in the vCPU's statistics, on every write.
 * kvm_io_bus_write() has a vCPU for every write that reaches a group.
 */
static __always_inline void ioeventfd_account(struct kvm_vcpu *vcpu,
					      struct ioeventfd_group *group, gpa_t addr,
					      int len, u64 value, unsigned int signals)
{
	trace_kvm_ioeventfd_write(group->bus_idx, addr, len, value, signals);
	vcpu->stat.generic.ioeventfd_signals += signals;
	if (!signals)
		++vcpu->stat.generic.ioeventfd_misses;
}

/*
 * Signal every wildcard, and every data-match item whose key is @value.
 * Out of line, so that a one-item group's write keeps a small frame.
 */
static noinline int ioeventfd_write_all(struct kvm_vcpu *vcpu, struct ioeventfd_group *group,
					gpa_t addr, int len, u64 value)
{
	unsigned int signals;

	/* Pairs with the smp_wmb() in ioeventfd_update_solo(). */
	smp_rmb();
	signals = ioeventfd_signal_wildcards(group);
	/* Zero-length groups hold only wildcards. */
	if (group->len)
		signals += ioeventfd_signal_datamatch(group, value);
	ioeventfd_account(vcpu, group, addr, len, value, signals);

	/* Let userspace handle a write that matched no item. */
	return signals ? 0 : -EOPNOTSUPP;
}

static int ioeventfd_write(struct kvm_vcpu *vcpu, struct kvm_io_device *dev, gpa_t addr,
			   int len, const void *val)
{
	struct ioeventfd_group *group = to_ioeventfd_group(dev);
	struct ioeventfd_item *solo;
	u64 value = 0;

	if (!ioeventfd_in_range(group, addr, len))
		return -EOPNOTSUPP;

	/* Zero-length groups hold only wildcards, and @val may be NULL for them. */
	if (group->len)
		value = ioeventfd_read_value(val, len);

	solo = srcu_dereference(group->solo, &group->kvm->srcu);
	if (unlikely(!solo))
		return ioeventfd_write_all(vcpu, group, addr, len, value);

	/* Only a group with a length, and so a value, has data-match items. */
	if (!solo->wildcard) {
		if (solo->key != value) {
			ioeventfd_account(vcpu, group, addr, len, value, 0);
			return -EOPNOTSUPP;
		}
		ioeventfd_inject_delay();
	}

	/*
	 * Count the write first, so that the statistics are up to date by the
	 * time the eventfd wakes anybody.
	 */
	ioeventfd_account(vcpu, group, addr, len, value, 1);
	eventfd_signal(solo->eventfd);
	return 0;
}

/*
 * Called once the group is off its bus and no vCPU can reach it, either
 * from kvm_io_bus_unregister_dev() or when the bus is destroyed.
 */
static void ioeventfd_destructor(struct kvm_io_device *dev)
{
	struct ioeventfd_group *group = to_ioeventfd_group(dev);
	struct ioeventfd_table *table = ioeventfd_table(group);
	unsigned int idx = table->node;
	struct ioeventfd_item *item;
	struct hlist_node *next;
	unsigned int i;

	for (i = 0; i < (1U << table->bits); i++)
		hlist_for_each_entry_safe(item, next, &table->buckets[i], hnode[idx])
			ioeventfd_item_free(item);

	kvfree(table);
	list_del(&group->node);
	kfree(group);
}

static const struct kvm_io_device_ops ioeventfd_ops = {
	.write = ioeventfd_write,
	.destructor = ioeventfd_destructor,
};

/* The table size for the group's items, a step at a time. */
static unsigned int ioeventfd_table_bits(struct ioeventfd_group *group,
					 struct ioeventfd_table *table)
{
	if (group->nr_items > 2U << table->bits && table->bits < IOEVENTFD_TABLE_MAX_BITS)
		return table->bits + 1;
	if (group->nr_items < (1U << table->bits) / 8 && table->bits > IOEVENTFD_TABLE_MIN_BITS)
		return table->bits - 1;
	return table->bits;
}

/*
 * Rehash the items into a table sized for them, through the hnode[] that
 * the current table does not use, so that readers can keep walking the
 * current one.  Return it, to be freed once no reader can see it, or NULL
 * if the size is right or no memory is left; the old size still works.
 */
static struct ioeventfd_table *ioeventfd_table_resize(struct ioeventfd_group *group)
{
	struct ioeventfd_table *old = ioeventfd_table(group);
	unsigned int bits = ioeventfd_table_bits(group, old);
	struct ioeventfd_table *new;
	struct ioeventfd_item *item;
	unsigned int i;

	lockdep_assert_held(&group->kvm->slots_lock);

	if (bits == old->bits)
		return NULL;

	new = ioeventfd_table_alloc(bits, !old->node, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!new)
		return NULL;

	for (i = 0; i < (1U << old->bits); i++)
		hlist_for_each_entry(item, &old->buckets[i], hnode[old->node])
			hlist_add_head(&item->hnode[new->node], ioeventfd_bucket(new, item->key));

	/* Release barrier: readers must see the buckets filled in above. */
	rcu_assign_pointer(group->table, new);
	ioeventfd_table_account(group->kvm, new, 1);
	ioeventfd_table_account(group->kvm, old, -1);
	return old;
}

/* The item of a group that has only one, found the slow way. */
static struct ioeventfd_item *ioeventfd_only_item(struct ioeventfd_group *group)
{
	struct ioeventfd_table *table = ioeventfd_table(group);
	struct ioeventfd_item *item;
	unsigned int i;

	for (i = 0; i < (1U << table->bits); i++)
		hlist_for_each_entry(item, &table->buckets[i], hnode[table->node])
			return item;
	return NULL;
}

/* Call after linking or unlinking an item. */
static void ioeventfd_update_solo(struct ioeventfd_group *group)
{
	lockdep_assert_held(&group->kvm->slots_lock);

	/*
	 * A guest write that finds no solo item walks the table and the list
	 * instead: order their update before the pointer, NULL included.
	 */
	smp_wmb();
	rcu_assign_pointer(group->solo, group->nr_items == 1 ? ioeventfd_only_item(group) : NULL);
}

static void ioeventfd_link_item(struct ioeventfd_group *group, struct ioeventfd_item *item)
{
	struct ioeventfd_table *table = ioeventfd_table(group);

	lockdep_assert_held(&group->kvm->slots_lock);

	group->nr_items++;

	/* The _rcu helpers publish the item only after it is initialized. */
	hlist_add_head_rcu(&item->hnode[table->node], ioeventfd_bucket(table, item->key));
	if (item->wildcard)
		list_add_tail_rcu(&item->wildcard_node, &group->wildcards);
	ioeventfd_update_solo(group);

	/*
	 * Readers may still walk the old table through the other hnode[].
	 * Wait for them before freeing it and before the next resize reuses
	 * that hnode[].
	 */
	table = ioeventfd_table_resize(group);
	if (table) {
		synchronize_srcu_expedited(&group->kvm->srcu);
		kvfree(table);
	}
}

/* Return the table that readers may still see, to free after they are done. */
static struct ioeventfd_table *ioeventfd_unlink_item(struct ioeventfd_group *group,
						     struct ioeventfd_item *item)
{
	struct ioeventfd_table *table = ioeventfd_table(group);

	lockdep_assert_held(&group->kvm->slots_lock);

	group->nr_items--;

	hlist_del_rcu(&item->hnode[table->node]);
	if (item->wildcard)
		list_del_rcu(&item->wildcard_node);
	ioeventfd_update_solo(group);

	return ioeventfd_table_resize(group);
}

static struct ioeventfd_item *ioeventfd_find_item(struct ioeventfd_group *group,
						  struct eventfd_ctx *eventfd,
						  bool wildcard, u64 datamatch)
{
	struct ioeventfd_table *table = ioeventfd_table(group);
	u64 key = ioeventfd_key(eventfd, wildcard, datamatch);
	struct ioeventfd_item *item;

	lockdep_assert_held(&group->kvm->slots_lock);

	hlist_for_each_entry(item, ioeventfd_bucket(table, key), hnode[table->node])
		if (item->eventfd == eventfd && item->wildcard == wildcard && item->key == key)
			return item;
	return NULL;
}

static struct ioeventfd_group *ioeventfd_find_group(struct kvm *kvm, enum kvm_bus bus_idx,
						    gpa_t addr, int len, bool *clash)
{
	struct ioeventfd_group *group;

	lockdep_assert_held(&kvm->slots_lock);

	list_for_each_entry(group, &kvm->ioeventfds, node) {
		if (group->bus_idx != bus_idx || group->addr != addr)
			continue;
		if (group->len == len)
			return group;
		if (clash && !group->len != !len)
			*clash = true;
	}
	return NULL;
}

static struct ioeventfd_group *ioeventfd_group_create(struct kvm *kvm, enum kvm_bus bus_idx,
						      gpa_t addr, int len,
						      struct ioeventfd_item *item)
{
	struct ioeventfd_group *group;
	struct ioeventfd_table *table;
	int ret;

	lockdep_assert_held(&kvm->slots_lock);

	group = kzalloc(sizeof(*group), GFP_KERNEL_ACCOUNT);
	if (!group)
		return ERR_PTR(-ENOMEM);

	table = ioeventfd_table_alloc(IOEVENTFD_TABLE_MIN_BITS, 0, GFP_KERNEL_ACCOUNT);
	if (!table) {
		ret = -ENOMEM;
		goto out_free_group;
	}

	kvm_iodevice_init(&group->dev, &ioeventfd_ops);
	group->kvm = kvm;
	group->addr = addr;
	group->len = len;
	group->bus_idx = bus_idx;
	INIT_LIST_HEAD(&group->wildcards);
	RCU_INIT_POINTER(group->table, table);
	ioeventfd_link_item(group, item);

	/* Publishing the bus orders the initialization above for vCPUs. */
	ret = kvm_io_bus_register_dev(kvm, bus_idx, addr, len, &group->dev);
	if (ret)
		goto out_free_table;

	kvm_get_bus(kvm, bus_idx)->ioeventfd_count++;
	ioeventfd_table_account(kvm, table, 1);
	list_add_tail(&group->node, &kvm->ioeventfds);
	return group;

out_free_table:
	kvfree(table);
out_free_group:
	kfree(group);
	return ERR_PTR(ret);
}

/* The destructor frees the group and every item still linked to it. */
static void ioeventfd_group_destroy(struct ioeventfd_group *group)
{
	enum kvm_bus bus_idx = group->bus_idx;
	struct kvm *kvm = group->kvm;
	struct kvm_io_bus *bus;

	lockdep_assert_held(&kvm->slots_lock);

	/* The group, its table included, goes with its bus device. */
	ioeventfd_table_account(kvm, ioeventfd_table(group), -1);
	kvm_io_bus_unregister_dev(kvm, bus_idx, &group->dev);

	/* On failure the whole bus, this group included, is already gone. */
	bus = kvm_get_bus(kvm, bus_idx);
	if (bus)
		bus->ioeventfd_count--;
}

static void ioeventfd_remove_item(struct ioeventfd_group *group, struct ioeventfd_item *item)
{
	struct ioeventfd_table *old_table;
	struct kvm *kvm = group->kvm;

	/* Unregistering waits for readers, so the last item goes with its group. */
	if (group->nr_items == 1) {
		ioeventfd_group_destroy(group);
		return;
	}

	old_table = ioeventfd_unlink_item(group, item);

	/* Make sure no vCPU can still signal the item once deassign returns. */
	synchronize_srcu_expedited(&kvm->srcu);
	kvfree(old_table);
	ioeventfd_item_free(item);
}

/* On success the group owns @item; on failure the caller still does. */
static struct ioeventfd_group *ioeventfd_add_item(struct kvm *kvm, enum kvm_bus bus_idx,
						  gpa_t addr, int len,
						  struct ioeventfd_item *item)
{
	struct ioeventfd_group *group;
	bool clash = false;

	lockdep_assert_held(&kvm->slots_lock);

	group = ioeventfd_find_group(kvm, bus_idx, addr, len, &clash);
	if (clash)
		return ERR_PTR(-EEXIST);
	if (!group)
		return ioeventfd_group_create(kvm, bus_idx, addr, len, item);

	if (ioeventfd_find_item(group, item->eventfd, item->wildcard, item->key))
		return ERR_PTR(-EEXIST);

	ioeventfd_link_item(group, item);
	return group;
}

static int ioeventfd_remove(struct kvm *kvm, enum kvm_bus bus_idx,
			    const struct kvm_ioeventfd *args, struct eventfd_ctx *eventfd)
{
	bool wildcard = !(args->flags & KVM_IOEVENTFD_FLAG_DATAMATCH);
	struct ioeventfd_group *group;
	struct ioeventfd_item *item;

	lockdep_assert_held(&kvm->slots_lock);

	group = ioeventfd_find_group(kvm, bus_idx, args->addr, args->len, NULL);
	if (!group)
		return -ENOENT;

	item = ioeventfd_find_item(group, eventfd, wildcard, args->datamatch);
	if (!item)
		return -ENOENT;

	ioeventfd_remove_item(group, item);
	return 0;
}

static enum kvm_bus ioeventfd_bus_from_flags(__u32 flags)
{
	if (flags & KVM_IOEVENTFD_FLAG_PIO)
		return KVM_PIO_BUS;
	if (flags & KVM_IOEVENTFD_FLAG_VIRTIO_CCW_NOTIFY)
		return KVM_VIRTIO_CCW_NOTIFY_BUS;
	return KVM_MMIO_BUS;
}

/* Zero-length MMIO also goes on the fast MMIO bus, for faster exits. */
static bool ioeventfd_wants_fast_mmio(const struct kvm_ioeventfd *args)
{
	return !args->len && ioeventfd_bus_from_flags(args->flags) == KVM_MMIO_BUS;
}

static int ioeventfd_check_args(const struct kvm_ioeventfd *args)
{
	switch (args->len) {
	case 0:
	case 1:
	case 2:
	case 4:
	case 8:
		break;
	default:
		return -EINVAL;
	}

	if (args->addr + args->len < args->addr)
		return -EINVAL;

	if (args->flags & ~KVM_IOEVENTFD_VALID_FLAG_MASK)
		return -EINVAL;

	/* A zero-length write has no value to match. */
	if (!args->len && (args->flags & KVM_IOEVENTFD_FLAG_DATAMATCH))
		return -EINVAL;

	return 0;
}

static struct ioeventfd_item *ioeventfd_item_alloc(struct file *file,
						   const struct kvm_ioeventfd *args)
{
	bool wildcard = !(args->flags & KVM_IOEVENTFD_FLAG_DATAMATCH);
	struct ioeventfd_item *item;

	/* Data-match items may be many: leave out what only wildcards use. */
	item = kzalloc(wildcard ? sizeof(*item) : offsetof(struct ioeventfd_item, wildcard_node),
		       GFP_KERNEL_ACCOUNT);
	if (!item)
		return NULL;

	/* Cannot fail, eventfd_fget() has vetted the file. */
	item->eventfd = eventfd_ctx_fileget(file);
	item->wildcard = wildcard;
	item->key = ioeventfd_key(item->eventfd, item->wildcard, args->datamatch);
	return item;
}

static int ioeventfd_alloc_items(const struct kvm_ioeventfd *args, struct ioeventfd_item **item,
				 struct ioeventfd_item **fast_item)
{
	struct file *file;
	int ret = 0;

	file = eventfd_fget(args->fd);
	if (IS_ERR(file))
		return PTR_ERR(file);

	*item = ioeventfd_item_alloc(file, args);
	if (!*item) {
		ret = -ENOMEM;
		goto out_fput;
	}

	if (ioeventfd_wants_fast_mmio(args)) {
		*fast_item = ioeventfd_item_alloc(file, args);
		if (!*fast_item) {
			ret = -ENOMEM;
			goto out_free_item;
		}
	}

	fput(file);
	return 0;

out_free_item:
	ioeventfd_item_free(*item);
out_fput:
	fput(file);
	return ret;
}

static int kvm_assign_ioeventfd(struct kvm *kvm, struct kvm_ioeventfd *args)
{
	enum kvm_bus bus_idx = ioeventfd_bus_from_flags(args->flags);
	struct ioeventfd_item *item = NULL, *fast_item = NULL;
	struct ioeventfd_group *group, *fast_group;
	int ret;

	ret = ioeventfd_check_args(args);
	if (ret)
		return ret;

	ret = ioeventfd_alloc_items(args, &item, &fast_item);
	if (ret)
		return ret;

	mutex_lock(&kvm->slots_lock);

	group = ioeventfd_add_item(kvm, bus_idx, args->addr, args->len, item);
	if (IS_ERR(group)) {
		ret = PTR_ERR(group);
		goto out_unlock;
	}

	if (fast_item) {
		fast_group = ioeventfd_add_item(kvm, KVM_FAST_MMIO_BUS, args->addr, 0, fast_item);
		if (IS_ERR(fast_group)) {
			ret = PTR_ERR(fast_group);
			goto out_remove_item;
		}
	}

	mutex_unlock(&kvm->slots_lock);
	return 0;

out_remove_item:
	ioeventfd_remove_item(group, item);
	item = NULL;
out_unlock:
	mutex_unlock(&kvm->slots_lock);
	ioeventfd_item_free(fast_item);
	ioeventfd_item_free(item);
	return ret;
}

static int kvm_deassign_ioeventfd(struct kvm *kvm, struct kvm_ioeventfd *args)
{
	enum kvm_bus bus_idx = ioeventfd_bus_from_flags(args->flags);
	struct eventfd_ctx *eventfd;
	int ret;

	eventfd = eventfd_ctx_fdget(args->fd);
	if (IS_ERR(eventfd))
		return PTR_ERR(eventfd);

	mutex_lock(&kvm->slots_lock);
	ret = ioeventfd_remove(kvm, bus_idx, args, eventfd);
	/* The fast MMIO item only mirrors the MMIO one, report the latter. */
	if (ioeventfd_wants_fast_mmio(args))
		ioeventfd_remove(kvm, KVM_FAST_MMIO_BUS, args, eventfd);
	mutex_unlock(&kvm->slots_lock);

	eventfd_ctx_put(eventfd);
	return ret;
}

int kvm_ioeventfd(struct kvm *kvm, struct kvm_ioeventfd *args)
{
	if (args->flags & KVM_IOEVENTFD_FLAG_DEASSIGN)
		return kvm_deassign_ioeventfd(kvm, args);

	return kvm_assign_ioeventfd(kvm, args);
}
