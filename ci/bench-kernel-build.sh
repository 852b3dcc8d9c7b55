#!/usr/bin/env bash
# Kernel build benchmark for the small config (images/kharness.config):
# the same steps kharness::kernel::build runs (tinyconfig + fragment +
# olddefconfig, then `make O=... bzImage` with CC="ccache gcc"), timed:
#
#   configure        tinyconfig, fragment merge, olddefconfig (fresh build dir)
#   scratch build    make bzImage with ccache disabled, so nothing is cached
#   incremental      after a one-line code change to fs/splice.c, with the
#                    phases of that rebuild (ci/kbuild-phases.py: make's
#                    walk, compile, archives, vmlinux.o, modpost, the
#                    kallsyms link passes, the final link, bzImage) and the
#                    changed file's compile split into gcc and objtool
#   vmlinux only     the same change built as `make vmlinux` (what a direct
#                    boot needs) against `make bzImage`, alternated, REPS
#                    times each, as a ratio
#   no-change        make bzImage again with nothing changed
#   bzImage size
#
# CPU is user + system time of make and everything under it: what the
# build costs whatever else the machine is doing; wall time depends on it.
#
# The source is never edited: the change goes into a hard-link copy
# (`cp -al`) whose fs/splice.c is first replaced by a private copy.
#
#   ci/bench-kernel-build.sh                     # Debian's 6.12 source, all cores
#   SRC=~/linux JOBS=4 ci/bench-kernel-build.sh
#   KEEP=1 ci/bench-kernel-build.sh              # keep the work dir and print it
#   REUSE=/tmp/kharness-kbench.XXXX ci/bench-kernel-build.sh
#                                                # a kept work dir: no configure
#                                                # or scratch build, only rebuilds
#   FRAGMENT=my.config ci/bench-kernel-build.sh  # another fragment
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${SRC:-/usr/src/linux-source-6.12}
JOBS=${JOBS:-$(nproc)}
FRAGMENT=${FRAGMENT:-$PWD/images/kharness.config}
REPS=${REPS:-2}
phases=$PWD/ci/kbuild-phases.py

[ -f "$SRC/Makefile" ] || { echo "no kernel source at $SRC (ci/setup.sh unpacks it; or set SRC)" >&2; exit 2; }
[ -f "$FRAGMENT" ] || { echo "no fragment at $FRAGMENT" >&2; exit 2; }
command -v ccache >/dev/null || { echo "ccache not installed (apt-get install ccache)" >&2; exit 2; }

if [ -n "${REUSE:-}" ]; then
  work=$REUSE
  [ -f "$work/build/vmlinux" ] || { echo "$work: no build/vmlinux (not a work dir kept by KEEP=1)" >&2; exit 2; }
else
  work=$(mktemp -d /tmp/kharness-kbench.XXXXXX)
fi
if [ -n "${KEEP:-}${REUSE:-}" ]; then
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
# kmake, with each output line stamped with its time (ci/kbuild-phases.py
# stamp) into $work/make.log.
kmake_stamped() {
  make -C "$src" O="$out" ARCH=x86_64 CC="ccache gcc" HOSTCC="ccache gcc" -j"$JOBS" "$@" 2>&1 \
    | python3 "$phases" stamp >"$work/make.log" || { tail -n 30 "$work/make.log" >&3; exit 3; }
}
steps() { grep -cE '(^|	)  [A-Z0-9_]{1,8} +[^ ]' "$work/make.log" || true; }

orig_sum=$(sha256sum "$SRC/fs/splice.c" | cut -d' ' -f1)
if [ -z "${REUSE:-}" ]; then
cp -al "$SRC" "$src"

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
fi

# Break the hard link before editing, so the original tree stays untouched.
if [ "$(stat -c %h "$src/fs/splice.c")" -gt 1 ]; then
  cp "$src/fs/splice.c" "$work/splice.c"
  rm "$src/fs/splice.c"
  cp "$work/splice.c" "$src/fs/splice.c"
fi
# A code change (not a comment, which ccache would see through), unique per
# run and per change so no cache can hold it.
change() {
  local n
  n=$(date +%s%N)
  echo "int kharness_bench_marker_$n = 1${n: -9};" >>"$src/fs/splice.c"
}
change
timed kmake_stamped bzImage
printf '%-28s %s  (%s steps)\n' "rebuild after fs/splice.c" "$took" "$(steps)"
python3 "$phases" report "$work/make.log"
cp "$work/make.log" "$work/phases-bzImage.log"

# The same change built as far as a direct boot needs (vmlinux) and as far
# as the bzImage, alternated so that load drifts hit both alike.
declare -a wall_bz=() wall_vm=() cpu_bz=() cpu_vm=()
for _ in $(seq "$REPS"); do
  for target in vmlinux bzImage; do
    change
    timed kmake_stamped "$target"
    read -r w c <<<"$(echo "$took" | awk '{print $1, $4}')"
    if [ "$target" = vmlinux ]; then wall_vm+=("$w"); cpu_vm+=("$c"); else wall_bz+=("$w"); cpu_bz+=("$c"); fi
    printf '%-28s %s\n' "  rebuild, make $target" "$took"
  done
done
cp "$work/make.log" "$work/phases-last.log"
python3 - "${wall_vm[*]}" "${wall_bz[*]}" "${cpu_vm[*]}" "${cpu_bz[*]}" <<'PY'
import statistics, sys
wv, wb, cv, cb = ([float(x) for x in a.split()] for a in sys.argv[1:])
m = statistics.median
print(f"{'vmlinux / bzImage rebuild':<28} {m(wv):.1f} / {m(wb):.1f} s wall = {m(wv) / m(wb):.2f}, "
      f"{m(cv):.1f} / {m(cb):.1f} s CPU = {m(cv) / m(cb):.2f} (medians of {len(wv)})")
PY

# The changed file's compile alone, split into gcc and objtool, from the
# command kbuild saved (into a scratch object: the build stays as it is).
cmd=$(sed -n 's/^savedcmd_fs\/splice.o := //p' "$out/fs/.splice.o.cmd")
gcc_part=${cmd%%; ./tools/objtool/objtool*}
objtool_part=${cmd#"$gcc_part"}
objtool_part=${objtool_part#; }
gcc_part=${gcc_part//-o fs\/splice.o/-o $work/splice-alone.o}
gcc_part=${gcc_part//-Wp,-MMD,fs\/.splice.o.d/-Wp,-MMD,$work/splice-alone.d}
objtool_part=${objtool_part% fs/splice.o}
(
  cd "$out"
  # Two decimals: objtool on one file takes hundredths of a second.
  precise() { python3 -c "import sys; r, u, s = map(float, open(sys.argv[1]).read().split()); print(f'{r:7.2f} s wall, {u + s:7.2f} s CPU')" "$work/time"; }
  timed env CCACHE_DISABLE=1 bash -c "$gcc_part"
  printf '%-28s %s\n' "  fs/splice.c: gcc" "$(precise)"
  if [ -n "$objtool_part" ] && [ "$objtool_part" != "$cmd" ]; then
    timed bash -c "$objtool_part $work/splice-alone.o"
    printf '%-28s %s\n' "  fs/splice.c: objtool" "$(precise)"
  fi
)

: >"$work/make.log"
timed kmake_stamped bzImage
printf '%-28s %s  (%s steps)\n' "no-change rebuild" "$took" "$(steps)"

size=$(stat -c %s "$out/arch/x86/boot/bzImage")
printf '%-28s %d bytes (%.1f MiB)\n' "bzImage size" "$size" "$(python3 -c "print($size/1048576)")"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"

[ "$(sha256sum "$SRC/fs/splice.c" | cut -d' ' -f1)" = "$orig_sum" ] || {
  echo "BUG: $SRC/fs/splice.c changed" >&2
  exit 3
}
