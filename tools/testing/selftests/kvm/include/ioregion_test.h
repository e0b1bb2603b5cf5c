/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The machinery of the ioregionfd tests: a device thread that serves
 * register files over sockets, guest programs of accesses together with
 * the exits and device commands they must cause, and vCPU workers.
 */
#ifndef SELFTEST_KVM_IOREGION_TEST_H
#define SELFTEST_KVM_IOREGION_TEST_H

#include <pthread.h>
#include <semaphore.h>
#include <time.h>

#include <linux/ioregion.h>
#include <linux/sizes.h>

#include "ioregion_device.h"
#include "kvm_util.h"

/* Outside every memslot, identity mapped by the fixture. */
#define MMIO_GPA		(4ull * SZ_1G)
#define MMIO_NR_PAGES		4

/* Every region is one register file of the device. */
#define REGION_SIZE		IOREGION_REGFILE_SIZE

/* Zero-length regions, away from the register files. */
#define ZL_GPA			(MMIO_GPA + 2 * SZ_4K)

/*
 * Most cases pair an MMIO region with a second one, which is port I/O on
 * x86.  Without port I/O (arm64) the second region is MMIO as well, on a
 * page of its own, so that those cases still run with two regions on one
 * device.  Cases about port I/O itself are x86's.
 */
#ifdef __x86_64__
/* Arbitrary, clear of ucall and of the in-kernel PIC and PIT. */
#define PIO_BASE		0x6000
#define ZL_PORT			(PIO_BASE + 0x2000)

#define SECOND_BASE		PIO_BASE
#define SECOND_ZL		ZL_PORT
#define SECOND_BUS		KVM_IOREGION_PIO
#else
#define SECOND_BASE		(MMIO_GPA + SZ_4K)
#define SECOND_ZL		(ZL_GPA + 0x800)
#define SECOND_BUS		0
#endif

/* Upper bits set in every byte, so that truncation or sign extension shows. */
#define PATTERN			0xf1e2d3c4b5a69788ull

/* What the device puts above the access size of a read's value. */
#define JUNK			0xa55aa55aa55aa55aull

/*
 * user_data of region @i, which serves register file @i of the device.  The
 * top bytes make a corrupted or shifted command stand out.
 */
#define NR_REGFILES		16
#define USER_DATA_BASE		0x8877665544332200ull
#define USER_DATA(i)		(USER_DATA_BASE | (i))

/*
 * Region indices of the stress tests: vCPU i has MMIO region i and second
 * region i + 8.
 */
#define STRESS_SECOND		8
#define MAX_STRESS_VCPUS	8

#define LOG_SIZE		4096
#define MAX_OPS			48
#define MAX_CMDS		128

/* The access the guest makes, and for a read the value it must get. */
struct ior_op {
	u64 addr;
	u64 val;
	u8 size;
	bool write;
	bool pio;
};

/* The device task of a test, serving one register file per region. */
enum ior_dev_mode {
	/* Answer every command. */
	DEV_SERVE,
	/* Take command fault_at, then close both ends without answering. */
	DEV_HANG_UP,
	/* Answer command fault_at with nonzero pad, then go on. */
	DEV_BAD_PAD,
	/* Take command fault_at, answer it with STALE_VAL once released. */
	DEV_STALL,
	/* Answer command fault_at with one byte, the rest once released. */
	DEV_PARTIAL,
};

#define STALE_VAL		0x5a1e5a1e5a1e5a1eull

struct ior_dev {
	/*
	 * The ends given to KVM_SET_IOREGION: the same socket, or one end of
	 * a command and one of a response socketpair.
	 */
	int kvm_rfd;
	int kvm_wfd;
	/* The device's ends. */
	int rfd;
	int wfd;

	enum ior_dev_mode mode;
	u32 fault_at;
	/* Stall, as mode says, on every command from fault_at on. */
	bool fault_all;
	sem_t stalled;
	sem_t release;
	/* Per command, to make vCPUs wait for the device. */
	u32 delay_us;
	/* Answer read n with ior_numbered_val(n), so that repeated reads differ. */
	bool numbered_reads;
	/* Check the sequence of ior_guest_stress() accesses. */
	bool stress;

	pthread_t thread;
	bool running;
	int ret;

	/* Everything below is protected by lock. */
	pthread_mutex_t lock;
	struct ioregion_regfile regs[NR_REGFILES];
	u64 seq[NR_REGFILES];
	bool want_read[NR_REGFILES];
	struct ioregionfd_cmd log[LOG_SIZE];
	u32 nr_cmds;
};

/* A region on the device of a test, serving register file @idx. */
struct ior_region {
	u64 base;
	u64 size;
	u32 flags;
	u8 idx;
};

/* An exit to userspace that an access of the guest must cause. */
struct ior_exit {
	u32 reason;
	u64 addr;
	u32 len;
	bool write;
	bool pio;
	/* The value written, or the value userspace supplies for a read. */
	u64 data;
	/* KVM_EXIT_IOREGIONFD_FAILURE only. */
	u32 error;
	u8 idx;
};

struct ior_exp_cmd {
	struct ioregionfd_cmd cmd;
	/* The access hit a zero-length region, which may not give a size. */
	bool zero_len;
};

/*
 * Guest accesses for one run, with the exits to userspace they must cause,
 * and the commands the device must get over the whole test.  The register
 * files in model[] predict what the guest reads.
 */
struct ior_prog {
	struct ior_op ops[MAX_OPS];
	int nr_ops;
	struct ior_exit exits[MAX_OPS];
	int nr_exits;
	struct ior_exp_cmd cmds[MAX_CMDS];
	int nr_cmds;
	struct ioregion_regfile model[NR_REGFILES];
};

struct ior_stats {
	u64 round_trips;
	u64 posted_writes;
	u64 failures;
};

/* A vCPU thread that runs the guest to its next GUEST_SYNC. */
struct ior_worker {
	struct kvm_vcpu *vcpu;
	pthread_t thread;
	/* KVM_RUN returned EINTR, KVM_EXIT_INTR or KVM_EXIT_IOREGIONFD_PENDING. */
	u64 nr_eintr;
	/* Of those, the ones with an access pending. */
	u64 nr_pending;
	bool done;
};

/* Values, and the guest code. */
extern const u8 ior_access_sizes[4];
int ior_nr_access_sizes(bool pio);
u64 ior_pattern(int n);
u64 ior_numbered_val(u32 n);
const char *ior_bus_str(bool pio);
bool ior_second_pio(void);
extern u64 ior_stress_iters;
void ior_guest_code(void);
void ior_guest_stress(u32 idx);

/* The device. */
void ior_dev_init(struct ior_dev *dev, bool split);
void ior_dev_start(struct ior_dev *dev, enum ior_dev_mode mode, u32 fault_at);
void ior_dev_stop(struct ior_dev *dev);
u32 ior_dev_nr_cmds(struct ior_dev *dev);

/* Regions, and ioeventfds among them. */
void ior_assert_ioregion(struct kvm_vm *vm, struct kvm_ioregion *args, int err, const char *what);
struct kvm_ioregion ior_region_args(const struct ior_region *r, const struct ior_dev *dev);
void ior_region_assign(struct kvm_vm *vm, const struct ior_region *r, const struct ior_dev *dev);
void ior_region_deassign(struct kvm_vm *vm, const struct ior_region *r);
bool ior_region_pio(const struct ior_region *r);
void ior_ioeventfd_match(struct kvm_vm *vm, u64 addr, u32 len, int fd, u32 flags,
			 u64 datamatch);

/* Programs of guest accesses, and the exits and commands they must cause. */
void ior_prog_init(struct ior_prog *p, struct ior_dev *dev);
void ior_prog_next_run(struct ior_prog *p);
struct ior_op *ior_prog_add_op(struct ior_prog *p, bool pio, u64 addr, u8 size, bool write,
			       u64 val);
struct ioregionfd_cmd *ior_prog_add_cmd(struct ior_prog *p, const struct ior_region *r, u64 offset,
					u8 size, bool write, u64 val);
void ior_prog_access(struct ior_prog *p, const struct ior_region *r, u64 offset, u8 size,
		     bool write, u64 val);
void ior_prog_exit(struct ior_prog *p, bool pio, u64 addr, u8 size, bool write, u64 val);
void ior_prog_fail(struct ior_prog *p, const struct ior_region *r, u64 offset, u8 size, bool write,
		   u64 val, int error, bool sent);
void ior_prog_load(struct kvm_vm *vm, const struct ior_prog *p);
const char *ior_describe_exit(struct kvm_vcpu *vcpu, char *buf, size_t size);
void ior_check_exit(struct kvm_vcpu *vcpu, const struct ior_exit *exp);
void ior_expect_sync(struct kvm_vcpu *vcpu);
void ior_vcpu_run(struct kvm_vcpu *vcpu);
void ior_run_loaded(struct kvm_vcpu *vcpu, const struct ior_prog *p, int first);
void ior_run_prog(struct kvm_vcpu *vcpu, const struct ior_prog *p);
u64 ior_elapsed_ms(const struct timespec *start);
void ior_check_cmds(struct ior_dev *dev, const struct ior_prog *p);

/* The ioregion statistics of a vCPU. */
struct ior_stats ior_vcpu_stats(struct kvm_vcpu *vcpu);
void ior_assert_stats(struct kvm_vcpu *vcpu, const struct ior_stats *before, u64 round_trips,
		      u64 posted_writes, u64 failures);

/* Signals, and vCPU threads. */
extern u32 ior_nr_sigpipe;
void ior_count_sigpipe(void);
void ior_install_sigusr1(void);
bool ior_check_eintr_exit(struct kvm_vcpu *vcpu);
void ior_worker_start(struct ior_worker *w, struct kvm_vcpu *vcpu);
void ior_worker_join(struct ior_worker *w);
void ior_workers_run(struct ior_worker *w, struct kvm_vcpu **vcpus, int nr, u32 kick_us);

/* Several vCPUs, each on regions of its own, running ior_guest_stress(). */
struct kvm_vm *ior_stress_vm_create(struct kvm_vcpu **vcpus, int nr, u32 first_idx);
void ior_stress_assign(struct kvm_vm *vm, struct ior_dev *dev, u32 idx);
void ior_stress_check(struct ior_dev *dev, u32 idx, u64 iters);

/* For IOREGIONFD_FIXTURE() below. */
struct kvm_vcpu *ior_fixture_setup(struct ior_dev *dev, bool split);
void ior_fixture_teardown(struct kvm_vcpu *vcpu, struct ior_dev *dev);

/*
 * The fixture of most cases: a vCPU that runs ior_guest_code(), and a device
 * whose ends are one socketpair, or one per direction.
 */
#define IOREGIONFD_FIXTURE(name)					\
	FIXTURE(name) {							\
		struct kvm_vcpu *vcpu;					\
		struct ior_dev dev;					\
	};								\
									\
	FIXTURE_VARIANT(name) {						\
		/* One socketpair per direction, not one for both. */	\
		bool split;						\
	};								\
									\
	FIXTURE_VARIANT_ADD(name, socketpair) {				\
		.split = false,						\
	};								\
									\
	FIXTURE_VARIANT_ADD(name, split) {				\
		.split = true,						\
	};								\
									\
	FIXTURE_SETUP(name)						\
	{								\
		self->vcpu = ior_fixture_setup(&self->dev, variant->split); \
	}								\
									\
	FIXTURE_TEARDOWN(name)						\
	{								\
		ior_fixture_teardown(self->vcpu, &self->dev);		\
	}

#endif /* SELFTEST_KVM_IOREGION_TEST_H */
