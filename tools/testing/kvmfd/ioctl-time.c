// SPDX-License-Identifier: GPL-2.0-only
/*
 * LD_PRELOAD library for vmstart-bench: time every KVM_IOEVENTFD ioctl that
 * the process makes, and at exit append "ASSIGNS NANOSECONDS DEASSIGNS
 * NANOSECONDS" to the file that $KVMFD_IOCTL_TIME names.  Unlike strace -T, it adds two vDSO clock
 * reads per call and no ptrace stop, so the figure is the kernel's time.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <linux/kvm.h>

/* Indexed by whether the call deassigns. */
static unsigned long nr_calls[2], total_ns[2];

static unsigned long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ul + ts.tv_nsec;
}

int ioctl(int fd, unsigned long request, ...)
{
	static int (*real_ioctl)(int fd, unsigned long request, ...);
	struct kvm_ioeventfd *args;
	unsigned long start;
	va_list ap;
	void *arg;
	int r, i;

	va_start(ap, request);
	arg = va_arg(ap, void *);
	va_end(ap);

	if (!real_ioctl)
		real_ioctl = dlsym(RTLD_NEXT, "ioctl");
	if (request != KVM_IOEVENTFD)
		return real_ioctl(fd, request, arg);

	args = arg;
	i = !!(args->flags & KVM_IOEVENTFD_FLAG_DEASSIGN);
	start = now_ns();
	r = real_ioctl(fd, request, arg);
	__atomic_add_fetch(&total_ns[i], now_ns() - start, __ATOMIC_RELAXED);
	__atomic_add_fetch(&nr_calls[i], 1, __ATOMIC_RELAXED);
	return r;
}

static void __attribute__((destructor)) report(void)
{
	const char *path = getenv("KVMFD_IOCTL_TIME");
	FILE *f;

	if (!path)
		return;
	f = fopen(path, "a");
	if (!f)
		return;
	fprintf(f, "%lu %lu %lu %lu\n", nr_calls[0], total_ns[0], nr_calls[1], total_ns[1]);
	fclose(f);
}
