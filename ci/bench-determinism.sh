#!/usr/bin/env bash
# Deterministic perf mode, measured: boots the default kernel BOOTS times
# with the qemu backend (BACKEND=vng: through vng), each boot running every
# perf test (tag:perf), while a busy loop keeps another core loaded; first
# with --perf-mode deterministic (QEMU -icount), then with --perf-mode
# wallclock. For every metric of every perf test it takes max/min over the
# boots, and prints:
#
#   - each primary metric (throughput, latency) with its spread per mode;
#   - how many metrics repeat exactly, within 0.5%, or spread more;
#   - every deterministic metric that spreads more than 0.5%.
#
# Target: every deterministic metric within 0.5% of itself across boots.
#
#   ci/bench-determinism.sh                      # 5 boots per mode, tag:perf
#   BOOTS=3 FILTER=perf.splice_file_to_pipe ci/bench-determinism.sh
#   KERNEL=path/to/bzImage MODES=deterministic ci/bench-determinism.sh
#   BACKEND=vng MODES=deterministic ci/bench-determinism.sh   # through vng
set -euo pipefail
cd "$(dirname "$0")/.."
BOOTS=${BOOTS:-5}
FILTER=${FILTER:-tag:perf}
MODES=${MODES:-deterministic wallclock}
BACKEND=${BACKEND:-qemu}
kernel_args=()
[ -n "${KERNEL:-}" ] && kernel_args=(--kernel "$KERNEL")

ci/setup.sh >/dev/null
kharness=target/release/kharness
out=$(mktemp -d /tmp/kharness-determinism.XXXXXX)
busy_pid=""
cleanup() { [ -n "$busy_pid" ] && kill "$busy_pid" 2>/dev/null; rm -rf "$out"; }
trap cleanup EXIT

# Load on another core for the whole benchmark.
python3 -c 'while True: pass' &
busy_pid=$!

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg); $BOOTS boots per mode; filter $FILTER; backend $BACKEND"
for mode in $MODES; do
  for i in $(seq "$BOOTS"); do
    # --reps 1: one sample per boot, so the spread is across boots.
    "$kharness" run --quiet --backend "$BACKEND" --accel tcg --perf-mode "$mode" --reps 1 \
      "${kernel_args[@]}" --filter "$FILTER" --out "$out/$mode" >/dev/null || {
      echo "boot $i ($mode) failed: see above" >&2
      exit 1
    }
  done
done

python3 - "$out" $MODES <<'PY'
import json, pathlib, sys
out, modes = pathlib.Path(sys.argv[1]), sys.argv[2:]
PRIMARY = ("throughput", "latency")

def samples(mode):
    vals = {}
    for run in sorted(p for p in (out / mode).iterdir() if p.name != "latest"):
        res = json.loads((run / "results.json").read_text())
        for rec in res["kernels"][0]["records"]:
            for m in rec.get("metrics", []):
                vals.setdefault(f'{rec["id"]}.{m["name"]}', []).append(m["value"])
    return vals

def spread(vs):
    lo, hi = min(vs), max(vs)
    if lo == hi:
        return 0.0
    if lo <= 0:
        return float("inf")
    return 100 * (hi / lo - 1)

by_mode = {mode: samples(mode) for mode in modes}
names = sorted(set().union(*by_mode.values()))
def primary(n):
    leaf = n.rsplit(".", 1)[1]
    return any(leaf == p or leaf.endswith("_" + p) for p in PRIMARY)

print("\nprimary metrics, spread (max/min - 1) across boots:")
print(f'  {"metric":<58}' + "".join(f"{m:>15}" for m in modes))
for n in names:
    if primary(n):
        print(f"  {n:<58}" + "".join(
            f'{spread(by_mode[m][n]):>14.2f}%' if n in by_mode[m] else f'{"-":>15}' for m in modes))
for m in modes:
    s = [spread(v) for v in by_mode[m].values()]
    exact = sum(1 for x in s if x == 0)
    close = sum(1 for x in s if 0 < x <= 0.5)
    print(f"\n{m}: {len(s)} metrics: {exact} identical, {close} within 0.5%, {len(s) - exact - close} beyond")
    if m == "deterministic":
        for n, v in sorted(by_mode[m].items()):
            if spread(v) > 0.5:
                print(f"  beyond: {n}: " + ", ".join(f"{x:g}" for x in v))
PY
