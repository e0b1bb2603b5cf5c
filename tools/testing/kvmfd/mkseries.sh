#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# usage: mkseries.sh REPO BASE_TREE OUTDIR
# Turn the overlay and patches/ into a git-am-able series with a cover
# letter: each patch of patches/series becomes one commit, carrying the new
# files its X-Overlay: headers name.  Then check the series: it applies with
# git am to the base, builds at every patch (unless BUILD=0), and passes
# checkpatch --strict.

set -euo pipefail
trap 'echo "series: unexpected failure at line $LINENO: $BASH_COMMAND" >&2' ERR

repo=${1:?usage: mkseries.sh REPO BASE_TREE OUTDIR}
base=${2:?}
out=${3:?}
build_each=${BUILD:-1}
J=${J:-$(nproc)}
git_dir="$(dirname "$out")/series-git"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() {
	echo "series: $*" >&2
	exit 1
}

# The values of header $1 of patch file $2, one per line.
patch_header() {
	sed -n "/^\$/q; s/^$1: *//p" "$2"
}

g() {
	git -C "$git_dir" -c user.name=kvmfd -c user.email=kvmfd@localhost \
		-c advice.detachedHead=false "$@"
}

[ -f "$repo/patches/series" ] || { echo "series: there is no patches/series yet; nothing to write"; exit 0; }
mapfile -t patches < <(sed -e 's/#.*//' "$repo/patches/series" | awk 'NF { print $1 }')
[ ${#patches[@]} -gt 0 ] || { echo "series: patches/series lists no patch yet; nothing to write"; exit 0; }

# Every overlay file must belong to exactly one patch.
overlay=$(cd "$repo" && for d in virt include arch tools Documentation; do
	if [ -d "$d" ]; then find "$d" -path tools/testing/kvmfd -prune -o -type f -print; fi
	done | LC_ALL=C sort)
claimed=$(for p in "${patches[@]}"; do
	patch_header X-Overlay "$repo/patches/$p"; done | LC_ALL=C sort)
dups=$(echo "$claimed" | uniq -d)
[ -z "$dups" ] || die "overlay files claimed by two patches: $dups"
orphans=$(LC_ALL=C comm -23 <(echo "$overlay") <(echo "$claimed") | grep . || true)
[ -z "$orphans" ] || die "overlay files no patch claims: $orphans; add an 'X-Overlay: path' header to the patch that needs them"
missing=$(LC_ALL=C comm -13 <(echo "$overlay") <(echo "$claimed") | grep . || true)
[ -z "$missing" ] || die "X-Overlay names files that do not exist: $missing"

# A git repository holding the base, reused while the base is the same.
if [ ! -d "$git_dir/.git" ] || ! cmp -s "$base/.kvmfd-base" "$git_dir/.kvmfd-base"; then
	echo "  GIT     $git_dir (base commit)"
	rm -rf "$git_dir"
	mkdir -p "$git_dir"
	(cd "$base" && tar -cf - --exclude=./_build --exclude=./.kvmfd-base .) |
		(cd "$git_dir" && tar -xf -)
	g init -q
	# Debian's .gitignore ignores the whole top level; add regardless.
	g add -f -A -- . ':(exclude)_build' ':(exclude).kvmfd-base'
	g commit -q -m "Linux $(cd "$base" && make -s kernelversion 2>/dev/null)"
	g tag -f base > /dev/null
	cp "$base/.kvmfd-base" "$git_dir/.kvmfd-base"
fi
g checkout -q -f -B series base
g clean -q -fdx -e /.kvmfd-base -e /_build

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for p in "${patches[@]}"; do
	file="$repo/patches/$p"
	for f in $(patch_header X-Overlay "$file"); do
		mkdir -p "$git_dir/$(dirname "$f")"
		cp "$repo/$f" "$git_dir/$f"
	done
	if grep -q '^+++ ' "$file"; then
		(cd "$git_dir" && patch -p1 --fuzz=0 --no-backup-if-mismatch -s -i "$file") ||
			die "patches/$p does not apply to base + overlay + the patches before it"
	fi
	git mailinfo -k "$tmp/msg" "$tmp/diff" < "$file" > "$tmp/info"
	author=$(sed -n 's/^Author: //p' "$tmp/info")
	email=$(sed -n 's/^Email: //p' "$tmp/info")
	subject=$(sed -n 's/^Subject: //p' "$tmp/info" | sed 's/^\[PATCH[^]]*\] *//')
	[ -n "$subject" ] || die "patches/$p has no Subject: header"
	{ echo "$subject"; echo; cat "$tmp/msg"; } > "$tmp/commit"
	g add -f -A -- . ':(exclude)_build' ':(exclude).kvmfd-base'
	g commit -q --author="$author <$email>" -F "$tmp/commit" ||
		die "patches/$p adds nothing"
done

rm -rf "$out"
mkdir -p "$out"
g format-patch -q --cover-letter --thread -o "$out" base..series
cover=$(ls "$out"/0000-*.patch)
# The patches without the cover letter, in order.
mapfile -t series < <(ls "$out"/[0-9][0-9][0-9][0-9]-*.patch | grep -v '/0000-')

# The cover letter text lives in patches/cover-letter; git fills in the
# shortlog and diffstat.
if [ -f "$repo/patches/cover-letter" ]; then
	title=$(head -n 1 "$repo/patches/cover-letter")
	tail -n +3 "$repo/patches/cover-letter" > "$tmp/blurb"
	sed -i "s/\*\*\* SUBJECT HERE \*\*\*/$(printf '%s' "$title" | sed 's/[\/&]/\\&/g')/" "$cover"
	sed -i "/\*\*\* BLURB HERE \*\*\*/{
		r $tmp/blurb
		d
	}" "$cover"
fi

echo "  CHECK   git am onto the base"
g checkout -q -f -B series-am base
g am -q "${series[@]}" ||
	{ g am --abort; die "the series does not apply with git am to the base"; }
[ -z "$(g diff series series-am --stat)" ] || die "git am of the series gives a different tree"

echo "  CHECK   checkpatch --strict"
cp_fail=0
: > "$tmp/cp"
for i in "${!series[@]}"; do
	f=${series[$i]}
	# A patch that moves code verbatim names the complaints it carries
	# over in X-Checkpatch-Ignore:, and its commit message says why.
	ignore=$(patch_header X-Checkpatch-Ignore "$repo/patches/${patches[$i]}")
	# Debian's python3 has the ply and git modules that spdxcheck.py needs.
	# spdxcheck.py runs in the current directory, which must be a git tree.
	# The base is a tarball without history, in which checkpatch cannot
	# look up the commit that a Fixes: tag names.
	res=$(cd "$git_dir" && PATH=/usr/bin:$PATH "$base/scripts/checkpatch.pl" --strict \
		--no-signoff --quiet --ignore "FILE_PATH_CHANGES,UNKNOWN_COMMIT_ID${ignore:+,$ignore}" "$f" 2>&1 || true)
	if [ -n "$res" ]; then
		cp_fail=1
		echo "$(basename "$f"):" >> "$tmp/cp"
		echo "$res" | sed 's/^/  /' >> "$tmp/cp"
	fi
done
if [ "$cp_fail" = 1 ]; then
	cat "$tmp/cp" >&2
	echo "series: checkpatch --strict reports the above; explain the ones to keep in patches/cover-letter" >&2
fi

if [ "$build_each" = 1 ]; then
	n=0
	for c in $(g rev-list --reverse base..series); do
		n=$((n + 1))
		echo "  BUILD   patch $n: $(g log -1 --format=%s "$c")"
		g checkout -q -f "$c"
		if [ ! -f "$git_dir/_build/.config" ]; then
			mkdir -p "$git_dir/_build"
			cp "$repo/build/linux/_build/.config" "$git_dir/_build/.config"
		fi
		make -s -C "$git_dir" O=_build CC="ccache gcc" -j"$J" olddefconfig > /dev/null
		make -C "$git_dir" O=_build CC="ccache gcc" -j"$J" bzImage headers \
			> "$tmp/build.log" 2>&1 ||
			{ grep -E 'error|warning' "$tmp/build.log" | head -n 20 >&2;
			  die "the kernel does not build at patch $n ($c)"; }
		if grep -q ': warning:' "$tmp/build.log"; then
			grep ': warning:' "$tmp/build.log" >&2
			die "the kernel builds with warnings at patch $n"
		fi
		make -C "$git_dir/tools/testing/selftests/kvm" OUTPUT="$git_dir/_build/kselftest" \
			LINUX_HDR_PATH="$git_dir/_build/usr/include/" \
			KHDR_INCLUDES="-isystem $git_dir/_build/usr/include" \
			CC="ccache gcc" -j"$J" > "$tmp/st.log" 2>&1 ||
			{ grep -E 'error' "$tmp/st.log" | head -n 20 >&2;
			  die "the KVM selftests do not build at patch $n ($c)"; }
	done
	g checkout -q -f series
fi

echo "  SERIES  $out: $(ls "$out" | wc -l) files"
[ "$cp_fail" = 0 ] || die "checkpatch --strict is not clean; see above"
