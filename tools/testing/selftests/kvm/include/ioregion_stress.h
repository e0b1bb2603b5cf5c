/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the ioregionfd stress tests share: the guest's register files and
 * doorbell and the code that uses them, a device process that fails as it
 * is told to, the fds and regions that connect a device, and a vCPU loop
 * that hands each kind of exit to the test.
 */
#ifndef SELFTEST_KVM_IOREGION_STRESS_H
#define SELFTEST_KVM_IOREGION_STRESS_H

#include <sys/types.h>

#include <linux/ioregion.h>

#include "eventfd_stress.h"
#include "ioregion_device.h"
#include "kvm_util.h"

/*
 * ioregionfd.  vCPU i has an MMIO and a PIO register file, and all share a
 * PIO doorbell with posted writes; outside x86 the second register file and
 * the doorbell are MMIO too.  The register files live in shared memory
 * and survive the device processes; userspace emulates the accesses that a
 * device fails, with the same register files.  So the guest always reads
 * back what it wrote, whoever served the access.  A region's user_data names
 * the device generation that serves it, and the region.
 */
#define IOR_SIZE		0x40
#define IOR_STRIDE		0x100
#define IOR_DOORBELL		(2 * NR_VCPUS)
#define NR_IOR_REGIONS		(IOR_DOORBELL + 1)
#ifdef __x86_64__
#define IOR_DOORBELL_ADDR	(PIO_BASE + 0x800)
#define IOR_BUS2_BASE		PIO_BASE
#define IOR_BUS2_FLAGS		KVM_IOREGION_PIO
#else
/* Past the first register files, in the same page. */
#define IOR_DOORBELL_ADDR	(MMIO_GPA + 0xf00)
#define IOR_BUS2_BASE		(MMIO_GPA + 0x800)
#define IOR_BUS2_FLAGS		0
#endif
#define IOR_USER_DATA_MAGIC	0x10f0000000000000ull
#define IOR_USER_DATA(gen, r)	(IOR_USER_DATA_MAGIC | (u64)(gen) << 8 | (r))
#define IOR_MAX_GENS		200
#define IOR_MAX_ITERS		1000000000ull

struct iors_region {
	u64 base;
	u64 size;
	u32 flags;
	u32 vcpu;
};

static inline u32 iors_ud_gen(u64 user_data)
{
	return user_data >> 8;
}

static inline u32 iors_ud_region(u64 user_data)
{
	return user_data & 0xff;
}

/* How a device generation fails. */
enum iors_fault {
	/* SIGKILL at a random point. */
	IOR_KILL,
	/* SIGKILL while it holds a command, unanswered. */
	IOR_KILL_HELD,
	/* SIGKILL once it stopped reading and the vCPUs wait for room to send. */
	IOR_KILL_FULL,
	/* A short response, then SIGKILL. */
	IOR_SHORT_HELD,
	/* A short response, then exit. */
	IOR_SHORT_CLOSE,
	/* 32 random bytes with nonzero pad. */
	IOR_GARBAGE,
	/* A response with extra bytes, after which no command may come. */
	IOR_LONG,
	/* Its regions are deassigned while it holds a command, which it then answers. */
	IOR_DEASSIGN_HELD,
	NR_IOR_FAULTS,
};

extern const char * const iors_fault_names[NR_IOR_FAULTS];

/* Shared with the device processes. */
struct iors_shared {
	struct ioregion_regfile rf[IOR_DOORBELL];
	/* Doorbells that the devices took, per vCPU. */
	u64 doorbells[NR_VCPUS];

	/* Reset for each device.  Set by the host: fail on the next command. */
	bool armed;
	/* Set by the device: between taking a command and answering it. */
	bool busy;
	/* Failed on fault_cmd. */
	bool faulted;
	/* IOR_LONG: victim_cmd is a command that came after the long response. */
	bool victim_known;
	/* Set by the host: IOR_DEASSIGN_HELD may answer fault_cmd. */
	bool release;
	u64 cmds;
	u64 vcpu_cmds[NR_VCPUS];
	/* IOR_KILL_FULL: unread bytes when it was killed. */
	int unread;
	struct ioregionfd_cmd fault_cmd;
	struct ioregionfd_cmd victim_cmd;
	struct ioregionfd_cmd bad_cmd;
};

/* How a device process ends, other than by SIGKILL. */
enum {
	DEV_CLOSED,
	DEV_EOF,
	DEV_BAD_CMD,
	DEV_IO_ERROR,
};

struct iors_fds {
	/*
	 * The ends given to KVM_SET_IOREGION: the same socket, or split, one
	 * socketpair per direction.
	 */
	int kvm_rfd;
	int kvm_wfd;
	int dev_rfd;
	int dev_wfd;
};

struct iors_dev {
	struct iors_shared *sh;
	struct iors_fds fds;
	u32 gen;
	enum iors_fault fault;
	struct guest_random_state rng;
};

/* The details of a KVM_EXIT_IOREGIONFD_FAILURE. */
struct iors_failure {
	u64 addr;
	u64 data;
	u64 user_data;
	u32 len;
	u32 flags;
	u32 error;
	u32 pad;
};

/* What the vCPU threads of the ioregionfd cases do with each kind of exit. */
struct iors_exit_ops {
	/* KVM_RUN returned EINTR with an access left pending. */
	void (*pending)(void *v);
	void (*failure)(void *v);
	/* An access that no region took, and no ucall. */
	void (*plain)(void *v);
};

extern const u8 iors_sizes[4];

/* The guest's progress, in guest memory. */
extern u64 iors_iters[NR_VCPUS];
extern u64 iors_doorbells[NR_VCPUS];
extern bool iors_stop;

/* While nonzero, only ring the doorbell; each vCPU says it saw it. */
extern u32 iors_posted_gen;
extern u32 iors_posted_seen[NR_VCPUS];

void iors_install_sigpipe(void);
void iors_check_no_sigpipe(const char *name);
void iors_install_sigusr1(void);
int iors_reap(pid_t pid, const char *what);
void iors_wait_flag(bool *flag, const char *what);
struct iors_region iors_region(u32 r);
bool iors_cmd_valid(const struct ioregionfd_cmd *cmd, u32 gen);
bool iors_write_all(int fd, const void *buf, size_t len);
void __noreturn iors_hold_forever(void);
void iors_open_fds(struct iors_fds *f, bool split);
pid_t iors_spawn_device(struct iors_fds *fds, int (*device)(void *arg), void *arg);
pid_t iors_spawn(struct iors_dev *d);
void iors_assign(struct kvm_vm *vm, const struct iors_fds *f, u32 gen);
void iors_deassign(struct kvm_vm *vm);
struct kvm_vm *iors_vm_create(struct kvm_vcpu **vcpus, u32 seed);
const char *iors_failure_str(const struct iors_failure *f, char *buf, size_t size);
struct iors_failure iors_failure_of(const struct kvm_run *run);
void iors_run_vcpu(struct kvm_vcpu *vcpu, u32 idx, const struct iors_exit_ops *ops, void *v,
		   u64 *eintr, bool *done);
void iors_wait_device(const u64 *vcpu_cmds, const u64 *cmds, struct guest_random_state *rng,
		      u32 gen);

#endif /* SELFTEST_KVM_IOREGION_STRESS_H */
