/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The few calls of QEMU's TCG plugin API, version 1 (QEMU 7.2), that
 * insn-profile.c uses: Debian ships no qemu-plugin.h.  A plugin ID is a
 * u64, qemu_plugin_id_t in QEMU.
 */
#ifndef QEMU_PLUGIN_API_H
#define QEMU_PLUGIN_API_H

#include <stddef.h>
#include <stdint.h>

typedef uint64_t u64;

struct qemu_info_t;
struct qemu_plugin_tb;

enum qemu_plugin_op {
	QEMU_PLUGIN_INLINE_ADD_U64,
};

void qemu_plugin_register_vcpu_tb_trans_cb(u64 id, void (*cb)(u64 id, struct qemu_plugin_tb *tb));
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
u64 qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op,
					      void *ptr, u64 imm);
void qemu_plugin_register_atexit_cb(u64 id, void (*cb)(u64 id, void *userdata), void *userdata);

#endif
