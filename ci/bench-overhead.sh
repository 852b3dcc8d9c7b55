#!/usr/bin/env bash
# Harness overhead against bare virtme-ng, on the default path: the wall
# time of
#
#   bare   vng --run KERNEL --exec 'kharness-guest run' (one vCPU and 1G
#          under TCG, the VM shape kharness uses),
#   det    `kharness run` as the README's first command runs it (its
#          defaults: deterministic perf mode under TCG),
#   wall   `kharness run --perf-mode wallclock`,
#
# on the default kernel, alternated (bare det wall bare det wall ...) so
# machine drift hits all three alike. Prints each round, the medians, and
# both ratios against bare vng. Targets: wall <= 1.05, det <= 1.10. Bare
# vng is what a user would type; kharness's vng boots skip work it does
# (vm::vng::UNUSED_DRIVERS, vm::virtiofsd), so ratios under 1 are real.
# For each kharness run it also prints what kharness spent outside the VM
# (the process's wall time minus its boots' `wall_s`: the accelerator
# probe, guest and kernel checks, reports), and the load average per round:
# the machine may be shared, so compare the ratios, not the seconds.
#
# With BASELINE=path/to/another/kharness (e.g. a build of the previous
# commit) each round also times that binary's two runs, with this
# checkout's guest, right after this one's, and prints its ratios: a
# before/after of a change under the same load.
#
#   ci/bench-overhead.sh            # 3 rounds, whole suite
#   ROUNDS=5 FILTER='splice.*' ci/bench-overhead.sh
#   BASELINE=/tmp/kharness-before ci/bench-overhead.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. ci/lib.sh
ROUNDS=${ROUNDS:-3}
FILTER=${FILTER:-}
BASELINE=${BASELINE:-}

ci/setup.sh >/dev/null
kharness=target/release/kharness
guest=$PWD/target/x86_64-unknown-linux-gnu/release/kharness-guest
# The vng kharness itself would use: PATH first, then its own environment
# (where ci/setup.sh puts it), whose bin/ vng needs on PATH for virtme-run.
if vng=$(command -v vng 2>/dev/null); then
  vng_path=$PATH
else
  vng=$(venv_dir kharness)/bin/vng
  vng_path=$(dirname "$vng"):$PATH
fi
[ -x "$vng" ] || { echo "no vng (ci/setup.sh installs it)" >&2; exit 2; }
[ -z "$BASELINE" ] || [ -x "$BASELINE" ] || { echo "BASELINE=$BASELINE: not an executable" >&2; exit 2; }
out=$(mktemp -d /tmp/kharness-bench.XXXXXX)
trap 'rm -rf "$out"' EXIT

filter_args=()
guest_filter=""
if [ -n "$FILTER" ]; then
  filter_args=(--filter "$FILTER")
  guest_filter=" '$FILTER'"
fi

# One untimed run settles the accelerator probe cache; it also says which
# kernel the default is.
"$kharness" run --quiet --out "$out/warm" "${filter_args[@]}" >/dev/null || true
read -r accel kernel < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(r["accel"]["accel"], r["kernels"][0]["identity"]["path"])' "$out/warm/latest/results.json")
vng_shape=(--memory 1G)
[ "$accel" = tcg ] && vng_shape+=(--disable-kvm --cpus 1)
echo "kernel $kernel, accelerator $accel, $ROUNDS rounds, filter '${FILTER:-<all>}', load $(cut -d' ' -f1-3 /proc/loadavg)"

now() { date +%s.%N; }
minus() { python3 -c "import sys; print(float(sys.argv[1]) - float(sys.argv[2]))" "$1" "$2"; }
# Each timed command must succeed (exit 0, or 1 for a test failure of the
# kernel): a run that failed to start, or whose guest died, timed something
# else. Its time is printed as nan, and its round left out of the medians.
timed() {
  local t0 rc=0
  t0=$(now)
  "$@" >"$out/last.log" 2>&1 || rc=$?
  if [ "$rc" -gt 1 ]; then
    echo "failed (exit $rc), its round is left out: $*" >&2
    tail -n 5 "$out/last.log" >&2
    echo nan
    return
  fi
  minus "$(now)" "$t0"
}
# timed for bare vng, whose own failures (no busybox for its initramfs,
# say) also exit 1: the run counts only if the guest's KTAP plan came out.
timed_bare() {
  local t
  t=$(timed "$@")
  if [ "$t" != nan ] && ! grep -q '^1\.\.[0-9]' "$out/last.log"; then
    echo "failed (the guest never started), its round is left out: $*" >&2
    tail -n 3 "$out/last.log" >&2
    t=nan
  fi
  echo "$t"
}
# Seconds the latest kharness run under $out/runs spent outside its VMs,
# given the run's wall time.
outside() {
  python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
vm = sum(b["wall_s"] for k in r["kernels"] for b in k["boots"])
print(f"{float(sys.argv[2]) - vm:.2f}")' "$out/runs/latest/results.json" "$1" 2>/dev/null || echo nan
}
b=() d=() w=() od=() ow=() bd=() bw=()
for i in $(seq "$ROUNDS"); do
  b+=("$(timed_bare env PATH="$vng_path" "$vng" --run "$kernel" "${vng_shape[@]}" --exec "$guest run$guest_filter")")
  d+=("$(timed "$kharness" run --quiet --out "$out/runs" "${filter_args[@]}")")
  od+=("$(outside "${d[-1]}")")
  [ -z "$BASELINE" ] || bd+=("$(timed "$BASELINE" run --quiet --guest "$guest" --out "$out/runs" "${filter_args[@]}")")
  w+=("$(timed "$kharness" run --quiet --perf-mode wallclock --out "$out/runs" "${filter_args[@]}")")
  ow+=("$(outside "${w[-1]}")")
  [ -z "$BASELINE" ] || bw+=("$(timed "$BASELINE" run --quiet --perf-mode wallclock --guest "$guest" --out "$out/runs" "${filter_args[@]}")")
  printf 'round %d: bare vng %6.2f s   kharness run %6.2f s (%.2f s outside the VM)   --perf-mode wallclock %6.2f s (%.2f s outside)   load %s\n' \
    "$i" "${b[-1]}" "${d[-1]}" "${od[-1]}" "${w[-1]}" "${ow[-1]}" "$(cut -d' ' -f1 /proc/loadavg)"
  [ -z "$BASELINE" ] || printf '         baseline: kharness run %6.2f s   --perf-mode wallclock %6.2f s\n' "${bd[-1]}" "${bw[-1]}"
done

python3 - "${b[*]}" "${d[*]}" "${w[*]}" "${od[*]} ${ow[*]}" "${bd[*]}" "${bw[*]}" <<'PY'
import math, statistics, sys
b, d, w, o, bd, bw = ([float(x) for x in a.split()] for a in sys.argv[1:7])
baseline = bool(bd)
if not baseline:
    bd = bw = [0.0] * len(b)
rounds = [r for r in zip(b, d, w, bd, bw) if not any(map(math.isnan, r))]
if len(rounds) < len(b):
    print(f"{len(b) - len(rounds)} of {len(b)} rounds left out (a run failed)")
if not rounds:
    sys.exit(1)
b, d, w, bd, bw = zip(*rounds)
o = [x for x in o if not math.isnan(x)]
mb, md, mw = statistics.median(b), statistics.median(d), statistics.median(w)
print(f"median: bare vng {mb:.2f} s, kharness run {md:.2f} s, --perf-mode wallclock {mw:.2f} s")
print(f"kharness outside the VM: median {statistics.median(o):.2f} s, max {max(o):.2f} s")
print(f"ratio, default (deterministic) to bare vng: {md/mb:.3f} (target <= 1.10)")
print(f"ratio, wall-clock mode to bare vng:         {mw/mb:.3f} (target <= 1.05)")
if baseline:
    # Per round, then the median: each ratio within the load of its round.
    rd = statistics.median(x / y for x, y in zip(bd, b))
    rw = statistics.median(x / y for x, y in zip(bw, b))
    print(f"baseline: kharness run {statistics.median(bd):.2f} s (ratio {statistics.median(bd)/mb:.3f}), "
          f"--perf-mode wallclock {statistics.median(bw):.2f} s (ratio {statistics.median(bw)/mb:.3f})")
    print(f"per-round ratios to bare vng, medians: default {statistics.median(x / y for x, y in zip(d, b)):.3f} "
          f"(baseline {rd:.3f}), wall-clock {statistics.median(x / y for x, y in zip(w, b)):.3f} (baseline {rw:.3f})")
PY
