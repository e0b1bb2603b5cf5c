/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * For tests of KVM's PIO and MMIO paths: guest accesses of a size chosen
 * at run time, a host-side description of the exit one caused, and the
 * count of an eventfd that one signalled.  Port I/O is x86's alone.
 */
#ifndef SELFTEST_KVM_GUEST_IO_H
#define SELFTEST_KVM_GUEST_IO_H

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "kvm_util.h"
#include "ucall_common.h"

#ifdef __x86_64__
/* The port of the x86 ucall implementation, lib/x86_64/ucall.c. */
#define UCALL_PIO_PORT		0x1000

static inline void guest_pio_write(u16 port, u32 size, u32 val)
{
	switch (size) {
	case 1:
		asm volatile("outb %b0, %w1" : : "a"(val), "Nd"(port));
		break;
	case 2:
		asm volatile("outw %w0, %w1" : : "a"(val), "Nd"(port));
		break;
	case 4:
		asm volatile("outl %0, %w1" : : "a"(val), "Nd"(port));
		break;
	default:
		GUEST_FAIL("Unsupported %u-byte PIO write", size);
	}
}

static inline u64 guest_pio_read(u16 port, u32 size)
{
	u8 b;
	u16 w;
	u32 l;

	switch (size) {
	case 1:
		asm volatile("inb %w1, %b0" : "=a"(b) : "Nd"(port));
		return b;
	case 2:
		asm volatile("inw %w1, %w0" : "=a"(w) : "Nd"(port));
		return w;
	case 4:
		asm volatile("inl %w1, %0" : "=a"(l) : "Nd"(port));
		return l;
	default:
		GUEST_FAIL("Unsupported %u-byte PIO read", size);
		return 0;
	}
}

#define GUEST_HAS_PIO		true
#else
/* Port I/O is x86's alone: a guest elsewhere that asks for it is a test bug. */
#define GUEST_HAS_PIO		false

static inline void guest_pio_write(u16 port, u32 size, u32 val)
{
	GUEST_FAIL("No port I/O on this architecture");
}

static inline u64 guest_pio_read(u16 port, u32 size)
{
	GUEST_FAIL("No port I/O on this architecture");
	return 0;
}
#endif /* __x86_64__ */

static inline void guest_mmio_write(u64 gpa, u32 size, u64 val)
{
	switch (size) {
	case 1:
		WRITE_ONCE(*(u8 *)gpa, val);
		break;
	case 2:
		WRITE_ONCE(*(u16 *)gpa, val);
		break;
	case 4:
		WRITE_ONCE(*(u32 *)gpa, val);
		break;
	case 8:
		WRITE_ONCE(*(u64 *)gpa, val);
		break;
	default:
		GUEST_FAIL("Unsupported %u-byte MMIO write", size);
	}
}

static inline u64 guest_mmio_read(u64 gpa, u32 size)
{
	switch (size) {
	case 1:
		return READ_ONCE(*(u8 *)gpa);
	case 2:
		return READ_ONCE(*(u16 *)gpa);
	case 4:
		return READ_ONCE(*(u32 *)gpa);
	case 8:
		return READ_ONCE(*(u64 *)gpa);
	default:
		GUEST_FAIL("Unsupported %u-byte MMIO read", size);
		return 0;
	}
}

/* Whether @vcpu exited for a ucall: port I/O on x86, MMIO elsewhere. */
static inline bool is_ucall_exit(struct kvm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

#ifdef __x86_64__
	return run->exit_reason == KVM_EXIT_IO && run->io.port == UCALL_PIO_PORT;
#else
	return run->exit_reason == KVM_EXIT_MMIO &&
	       run->mmio.phys_addr == vcpu->vm->ucall_mmio_addr;
#endif
}

/* Describe the exit of @vcpu into @buf, for assertion messages. */
static inline const char *describe_io_exit(struct kvm_vcpu *vcpu, char *buf, size_t size)
{
	struct kvm_run *run = vcpu->run;
	u64 data = 0;

	switch (run->exit_reason) {
#ifdef __x86_64__
	case KVM_EXIT_IO:
		if (run->io.port == UCALL_PIO_PORT) {
			snprintf(buf, size, "a ucall");
			break;
		}
		memcpy(&data, (void *)run + run->io.data_offset, min_t(int, run->io.size, 8));
		snprintf(buf, size, "KVM_EXIT_IO (%s, port 0x%x, size %u, count %u, data 0x%lx)",
			 run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in",
			 run->io.port, run->io.size, run->io.count, data);
		break;
#endif
	case KVM_EXIT_MMIO:
		memcpy(&data, run->mmio.data, min_t(int, run->mmio.len, 8));
		snprintf(buf, size, "KVM_EXIT_MMIO (%s, gpa 0x%llx, len %u, data 0x%lx)",
			 run->mmio.is_write ? "write" : "read", run->mmio.phys_addr,
			 run->mmio.len, data);
		break;
	default:
		snprintf(buf, size, "%s", exit_reason_str(run->exit_reason));
	}
	return buf;
}

/* Read and reset a nonblocking eventfd's counter. */
static inline u64 eventfd_count(int fd)
{
	u64 val;
	ssize_t ret;

	ret = read(fd, &val, sizeof(val));
	if (ret < 0 && errno == EAGAIN)
		return 0;

	TEST_ASSERT(ret == sizeof(val), "read(eventfd %d) returned %ld, errno = %d (%s)",
		    fd, ret, errno, strerror(errno));
	return val;
}

#endif /* SELFTEST_KVM_GUEST_IO_H */
