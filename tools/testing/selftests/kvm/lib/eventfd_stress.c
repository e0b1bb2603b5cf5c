// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "eventfd_stress.h"
#include "guest_io.h"
#include "ucall_common.h"

u64 now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

u64 stress_ms(void)
{
	const char *env = getenv("KVM_STRESS_SECONDS");
	unsigned long sec = STRESS_SECONDS;

	if (env)
		sec = strtoul(env, NULL, 0);
	return min_t(unsigned long, sec, MAX_STRESS_SECONDS) * 1000;
}

u32 stress_seed(void)
{
	const char *env = getenv("KVM_STRESS_SEED");
	u32 seed = env ? strtoul(env, NULL, 0) : now_ms() ^ getpid();

	ksft_print_msg("Seed 0x%x, set KVM_STRESS_SEED to repeat the random choices\n", seed);
	return seed;
}

/*
 * Outside x86 a ucall is an MMIO write, to an address past the memslot of
 * the guest's code: no region or ioeventfd of the tests may cover it.
 */
static bool ucall_mmio_exit(struct kvm_vcpu *vcpu)
{
#ifdef __x86_64__
	return false;
#else
	return vcpu->run->exit_reason == KVM_EXIT_MMIO &&
	       vcpu->run->mmio.phys_addr == vcpu->vm->ucall_mmio_addr;
#endif
}

void check_ucall_clear(struct kvm_vm *vm, u64 nr_pages)
{
#ifndef __x86_64__
	u64 ucall = vm->ucall_mmio_addr;

	TEST_ASSERT(ucall + 8 <= MMIO_GPA || ucall >= MMIO_GPA + nr_pages * vm->page_size,
		    "The ucall address 0x%lx lies in the test's MMIO area", ucall);
#endif
}

/* An exit of a guest access that no device took, and no ucall. */
bool io_exit(struct kvm_vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

#ifdef __x86_64__
	if (run->exit_reason == KVM_EXIT_IO)
		return run->io.port != UCALL_PIO_PORT;
#endif
	return run->exit_reason == KVM_EXIT_MMIO && !ucall_mmio_exit(vcpu);
}

bool decode_io_exit(struct kvm_vcpu *vcpu, struct io_access *io)
{
	struct kvm_run *run = vcpu->run;

	switch (run->exit_reason) {
#ifdef __x86_64__
	case KVM_EXIT_IO:
		if (run->io.port == UCALL_PIO_PORT || run->io.count != 1)
			return false;
		*io = (struct io_access) {
			.pio = true,
			.write = run->io.direction == KVM_EXIT_IO_OUT,
			.addr = run->io.port,
			.size = run->io.size,
			.ptr = (void *)run + run->io.data_offset,
		};
		break;
#endif
	case KVM_EXIT_MMIO:
		if (ucall_mmio_exit(vcpu))
			return false;
		*io = (struct io_access) {
			.write = run->mmio.is_write,
			.addr = run->mmio.phys_addr,
			.size = run->mmio.len,
			.ptr = run->mmio.data,
		};
		break;
	default:
		return false;
	}

	if (io->write)
		memcpy(&io->data, io->ptr, min_t(u32, io->size, sizeof(io->data)));
	return true;
}

void join_thread(pthread_t thread, const char *what)
{
	struct timespec ts;
	int ret;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += PROMPT_MS / 1000;
	ret = pthread_timedjoin_np(thread, NULL, &ts);
	TEST_ASSERT(ret != ETIMEDOUT, "%s within %d s: hung in KVM?", what, PROMPT_MS / 1000);
	TEST_ASSERT(!ret, "pthread_timedjoin_np() failed, error %d", ret);
}

void join_vcpu(pthread_t thread, int idx)
{
	char what[64];

	snprintf(what, sizeof(what), "vCPU %d did not stop", idx);
	join_thread(thread, what);
}
