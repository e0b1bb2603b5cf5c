# SPDX-License-Identifier: GPL-2.0-only
#
# KVM eventfd series: a kernel-tree overlay on Linux 6.12.
#
#   make              build the patched kernel and selftests, boot, run the demo
#   make check        run every test in the VM on the patched kernel
#   make check STOCK=1  the same test binaries on the unpatched base kernel
#   make series       write build/series/*.patch with a cover letter
#   make bench        benchmark patched against stock, build/bench/results.md
#   make clean        remove build/ (ccache stays in ~/.cache/ccache)

# The one place that names the base.  Another 6.12.y works with a warning.
BASE_VERSION := 6.12.117
BASE_TARBALL ?= /usr/src/linux-source-6.12.tar.xz

B := $(CURDIR)/build
H := $(CURDIR)/tools/testing/kvmfd
J ?= $(shell nproc)
STOCK ?=

BASE_TREE := $(B)/base
TREE := $(B)/linux
ST := $(B)/selftests

# The test binaries are built once, from the patched tree, and run on both
# kernels.
TESTS := $(shell sed -e 's/\#.*//' $(H)/tests | awk 'NF && $$1 !~ /^kvmfd:/ { print $$1 }')

ifeq ($(STOCK),)
RUN_TREE := $(TREE)
LABEL := patched
else
RUN_TREE := $(BASE_TREE)
LABEL := stock
endif
BZIMAGE = $(1)/_build/arch/x86/boot/bzImage

export CCACHE_BASEDIR := $(B)
export CCACHE_NOHASHDIR := 1
export KBUILD_BUILD_TIMESTAMP := 2024-11-17
export KBUILD_BUILD_USER := kvmfd
export KBUILD_BUILD_HOST := kvmfd
KMAKE = $(MAKE) --no-print-directory -C $(1) O=_build CC="ccache gcc" -j$(J)

.PHONY: all check series bench clean deps base tree kernel stock-kernel selftests demo
.NOTPARALLEL:

all: kernel selftests demo
	@echo "  BOOT    patched kernel, running the demo"
	@$(H)/vm-run --kernel $(call BZIMAGE,$(TREE)) --log $(B)/demo-console.log \
		--timeout 300 -- $(B)/demo

check: selftests $(if $(STOCK),stock-kernel,kernel)
	@$(H)/check $(call BZIMAGE,$(RUN_TREE)) $(ST) $(H)/tests $(LABEL) \
		$(B)/check-$(LABEL)-console.log

deps:
	@$(H)/deps.sh $(BASE_TARBALL)

base: deps
	@$(H)/assemble.sh base $(BASE_TARBALL) $(BASE_VERSION) $(BASE_TREE)

tree: base
	@$(H)/assemble.sh tree $(CURDIR) $(BASE_TREE) $(TREE)

# Regenerate .config only when the fragment changes, so kbuild stays
# incremental.
define kconfig
	@if ! cmp -s $(H)/kernel.config $(1)/_build/kvmfd.config; then \
		echo "  CONFIG  $(1)/_build/.config"; \
		mkdir -p $(1)/_build; \
		$(call KMAKE,$(1)) -s tinyconfig && \
		cd $(1) && scripts/kconfig/merge_config.sh -m -O _build \
			_build/.config $(H)/kernel.config > /dev/null && \
		$(call KMAKE,$(1)) -s olddefconfig && \
		cp $(H)/kernel.config _build/kvmfd.config; \
	fi
endef

kernel: tree
	$(call kconfig,$(TREE))
	@echo "  KBUILD  $(TREE) (log: $(B)/kbuild.log)"
	@$(call KMAKE,$(TREE)) bzImage headers > $(B)/kbuild.log 2>&1 || \
		{ grep -E 'error|Error' $(B)/kbuild.log | head -n 20; \
		  echo "make: the patched kernel failed to build; see $(B)/kbuild.log"; exit 1; }

stock-kernel: base
	$(call kconfig,$(BASE_TREE))
	@echo "  KBUILD  $(BASE_TREE) (log: $(B)/kbuild-stock.log)"
	@$(call KMAKE,$(BASE_TREE)) bzImage > $(B)/kbuild-stock.log 2>&1 || \
		{ grep -E 'error|Error' $(B)/kbuild-stock.log | head -n 20; \
		  echo "make: the stock kernel failed to build; see $(B)/kbuild-stock.log"; exit 1; }

ST_FLAGS = OUTPUT=$(ST) LINUX_HDR_PATH=$(TREE)/_build/usr/include/ \
	KHDR_INCLUDES="-isystem $(TREE)/_build/usr/include" \
	TEST_GEN_PROGS_x86_64="$(TESTS)" CC="ccache gcc"

selftests: kernel
	@echo "  SELFTEST $(ST) (log: $(B)/selftests.log)"
	@$(MAKE) --no-print-directory -C $(TREE)/tools/testing/selftests/kvm \
		$(ST_FLAGS) -j$(J) > $(B)/selftests.log 2>&1 || \
		{ grep -E 'error|Error' $(B)/selftests.log | head -n 20; \
		  echo "make: the selftests failed to build; see $(B)/selftests.log"; exit 1; }

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
BENCH_ROUNDS ?= 3
BENCH_ARGS ?=
BD := $(B)/bench

bench: selftests stock-kernel
	@echo "  CC      $(B)/bench-bin"
	@ccache gcc $(DEMO_CFLAGS) $(H)/bench.c $(ST)/lib/*.o $(ST)/lib/x86_64/*.o \
		-pthread -ldl -o $(B)/bench-bin
	@rm -rf $(BD) && mkdir -p $(BD)
	@for r in $$(seq $(BENCH_ROUNDS)); do \
		for k in patched stock; do \
			if [ $$k = patched ]; then t=$(TREE); else t=$(BASE_TREE); fi; \
			echo "  BENCH   round $$r/$(BENCH_ROUNDS), $$k kernel"; \
			$(H)/vm-run --kernel $(call BZIMAGE,$$t) --log $(BD)/console-$$k-$$r.log \
				--timeout 1800 -- $(B)/bench-bin -r 1 $(BENCH_ARGS) \
				>> $(BD)/raw-$$k.csv || { echo "make: the benchmark failed on the $$k kernel; see $(BD)/console-$$k-$$r.log"; exit 1; }; \
		done; \
	done
	@$(H)/bench-report $(BD) "$$(nproc) CPUs, $$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), \
		$$(if grep -qwE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ]; then echo KVM; else echo TCG; fi)"
	@gnuplot $(BD)/bench.gp && echo "  PLOT    $(BD)/bench.png"

series: tree
	@$(H)/mkseries.sh $(CURDIR) $(BASE_TREE) $(B)/series

clean:
	rm -rf $(B)
