#!/usr/bin/env bash
# `kharness bisect` on a real git history: harness/tests/bisect_e2e.rs
# (Debian's 6.12 source as the root commit, 16 commits on it: commit 5
# breaks tee.non_pipe_einval, commit 11 slows perf.splice_file_to_pipe),
# run twice, and the figures of both bisections of each run printed:
# commits N, kernels tested (ends included; the bound is ceil(log2 N) + 2),
# builds, boots, wall time, and per step the commit, its verdict, its build
# and VM time.
#
#   1. "cold": a fresh kharness cache (KHARNESS_CACHE_DIR under a
#      temporary directory): a new scratch worktree, whose first build is
#      all ccache hits when ccache has seen the tree, then every step an
#      incremental build;
#   2. "warm": the same cache again: every image is kept, so a bisection
#      costs its boots.
#
# WARM_ONLY=1 skips the cold run (and uses the normal cache). The test
# itself fails (and this script with it) when a bisection names the wrong
# commit or tests more kernels than the bound.
#
#   ci/bench-bisect.sh
#   WARM_ONLY=1 ci/bench-bisect.sh
set -euo pipefail
cd "$(dirname "$0")/.."

runs=$PWD/target/tmp/bisect-e2e/runs
work=$(mktemp -d /tmp/kharness-bbisect.XXXXXX)
# The cold run's scratch worktree lives in $work: forget it in the test
# repository too when it goes.
trap 'rm -rf "$work"; git -C target/tmp/tree-e2e/linux worktree prune 2>/dev/null || true' EXIT

figures() { # LABEL
python3 - "$runs" "$1" <<'EOF'
import json, math, os, sys
runs, label = sys.argv[1], sys.argv[2]
for kind in ("status", "metric"):
    path = os.path.join(runs, kind, "latest", "bisect.json")
    b = json.load(open(path))
    n = b["commits"]
    bound = math.ceil(math.log2(n)) + 2
    culprit = b["culprits"][0]
    print(f"{label} {kind} bisect ({b['test']} {b['criterion']['kind']}): N={n} "
          f"kernels={b['kernels']} (bound {bound}) built={b['builds']} boots={b['boots']} "
          f"wall={b['wall_s']:.0f}s -> {culprit[0][:12]} {culprit[1]}")
    for st in b["steps"]:
        build = f"built {st['build_s']:.0f}s" if st["built"] else "image kept"
        print(f"  {st['role']:<5} {st['index']:>2} {st['commit'][:12]} {st['verdict']:<4} "
              f"{build:<11} vm {st['vm_s']:.1f}s ({st['boots']} boot(s))")
EOF
}

run() { # LABEL
  local t0 t1
  echo "$1: load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  t0=$(date +%s)
  cargo nextest run --locked -p kharness --test bisect_e2e --run-ignored all \
    >"$work/$1.log" 2>&1 || { tail -n 40 "$work/$1.log" >&2; exit 1; }
  t1=$(date +%s)
  echo "$1: the test took $((t1 - t0)) s; load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
  figures "$1"
}

cargo nextest run --locked -p kharness --test bisect_e2e --no-run >/dev/null 2>&1
if [ "${WARM_ONLY:-0}" != 1 ]; then
  export KHARNESS_CACHE_DIR=$work/cache
  run cold
fi
run warm
