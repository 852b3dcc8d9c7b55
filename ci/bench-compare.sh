#!/usr/bin/env bash
# Acceptance figures for `kharness compare` (issue: performance you can
# trust on a noisy machine):
#
#   A/A  PAIRS independent pairs of runs of the same kernel, each pair
#        compared; counts the comparisons that report a regression
#        (target: at most 1 in 20).
#   A/B  the demo series (patch 2 slows the file->pipe splice path):
#        the per-patch report must name +2 with a negative change and a
#        confidence interval that excludes 0.
#
# Kernel: the small config (base step of the demo series, built once and
# then taken from kharness's cache), booted with the qemu backend. Perf
# mode: auto (deterministic under TCG; set MODE=wallclock to see the
# same comparisons on raw wall time).
#
#   ci/bench-compare.sh                        # 20 pairs, reps 5, tag:perf
#   PAIRS=5 FILTER=perf.splice_file_to_pipe ci/bench-compare.sh
#   BOOTS=2 ci/bench-compare.sh                # each run boots twice (A B A B)
set -euo pipefail
cd "$(dirname "$0")/.."
PAIRS=${PAIRS:-20}
REPS=${REPS:-5}
BOOTS=${BOOTS:-1}
MODE=${MODE:-auto}
FILTER=${FILTER:-tag:perf}
SRC=${SRC:-/usr/src/linux-source-6.12}

ci/setup.sh >/dev/null
kharness=$PWD/target/release/kharness
guest=$PWD/target/x86_64-unknown-linux-gnu/release/kharness-guest
out=$(mktemp -d /tmp/kharness-bcmp.XXXXXX)
trap 'rm -rf "$out"' EXIT
boots=()
[ "$BOOTS" != 1 ] && boots=(--boots "$BOOTS")
common=(--backend qemu --perf-mode "$MODE" --reps "$REPS" "${boots[@]}" --guest "$guest" --quiet)

echo "== A/B: kernel-patches/demo-splice-regression, --reps $REPS ${boots[*]}, perf mode $MODE"
set +e
"$kharness" series kernel-patches/demo-splice-regression --tree "$SRC" \
  --filter perf.splice_file_to_pipe --filter tee.duplicate_content "${common[@]}" \
  --out "$out/series" >"$out/series.out" 2>"$out/series.err"
code=$?
set -e
[ "$code" -le 1 ] || { tail -n 20 "$out/series.err" >&2; exit "$code"; }
sed -n '/^What each patch changed/,/^First patch/p' "$out/series.out" | grep -v '^First patch'
small=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["steps"][0]["bzimage"])' "$out/series/latest/series.json")
python3 - "$out/series/latest/series.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
hits = [c for c in s["changes"] if c["patch"] == 2 and c["test"] == "perf.splice_file_to_pipe"
        and c["what"] == "metric throughput"]
if not hits:
    sys.exit("A/B: FAIL: patch 2 not named for the throughput change")
print(f"A/B: patch 2 named for throughput: {hits[0].get('from')} -> {hits[0].get('to')}")
EOF

echo
echo "== A/A: $PAIRS pairs of runs of $small, filter $FILTER"
regressions=0
for i in $(seq 1 "$PAIRS"); do
  for side in a b; do
    "$kharness" run --kernel "$small" --filter "$FILTER" "${common[@]}" --out "$out/aa-$i-$side" \
      >/dev/null 2>"$out/aa.err" || { tail -n 20 "$out/aa.err" >&2; exit 3; }
  done
  set +e
  "$kharness" compare "$out/aa-$i-a/latest" "$out/aa-$i-b/latest" >"$out/cmp-$i.txt" 2>&1
  c=$?
  set -e
  [ "$c" -le 1 ] || { cat "$out/cmp-$i.txt" >&2; exit "$c"; }
  if [ "$c" = 1 ]; then
    regressions=$((regressions + 1))
    echo "pair $i: REGRESSION reported"
    grep -E 'REGRESSION|status ' "$out/cmp-$i.txt" | head -n 5
  else
    echo "pair $i: no regression ($(grep -E '^  metrics:' "$out/cmp-$i.txt" | sed 's/^  metrics: //'))"
  fi
done
echo "A/A: $regressions of $PAIRS comparisons reported a regression (target: at most $((PAIRS / 20)))"
