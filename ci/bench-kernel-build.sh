#!/usr/bin/env bash
# Kernel build benchmark for the small config (images/kharness.config):
# the same steps kharness::kernel::build runs (tinyconfig + fragment +
# olddefconfig, then `make O=... bzImage` with CC="ccache gcc"), timed:
#
#   configure        tinyconfig, fragment merge, olddefconfig (fresh build dir)
#   scratch build    make bzImage with ccache disabled, so nothing is cached
#   incremental      after a one-line code change to fs/splice.c
#   no-change        make bzImage again with nothing changed
#   bzImage size
#
# The source is never edited: the change goes into a hard-link copy
# (`cp -al`) whose fs/splice.c is first replaced by a private copy.
#
#   ci/bench-kernel-build.sh                     # Debian's 6.12 source, all cores
#   SRC=~/linux JOBS=4 ci/bench-kernel-build.sh
#   KEEP=1 ci/bench-kernel-build.sh              # keep the work dir and print it
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${SRC:-/usr/src/linux-source-6.12}
JOBS=${JOBS:-$(nproc)}
FRAGMENT=${FRAGMENT:-$PWD/images/kharness.config}

[ -f "$SRC/Makefile" ] || { echo "no kernel source at $SRC (ci/setup.sh unpacks it; or set SRC)" >&2; exit 2; }
[ -f "$FRAGMENT" ] || { echo "no fragment at $FRAGMENT" >&2; exit 2; }
command -v ccache >/dev/null || { echo "ccache not installed (apt-get install ccache)" >&2; exit 2; }

work=$(mktemp -d /tmp/kharness-kbench.XXXXXX)
if [ -n "${KEEP:-}" ]; then
  trap 'echo "kept $work" >&2' EXIT
else
  trap 'rm -rf "$work"' EXIT
fi
src=$work/src
out=$work/build
mkdir -p "$out"
# The terminal's stderr, for errors raised inside `timed` (whose stderr is
# the timing file).
exec 3>&2

# Runs a command; sets $took to "<wall> s wall, <user+sys> s CPU". The CPU
# figure is what the build costs whatever else the machine is doing.
timed() {
  local TIMEFORMAT='%R %U %S' real user sys
  { time "$@"; } 2>"$work/time"
  read -r real user sys <"$work/time"
  took=$(python3 -c "import sys; r, u, s = map(float, sys.argv[1:]); print(f'{r:7.1f} s wall, {u + s:7.1f} s CPU')" "$real" "$user" "$sys")
}
kmake() {
  # Same argv as kharness::kernel::build (make_command).
  make -C "$src" O="$out" ARCH=x86_64 CC="ccache gcc" HOSTCC="ccache gcc" -j"$JOBS" "$@" \
    >>"$work/make.log" 2>&1 || { tail -n 30 "$work/make.log" >&3; exit 3; }
}
steps() { grep -cE '^  [A-Z0-9_]{1,8} +[^ ]' "$work/make.log" || true; }

cp -al "$SRC" "$src"
orig_sum=$(sha256sum "$SRC/fs/splice.c" | cut -d' ' -f1)

echo "source $SRC ($(make -s -C "$SRC" kernelversion 2>/dev/null)), $JOBS jobs, $(gcc --version | head -n 1)"
echo "fragment $FRAGMENT; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

configure() {
  kmake tinyconfig
  cat "$FRAGMENT" >>"$out/.config"
  kmake olddefconfig
}
timed configure
printf '%-28s %s\n' "configure" "$took"

: >"$work/make.log"
export CCACHE_DISABLE=1
timed kmake bzImage
unset CCACHE_DISABLE
printf '%-28s %s  (%s steps, ccache disabled)\n' "build from scratch" "$took" "$(steps)"

# Break the hard link before editing, so the original tree stays untouched.
cp "$src/fs/splice.c" "$work/splice.c"
rm "$src/fs/splice.c"
cp "$work/splice.c" "$src/fs/splice.c"
# A code change (not a comment, which ccache would see through), unique per
# run so no cache can hold it.
echo "int kharness_bench_marker = $(date +%s%N | tail -c 10);" >>"$src/fs/splice.c"
: >"$work/make.log"
timed kmake bzImage
printf '%-28s %s  (%s steps)\n' "rebuild after fs/splice.c" "$took" "$(steps)"

: >"$work/make.log"
timed kmake bzImage
printf '%-28s %s  (%s steps)\n' "no-change rebuild" "$took" "$(steps)"

size=$(stat -c %s "$out/arch/x86/boot/bzImage")
printf '%-28s %d bytes (%.1f MiB)\n' "bzImage size" "$size" "$(python3 -c "print($size/1048576)")"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

[ "$(sha256sum "$SRC/fs/splice.c" | cut -d' ' -f1)" = "$orig_sum" ] || {
  echo "BUG: $SRC/fs/splice.c changed" >&2
  exit 3
}
