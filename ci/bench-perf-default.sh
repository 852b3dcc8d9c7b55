#!/usr/bin/env bash
# Perf found by default: `kharness series SERIES --tree SRC` with no flag
# but --out, as the README shows it, on two series of ours:
#
#   kernel-patches/perf-small-slowdown  patch 1 a comment, patch 2 a udelay(8)
#                                       wait in splice_file_to_pipe() (~5%)
#   kernel-patches/aa-comment-only      two comment-only patches (A/A)
#
# The slowdown series runs SLOW_RUNS times (default 1), the A/A series
# AA_RUNS times (default 20). Each run is a new `kharness series` (the
# kernels are built once and then taken from kharness's cache, so runs
# after the first boot only). Per run it prints the exit code, the seconds,
# and every change the series reported (from series.json), and at the end:
#
#   - slowdown: in how many runs patch 2 was named for
#     perf.splice_file_to_pipe, with the measured change, and in how many
#     anything else was named;
#   - A/A: in how many runs nothing at all was reported (target: all);
#   - what the default costs per step: the VM's wall time per step, with
#     the default repetitions against one repetition (one run with
#     --reps 1 on the A/A series, for the ratio).
#
#   ci/bench-perf-default.sh
#   AA_RUNS=5 SLOW_RUNS=2 ci/bench-perf-default.sh
#   KEEP=/tmp/pd ci/bench-perf-default.sh      # keep the run directories
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${SRC:-/usr/src/linux-source-6.12}
AA_RUNS=${AA_RUNS:-20}
SLOW_RUNS=${SLOW_RUNS:-1}

[ -f "$SRC/Makefile" ] || { echo "no kernel source at $SRC (ci/setup.sh unpacks it; or set SRC)" >&2; exit 2; }
ci/setup.sh >/dev/null
kharness=$PWD/target/release/kharness
if [ -n "${KEEP:-}" ]; then
  out=$KEEP
  mkdir -p "$out"
else
  out=$(mktemp -d /tmp/kharness-perfdefault.XXXXXX)
  trap 'rm -rf "$out"' EXIT
fi

echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
echo "source $SRC ($(make -s -C "$SRC" kernelversion 2>/dev/null))"

# run NAME SERIES [ARGS...]: one series run into $out/NAME; prints one line
# and the changes. A run that exits 2 or 3 stops the benchmark.
run() {
  local name=$1 series=$2
  shift 2
  local start end code
  start=$(date +%s.%N)
  set +e
  "$kharness" series "$series" --tree "$SRC" --out "$out/$name" "$@" \
    >"$out/$name.stdout" 2>"$out/$name.stderr"
  code=$?
  set -e
  end=$(date +%s.%N)
  if [ "$code" -ge 2 ]; then
    echo "$name: kharness series exited $code" >&2
    tail -n 30 "$out/$name.stderr" >&2
    exit "$code"
  fi
  python3 - "$out/$name/latest" "$name" "$code" "$start" "$end" <<'PY'
import json, os, sys
run, name, code, start, end = sys.argv[1:]
s = json.load(open(os.path.join(run, "series.json")))
r = json.load(open(os.path.join(run, "results.json")))
walls = {k.get("label"): k["wall_s"] for k in r["kernels"]}
steps = " ".join(f"{st['label']} {walls.get(st['label'], 0):.1f}s" for st in s["steps"])
changes = s.get("changes", [])
print(f"{name}: exit {code}, {float(end) - float(start):.0f} s; VM wall per step: {steps}; {len(changes)} change(s)")
for c in changes:
    what = c.get("what")
    detail = {k: v for k, v in c.items() if k not in ("patch", "test", "what")}
    print(f"    +{c['patch']} {c['test']} {what}: {detail.get('from')} -> {detail.get('to')}")
PY
}

for i in $(seq "$SLOW_RUNS"); do
  run "slow$i" kernel-patches/perf-small-slowdown
done
for i in $(seq "$AA_RUNS"); do
  run "aa$i" kernel-patches/aa-comment-only
done
run "aa-reps1" kernel-patches/aa-comment-only --reps 1

python3 - "$out" "$SLOW_RUNS" "$AA_RUNS" <<'PY'
import json, os, statistics, sys
out, slow_runs, aa_runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

def load(name):
    run = os.path.join(out, name, "latest")
    return (json.load(open(os.path.join(run, "series.json"))),
            json.load(open(os.path.join(run, "results.json"))))

# The perf tests whose timed work splices a file into a pipe, through the
# function patch 2 slows: splice_file_to_pipe itself, and the synchronous
# half of io_uring_splice_vs_sync (IORING_OP_SPLICE, its other half, goes
# through it too).
SAME_PATH = {"perf.splice_file_to_pipe", "perf.io_uring_splice_vs_sync"}
named = wrong = 0
also = {}
for i in range(1, slow_runs + 1):
    s, _ = load(f"slow{i}")
    ch = s.get("changes", [])
    hit = [c for c in ch if c["patch"] == 2 and c["test"] == "perf.splice_file_to_pipe"
           and c["what"] == "metric throughput"]
    named += bool(hit)
    for c in ch:
        if c in hit:
            continue
        if c["patch"] == 2 and c["test"] in SAME_PATH and c["what"].startswith("metric "):
            key = f"{c['test']} {c['what'][7:]}"
            also[key] = also.get(key, 0) + 1
        else:
            wrong += 1
print(f"slowdown series: patch 2 named for perf.splice_file_to_pipe throughput in {named} of {slow_runs} run(s)")
for key, n in sorted(also.items()):
    print(f"  also named at patch 2 (the same file->pipe splice): {key} in {n} of {slow_runs}")
print(f"  anything else (another patch, another test, a status or observation): {wrong} change(s) in {slow_runs} run(s)")

quiet = 0
for i in range(1, aa_runs + 1):
    s, _ = load(f"aa{i}")
    quiet += not s.get("changes")
print(f"A/A series: nothing reported in {quiet} of {aa_runs} run(s)")

def per_step(name):
    _, r = load(name)
    return statistics.mean(k["wall_s"] for k in r["kernels"])

if aa_runs:
    default = statistics.mean(per_step(f"aa{i}") for i in range(1, aa_runs + 1))
    one = per_step("aa-reps1")
    print(f"VM wall per step, whole suite: default {default:.1f} s, --reps 1 {one:.1f} s "
          f"(the default costs {default / one:.2f}x)")
PY
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
