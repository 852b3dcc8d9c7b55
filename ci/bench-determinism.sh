#!/usr/bin/env bash
# Deterministic perf mode: boots the default kernel BOOTS times with the
# qemu backend, each running perf.splice_file_to_pipe, while a busy loop
# keeps another core loaded; first with --perf-mode deterministic (QEMU
# -icount), then with --perf-mode wallclock. Prints the throughput of each
# boot and max/min per mode. Target: deterministic within 0.5%.
#
#   ci/bench-determinism.sh          # 5 boots per mode
#   BOOTS=10 ci/bench-determinism.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BOOTS=${BOOTS:-5}
TEST=perf.splice_file_to_pipe
METRIC=${METRIC:-throughput}

ci/setup.sh >/dev/null
kharness=target/release/kharness
out=$(mktemp -d /tmp/kharness-determinism.XXXXXX)
busy_pid=""
cleanup() { [ -n "$busy_pid" ] && kill "$busy_pid" 2>/dev/null; rm -rf "$out"; }
trap cleanup EXIT

# Load on another core for the whole benchmark.
python3 -c 'while True: pass' &
busy_pid=$!

for mode in deterministic wallclock; do
  for i in $(seq "$BOOTS"); do
    "$kharness" run --quiet --backend qemu --accel tcg --perf-mode "$mode" \
      --filter "$TEST" --out "$out/$mode" >/dev/null
  done
done

python3 - "$out" "$TEST" "$METRIC" <<'PY'
import json, pathlib, statistics, sys
out, test, metric = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
for mode in ("deterministic", "wallclock"):
    vals = []
    for run in sorted(p for p in (out / mode).iterdir() if p.name != "latest"):
        res = json.loads((run / "results.json").read_text())
        for rec in res["kernels"][0]["records"]:
            if rec["id"] == test:
                vals += [m["value"] for m in rec.get("metrics", []) if m["name"] == metric]
    spread = 100 * (max(vals) / min(vals) - 1)
    print(f"{mode:>13}: {test}.{metric} per boot: " + ", ".join(f"{v:.1f}" for v in vals))
    print(f"{'':>13}  median {statistics.median(vals):.1f} MiB/s, max/min {max(vals)/min(vals):.4f} (+{spread:.2f}%)")
PY
