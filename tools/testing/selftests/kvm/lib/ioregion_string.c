// SPDX-License-Identifier: GPL-2.0-only
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <asm/barrier.h>
#include <linux/align.h>

#include "ioregion_string.h"
#include "processor.h"

#ifndef __x86_64__
u64 iostr_page_size;
#endif

/* Region r < NR_VCPUS is vCPU r's MMIO region, the others the PIO ones. */
struct iors_region iostr_region(u32 r)
{
	if (r < NR_VCPUS)
		return (struct iors_region) {
			.base = MMIO_GPA + (r + 1) * STR_PAGE_SIZE - STR_MMIO_SIZE / 2,
			.size = STR_MMIO_SIZE, .vcpu = r,
		};
	return (struct iors_region) {
		.base = STR_PORT_BASE + (r - NR_VCPUS) * STR_PORT_STRIDE, .size = STR_PORT_SIZE,
		.flags = STR_PORT_FLAGS, .vcpu = r - NR_VCPUS,
	};
}

static u64 str_mix(u64 x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/* What byte @pos of vCPU @idx's write stream adds to the one before. */
static u8 str_wstep(u32 seed, u32 idx, u64 pos)
{
	return 1 + str_mix(((u64)seed << 32 | idx) + pos * 0x9e3779b97f4a7c15ull) % 255;
}

/* Byte @pos of vCPU @idx's write stream follows @last, and never equals it. */
u8 iostr_wbyte(u32 seed, u32 idx, u64 pos, u8 last)
{
	return last + str_wstep(seed, idx, pos);
}

/* Where the stream's byte at @pos goes in the port. */
static u64 str_port_offset(u64 pos)
{
#ifdef __x86_64__
	return 0;
#else
	return pos % STR_PORT_SIZE;
#endif
}

#ifdef __x86_64__
static void guest_rep_outsb(u16 port, const u8 *buf, u64 count)
{
	asm volatile("rep outsb" : "+S"(buf), "+c"(count) : "d"(port) : "memory");
}

static void guest_rep_insb(u16 port, u8 *buf, u64 count)
{
	asm volatile("rep insb" : "+D"(buf), "+c"(count) : "d"(port) : "memory");
}

static void guest_movdqu_store(u64 gpa, const u8 *src)
{
	asm volatile("movdqu (%0), %%xmm0\n\t"
		     "movdqu %%xmm0, (%1)" : : "r"(src), "r"(gpa) : "xmm0", "memory");
}

static void guest_movdqu_load(u64 gpa, u8 *dst)
{
	asm volatile("movdqu (%1), %%xmm0\n\t"
		     "movdqu %%xmm0, (%0)" : : "r"(dst), "r"(gpa) : "xmm0", "memory");
}

/* Write @count bytes of the stream, from position @pos on: one command per byte. */
void iostr_guest_port_write(u64 port, u64 pos, const u8 *buf, u32 count)
{
	guest_rep_outsb(port, buf, count);
}

void iostr_guest_port_read(u64 port, u32 x, u8 *buf, u32 count)
{
	guest_rep_insb(port, buf, count);
}

/* movdqu moves 16 bytes whatever @count, in two or three commands. */
u32 iostr_mem_len(u32 count)
{
	return 16;
}

void iostr_guest_store(u64 gpa, const u8 *buf, u32 len)
{
	guest_movdqu_store(gpa, buf);
}

void iostr_guest_load(u64 gpa, u8 *buf, u32 len)
{
	guest_movdqu_load(gpa, buf);
}
#else
/*
 * The accesses of arm64's memcpy_toio() and memcpy_fromio(), of one
 * register each and without writeback: KVM can emulate no other form, e.g.
 * a load or store pair, whose data abort has no valid syndrome.
 */
static void guest_writeb(u64 gpa, u8 val)
{
	asm volatile("strb %w0, [%1]" : : "rZ"(val), "r"(gpa) : "memory");
}

static void guest_writeq(u64 gpa, u64 val)
{
	asm volatile("str %x0, [%1]" : : "rZ"(val), "r"(gpa) : "memory");
}

static u8 guest_readb(u64 gpa)
{
	u8 val;

	asm volatile("ldrb %w0, [%1]" : "=r"(val) : "r"(gpa) : "memory");
	return val;
}

static u64 guest_readq(u64 gpa)
{
	u64 val;

	asm volatile("ldr %0, [%1]" : "=r"(val) : "r"(gpa) : "memory");
	return val;
}

/* As memcpy_toio(): bytes up to 8-byte alignment, 8 bytes at a time, then bytes. */
static void guest_memcpy_toio(u64 gpa, const u8 *src, u32 count)
{
	u64 val;

	while (count && !IS_ALIGNED(gpa, 8)) {
		guest_writeb(gpa++, *src++);
		count--;
	}
	while (count >= 8) {
		memcpy(&val, src, 8);
		guest_writeq(gpa, val);
		gpa += 8;
		src += 8;
		count -= 8;
	}
	while (count--)
		guest_writeb(gpa++, *src++);
}

static void guest_memcpy_fromio(u8 *dst, u64 gpa, u32 count)
{
	u64 val;

	while (count && !IS_ALIGNED(gpa, 8)) {
		*dst++ = guest_readb(gpa++);
		count--;
	}
	while (count >= 8) {
		val = guest_readq(gpa);
		memcpy(dst, &val, 8);
		gpa += 8;
		dst += 8;
		count -= 8;
	}
	while (count--)
		*dst++ = guest_readb(gpa++);
}

/*
 * Write @count bytes of the stream, from position @pos on, each at its
 * offset: in two parts where they wrap round the end of the port.
 */
void iostr_guest_port_write(u64 port, u64 pos, const u8 *buf, u32 count)
{
	u32 off = str_port_offset(pos), first = min_t(u32, count, STR_PORT_SIZE - off);

	guest_memcpy_toio(port + off, buf, first);
	guest_memcpy_toio(port, buf + first, count - first);
}

/* Read at a random offset: the device counts positions whatever the offset. */
void iostr_guest_port_read(u64 port, u32 x, u8 *buf, u32 count)
{
	guest_memcpy_fromio(buf, port + (x >> 16) % (STR_PORT_SIZE - STR_MAX_COUNT + 1), count);
}

u32 iostr_mem_len(u32 count)
{
	return count;
}

void iostr_guest_store(u64 gpa, const u8 *buf, u32 len)
{
	guest_memcpy_toio(gpa, buf, len);
}

void iostr_guest_load(u64 gpa, u8 *buf, u32 len)
{
	guest_memcpy_fromio(buf, gpa, len);
}
#endif

static u64 str_wstate(u64 pos, u32 size, u32 gen, u8 last)
{
	return pos << 28 | (u64)size << 24 | (u64)gen << 8 | last;
}

u64 iostr_wpos(u64 wstate)
{
	return wstate >> 28;
}

/*
 * Take the @size bytes @data, written at @offset of the port, of vCPU
 * @idx's stream; return whether they are the next ones, at their offset.
 */
static bool str_take_write(struct iostr_shared *sh, u32 idx, u64 offset, u32 size, u64 data,
			   u32 gen, enum iostr_src src)
{
	struct iostr_vcpu_state *vs = &sh->v[idx];
	u64 st = READ_ONCE(vs->wstate), pos = iostr_wpos(st);
	u32 by = st >> 8 & 0xffff, n = st >> 24 & 0xf, i;
	u8 last = st, b = last;

	for (i = 0; i < size; i++) {
		b = iostr_wbyte(sh->seed, idx, pos + i, b);
		if ((u8)(data >> 8 * i) != b)
			break;
	}
	if (i == size && offset == str_port_offset(pos)) {
		WRITE_ONCE(vs->wstate,
			   str_wstate(pos + size, size, src == STR_DEVICE ? gen : 0, b));
		return true;
	}

	/*
	 * A device that took the bytes and died before it answered: the
	 * failure exit hands userspace the same write.  Bytes in a row differ,
	 * so this is no byte sent twice.
	 */
	if (src != STR_FAILURE || by != gen || n != size || pos < size ||
	    offset != str_port_offset(pos - size))
		return false;
	for (b = last, i = size; i--; b -= str_wstep(sh->seed, idx, pos - size + i))
		if ((u8)(data >> 8 * i) != b)
			return false;
	return true;
}

/* A read of @size bytes of the port: a device counts a position for each. */
static u64 str_port_read(struct iostr_vcpu_state *vs, u32 idx, u32 size, enum iostr_src src)
{
	u64 val = 0, pos = vs->rpos;
	u32 i;

	for (i = 0; i < size; i++)
		val |= (u64)(src == STR_DEVICE ? STR_READ(idx, pos + i) :
						 STR_EMULATED | STR_READ(idx, 0x1f)) << (8 * i);
	if (src == STR_DEVICE)
		WRITE_ONCE(vs->rpos, pos + size);
	return val;
}

#ifdef __x86_64__
#define STR_PORT_FORM		"not a byte at the port"

/* rep insb and rep outsb move a byte at a time, at the port. */
static bool str_port_form(u64 offset, u32 size)
{
	return !offset && size == 1;
}
#else
#define STR_PORT_FORM		"not a byte or an aligned 8 bytes in the port"
#define STR_MEM_FORM		"not a byte or an aligned 8 bytes"

/* memcpy_toio() and memcpy_fromio() move single bytes or aligned 8 bytes. */
static bool str_io_form(u64 offset, u32 size)
{
	return (size == 1 || size == 8) && IS_ALIGNED(offset, size);
}

static bool str_port_form(u64 offset, u32 size)
{
	return str_io_form(offset, size) && offset + size <= STR_PORT_SIZE;
}
#endif

/*
 * Serve an access of @size bytes at @offset of region @r, for device @gen
 * or userspace; return a read's value, or set *why for a bad access.
 */
u64 iostr_access(struct iostr_shared *sh, u32 r, bool write, u64 offset, u32 size, u64 data,
		 u32 gen, enum iostr_src src, const char **why)
{
	u32 idx = iostr_region(r).vcpu;
	struct iostr_vcpu_state *vs = &sh->v[idx];
	u64 val = 0;

	*why = NULL;
	if (r >= NR_VCPUS) {
		if (!str_port_form(offset, size)) {
			*why = STR_PORT_FORM;
			return 0;
		}
		if (!write)
			return str_port_read(vs, idx, size, src);
		if (!str_take_write(sh, idx, offset, size, data, gen, src))
			*why = "not the next byte of the vCPU's stream";
		return STR_WRITE_RESP(idx);
	}

	if (!size || size > 8 || offset >= STR_MMIO_SIZE || offset + size > STR_MMIO_SIZE) {
		*why = "outside the MMIO region";
		return 0;
	}
#ifndef __x86_64__
	if (!str_io_form(offset, size)) {
		*why = STR_MEM_FORM;
		return 0;
	}
#endif
	if (write) {
		memcpy(vs->mem + offset, &data, size);
		return STR_WRITE_RESP(idx);
	}
	memcpy(&val, vs->mem + offset, size);
	return val;
}

/* The region of vCPU @idx that holds @addr, or -1. */
int iostr_find(u32 idx, bool pio, u64 addr)
{
	const u32 rs[] = { idx, NR_VCPUS + idx };
	struct iors_region reg;
	int i;

	for (i = 0; i < ARRAY_SIZE(rs); i++) {
		reg = iostr_region(rs[i]);
		if (!(reg.flags & KVM_IOREGION_PIO) == !pio && addr >= reg.base &&
		    addr < reg.base + reg.size)
			return rs[i];
	}
	return -1;
}

static bool str_cmd_valid(const struct ioregionfd_cmd *cmd, u32 gen)
{
	u32 r = iors_ud_region(cmd->user_data);
	int i;

	for (i = 0; i < sizeof(cmd->pad); i++)
		if (cmd->pad[i])
			return false;
	return r < NR_STR_REGIONS && cmd->user_data == IOR_USER_DATA(gen, r) &&
	       cmd->flags == IOREGIONFD_CMD_RESP &&
	       (cmd->cmd == IOREGIONFD_CMD_READ ? !cmd->data : cmd->cmd == IOREGIONFD_CMD_WRITE);
}

/* Serve until the planned failure; the state changes before the answer goes out. */
static int str_device(struct iostr_dev *d)
{
	struct iostr_shared *sh = d->sh;
	struct ioregionfd_cmd cmd;
	const char *why;
	u32 r, idx;
	u64 data;

	for (;;) {
		if (ioregion_device_recv_cmd(d->fds.dev_rfd, &cmd))
			return DEV_EOF;
		if (!str_cmd_valid(&cmd, d->gen)) {
			sh->bad_cmd = cmd;
			snprintf(sh->bad, sizeof(sh->bad), "malformed");
			return DEV_BAD_CMD;
		}

		r = iors_ud_region(cmd.user_data);
		idx = iostr_region(r).vcpu;
		WRITE_ONCE(sh->cmds, sh->cmds + 1);
		WRITE_ONCE(sh->vcpu_cmds[idx], sh->vcpu_cmds[idx] + 1);

		/* Hold the command before it changes anything. */
		if (READ_ONCE(sh->armed) && !sh->faulted) {
			sh->fault_cmd = cmd;
			/* Release: the host reads fault_cmd once it sees faulted. */
			smp_store_release(&sh->faulted, true);
			if (d->fault == IOR_KILL_HELD)
				iors_hold_forever();
			/* Acquire: pairs with the release by the host, once the regions went. */
			while (!smp_load_acquire(&sh->release))
				usleep(100);
		}

		data = iostr_access(sh, r, cmd.cmd == IOREGIONFD_CMD_WRITE, cmd.offset, cmd.size,
				    cmd.data, d->gen, STR_DEVICE, &why);
		if (why) {
			sh->bad_cmd = cmd;
			snprintf(sh->bad, sizeof(sh->bad), "%s", why);
			return DEV_BAD_CMD;
		}
		/* Widen the window in which a kill finds the state changed but no answer sent. */
		if (!rand_below(&d->rng, 8))
			usleep(rand_below(&d->rng, 200));
		if (ioregion_device_send_resp(d->fds.dev_wfd, data))
			return DEV_IO_ERROR;
	}
}

static int str_device_fn(void *arg)
{
	return str_device(arg);
}

pid_t iostr_spawn(struct iostr_dev *d)
{
	return iors_spawn_device(&d->fds, str_device_fn, d);
}
