#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# usage: deps.sh [BASE_TARBALL]
#        deps.sh --arm64 BUILD_DIR
# Check what the build needs; as root install what is missing from Debian,
# otherwise print the apt-get line that would.  With --arm64, check what
# the arm64 kernel, selftests and VM need on top, and put an arm64
# busybox for the VM's initramfs in BUILD_DIR/busybox-arm64.

set -u

# usage: missing_packages COMMAND-OR-FILE:PACKAGE...
# Print the packages whose command or file is missing.
missing_packages() {
	local n what pkg

	for n in "$@"; do
		what=${n%%:*}
		pkg=${n##*:}
		case "$what" in
		/*) [ -e "$what" ] && continue ;;
		*) command -v "$what" > /dev/null && continue ;;
		esac
		printf ' %s' "$pkg"
	done
}

# usage: install PACKAGE...
install() {
	[ $# -gt 0 ] || return 0
	if [ "$(id -u)" != 0 ]; then
		echo "deps: missing packages: $*; install them with: sudo apt-get install -y $*" >&2
		exit 1
	fi
	echo "  APT     $*"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -q --no-install-recommends "$@" > /tmp/kvmfd-apt.log 2>&1; then
		apt-get update -q > /dev/null 2>&1
		apt-get install -y -q --no-install-recommends "$@" > /tmp/kvmfd-apt.log 2>&1 || {
			tail -n 5 /tmp/kvmfd-apt.log >&2
			echo "deps: apt-get install $* failed (log: /tmp/kvmfd-apt.log); check the Debian mirror in /etc/apt/sources.list" >&2
			exit 1
		}
	fi
}

# usage: is_aarch64 FILE
# Succeed when FILE is an ELF executable for aarch64 (e_machine 183).
is_aarch64() {
	[ "$(od -An -tx1 -j18 -N2 "$1" 2> /dev/null | tr -d ' ')" = b700 ] &&
		[ "$(head -c 4 "$1" | od -An -c | tr -d ' ')" = 177ELF ]
}

# usage: download_busybox DIR
download_busybox() {
	(cd "$1" && apt-get download -q busybox-static:arm64) > "$1/apt.log" 2>&1
}

# usage: arm64_busybox BUILD_DIR
# Extract Debian's busybox-static for arm64 into BUILD_DIR/busybox-arm64,
# beside the host's amd64 one rather than over it: dpkg would replace the
# host's /bin/busybox with a binary that the host cannot run.
arm64_busybox() {
	local build=$1 dest=$1/busybox-arm64 deb

	is_aarch64 "$dest/bin/busybox" && return 0
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		if [ "$(id -u)" != 0 ]; then
			echo "deps: the VM's arm64 busybox comes from Debian's arm64 archive, which apt does not know yet; run: sudo dpkg --add-architecture arm64 && sudo apt-get update" >&2
			exit 1
		fi
		echo "  DPKG    --add-architecture arm64"
		if ! { dpkg --add-architecture arm64 &&
		       apt-get update -q > /tmp/kvmfd-apt.log 2>&1; }; then
			tail -n 5 /tmp/kvmfd-apt.log >&2
			echo "deps: apt-get update for arm64 failed (log: /tmp/kvmfd-apt.log); check the Debian mirror in /etc/apt/sources.list" >&2
			exit 1
		fi
	fi

	mkdir -p "$build"
	tmp=$(mktemp -d "$build/busybox-arm64.XXXXXX")
	# apt's _apt user downloads into the directory; let it.
	chmod 755 "$tmp"
	trap 'rm -rf "$tmp"' EXIT
	echo "  APT     download busybox-static:arm64"
	# An arm64 archive added without an update has no package lists yet.
	if ! download_busybox "$tmp" &&
	   ! { [ "$(id -u)" = 0 ] && apt-get update -q > /dev/null 2>&1 &&
	       download_busybox "$tmp"; }; then
		tail -n 5 "$tmp/apt.log" >&2
		echo "deps: cannot download busybox-static:arm64; run 'sudo apt-get update' (apt needs arm64 package lists: 'dpkg --print-foreign-architectures' must list arm64) and check the Debian mirror" >&2
		exit 1
	fi
	deb=$(find "$tmp" -maxdepth 1 -name 'busybox-static_*_arm64.deb' | head -n 1)
	if [ -z "$deb" ] || ! dpkg-deb -x "$deb" "$tmp/root"; then
		echo "deps: cannot extract the busybox-static:arm64 package that apt downloaded into $tmp" >&2
		exit 1
	fi
	is_aarch64 "$tmp/root/bin/busybox" ||
		{ echo "deps: busybox-static:arm64 holds no aarch64 /bin/busybox; is the Debian mirror's arm64 archive sound?" >&2; exit 1; }
	rm -rf "$dest"
	mv "$tmp/root" "$dest"
	rm -rf "$tmp"
}

if [ "${1:-}" = --arm64 ]; then
	build=${2:?usage: deps.sh --arm64 BUILD_DIR}
	# shellcheck disable=SC2046 # one word per package
	install $(missing_packages aarch64-linux-gnu-gcc:gcc-aarch64-linux-gnu \
		/usr/aarch64-linux-gnu/lib/libc.a:libc6-dev-arm64-cross \
		qemu-system-aarch64:qemu-system-arm dpkg-deb:dpkg)
	arm64_busybox "$build"
	exit 0
fi

tarball=${1:-/usr/src/linux-source-6.12.tar.xz}
# shellcheck disable=SC2046 # one word per package
set -- $(missing_packages gcc:gcc make:make flex:flex bison:bison bc:bc perl:perl \
	cpio:cpio /bin/busybox:busybox-static xz:xz-utils rsync:rsync ccache:ccache quilt:quilt git:git \
	patch:patch python3:python3 sparse:sparse \
	qemu-system-x86_64:qemu-system-x86 gnuplot:gnuplot-nox \
	/usr/include/libelf.h:libelf-dev /usr/include/openssl/ssl.h:libssl-dev \
	/usr/lib/python3/dist-packages/ply/__init__.py:python3-ply \
	/usr/lib/python3/dist-packages/git/__init__.py:python3-git)
[ "$tarball" = /usr/src/linux-source-6.12.tar.xz ] && [ ! -f "$tarball" ] &&
	set -- "$@" linux-source-6.12
install "$@"
