#!/usr/bin/env bash
# The developer's loop, timed: `kharness series` on the demo series
# (kernel-patches/demo-splice-regression, 3 patches) against Debian's 6.12
# source, with an empty kharness cache and ccache disabled, so the base is
# built from scratch and each patch is an incremental rebuild of the step
# before. Prints, per step: build time (from series.json), VM wall time,
# the tests' own time, and the rest (boot and power-off). Wall-clock perf
# mode, so guest durations are real time.
#
#   ci/bench-series.sh                          # whole suite per step
#   FILTER='splice.*' ci/bench-series.sh        # fewer tests per boot
#   SERIES=kernel-patches/splice-fatal-signal ci/bench-series.sh
#   WARM=1 ci/bench-series.sh                   # keep ~/.cache/kharness (rerun cost)
#   CCACHE=1 ci/bench-series.sh                 # empty kharness cache, ccache on:
#                                               # the base mostly from ccache, the
#                                               # patches rebuilt as a developer's are
#
# After the steps, where each build's time went (kharness's build phases,
# see ci/series-steps.py).
#
# The load average is printed at start and end: figures taken while other
# work ran are slower than the machine can do.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${SRC:-/usr/src/linux-source-6.12}
SERIES=${SERIES:-kernel-patches/demo-splice-regression}
FILTER=${FILTER:-}

[ -f "$SRC/Makefile" ] || { echo "no kernel source at $SRC (ci/setup.sh unpacks it; or set SRC)" >&2; exit 2; }
ci/setup.sh >/dev/null
out=$(mktemp -d /tmp/kharness-sbench.XXXXXX)
trap 'rm -rf "$out"' EXIT
if [ -z "${WARM:-}" ]; then
  export KHARNESS_CACHE_DIR=$out/cache
  [ -n "${CCACHE:-}" ] || export CCACHE_DISABLE=1
fi
filter_args=()
[ -n "$FILTER" ] && filter_args=(--filter "$FILTER")

echo "series $SERIES on $SRC ($(make -s -C "$SRC" kernelversion 2>/dev/null)), $(nproc) cores"
ccache=enabled
[ -n "${CCACHE_DISABLE:-}" ] && ccache=disabled
echo "cache: ${KHARNESS_CACHE_DIR:-~/.cache/kharness (warm)}; ccache $ccache"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s.%N)
set +e
target/release/kharness series "$SERIES" --tree "$SRC" --perf-mode wallclock \
  --out "$out/runs" "${filter_args[@]}" >"$out/stdout" 2>"$out/stderr"
code=$?
set -e
end=$(date +%s.%N)
echo "kharness series exit $code (0 ok, 1 the series made something worse) in $(python3 -c "print(f'{$end - $start:.0f}')") s"
if [ "$code" -ge 2 ]; then
  tail -n 30 "$out/stderr" >&2
  exit "$code"
fi
python3 ci/series-steps.py "$out/runs/latest"
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
