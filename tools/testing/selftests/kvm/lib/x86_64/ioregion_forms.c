// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>

#include "guest_io.h"
#include "ioregion_device.h"
#include "ioregion_forms.h"
#include "test_util.h"
#include "ucall_common.h"

#define USER_DATA_MMIO		0x4d4d494f00c0ffeeull
#define USER_DATA_PIO		0x50494f0000c0ffeeull

#define LOG_SIZE		(MAX_COUNT + 64)

static struct guest_op gop;
u64 iof_result[2];
static u8 ram_buf[RAM_BUF_SIZE] __aligned(PAGE_SIZE);

static u64 guest_load(u64 addr, u32 size)
{
	u64 v;

	switch (size) {
	case 1:
		asm volatile("movzbq (%1), %0" : "=r"(v) : "r"(addr) : "memory");
		break;
	case 2:
		asm volatile("movzwq (%1), %0" : "=r"(v) : "r"(addr) : "memory");
		break;
	case 4:
		asm volatile("movl (%1), %k0" : "=r"(v) : "r"(addr) : "memory");
		break;
	default:
		asm volatile("movq (%1), %0" : "=r"(v) : "r"(addr) : "memory");
		break;
	}
	return v;
}

static void guest_store(u64 addr, u32 size, u64 v)
{
	switch (size) {
	case 1:
		asm volatile("movb %b1, (%0)" : : "r"(addr), "r"(v) : "memory");
		break;
	case 2:
		asm volatile("movw %w1, (%0)" : : "r"(addr), "r"(v) : "memory");
		break;
	case 4:
		asm volatile("movl %k1, (%0)" : : "r"(addr), "r"(v) : "memory");
		break;
	default:
		asm volatile("movq %1, (%0)" : : "r"(addr), "r"(v) : "memory");
		break;
	}
}

static void guest_rep_movs(u64 dst, u64 src, u64 count, u32 size)
{
	switch (size) {
	case 1:
		asm volatile("cld; rep movsb" : "+D"(dst), "+S"(src), "+c"(count) : : "memory");
		break;
	case 2:
		asm volatile("cld; rep movsw" : "+D"(dst), "+S"(src), "+c"(count) : : "memory");
		break;
	case 4:
		asm volatile("cld; rep movsl" : "+D"(dst), "+S"(src), "+c"(count) : : "memory");
		break;
	default:
		asm volatile("cld; rep movsq" : "+D"(dst), "+S"(src), "+c"(count) : : "memory");
		break;
	}
}

static u64 guest_rep_lods(u64 src, u64 count, u32 size)
{
	u64 v = 0;

	switch (size) {
	case 1:
		asm volatile("cld; rep lodsb" : "+S"(src), "+c"(count), "+a"(v) : : "memory");
		break;
	default:
		asm volatile("cld; rep lodsl" : "+S"(src), "+c"(count), "+a"(v) : : "memory");
		break;
	}
	return v;
}

static void guest_rep_stos(u64 dst, u64 count, u32 size, u64 v)
{
	switch (size) {
	case 1:
		asm volatile("cld; rep stosb" : "+D"(dst), "+c"(count) : "a"(v) : "memory");
		break;
	default:
		asm volatile("cld; rep stosl" : "+D"(dst), "+c"(count) : "a"(v) : "memory");
		break;
	}
}

static void guest_rep_ins(u16 port, u64 dst, u64 count, u32 size)
{
	switch (size) {
	case 1:
		asm volatile("cld; rep insb" : "+D"(dst), "+c"(count) : "d"(port) : "memory");
		break;
	case 2:
		asm volatile("cld; rep insw" : "+D"(dst), "+c"(count) : "d"(port) : "memory");
		break;
	default:
		asm volatile("cld; rep insl" : "+D"(dst), "+c"(count) : "d"(port) : "memory");
		break;
	}
}

static void guest_rep_outs(u16 port, u64 src, u64 count, u32 size)
{
	switch (size) {
	case 1:
		asm volatile("cld; rep outsb" : "+S"(src), "+c"(count) : "d"(port) : "memory");
		break;
	case 2:
		asm volatile("cld; rep outsw" : "+S"(src), "+c"(count) : "d"(port) : "memory");
		break;
	default:
		asm volatile("cld; rep outsl" : "+S"(src), "+c"(count) : "d"(port) : "memory");
		break;
	}
}

static void guest_do_op(const struct guest_op *op)
{
	u64 ram = (u64)ram_buf, v = op->val;

	switch (op->form) {
	case F_LOAD:
		iof_result[0] = guest_load(op->addr, op->size);
		break;
	case F_STORE:
		guest_store(op->addr, op->size, v);
		break;
	case F_IN:
		iof_result[0] = guest_pio_read(op->addr, op->size);
		break;
	case F_OUT:
		guest_pio_write(op->addr, op->size, v);
		break;
	case F_MOVS_FROM:
		guest_rep_movs(ram, op->addr, op->count, op->size);
		break;
	case F_MOVS_TO:
		guest_rep_movs(op->addr, ram, op->count, op->size);
		break;
	case F_LODS:
		iof_result[0] = guest_rep_lods(op->addr, op->count, op->size);
		break;
	case F_STOS:
		guest_rep_stos(op->addr, op->count, op->size, v);
		break;
	case F_INS:
		guest_rep_ins(op->addr, ram, op->count, op->size);
		break;
	case F_OUTS:
		guest_rep_outs(op->addr, ram, op->count, op->size);
		break;
	case F_MOVDQU_LOAD:
		asm volatile("movdqu (%1), %%xmm0\n\t"
			     "movdqu %%xmm0, (%0)"
			     : : "r"(iof_result), "r"(op->addr) : "xmm0", "memory");
		break;
	case F_MOVDQU_STORE:
		asm volatile("movdqu (%1), %%xmm0\n\t"
			     "movdqu %%xmm0, (%0)"
			     : : "r"(op->addr), "r"(ram) : "xmm0", "memory");
		break;
	case F_ADD:
		asm volatile("addl %k1, (%0)" : : "r"(op->addr), "r"(v) : "memory", "cc");
		break;
	case F_XCHG:
		asm volatile("xchgl %k0, (%1)" : "+r"(v) : "r"(op->addr) : "memory");
		iof_result[0] = (u32)v;
		break;
	case F_LOCK_XADD:
		asm volatile("lock xaddl %k0, (%1)" : "+r"(v) : "r"(op->addr) : "memory", "cc");
		iof_result[0] = (u32)v;
		break;
	case F_VMOVDQU_LOAD:
		asm volatile("vmovdqu (%0), %%ymm0" : : "D"(op->addr) : "xmm0", "memory");
		break;
	default:
		GUEST_FAIL("Unknown form %u", op->form);
	}
}

void iof_guest_code(void)
{
	for (;;) {
		guest_do_op(&gop);
		GUEST_SYNC(gop.form);
	}
}

void iof_guest_code_avx(void)
{
	set_cr4(get_cr4() | X86_CR4_OSXSAVE);
	xsetbv(0, xgetbv(0) | XFEATURE_MASK_SSE | XFEATURE_MASK_YMM);
	iof_guest_code();
}

/* A device that records every command and answers read n with rec_val(n). */
struct rec_entry {
	struct ioregionfd_cmd cmd;
	u64 answer;
};

static struct {
	/* One socketpair: KVM's end and the device's. */
	int kvm_fd;
	int fd;
	pthread_t thread;
	int ret;

	pthread_mutex_t lock;
	u64 seq;
	u32 nr;
	struct rec_entry log[LOG_SIZE];
} dev;

/* All 64 bits, with high bits set in every byte: KVM must truncate. */
static u64 rec_val(u64 n)
{
	return ((n + 1) * 0x9e3779b97f4a7c15ull) | 0x8080808080808080ull;
}

static u64 rec_handler(void *opaque, const struct ioregionfd_cmd *cmd)
{
	u64 answer;

	pthread_mutex_lock(&dev.lock);
	answer = cmd->cmd == IOREGIONFD_CMD_READ ? rec_val(dev.seq) : 0;
	dev.seq++;
	if (dev.nr < LOG_SIZE)
		dev.log[dev.nr] = (struct rec_entry) { .cmd = *cmd, .answer = answer };
	dev.nr++;
	pthread_mutex_unlock(&dev.lock);
	return answer;
}

static void *dev_thread(void *arg)
{
	dev.ret = ioregion_device_serve(dev.fd, dev.fd, rec_handler, NULL);
	return NULL;
}

static void region_set(struct kvm_vm *vm, bool pio, u32 flags)
{
	struct kvm_ioregion args = {
		.guest_paddr = pio ? PIO_BASE : REGION_GPA,
		.memory_size = pio ? PIO_SIZE : REGION_SIZE,
		.user_data = pio ? USER_DATA_PIO : USER_DATA_MMIO,
		.read_fd = dev.kvm_fd,
		.write_fd = dev.kvm_fd,
		.flags = (pio ? KVM_IOREGION_PIO : 0) | flags,
	};

	vm_set_ioregion(vm, &args);
}

void iof_init(struct kvm_vcpu *vcpu)
{
	int sv[2];

	virt_map(vcpu->vm, MMIO_GPA, MMIO_GPA, MMIO_NR_PAGES);
	TEST_ASSERT(!socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
		    "socketpair() failed, errno = %d", errno);
	dev.kvm_fd = sv[0];
	dev.fd = sv[1];
	pthread_mutex_init(&dev.lock, NULL);
	TEST_ASSERT(!pthread_create(&dev.thread, NULL, dev_thread, NULL),
		    "pthread_create() failed");

	region_set(vcpu->vm, false, 0);
	region_set(vcpu->vm, true, 0);
}

void iof_fini(struct kvm_vcpu *vcpu)
{
	region_set(vcpu->vm, false, KVM_IOREGION_DEASSIGN);
	region_set(vcpu->vm, true, KVM_IOREGION_DEASSIGN);

	/* End the device's stream from its own side, whoever holds KVM's end. */
	shutdown(dev.fd, SHUT_RDWR);
	TEST_ASSERT(!pthread_join(dev.thread, NULL), "pthread_join() failed");
	TEST_ASSERT(!dev.ret, "The device failed, error %d (%s)", -dev.ret, strerror(-dev.ret));
	close(dev.fd);
	close(dev.kvm_fd);
}

/* The commands the device must get for the current op, and the exits userspace. */
struct exp_exit {
	bool pio;
	bool write;
	u64 addr;
	u32 len;
	/* The value written, or the one userspace answers a read with. */
	u64 data;
};

static struct ioregionfd_cmd exp_cmds[LOG_SIZE];
static int nr_exp_cmds;
static struct exp_exit exp_exits[4];
static int nr_exp_exits;

void iof_expect_cmd(bool pio, bool write, u8 size, u64 offset, u64 data)
{
	TEST_ASSERT(nr_exp_cmds < LOG_SIZE, "Test bug: too many commands");
	exp_cmds[nr_exp_cmds++] = (struct ioregionfd_cmd) {
		.cmd = write ? IOREGIONFD_CMD_WRITE : IOREGIONFD_CMD_READ,
		.size = size,
		.flags = IOREGIONFD_CMD_RESP,
		.user_data = pio ? USER_DATA_PIO : USER_DATA_MMIO,
		.offset = offset,
		.data = write ? data & ioregion_size_mask(size) : 0,
	};
}

/* Set the data of the @n-th expected command, once the answers tell what it is. */
void iof_set_cmd_data(int n, u64 data)
{
	exp_cmds[n].data = data;
}

void iof_expect_exit(bool pio, bool write, u64 addr, u32 len, u64 data)
{
	TEST_ASSERT(nr_exp_exits < ARRAY_SIZE(exp_exits), "Test bug: too many exits");
	exp_exits[nr_exp_exits++] = (struct exp_exit) {
		.pio = pio, .write = write, .addr = addr, .len = len, .data = data,
	};
}

/* The device's answer to the @n-th command of the current op, to @size bytes. */
u64 iof_answer(int n, u8 size)
{
	u64 v;

	pthread_mutex_lock(&dev.lock);
	v = dev.log[n].answer;
	pthread_mutex_unlock(&dev.lock);
	return v & ioregion_size_mask(size);
}

static void check_exit(struct kvm_vcpu *vcpu, const struct exp_exit *exp, const char *what)
{
	struct kvm_run *run = vcpu->run;
	char buf[256];
	u64 data = 0;
	void *ptr;

	if (exp->pio) {
		TEST_ASSERT(run->exit_reason == KVM_EXIT_IO && run->io.port == exp->addr &&
			    run->io.size == exp->len && run->io.count == 1 &&
			    run->io.direction == (exp->write ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN),
			    "%s: expected KVM_EXIT_IO (%s, port 0x%lx, size %u), got %s", what,
			    exp->write ? "out" : "in", exp->addr, exp->len,
			    describe_io_exit(vcpu, buf, sizeof(buf)));
		ptr = (void *)run + run->io.data_offset;
	} else {
		TEST_ASSERT(run->exit_reason == KVM_EXIT_MMIO && run->mmio.phys_addr == exp->addr &&
			    run->mmio.len == exp->len && run->mmio.is_write == exp->write,
			    "%s: expected KVM_EXIT_MMIO (%s, gpa 0x%lx, len %u), got %s", what,
			    exp->write ? "write" : "read", exp->addr, exp->len,
			    describe_io_exit(vcpu, buf, sizeof(buf)));
		ptr = run->mmio.data;
	}

	if (exp->write) {
		memcpy(&data, ptr, exp->len);
		TEST_ASSERT(data == (exp->data & ioregion_size_mask(exp->len)),
			    "%s: the exit carries 0x%lx, the guest wrote 0x%lx", what, data,
			    exp->data & ioregion_size_mask(exp->len));
	} else {
		memcpy(ptr, &exp->data, exp->len);
	}
}

/* Give the guest @op to do next, and empty the device's log for it. */
void iof_start_op(struct kvm_vcpu *vcpu, const struct guest_op *op)
{
	pthread_mutex_lock(&dev.lock);
	dev.nr = 0;
	pthread_mutex_unlock(&dev.lock);

	gop = *op;
	sync_global_to_guest(vcpu->vm, gop);
}

/* Run the guest through @op: the only exits to userspace are the expected ones. */
void iof_run_op(struct kvm_vcpu *vcpu, const struct guest_op *op, const char *what)
{
	struct kvm_run *run = vcpu->run;
	struct ucall uc;
	char buf[256];
	int exits = 0;

	iof_start_op(vcpu, op);
	for (;;) {
		vcpu_run(vcpu);
		if (run->exit_reason == KVM_EXIT_IO && run->io.port == UCALL_PIO_PORT) {
			switch (get_ucall(vcpu, &uc)) {
			case UCALL_SYNC:
				TEST_ASSERT(exits == nr_exp_exits,
					    "%s: %d exits to userspace, expected %d", what, exits,
					    nr_exp_exits);
				sync_global_from_guest(vcpu->vm, iof_result);
				return;
			case UCALL_ABORT:
				REPORT_GUEST_ASSERT(uc);
				break;
			default:
				TEST_FAIL("%s: unexpected ucall %lu", what, uc.cmd);
			}
		}

		/* Anything else must be one of the exits outside the regions. */
		TEST_ASSERT(exits < nr_exp_exits, "%s: unexpected exit to userspace: %s", what,
			    describe_io_exit(vcpu, buf, sizeof(buf)));
		check_exit(vcpu, &exp_exits[exits++], what);
	}
}

/* The device got exactly the expected commands, in order. */
void iof_check_cmds(const char *what)
{
	char buf[2][192];
	u32 nr;
	int i;

	pthread_mutex_lock(&dev.lock);
	nr = dev.nr;
	for (i = 0; i < nr && i < nr_exp_cmds && i < LOG_SIZE; i++)
		TEST_ASSERT(!memcmp(&dev.log[i].cmd, &exp_cmds[i], sizeof(exp_cmds[i])),
			    "%s: command %d is %s, expected %s", what, i,
			    ioregion_cmd_str(&dev.log[i].cmd, buf[0], sizeof(buf[0])),
			    ioregion_cmd_str(&exp_cmds[i], buf[1], sizeof(buf[1])));
	pthread_mutex_unlock(&dev.lock);
	TEST_ASSERT(nr == nr_exp_cmds, "%s: the device got %u commands, expected %d", what, nr,
		    nr_exp_cmds);
}

/* Start describing the next op. */
void iof_expect_none(void)
{
	nr_exp_cmds = 0;
	nr_exp_exits = 0;
}

u8 *iof_guest_ram(struct kvm_vcpu *vcpu)
{
	return addr_gva2hva(vcpu->vm, (vm_vaddr_t)ram_buf);
}

/* Fill ram_buf with a pattern, different for each @seed, and return it. */
u8 *iof_ram_fill(struct kvm_vcpu *vcpu, u32 seed)
{
	u8 *ram = iof_guest_ram(vcpu);
	int i;

	for (i = 0; i < RAM_BUF_SIZE; i++)
		ram[i] = 0x80 | (i * 13 + seed * 7);
	return ram;
}

u64 iof_ram_val(const u8 *ram, u32 size)
{
	u64 v = 0;

	memcpy(&v, ram, size);
	return v;
}

/* Elements written by the guest from the device's answers, then the poison. */
void iof_check_ram_answers(struct kvm_vcpu *vcpu, u32 count, u32 size, const char *what)
{
	const u8 *ram = iof_guest_ram(vcpu);
	u64 got, want;
	int i;

	for (i = 0; i < count; i++) {
		got = iof_ram_val(ram + i * size, size);
		want = iof_answer(i, size);
		TEST_ASSERT(got == want, "%s: element %d is 0x%lx, the device answered 0x%lx",
			    what, i, got, want);
	}
	for (i = count * size; i < count * size + 64; i++)
		TEST_ASSERT(ram[i] == POISON, "%s: byte %d past the elements was written", what, i);
}
