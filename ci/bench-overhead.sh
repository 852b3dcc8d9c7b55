#!/usr/bin/env bash
# Harness overhead: wall time of `kharness run` (vng backend) on the default
# kernel against a bare `vng --run KERNEL --exec 'kharness-guest run'` of the
# same guest with the same VM shape (one vCPU and 1G under TCG, as kharness
# uses), alternated (A B A B ...) so machine drift hits both alike. Prints
# each sample, the medians and their ratio. Target: ratio <= 1.10.
# kharness runs in wall-clock perf mode here: -icount is a choice of what
# to measure, not overhead of the harness.
#
#   ci/bench-overhead.sh            # 3 rounds, whole suite
#   ROUNDS=5 FILTER='splice.*' ci/bench-overhead.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
FILTER=${FILTER:-}

ci/setup.sh >/dev/null
kharness=target/release/kharness
guest=$PWD/target/x86_64-unknown-linux-gnu/release/kharness-guest
kernel=$(ls -v /boot/vmlinuz-* | tail -n 1)
out=$(mktemp -d /tmp/kharness-bench.XXXXXX)
trap 'rm -rf "$out"' EXIT

filter_args=()
guest_filter=""
if [ -n "$FILTER" ]; then
  filter_args=(--filter "$FILTER")
  guest_filter=" '$FILTER'"
fi

# One untimed run settles the accelerator probe cache and the guest build.
"$kharness" run --quiet --backend vng --perf-mode wallclock --out "$out/warm" "${filter_args[@]}" >/dev/null || true
accel=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["accel"]["accel"])' "$out/warm/latest/results.json")
vng_accel=(--memory 1G)
[ "$accel" = tcg ] && vng_accel+=(--disable-kvm --cpus 1)
echo "kernel $kernel, accelerator $accel, $ROUNDS rounds, filter '${FILTER:-<all>}'"

now() { date +%s.%N; }
minus() { python3 -c "import sys; print(float(sys.argv[1]) - float(sys.argv[2]))" "$1" "$2"; }
h=() b=()
for i in $(seq "$ROUNDS"); do
  t0=$(now)
  "$kharness" run --quiet --backend vng --perf-mode wallclock --out "$out/runs" "${filter_args[@]}" >/dev/null || true
  t1=$(now)
  vng --run "$kernel" "${vng_accel[@]}" --exec "$guest run$guest_filter" >/dev/null 2>&1 || true
  t2=$(now)
  h+=("$(minus "$t1" "$t0")")
  b+=("$(minus "$t2" "$t1")")
  printf 'round %d: kharness run %6.2f s   bare vng %6.2f s\n' "$i" "${h[-1]}" "${b[-1]}"
done

python3 - "${h[*]}" "${b[*]}" <<'PY'
import statistics, sys
h = [float(x) for x in sys.argv[1].split()]
b = [float(x) for x in sys.argv[2].split()]
mh, mb = statistics.median(h), statistics.median(b)
print(f"median: kharness run {mh:.2f} s, bare vng {mb:.2f} s, ratio {mh/mb:.3f} "
      f"(overhead {100*(mh/mb-1):+.1f}%, target <= +10%)")
PY
