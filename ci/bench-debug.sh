#!/usr/bin/env bash
# What a debug kernel costs and what it buys: `kharness series
# kernel-patches/debug-use-after-free` (one patch with a use-after-free no
# test sees from userspace) against Debian's 6.12 source, twice: with the
# built-in config only, then with `--debug $CHECKERS`. Each time from an
# empty kharness cache with ccache disabled, so the base is built from
# scratch and the patch is an incremental rebuild. Prints per run and step:
# build time, the suite's VM wall time, the tests' own time, and what the
# series saw of the bug (the status and complaint of the test it hits).
#
#   ci/bench-debug.sh                                  # whole suite per step
#   CHECKERS=kasan ci/bench-debug.sh                   # one checker
#   FILTER='splice.*' ci/bench-debug.sh                # fewer tests per boot
#   ONLY=debug ci/bench-debug.sh                       # skip the normal run
#   CACHE=~/.cache/kharness ci/bench-debug.sh          # keep the builds (a warm
#                                                      # cache reuses them: no build figures)
#
# The load average is printed at start and end: figures taken while other
# work ran are slower than the machine can do.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${SRC:-/usr/src/linux-source-6.12}
SERIES=${SERIES:-kernel-patches/debug-use-after-free}
CHECKERS=${CHECKERS:-kasan,lockdep,ubsan,kfence}
FILTER=${FILTER:-}
ONLY=${ONLY:-}

[ -f "$SRC/Makefile" ] || { echo "no kernel source at $SRC (ci/setup.sh unpacks it; or set SRC)" >&2; exit 2; }
ci/setup.sh >/dev/null
work=$(mktemp -d /tmp/kharness-dbench.XXXXXX)
trap 'rm -rf "$work"' EXIT
export KHARNESS_CACHE_DIR=${CACHE:-$work/cache}
export CCACHE_DISABLE=1
filter_args=()
[ -n "$FILTER" ] && filter_args=(--filter "$FILTER")

echo "series $SERIES on $SRC ($(make -s -C "$SRC" kernelversion 2>/dev/null)), $(nproc) cores, ccache disabled"
echo "cache: $KHARNESS_CACHE_DIR; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# run NAME [ARGS...]: one `kharness series`, then its figures.
run() {
  local name=$1 code start end
  shift
  mkdir -p "$work/$name"
  start=$(date +%s.%N)
  set +e
  target/release/kharness series "$SERIES" --tree "$SRC" --backend qemu \
    --out "$work/$name/runs" "${filter_args[@]}" "$@" >"$work/$name/stdout" 2>"$work/$name/stderr"
  code=$?
  set -e
  end=$(date +%s.%N)
  echo
  echo "== $name: kharness series $* -> exit $code in $(python3 -c "print(f'{$end - $start:.0f}')") s (load $(cut -d' ' -f1-3 /proc/loadavg))"
  if [ "$code" -ge 2 ] && [ "$code" -ne 4 ]; then
    tail -n 30 "$work/$name/stderr" >&2
    return 0
  fi
  python3 ci/series-steps.py "$work/$name/runs/latest"
}

[ "$ONLY" = debug ] || run normal
[ "$ONLY" = normal ] || run debug --debug "$CHECKERS"
echo
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
