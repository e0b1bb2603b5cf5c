# SPDX-License-Identifier: GPL-2.0-only
#
# KVM eventfd series: a kernel-tree overlay on Linux 6.12.
#
#   make              build the patched kernel and selftests, boot, run the demo
#   make check        run every test in the VM on the patched kernel
#                     and again on a debug build of it (KASAN, lockdep, kmemleak),
#                     then the arm64 tests on an arm64 build of it under TCG
#   make check ARCH=x86_64  or ARCH=arm64: run one architecture's tests only
#   make check STOCK=1  the same test binaries on the unpatched base kernel
#   make check DEBUG=0  skip the debug-kernel run
#   make series       write build/series/*.patch with a cover letter
#   make bench        benchmark patched against stock, build/bench/results.md
#   make bench ARCH=arm64  the doorbell paths on arm64, build/bench-arm64/
#   make clean        remove build/ (ccache stays in ~/.cache/ccache)

# The one place that names the base.  Another 6.12.y works with a warning.
BASE_VERSION := 6.12.118
BASE_TARBALL ?= /usr/src/linux-source-6.12.tar.xz

B := $(CURDIR)/build
H := $(CURDIR)/tools/testing/kvmfd
J ?= $(shell nproc)
STOCK ?=
DEBUG ?= 1

# The architectures whose tests `make check` runs: ARCH of the command
# line, or x86_64 and arm64.  Kbuild reads ARCH too, and make hands a
# command-line ARCH to every sub-make, kbuild's included, and to the
# environment: keep it as CHECK_ARCHES, drop ARCH, and name the kernel's
# ARCH in each sub-make instead.  An ARCH of the environment, as set for
# cross-building, is dropped too.
CHECK_ARCHES := x86_64 arm64
ifeq ($(origin ARCH)$(if $(ARCH),,empty),command line)
CHECK_ARCHES := $(patsubst x86,x86_64,$(patsubst aarch64,arm64,$(ARCH)))
ifneq ($(words $(CHECK_ARCHES))$(filter-out x86_64 arm64,$(CHECK_ARCHES)),1)
$(error ARCH=$(ARCH) is not one that make check runs; use ARCH=x86_64 or ARCH=arm64, or no ARCH for both)
endif
endif
MAKEOVERRIDES := $(filter-out ARCH=%,$(MAKEOVERRIDES))
override undefine ARCH
unexport ARCH

BASE_TREE := $(B)/base
TREE := $(B)/linux
ST := $(B)/selftests

# The test binaries are built once, from the patched tree, and run on both
# kernels.
# $(1): a test list.  The selftests of the list, without the harness's.
test_progs = $(shell sed -e 's/\#.*//' $(1) | awk 'NF && $$1 !~ /^kvmfd:/ { print $$1 }')
TESTS := $(call test_progs,$(H)/tests)

# arm64: a cross-built kernel that QEMU boots under TCG with EL2, so KVM
# runs in it, and static selftests, which need no libc in the VM's
# busybox initramfs.  No debug kernel: TCG runs a KASAN arm64 kernel too
# slowly for CI.
ST_ARM64 := $(B)/selftests-arm64
TESTS_ARM64 := $(call test_progs,$(H)/tests-arm64)
BUSYBOX_ARM64 := $(B)/busybox-arm64/bin/busybox
INITRAMFS_ARM64 := $(B)/initramfs-arm64.cpio
IMAGE_ARM64 = $(1)/_build-arm64/arch/arm64/boot/Image

ifeq ($(STOCK),)
RUN_TREE := $(TREE)
LABEL := patched
else
RUN_TREE := $(BASE_TREE)
LABEL := stock
endif
BZIMAGE = $(1)/_build/arch/x86/boot/bzImage
DEBUG_BZIMAGE := $(TREE)/_build-debug/arch/x86/boot/bzImage
# Functions of KVM's own objects; kmemleak suspects whose allocation
# backtrace shows one of them fail the debug run.
KVM_SYMS := $(B)/kvm-symbols.txt

export CCACHE_BASEDIR := $(B)
export CCACHE_NOHASHDIR := 1
export KBUILD_BUILD_TIMESTAMP := 2024-11-17
export KBUILD_BUILD_USER := kvmfd
export KBUILD_BUILD_HOST := kvmfd
# $(1): tree, $(2): output directory (default _build), $(3): x86 (the
# default) or arm64.
KARCH_x86 := ARCH=x86 CC="ccache gcc"
KARCH_arm64 := ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- CC="ccache aarch64-linux-gnu-gcc"
KMAKE = $(MAKE) --no-print-directory -C $(1) O=$(or $(2),_build) $(KARCH_$(or $(3),x86)) -j$(J)

.PHONY: all check series bench bench-bin bench-bin-arm64 ioctl-time profile clean deps base tree kernel stock-kernel debug-kernel selftests demo \
	deps-arm64 kernel-arm64 stock-kernel-arm64 headers-arm64 selftests-arm64 initramfs-arm64
.NOTPARALLEL:

all: kernel selftests demo
	@echo "  BOOT    patched kernel, running the demo"
	@$(H)/vm-run --kernel $(call BZIMAGE,$(TREE)) --log $(B)/demo-console.log \
		--timeout 300 -- $(B)/demo

ifeq ($(STOCK)$(DEBUG),1)
CHECK_DEBUG := debug-kernel
endif

# What check builds and the blocks of tests it runs (see check's usage),
# per architecture.  The debug run boots the debug kernel for the tests
# themselves, and the plain patched kernel for the real-client test's
# inner guest.
CHECK_DEPS_x86_64 := selftests $(if $(STOCK),stock-kernel,kernel) $(CHECK_DEBUG)
CHECK_RUNS_x86_64 := -- x86_64 $(LABEL) $(call BZIMAGE,$(RUN_TREE)) $(ST) $(H)/tests \
	$(B)/check-$(LABEL)-console.log \
	$(if $(CHECK_DEBUG),-- x86_64 debug $(DEBUG_BZIMAGE) $(ST) $(H)/tests \
		$(B)/check-debug-console.log $(KVM_SYMS))
CHECK_DEPS_arm64 := selftests-arm64 initramfs-arm64 $(if $(STOCK),stock-kernel-arm64,kernel-arm64)
CHECK_RUNS_arm64 := -- arm64 $(LABEL) $(call IMAGE_ARM64,$(RUN_TREE)) $(ST_ARM64) $(H)/tests-arm64 \
	$(B)/check-arm64-$(LABEL)-console.log

check: $(foreach a,$(CHECK_ARCHES),$(CHECK_DEPS_$(a)))
	@$(H)/check $(foreach a,$(CHECK_ARCHES),$(CHECK_RUNS_$(a)))

deps:
	@$(H)/deps.sh $(BASE_TARBALL)

# The cross compiler, QEMU for arm64 and the VM's arm64 busybox.
deps-arm64: deps
	@$(H)/deps.sh --arm64 $(B)

base: deps
	@$(H)/assemble.sh base $(BASE_TARBALL) $(BASE_VERSION) $(BASE_TREE)

tree: base
	@$(H)/assemble.sh tree $(CURDIR) $(BASE_TREE) $(TREE)

# $(1): tree, $(2): output directory, $(3): config fragments.
# Regenerate .config only when the fragments change, so kbuild stays
# incremental, and refuse a .config that lost an option the fragments set.
# $(4): x86 (the default) or arm64.
define kconfig
	@if ! cat $(3) | cmp -s - $(1)/$(2)/kvmfd.config; then \
		echo "  CONFIG  $(1)/$(2)/.config"; \
		mkdir -p $(1)/$(2) && \
		$(call KMAKE,$(1),$(2),$(4)) -s tinyconfig && \
		(cd $(1) && scripts/kconfig/merge_config.sh -m -O $(2) \
			$(2)/.config $(3) > /dev/null) && \
		$(call KMAKE,$(1),$(2),$(4)) -s olddefconfig && \
		$(H)/config-check $(1)/$(2)/.config $(3) && \
		cat $(3) > $(1)/$(2)/kvmfd.config; \
	fi
endef

kernel: tree
	$(call kconfig,$(TREE),_build,$(H)/kernel.config)
	@echo "  KBUILD  $(TREE) (log: $(B)/kbuild.log)"
	@$(call KMAKE,$(TREE)) bzImage headers > $(B)/kbuild.log 2>&1 || \
		{ grep -E 'error|Error' $(B)/kbuild.log | head -n 20; \
		  echo "make: the patched kernel failed to build; see $(B)/kbuild.log"; exit 1; }

stock-kernel: base
	$(call kconfig,$(BASE_TREE),_build,$(H)/kernel.config)
	@echo "  KBUILD  $(BASE_TREE) (log: $(B)/kbuild-stock.log)"
	@$(call KMAKE,$(BASE_TREE)) bzImage > $(B)/kbuild-stock.log 2>&1 || \
		{ grep -E 'error|Error' $(B)/kbuild-stock.log | head -n 20; \
		  echo "make: the stock kernel failed to build; see $(B)/kbuild-stock.log"; exit 1; }

debug-kernel: tree
	$(call kconfig,$(TREE),_build-debug,$(H)/kernel.config $(H)/debug.config)
	@echo "  KBUILD  $(TREE)/_build-debug (log: $(B)/kbuild-debug.log)"
	@$(call KMAKE,$(TREE),_build-debug) bzImage > $(B)/kbuild-debug.log 2>&1 || \
		{ grep -E 'error|Error' $(B)/kbuild-debug.log | head -n 20; \
		  echo "make: the debug kernel failed to build; see $(B)/kbuild-debug.log"; exit 1; }
	@nm --defined-only $(TREE)/_build-debug/virt/kvm/*.o $(TREE)/_build-debug/arch/x86/kvm/*.o \
		$(TREE)/_build-debug/arch/x86/kvm/*/*.o | awk '$$2 ~ /^[tT]$$/ { print $$3 }' | \
		sort -u > $(KVM_SYMS)

ST_FLAGS = ARCH=x86 OUTPUT=$(ST) LINUX_HDR_PATH=$(TREE)/_build/usr/include/ \
	KHDR_INCLUDES="-isystem $(TREE)/_build/usr/include" \
	TEST_GEN_PROGS_x86_64="$(TESTS)" CC="ccache gcc"

# Without CCACHE_BASEDIR: ccache would make the targets in the .d files
# relative, so that make never matched them to the absolute $(ST) objects
# and a changed header (the uapi kvm.h included) rebuilt no test.
selftests: kernel
	@echo "  SELFTEST $(ST) (log: $(B)/selftests.log)"
	@env -u CCACHE_BASEDIR $(MAKE) --no-print-directory -C $(TREE)/tools/testing/selftests/kvm \
		$(ST_FLAGS) -j$(J) > $(B)/selftests.log 2>&1 || \
		{ grep -E 'error|Error' $(B)/selftests.log | head -n 20; \
		  echo "make: the selftests failed to build; see $(B)/selftests.log"; exit 1; }

# arm64 kernels: the patched one and, for STOCK=1, the stock one, each in
# _build-arm64 of its tree.  The selftests take their uapi headers from
# the patched tree's, which need only its configuration.
kernel-arm64: tree deps-arm64
	$(call kconfig,$(TREE),_build-arm64,$(H)/kernel-arm64.config,arm64)
	@echo "  KBUILD  $(TREE)/_build-arm64 (log: $(B)/kbuild-arm64.log)"
	@$(call KMAKE,$(TREE),_build-arm64,arm64) Image headers > $(B)/kbuild-arm64.log 2>&1 || \
		{ grep -E 'error|Error' $(B)/kbuild-arm64.log | head -n 20; \
		  echo "make: the patched arm64 kernel failed to build; see $(B)/kbuild-arm64.log"; exit 1; }

headers-arm64: tree deps-arm64
	$(call kconfig,$(TREE),_build-arm64,$(H)/kernel-arm64.config,arm64)
	@$(call KMAKE,$(TREE),_build-arm64,arm64) -s headers > $(B)/kbuild-arm64-headers.log 2>&1 || \
		{ grep -E 'error|Error' $(B)/kbuild-arm64-headers.log | head -n 20; \
		  echo "make: the arm64 uapi headers failed to build; see $(B)/kbuild-arm64-headers.log"; exit 1; }

stock-kernel-arm64: base deps-arm64
	$(call kconfig,$(BASE_TREE),_build-arm64,$(H)/kernel-arm64.config,arm64)
	@echo "  KBUILD  $(BASE_TREE)/_build-arm64 (log: $(B)/kbuild-stock-arm64.log)"
	@$(call KMAKE,$(BASE_TREE),_build-arm64,arm64) Image > $(B)/kbuild-stock-arm64.log 2>&1 || \
		{ grep -E 'error|Error' $(B)/kbuild-stock-arm64.log | head -n 20; \
		  echo "make: the stock arm64 kernel failed to build; see $(B)/kbuild-stock-arm64.log"; exit 1; }

# The tests of tests-arm64, as TEST_GEN_PROGS_aarch64, linked statically
# since the VM has busybox and no libc.  abs_objdir, which must exist,
# puts the generated sysreg headers in the output directory rather than
# in the tree.
ST_ARM64_FLAGS = ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu- \
	OUTPUT=$(ST_ARM64) abs_objdir=$(ST_ARM64) \
	LINUX_HDR_PATH=$(TREE)/_build-arm64/usr/include/ \
	KHDR_INCLUDES="-isystem $(TREE)/_build-arm64/usr/include" \
	TEST_GEN_PROGS_aarch64="$(TESTS_ARM64)" USERLDFLAGS=-static \
	CC="ccache aarch64-linux-gnu-gcc"

# Without CCACHE_BASEDIR, as for the x86 selftests.
selftests-arm64: headers-arm64
	@echo "  SELFTEST $(ST_ARM64) (log: $(B)/selftests-arm64.log)"
	@mkdir -p $(ST_ARM64)/tools && \
	env -u CCACHE_BASEDIR $(MAKE) --no-print-directory -C $(TREE)/tools/testing/selftests/kvm \
		$(ST_ARM64_FLAGS) -j$(J) > $(B)/selftests-arm64.log 2>&1 || \
		{ grep -E 'error|Error' $(B)/selftests-arm64.log | head -n 20; \
		  echo "make: the arm64 selftests failed to build; see $(B)/selftests-arm64.log"; exit 1; }

# The arm64 VM's root: busybox and vm-init-arm64 as /init.  The host's /
# is x86's, so the VM mounts it only to reach the checkout and the tests.
initramfs-arm64: deps-arm64 $(INITRAMFS_ARM64)

$(BUSYBOX_ARM64):
	@$(H)/deps.sh --arm64 $(B)

$(INITRAMFS_ARM64): $(H)/vm-init-arm64 $(BUSYBOX_ARM64)
	@echo "  CPIO    $@"
	@rm -rf $(B)/initramfs-arm64 && mkdir -p $(B)/initramfs-arm64/bin && \
		cp $(BUSYBOX_ARM64) $(B)/initramfs-arm64/bin/busybox && \
		cp $(H)/vm-init-arm64 $(B)/initramfs-arm64/init && \
		chmod 755 $(B)/initramfs-arm64/init $(B)/initramfs-arm64/bin/busybox && \
		(cd $(B)/initramfs-arm64 && find . | LC_ALL=C sort | \
			cpio -o -H newc -R 0:0 --quiet) > $@.tmp && mv $@.tmp $@ && \
		rm -rf $(B)/initramfs-arm64

# The demo links the KVM selftest library, so it builds like a selftest.
DEMO_CFLAGS = -O2 -g -std=gnu99 -D_GNU_SOURCE -Wall -fno-stack-protector \
	-fno-PIE -no-pie -march=x86-64-v2 -DCONFIG_64BIT \
	-I$(TREE)/tools/testing/selftests/kvm/include \
	-I$(TREE)/tools/testing/selftests/kvm/include/x86_64 \
	-I$(TREE)/tools/testing/selftests -I$(TREE)/tools/include \
	-I$(TREE)/tools/arch/x86/include -isystem $(TREE)/_build/usr/include

demo: selftests
	@echo "  CC      $(B)/demo"
	@ccache gcc $(DEMO_CFLAGS) $(H)/demo.c $(ST)/lib/*.o $(ST)/lib/x86_64/*.o \
		-pthread -ldl -o $(B)/demo

# Patched and stock alternate, BENCH_ROUNDS times each, in one invocation.
# BENCH_VMSTART=0 leaves out the QEMU start timing, the slowest part.
# BENCH_ICOUNT=SHIFT runs TCG in instruction-count mode (see vm-run).
# ARCH=arm64 benchmarks the doorbell paths alone, without the QEMU start:
# the arm64 VM has no QEMU to start.
BENCH_ROUNDS ?= 3
BENCH_ARGS ?=
BENCH_VMSTART ?= 1
BENCH_ICOUNT ?=
BENCH_ARCH := $(if $(filter x86_64,$(CHECK_ARCHES)),x86_64,arm64)
ifeq ($(BENCH_ARCH),arm64)
BD := $(B)/bench$(if $(BENCH_ICOUNT),-icount)-arm64
BENCH_DEPS := bench-bin-arm64 kernel-arm64 stock-kernel-arm64 initramfs-arm64
BENCH_RUN := $(B)/bench-bin-arm64 -d
BENCH_IMAGE = $(call IMAGE_ARM64,$(1))
BENCH_VMRUN_ARCH := --arch arm64
override BENCH_VMSTART := 0
BENCH_HOST := an arm64 VM (qemu-system-aarch64, -cpu max) on
else
BD := $(B)/bench$(if $(BENCH_ICOUNT),-icount)
BENCH_DEPS := bench-bin ioctl-time stock-kernel
BENCH_RUN := $(B)/bench-bin
BENCH_IMAGE = $(call BZIMAGE,$(1))
BENCH_VMRUN_ARCH :=
BENCH_HOST :=
endif
BENCH_VMRUN = $(H)/vm-run $(BENCH_VMRUN_ARCH) $(if $(BENCH_ICOUNT),--icount $(BENCH_ICOUNT)) \
	--timeout 1800

bench-bin: selftests
	@echo "  CC      $(B)/bench-bin"
	@ccache gcc $(DEMO_CFLAGS) $(H)/bench.c $(ST)/lib/*.o $(ST)/lib/x86_64/*.o \
		-pthread -ldl -o $(B)/bench-bin

# What QEMU preloads in vmstart-bench to time its KVM_IOEVENTFD calls.
ioctl-time: deps
	@echo "  CC      $(B)/ioctl-time.so"
	@mkdir -p $(B) && ccache gcc -O2 -Wall -shared -fPIC $(H)/ioctl-time.c -ldl \
		-o $(B)/ioctl-time.so

# Static, as the arm64 VM's busybox userland has no libc.
BENCH_CFLAGS_ARM64 = -O2 -g -std=gnu99 -D_GNU_SOURCE -Wall -fno-stack-protector \
	-DCONFIG_64BIT -I$(TREE)/tools/testing/selftests/kvm/include \
	-I$(TREE)/tools/testing/selftests/kvm/include/aarch64 \
	-I$(TREE)/tools/testing/selftests -I$(TREE)/tools/include \
	-I$(TREE)/tools/arch/arm64/include \
	-I$(ST_ARM64)/tools/arch/arm64/include/generated \
	-isystem $(TREE)/_build-arm64/usr/include

bench-bin-arm64: selftests-arm64
	@echo "  CC      $(B)/bench-bin-arm64"
	@ccache aarch64-linux-gnu-gcc $(BENCH_CFLAGS_ARM64) $(H)/bench.c $(ST_ARM64)/lib/*.o \
		$(ST_ARM64)/lib/aarch64/*.o -static -pthread -o $(B)/bench-bin-arm64

bench: $(BENCH_DEPS)
	@rm -rf $(BD) && mkdir -p $(BD)
	@for r in $$(seq $(BENCH_ROUNDS)); do \
		for k in patched stock; do \
			if [ $$k = patched ]; then t=$(TREE); else t=$(BASE_TREE); fi; \
			echo "  BENCH   round $$r/$(BENCH_ROUNDS), $$k kernel"; \
			$(BENCH_VMRUN) --kernel $(call BENCH_IMAGE,$$t) --log $(BD)/console-$$k-$$r.log \
				-- $(BENCH_RUN) -r 1 $(BENCH_ARGS) \
				>> $(BD)/raw-$$k.csv || { echo "make: the benchmark failed on the $$k kernel; see $(BD)/console-$$k-$$r.log"; exit 1; }; \
			[ "$(BENCH_VMSTART)" = 1 ] || continue; \
			KVMFD_KERNEL=$(call BZIMAGE,$(TREE)) KVMFD_IOCTL_TIME_SO=$(B)/ioctl-time.so \
			VMRUN_ENV="KVMFD_KERNEL KVMFD_IOCTL_TIME_SO" \
			$(BENCH_VMRUN) --kernel $(call BZIMAGE,$$t) --log $(BD)/console-vmstart-$$k-$$r.log \
				-- $(H)/vmstart-bench 1 >> $(BD)/raw-$$k.csv || \
				{ echo "make: the VM start benchmark failed on the $$k kernel; see $(BD)/console-vmstart-$$k-$$r.log"; exit 1; }; \
		done; \
	done
	@$(H)/bench-report $(BD) "$(BENCH_HOST) $$(nproc) CPUs, $$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), \
		$$(if [ -n '$(BENCH_ICOUNT)' ]; then echo 'TCG with -icount shift=$(BENCH_ICOUNT), so times count instructions, 2^$(BENCH_ICOUNT) ns each'; \
		elif grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ]; then echo KVM; else echo TCG; fi)"
	@gnuplot $(BD)/bench.gp && echo "  PLOT    $(BD)/bench.png"

# Where one benchmark case spends its instructions, by kernel function,
# e.g. make profile PROFILE_CASE=forwarded-read.  TCG hosts only.
PROFILE_CASE ?= ioregionfd-read
profile: bench-bin
	@echo "  CC      $(B)/insn-profile.so"
	@ccache gcc -O2 -Wall -shared -fPIC $(H)/insn-profile.c -o $(B)/insn-profile.so
	@echo "  PROFILE $(PROFILE_CASE)"
	@$(H)/profile $(B)/insn-profile.so $(B)/bench-bin $(call BZIMAGE,$(TREE)) $(PROFILE_CASE)

series: kernel
	@$(H)/mkseries.sh $(CURDIR) $(BASE_TREE) $(B)/series

clean:
	rm -rf $(B)
