/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The strings case of the ioregionfd stress tests: its regions, the
 * string accesses that its guest makes of them, and a device process and
 * model that check and serve those accesses.  See
 * ioregionfd_string_stress_test.c.
 */
#ifndef SELFTEST_KVM_IOREGION_STRING_H
#define SELFTEST_KVM_IOREGION_STRING_H

#include "ioregion_stress.h"

#ifdef __x86_64__
#define STR_PORT_BASE		(PIO_BASE + 0x1000)
#define STR_PORT_STRIDE		0x10
#define STR_PORT_SIZE		4
#define STR_PORT_FLAGS		KVM_IOREGION_PIO
#define STR_PORT_WRITES		"rep outsb"
#define STR_PORT_READS		"rep insb element"
#define STR_MEM_LOAD		"movdqu load"
#define STR_PAGE_SIZE		PAGE_SIZE
#else
#define STR_PORT_BASE		(MMIO_GPA + 0x100)
#define STR_PORT_STRIDE		0x40
#define STR_PORT_SIZE		(2 * STR_MAX_COUNT)
#define STR_PORT_FLAGS		0
#define STR_PORT_WRITES		"memcpy_toio()"
#define STR_PORT_READS		"memcpy_fromio() byte"
#define STR_MEM_LOAD		"memcpy_fromio()"
/* That of the VM's mode, which the host sets before the guest runs. */
extern u64 iostr_page_size;
#define STR_PAGE_SIZE		iostr_page_size
#endif
#define STR_MMIO_SIZE		0x40
#define STR_MMIO_NR_PAGES	(NR_VCPUS + 1)
#define NR_STR_REGIONS		(2 * NR_VCPUS)
#define STR_MAX_COUNT		16

/* A port byte: bit 7 says userspace served it, bits 6:5 name the vCPU. */
#define STR_EMULATED		0x80
#define STR_VCPU(b)		((b) >> 5 & 3)
#define STR_POS(b)		((b) & 31)
#define STR_READ(idx, pos)	((idx) << 5 | ((pos) & 31))
/* What a device answers to a write, a value that no read of vCPU @idx takes. */
#define STR_WRITE_RESP(idx)	(0x0101010101010101ull * STR_READ((idx) ^ 1, 0x15))

/* What the guest's regions hold, shared by the device processes and this one. */
struct iostr_vcpu_state {
	/*
	 * Write stream: position << 28 | size of the last write << 24 |
	 * device gen << 8 | last byte, in one store.
	 */
	u64 wstate;
	/* Reads that devices took from the port. */
	u64 rpos;
	u8 mem[STR_MMIO_SIZE];
};

struct iostr_shared {
	struct iostr_vcpu_state v[NR_VCPUS];
	u32 seed;
	/* Reset for each device, as in struct iors_shared. */
	bool armed;
	bool faulted;
	bool release;
	u64 cmds;
	u64 vcpu_cmds[NR_VCPUS];
	struct ioregionfd_cmd fault_cmd;
	struct ioregionfd_cmd bad_cmd;
	char bad[128];
};

/* Who serves an access. */
enum iostr_src { STR_DEVICE, STR_FAILURE, STR_EXIT };

struct iostr_dev {
	struct iostr_shared *sh;
	struct iors_fds fds;
	u32 gen;
	enum iors_fault fault;
	struct guest_random_state rng;
};

struct iors_region iostr_region(u32 r);
u8 iostr_wbyte(u32 seed, u32 idx, u64 pos, u8 last);
void iostr_guest_port_write(u64 port, u64 pos, const u8 *buf, u32 count);
void iostr_guest_port_read(u64 port, u32 x, u8 *buf, u32 count);
u32 iostr_mem_len(u32 count);
void iostr_guest_store(u64 gpa, const u8 *buf, u32 len);
void iostr_guest_load(u64 gpa, u8 *buf, u32 len);
u64 iostr_wpos(u64 wstate);
u64 iostr_access(struct iostr_shared *sh, u32 r, bool write, u64 offset, u32 size, u64 data,
		 u32 gen, enum iostr_src src, const char **why);
int iostr_find(u32 idx, bool pio, u64 addr);
pid_t iostr_spawn(struct iostr_dev *d);

#endif /* SELFTEST_KVM_IOREGION_STRING_H */
