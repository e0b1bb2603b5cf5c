#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Assemble a kernel tree as base + overlay + patches.  Each overlay file
# goes in with the patch that claims it (X-Overlay:), in series order.
#
#   assemble.sh base TARBALL VERSION DEST
#	Extract the pristine base tree into DEST, once per tarball.
#   assemble.sh tree REPO BASE DEST
#	Make DEST equal to BASE with REPO's overlay copied in and REPO's
#	patches applied, rewriting only the files whose content changes so
#	that kbuild rebuilds exactly what the change touched.
#
# A failure leaves DEST as it was: new content is prepared in a staging
# directory and only copied over once every patch has applied.

set -euo pipefail

# Directories of the repo that mirror the kernel tree.  tools/testing/kvmfd
# is this project's harness and not part of the series.
OVERLAY_DIRS="virt include arch tools Documentation"
HARNESS_DIR="tools/testing/kvmfd"

die() {
	echo "assemble: $*" >&2
	exit 1
}

overlay_files() {
	local repo=$1 d

	for d in $OVERLAY_DIRS; do
		[ -d "$repo/$d" ] || continue
		(cd "$repo" && find "$d" -path "$HARNESS_DIR" -prune -o \
			-type f -print)
	done | LC_ALL=C sort
}

series_patches() {
	local repo=$1

	[ -f "$repo/patches/series" ] || return 0
	sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$repo/patches/series" |
		awk 'NF { print $1 }'
}

# Files a patch creates, modifies or deletes, from its diff headers.
patch_targets() {
	awk '
	/^--- / { old = $2; next }
	/^\+\+\+ / {
		new = $2
		f = (new == "/dev/null") ? old : new
		sub(/^[ab]\//, "", f)
		print f
	}' "$1"
}

# The overlay files a patch claims, from its X-Overlay: headers.
patch_overlay() {
	sed -n '/^$/q; s/^X-Overlay: *//p' "$1"
}

stage_overlay() {
	local repo=$1 f=$2

	[ -f "$repo/$f" ] || die "an X-Overlay: header names $f, which is not in the overlay"
	mkdir -p "$stage/tree/$(dirname "$f")"
	cp "$repo/$f" "$stage/tree/$f"
}

base_version() {
	awk '/^VERSION =/ { v = $3 } /^PATCHLEVEL =/ { p = $3 }
	     /^SUBLEVEL =/ { s = $3 } END { print v "." p "." s }' "$1/Makefile"
}

cmd_base() {
	local tarball=$1 want=$2 dest=$3 stamp have tmp top

	stamp="$dest/.kvmfd-base"
	[ -f "$tarball" ] || die "base tarball $tarball is missing; install it with 'apt-get install linux-source-6.12' or set BASE_TARBALL=path/to/linux-source-6.12.tar.xz"
	if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(stat -c '%s %Y' "$tarball")" ]; then
		exit 0
	fi

	echo "  EXTRACT $tarball -> $dest"
	tmp="$dest.tmp"
	rm -rf "$tmp"
	mkdir -p "$tmp"
	tar -xf "$tarball" -C "$tmp" || die "cannot extract $tarball; is it a complete linux-source tarball? Reinstall it with 'apt-get install --reinstall linux-source-6.12'"
	top=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d | head -n 1)
	[ -n "$top" ] && [ -f "$top/Makefile" ] || die "$tarball holds no kernel tree"

	have=$(base_version "$top")
	case "$have" in
	"$want") ;;
	"${want%.*}".*)
		echo "assemble: warning: base is $have, the series is tested on $want; continuing" >&2 ;;
	*)
		rm -rf "$tmp"
		die "base is Linux $have but the series needs ${want%.*}.y (tested on $want); install linux-source-6.12 or set BASE_TARBALL to a 6.12.y tarball" ;;
	esac

	rm -rf "$dest"
	mv "$top" "$dest"
	rm -rf "$tmp"
	stat -c '%s %Y' "$tarball" > "$stamp"
}

# Copy $1 over $2 only if the content differs, so mtimes move only on change.
update_file() {
	local src=$1 dst=$2

	if [ -f "$dst" ] && cmp -s "$src" "$dst"; then
		return 0
	fi
	mkdir -p "$(dirname "$dst")"
	cp "$src" "$dst.kvmfd-new"
	mv -f "$dst.kvmfd-new" "$dst"
}

cmd_tree() {
	local repo=$1 base=$2 dest=$3 managed p f
	local -a patches

	[ -f "$base/.kvmfd-base" ] || die "base tree $base is not extracted; run make"
	managed="$dest/.kvmfd-managed"

	# A new base invalidates the whole tree; anything else is incremental.
	if [ ! -f "$dest/.kvmfd-base" ] || ! cmp -s "$base/.kvmfd-base" "$dest/.kvmfd-base"; then
		# Hard links make this fast.  They are safe because nothing writes
		# into the source tree in place: kbuild and the selftests write to
		# their own output directories and update_file() replaces files
		# by rename.
		echo "  LINK    $base -> $dest"
		rm -rf "$dest"
		mkdir -p "$dest"
		(cd "$base" && find . -mindepth 1 -maxdepth 1 ! -name _build \
			-exec cp -al {} "$dest/" \;)
		rm -f "$dest/.kvmfd-base" "$managed"
	fi

	stage=$(mktemp -d "${TMPDIR:-/tmp}/kvmfd-stage.XXXXXX")
	trap 'rm -rf "$stage"' EXIT
	mapfile -t patches < <(series_patches "$repo")

	{
		overlay_files "$repo"
		for p in "${patches[@]}"; do
			[ -f "$repo/patches/$p" ] || die "patches/series names $p, which does not exist in patches/"
			patch_targets "$repo/patches/$p"
		done
		if [ -f "$managed" ]; then
			cat "$managed"
		fi
	} | LC_ALL=C sort -u > "$stage/files"

	# Stage every managed file as the base has it, then overlay, then patch.
	mkdir "$stage/tree"
	while read -r f; do
		if [ -f "$base/$f" ]; then
			mkdir -p "$stage/tree/$(dirname "$f")"
			cp "$base/$f" "$stage/tree/$f"
		fi
	done < "$stage/files"
	# An overlay file goes in just before the patch that claims it with
	# X-Overlay:, so that an earlier patch may create it first, as a
	# move does.  Unclaimed ones, which make series refuses, go first.
	for p in "${patches[@]}"; do
		patch_overlay "$repo/patches/$p"
	done | LC_ALL=C sort > "$stage/claimed"
	overlay_files "$repo" | LC_ALL=C comm -23 - "$stage/claimed" |
		while read -r f; do
			stage_overlay "$repo" "$f"
		done
	for p in "${patches[@]}"; do
		patch_overlay "$repo/patches/$p" | while read -r f; do
			stage_overlay "$repo" "$f"
		done
		if ! (cd "$stage/tree" && patch -p1 --fuzz=0 --no-backup-if-mismatch \
				-s -i "$repo/patches/$p" > "$stage/patch.log" 2>&1); then
			sed 's/^/  /' "$stage/patch.log" >&2
			f=$(sed -n 's/.*patching file \(.*\)/\1/p; s/.* of file \(.*\)$/\1/p' \
				"$stage/patch.log" | tail -n 1)
			die "patch patches/$p does not apply${f:+ to $f}; refresh it against base + overlay + the patches before it (see README), build/linux is unchanged"
		fi
	done

	# Commit: rewrite changed files, delete files that are no longer managed.
	while read -r f; do
		if [ -f "$stage/tree/$f" ]; then
			update_file "$stage/tree/$f" "$dest/$f"
		else
			rm -f "$dest/$f"
		fi
	done < "$stage/files"
	{
		overlay_files "$repo"
		for p in "${patches[@]}"; do
			patch_targets "$repo/patches/$p"
		done
	} | LC_ALL=C sort -u > "$managed"
	cp "$base/.kvmfd-base" "$dest/.kvmfd-base"
}

case "${1:-}" in
base)	shift; [ $# -eq 3 ] || die "usage: assemble.sh base TARBALL VERSION DEST"; cmd_base "$@" ;;
tree)	shift; [ $# -eq 3 ] || die "usage: assemble.sh tree REPO BASE DEST"; cmd_tree "$@" ;;
*)	die "usage: assemble.sh base|tree ..." ;;
esac
