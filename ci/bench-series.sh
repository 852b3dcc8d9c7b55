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
  export KHARNESS_CACHE_DIR=$out/cache CCACHE_DISABLE=1
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
python3 - "$out/runs/latest" <<'EOF'
import json, sys, os
run = sys.argv[1]
series = json.load(open(os.path.join(run, "series.json")))
results = json.load(open(os.path.join(run, "results.json")))
kernels = {k.get("label") or k["identity"]["release"]: k for k in results["kernels"]}
print(f"{'step':<6} {'build':>9} {'VM wall':>9} {'tests':>8} {'boot+off':>9}  tests run")
for step in series["steps"]:
    k = kernels.get(step["label"])
    build = "reused" if step.get("reused") else f"{step['build_s']:.1f} s"
    if k is None:
        print(f"{step['label']:<6} {build:>9}  (not booted)")
        continue
    tests = sum(r["duration_us"] for r in k["records"]) / 1e6
    wall = k["wall_s"]
    print(f"{step['label']:<6} {build:>9} {wall:>7.1f} s {tests:>6.1f} s {wall - tests:>7.1f} s  {len(k['records'])}")
EOF
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
