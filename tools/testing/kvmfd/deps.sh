#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# usage: deps.sh [BASE_TARBALL]
# Check what the build needs; as root install what is missing from Debian,
# otherwise print the apt-get line that would.

set -u
# command-or-file:package
needs="gcc:gcc make:make flex:flex bison:bison bc:bc perl:perl
	cpio:cpio /bin/busybox:busybox-static xz:xz-utils rsync:rsync ccache:ccache quilt:quilt git:git
	patch:patch python3:python3 sparse:sparse
	qemu-system-x86_64:qemu-system-x86 gnuplot:gnuplot-nox
	/usr/include/libelf.h:libelf-dev /usr/include/openssl/ssl.h:libssl-dev
	/usr/lib/python3/dist-packages/ply/__init__.py:python3-ply
	/usr/lib/python3/dist-packages/git/__init__.py:python3-git"
tarball=${1:-/usr/src/linux-source-6.12.tar.xz}

missing=
for n in $needs; do
	what=${n%%:*}
	pkg=${n##*:}
	case "$what" in
	/*) [ -e "$what" ] && continue ;;
	*) command -v "$what" > /dev/null && continue ;;
	esac
	missing="$missing $pkg"
done
[ "$tarball" = /usr/src/linux-source-6.12.tar.xz ] && [ ! -f "$tarball" ] &&
	missing="$missing linux-source-6.12"
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages:$missing; install them with: sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "  APT    $missing"
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q --no-install-recommends $missing > /tmp/kvmfd-apt.log 2>&1; then
	apt-get update -q > /dev/null 2>&1
	apt-get install -y -q --no-install-recommends $missing > /tmp/kvmfd-apt.log 2>&1 || {
		tail -n 5 /tmp/kvmfd-apt.log >&2
		echo "deps: apt-get install$missing failed (log: /tmp/kvmfd-apt.log); check the Debian mirror in /etc/apt/sources.list" >&2
		exit 1
	}
fi
