#!/usr/bin/env bash
# Boot-to-first-test: how long from starting `kharness run` until the guest
# suite writes its first line, for three ways of booting:
#
#   vng  + Debian's 6.12 kernel        (modules, host root shared)
#   vng  + the small config            (images/kharness.config, built in)
#   qemu + the small config            (qemu-direct: kernel + initramfs, guest as PID 1)
#
# Per sample it prints the host-side time (kharness started -> first record
# in the results file, polled every 10 ms) and the guest's own uptime when
# the suite started (/proc/uptime, in the suite's first record). Wall-clock
# perf mode; one fast test per boot. The small-config kernel is the base
# step of the demo series (built once, then taken from kharness's cache).
# Target: qemu + small config under 2 s.
#
#   ci/bench-boot.sh                 # 3 rounds, configurations alternated
#   ROUNDS=5 ci/bench-boot.sh
#   SMALL_KERNEL=~/linux-build/arch/x86/boot/bzImage ci/bench-boot.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SRC=${SRC:-/usr/src/linux-source-6.12}
DEBIAN_KERNEL=${DEBIAN_KERNEL:-/boot/vmlinuz-6.12.107+deb12-amd64}
TEST=${TEST:-vmsplice.errors}

ci/setup.sh >/dev/null
kharness=$PWD/target/release/kharness
guest=$PWD/target/x86_64-unknown-linux-gnu/release/kharness-guest
out=$(mktemp -d /tmp/kharness-bboot.XXXXXX)
trap 'rm -rf "$out"' EXIT

if [ -z "${SMALL_KERNEL:-}" ]; then
  "$kharness" series kernel-patches/demo-splice-regression --tree "$SRC" --final-only \
    --filter "$TEST" --guest "$guest" --quiet --out "$out/series" >/dev/null 2>"$out/series.err" || {
    code=$?
    # 1 is the demo series doing what it was made to do; anything else is not.
    [ "$code" = 1 ] || { tail -n 20 "$out/series.err" >&2; exit "$code"; }
  }
  SMALL_KERNEL=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["steps"][0]["bzimage"])' "$out/series/latest/series.json")
fi
echo "Debian kernel $DEBIAN_KERNEL; small kernel $SMALL_KERNEL ($(stat -c %s "$SMALL_KERNEL") bytes)"
echo "test $TEST, $ROUNDS rounds; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$kharness" "$guest" "$out" "$ROUNDS" "$TEST" "$DEBIAN_KERNEL" "$SMALL_KERNEL" <<'EOF'
import glob, json, os, statistics, subprocess, sys, time
kharness, guest, out, rounds, test, debian, small = sys.argv[1:]
configs = [
    ("vng  + Debian 6.12", "vng", debian),
    ("vng  + small config", "vng", small),
    ("qemu + small config", "qemu", small),
]
samples = {name: [] for name, _, _ in configs}
for r in range(int(rounds)):
    for name, backend, kernel in configs:
        d = os.path.join(out, f"{backend}-{r}-{len(samples[name])}-{abs(hash(kernel)) % 1000}")
        argv = [kharness, "run", "--quiet", "--backend", backend, "--kernel", kernel,
                "--perf-mode", "wallclock", "--guest", guest, "--filter", test, "--out", d]
        t0 = time.monotonic()
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        first = None
        while p.poll() is None and first is None:
            for f in glob.glob(os.path.join(d, "*", "kernels", "*", "rw", "records.jsonl")):
                if os.path.getsize(f) > 0:
                    first = time.monotonic() - t0
            time.sleep(0.01)
        err = p.communicate()[1].decode(errors="replace")
        if p.returncode != 0:
            sys.exit(f"{name}: kharness exited {p.returncode}:\n{err[-2000:]}")
        rec = glob.glob(os.path.join(d, "*", "kernels", "*", "rw", "records.jsonl"))[0]
        suite = json.loads(open(rec).readline())
        up = suite.get("uptime_s")
        samples[name].append((first, up))
        print(f"round {r + 1}  {name}: first record after {first:5.2f} s (host), guest uptime {up if up is None else f'{up:.2f} s'}", flush=True)
print()
print(f"{'configuration':<22} {'host, median':>13} {'min':>6} {'max':>6}   {'guest uptime, median':>20}")
for name, _, _ in configs:
    host = [h for h, _ in samples[name]]
    ups = [u for _, u in samples[name] if u is not None]
    g = f"{statistics.median(ups):.2f} s" if ups else "-"
    print(f"{name:<22} {statistics.median(host):>11.2f} s {min(host):>6.2f} {max(host):>6.2f}   {g:>20}")
EOF
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
