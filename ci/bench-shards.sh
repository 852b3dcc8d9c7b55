#!/usr/bin/env bash
# Shards: runs the whole suite on Debian's 6.1 and 6.12 kernels (qemu
# backend) once unsharded, then as N shards one after the other, and merges
# them. Prints each run's wall time, the boots each needed, the longest
# shard (a CI matrix's critical path when shards run on N machines), the
# sum over shards (the extra cost of splitting), and how long merge took.
# It also checks the merged run has the same tests and statuses as the
# unsharded one (exit 1 otherwise). Booting costs most of a run, so a shard
# that straddles two kernels boots both: with two kernels at N=3 the middle
# shard is the critical path, and no shard is shorter than one boot (about
# 18 s of a 32 s whole-suite run on Debian 6.12 here). Targets at N=3:
# longest shard below 0.9 of the unsharded run with two kernels, below 0.8
# with one (the CI templates shard each kernel on its own, so no shard
# straddles).
#
#   ci/bench-shards.sh             # N=3, Debian's 6.1 and 6.12
#   KERNELS=6.12.107+deb12-amd64 ci/bench-shards.sh
#   SHARDS=4 FILTERS='splice tee' ci/bench-shards.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SHARDS=${SHARDS:-3}
FILTERS=${FILTERS:-}
read -r -a KERNELS <<< "${KERNELS:-6.1.0-56-amd64 6.12.107+deb12-amd64}"

ci/setup.sh >/dev/null
kharness=${CARGO_TARGET_DIR:-target}/release/kharness
out=$(mktemp -d /tmp/kharness-shards.XXXXXX)
trap 'rm -rf "$out"' EXIT

args=(--quiet --backend qemu)
for k in "${KERNELS[@]}"; do args+=(--kernel "$k"); done
for f in $FILTERS; do args+=(--filter "$f"); done

now() { date +%s.%N; }
# Exit 1 (a test failed) still measures; anything worse stops the benchmark.
timed() {
  local t0 code=0
  t0=$(now)
  "$@" >/dev/null || code=$?
  [ "$code" -le 1 ] || { echo "bench-shards: $* exited $code" >&2; exit "$code"; }
  echo "$(now) - $t0" | bc
}

whole=$(timed "$kharness" run "${args[@]}" --out "$out/whole")
declare -a shard_s
for k in $(seq "$SHARDS"); do
  shard_s[k]=$(timed "$kharness" run "${args[@]}" --shard "$k/$SHARDS" --out "$out/s$k")
done
dirs=()
for k in $(seq "$SHARDS"); do dirs+=("$out/s$k/latest"); done
merge_s=$(timed "$kharness" merge --quiet --out "$out/merged" "${dirs[@]}")

python3 - "$out" "$SHARDS" "$whole" "$merge_s" "${shard_s[@]}" <<'PY'
import json, pathlib, sys
out, n = pathlib.Path(sys.argv[1]), int(sys.argv[2])
whole, merge_s = float(sys.argv[3]), float(sys.argv[4])
shard_s = [float(x) for x in sys.argv[5:]]

def load(d):
    return json.loads((out / d / "latest" / "results.json").read_text())

def statuses(res):
    return {k["identity"]["release"]: sorted((r["id"], r["status"]) for r in k["records"]) for k in res["kernels"]}

w = load("whole")
tests = sum(len(k["records"]) for k in w["kernels"])
print(f"unsharded: {whole:7.1f} s, {len(w['kernels'])} boots, {tests} test runs")
for i, s in enumerate(shard_s, 1):
    r = load(f"s{i}")
    runs = sum(p["end"] - p["start"] for p in r["shard"]["parts"])
    print(f"shard {i}/{n}: {s:7.1f} s, {len(r['kernels'])} boots, {runs} test runs")
print(f"longest shard {max(shard_s):.1f} s = {max(shard_s) / whole:.2f} of unsharded; "
      f"sum over shards {sum(shard_s):.1f} s = {sum(shard_s) / whole:.2f}; merge {merge_s:.2f} s")
same = statuses(load("merged")) == statuses(w)
print("merged run has the same tests and statuses as the unsharded one:", "yes" if same else "NO")
sys.exit(0 if same else 1)
PY
