#!/usr/bin/env bash
# Boot-to-first-test: how long from starting `kharness run` until the guest
# suite writes its first line, the small config (images/kharness.config)
# on the qemu backend under TCG, three ways, alternated in each round:
#
#   before          the path kharness took until 2026-12-07: the bzImage,
#                   -icount shift=0, the APIC timer calibrated at boot
#                   (kharness's own command line, rewritten back by a
#                   wrapper given as --qemu)
#   deterministic   today's default under TCG: the vmlinux through its PVH
#                   entry, -icount shift=4, nolapic_timer
#   wallclock       the same with --perf-mode wallclock (no -icount)
#
# Per sample it prints the host-side time (kharness started -> first record
# in the results file, polled every 10 ms) and the guest's own uptime when
# the suite started (/proc/uptime, in the suite's first record; guest time,
# so 16x longer at shift 4 than at shift 0 for the same instructions). One
# fast test per boot. Then, unless SUITE_ROUNDS=0, the whole suite (one
# rep, one boot) in deterministic and wall-clock mode, timed end to end.
# It prints medians and ratios: figures taken under load are slower, the
# ratios hold better. The small-config kernel is the base step of the demo
# series (built once, then taken from kharness's cache).
#
# Targets: deterministic one-test boot at most 1.0 s host-side median;
# the whole suite in deterministic mode at most 1.2x wall-clock mode.
#
#   ci/bench-boot.sh                 # 3 rounds, 2 suite rounds
#   ROUNDS=5 SUITE_ROUNDS=0 ci/bench-boot.sh
#   VNG=1 ci/bench-boot.sh           # also vng + Debian 6.12 and vng + small
#   SMALL_KERNEL=~/linux-build/arch/x86/boot/bzImage ci/bench-boot.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
SUITE_ROUNDS=${SUITE_ROUNDS:-2}
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

# The previous path, from today's command line: the bzImage instead of
# the vmlinux, shift 0, no nolapic_timer.
cat >"$out/qemu-before" <<EOF
#!/usr/bin/env bash
args=()
prev=
for a in "\$@"; do
  case "\$prev" in -kernel) a="$SMALL_KERNEL" ;; esac
  case "\$a" in shift=*,align=off,sleep=off) a=shift=0,align=off,sleep=off ;; esac
  prev=\$a
  args+=("\${a// nolapic_timer/}")
done
exec qemu-system-x86_64 "\${args[@]}"
EOF
chmod +x "$out/qemu-before"

echo "small kernel $SMALL_KERNEL ($(stat -c %s "$SMALL_KERNEL") bytes)"
echo "test $TEST, $ROUNDS rounds, $(nproc) cores; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$kharness" "$guest" "$out" "$ROUNDS" "$TEST" "$DEBIAN_KERNEL" "$SMALL_KERNEL" "${VNG:-}" "$SUITE_ROUNDS" <<'EOF'
import glob, json, os, statistics, subprocess, sys, time
kharness, guest, out, rounds, test, debian, small, vng, suite_rounds = sys.argv[1:]
before = ["--qemu", os.path.join(out, "qemu-before"), "--perf-mode", "deterministic"]
configs = [
    ("qemu before (bzImage, shift 0)", "qemu", small, before),
    ("qemu deterministic (default)", "qemu", small, ["--perf-mode", "deterministic"]),
    ("qemu wallclock", "qemu", small, ["--perf-mode", "wallclock"]),
]
if vng:
    configs += [
        ("vng  + Debian 6.12, wallclock", "vng", debian, ["--perf-mode", "wallclock"]),
        ("vng  + small, wallclock", "vng", small, ["--perf-mode", "wallclock"]),
    ]
n = 0

def run(backend, kernel, extra, filters):
    global n
    n += 1
    d = os.path.join(out, f"run-{n}")
    argv = [kharness, "run", "--quiet", "--backend", backend, "--kernel", kernel,
            "--guest", guest, "--out", d, *extra]
    for f in filters:
        argv += ["--filter", f]
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    first = None
    while p.poll() is None:
        if first is None:
            for f in glob.glob(os.path.join(d, "*", "kernels", "*", "rw", "records.jsonl")):
                if os.path.getsize(f) > 0:
                    first = time.monotonic() - t0
        time.sleep(0.01)
    total = time.monotonic() - t0
    err = p.communicate()[1].decode(errors="replace")
    if p.returncode != 0:
        sys.exit(f"{argv}: kharness exited {p.returncode}:\n{err[-2000:]}")
    rec = glob.glob(os.path.join(d, "*", "kernels", "*", "rw", "records.jsonl"))[0]
    suite = json.loads(open(rec).readline())
    cmd = open(glob.glob(os.path.join(d, "*", "kernels", "*", "command.sh"))[0]).readline()
    return first if first is not None else total, total, suite.get("uptime_s"), cmd

samples = {name: [] for name, *_ in configs}
for r in range(int(rounds)):
    for name, backend, kernel, extra in configs:
        first, _, up, cmd = run(backend, kernel, extra, [test])
        samples[name].append((first, up))
        if r == 0:
            print(f"  {name}: {cmd.strip()[:300]}")
        u = "-" if up is None else f"{up:.2f} s"
        print(f"round {r + 1}  {name:<31}: first record after {first:5.2f} s (host), guest uptime {u}", flush=True)
print()
print(f"{'configuration':<32} {'host, median':>13} {'min':>6} {'max':>6}   {'guest uptime, median':>20}")
med = {}
for name, *_ in configs:
    host = [h for h, _ in samples[name]]
    ups = [u for _, u in samples[name] if u is not None]
    med[name] = statistics.median(host)
    g = f"{statistics.median(ups):.2f} s" if ups else "-"
    print(f"{name:<32} {med[name]:>11.2f} s {min(host):>6.2f} {max(host):>6.2f}   {g:>20}")
b, d, w = (med[c[0]] for c in configs[:3])
print(f"\nratios of medians: before / deterministic {b / d:.2f}x; deterministic / wallclock {d / w:.2f}x")
print(f"target: deterministic at most 1.0 s: {'met' if d <= 1.0 else 'NOT met'} ({d:.2f} s)")

if int(suite_rounds) > 0:
    print(f"\nwhole suite, one boot, end to end, {suite_rounds} round(s):")
    suite = {"deterministic": [], "wallclock": []}
    for r in range(int(suite_rounds)):
        for mode in suite:
            _, total, _, _ = run("qemu", small, ["--perf-mode", mode, "--reps", "1"], [])
            suite[mode].append(total)
            print(f"round {r + 1}  {mode:<13}: {total:6.2f} s", flush=True)
    sd, sw = (statistics.median(suite[m]) for m in ("deterministic", "wallclock"))
    print(f"median: deterministic {sd:.2f} s, wallclock {sw:.2f} s: {sd / sw:.2f}x (target at most 1.2x)")
EOF
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
