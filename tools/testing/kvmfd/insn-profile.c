// SPDX-License-Identifier: GPL-2.0-only
/*
 * A QEMU TCG plugin for `make profile`: count the guest instructions run
 * from each translation block, and at exit write one line per block start
 * address, "address instructions-per-run instructions-run", to out=FILE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu-plugin-api.h"

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* One per translation; a block translated again gets another. */
struct block {
	struct block *next;
	u64 vaddr;
	u64 insns;
	u64 run;
};

static struct block *blocks;
static const char *out_path = "insn-profile.out";

static void on_translate(u64 id, struct qemu_plugin_tb *tb)
{
	struct block *b = calloc(1, sizeof(*b));

	if (!b)
		abort();
	b->vaddr = qemu_plugin_tb_vaddr(tb);
	b->insns = qemu_plugin_tb_n_insns(tb);
	b->next = blocks;
	blocks = b;
	/* Inline, so that counting costs no call per block run. */
	qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &b->run,
						 b->insns);
}

static void on_qemu_exit(u64 id, void *userdata)
{
	FILE *f = fopen(out_path, "w");
	struct block *b;

	if (!f) {
		perror(out_path);
		return;
	}
	for (b = blocks; b; b = b->next)
		if (b->run)
			fprintf(f, "%llx %llu %llu\n", (unsigned long long)b->vaddr,
				(unsigned long long)b->insns, (unsigned long long)b->run);
	fclose(f);
}

__attribute__((visibility("default")))
int qemu_plugin_install(u64 id, const struct qemu_info_t *info, int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++)
		if (!strncmp(argv[i], "out=", 4))
			out_path = argv[i] + 4;
	qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
	qemu_plugin_register_atexit_cb(id, on_qemu_exit, NULL);
	return 0;
}
