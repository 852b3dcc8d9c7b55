#!/usr/bin/env bash
# The mutation corpus, measured: runs every one-patch series under
# kernel-patches/mutants/ through `kharness series` against Debian's 6.12
# source, all on ONE base build, and says per mutant whether the suite
#
#   killed   a test of the mutant's step fails, crashes, times out or is
#            warned where the base step's run of it did not,
#   noticed  only an observation, a metric or a skip/error changed,
#   missed   nothing changed,
#
# then the kill rate. The base is built once (the first mutant builds it;
# every later one reuses its bzImage, keyed by tree, config and patchset),
# and every mutant is an incremental rebuild of the same scratch tree and
# build directory: patching one file and reverting the previous mutant's
# file recompiles those two objects and relinks. Step build times are
# printed so that can be checked.
#
# Each mutant boots only the areas its series.toml names (`--filter
# signals` for a signal mutant): the verdict comes from the whole of each
# such area as the normal suite runs it, and a boot stays a few seconds.
# FULL=1 runs the whole suite on every step instead.
#
#   ci/bench-mutants.sh                        # every mutant
#   ci/bench-mutants.sh kernel-patches/mutants/04-*   # some of them
#   FULL=1 ci/bench-mutants.sh                 # whole suite per step
#   CHECK=1 ci/bench-mutants.sh                # only: patches apply, named tests exist
#
# The cache (KHARNESS_CACHE_DIR, default /var/tmp/kharness-mutants) keeps
# the base, every mutant's bzImage and the scratch tree: a rerun after a
# change to the guest tests rebuilds nothing and only boots.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${SRC:-/usr/src/linux-source-6.12}
KHARNESS=${KHARNESS:-target/release/kharness}
export KHARNESS_CACHE_DIR=${KHARNESS_CACHE_DIR:-/var/tmp/kharness-mutants}

[ -f "$SRC/Makefile" ] || { echo "no kernel source at $SRC (ci/setup.sh unpacks it; or set SRC)" >&2; exit 2; }
[ -x "$KHARNESS" ] || { echo "no $KHARNESS: run ci/setup.sh (or cargo build --release -p kharness)" >&2; exit 2; }

if [ "$#" -gt 0 ]; then
  mutants=("$@")
else
  mutants=(kernel-patches/mutants/*/)
fi
# CHECK=1: only check the corpus, in seconds: every patch applies to the
# source, and every test a series.toml names exists.
if [ -n "${CHECK:-}" ]; then
  ids=$("$KHARNESS" list --format json 2>/dev/null | python3 -c 'import json,sys; print("\n".join(json.loads(l)["id"] for l in sys.stdin))')
  bad=0
  for m in "${mutants[@]}"; do
    m=${m%/}
    while read -r p; do
      case $p in ''|'#'*) continue ;; esac
      (cd "$SRC" && git apply --check "$OLDPWD/$m/$p") || { echo "$m: $p does not apply" >&2; bad=1; }
    done <"$m/series"
    for t in $(sed -n 's/^test *= *"\(.*\)"/\1/p' "$m/series.toml"); do
      grep -qx "$t" <<<"$ids" || { echo "$m: series.toml names $t, which is no test" >&2; bad=1; }
    done
  done
  [ "$bad" = 0 ] && echo "${#mutants[@]} mutants: every patch applies, every named test exists"
  exit "$bad"
fi
out=${OUT:-$(mktemp -d /tmp/kharness-mutants.XXXXXX)}
mkdir -p "$out"
echo "mutants: ${#mutants[@]} on $SRC ($(make -s -C "$SRC" kernelversion 2>/dev/null)), $(nproc) cores, cache $KHARNESS_CACHE_DIR"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s)
verdicts=$out/verdicts.tsv
: >"$verdicts"
for m in "${mutants[@]}"; do
  m=${m%/}
  name=$(basename "$m")
  filters=()
  if [ -z "${FULL:-}" ]; then
    # The areas (the part of a test id before the dot) series.toml names.
    for area in $(sed -n 's/^test *= *"\([a-z0-9_]*\)\..*/\1/p' "$m/series.toml" | sort -u); do
      filters+=(--filter "$area")
    done
  fi
  run_out=$out/$name
  t0=$(date +%s)
  set +e
  nice "$KHARNESS" series "$m" --tree "$SRC" --backend qemu --perf-mode wallclock \
    --out "$run_out" "${filters[@]}" >"$out/$name.stdout" 2>"$out/$name.stderr"
  code=$?
  set -e
  t1=$(date +%s)
  if [ ! -f "$run_out/latest/series.json" ]; then
    printf '%s\tbroken\t%s\t\t\tkharness series exit %s: %s\n' "$name" "$((t1 - t0))" "$code" \
      "$(tail -n 1 "$out/$name.stderr")" >>"$verdicts"
    printf '%-48s broken (exit %s, see %s)\n' "$name" "$code" "$out/$name.stderr"
    continue
  fi
  python3 - "$run_out/latest" "$name" "$((t1 - t0))" >>"$verdicts" <<'EOF'
import json, os, sys
run, name, secs = sys.argv[1], sys.argv[2], sys.argv[3]
series = json.load(open(os.path.join(run, "series.json")))
results = json.load(open(os.path.join(run, "results.json")))
BAD = {"fail", "crashed", "timeout", "warned"}
kernels = results["kernels"]
def statuses(k):
    return {r["id"]: r["status"] for r in k["records"]}
base = statuses(kernels[0]) if kernels else {}
step = statuses(kernels[1]) if len(kernels) > 1 else {}
killed = sorted(t for t, s in step.items() if s in BAD and base.get(t) not in BAD)
changes = [c for c in series["changes"] if c["patch"] == 1]
noticed = sorted({f"{c['test']} {c['what']}" for c in changes})
build = next((s for s in series["steps"] if s["label"] == "+1"), None)
build_s = "reused" if build and build.get("reused") else (f"{build['build_s']:.0f}" if build else "-")
named = [c for c in series.get("expectations", [])]
named_ok = sum(1 for c in named if c["met"])
# A step whose boot died before any test ran has no verdict on the
# mutant: every record of it is an error that says "not run".
ran = [r for r in kernels[1]["records"]
       if not (r["status"] == "error" and (r.get("reason") or "").startswith("not run"))] if len(kernels) > 1 else []
if len(kernels) < 2:
    verdict, detail = "broken", series.get("stopped") or "the mutant step did not boot"
elif not ran:
    verdict, detail = "broken", f"the mutant step's suite did not run (boot {kernels[1].get('outcome')})"
elif killed:
    verdict, detail = "killed", ", ".join(killed)
elif noticed:
    verdict, detail = "noticed", "; ".join(noticed)
else:
    verdict, detail = "missed", ""
print(f"{name}\t{verdict}\t{secs}\t{build_s}\t{named_ok}/{len(named)}\t{detail}")
EOF
  tail -n 1 "$verdicts" | awk -F'\t' '{b = ($4 == "reused") ? "reused" : $4 " s"; printf "%-48s %-8s %4ss (build %s, named %s) %s\n", $1, $2, $3, b, $5, $6}'
done
end=$(date +%s)
python3 - "$verdicts" "$((end - start))" <<'EOF'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
n = len(rows)
count = {v: sum(1 for r in rows if r[1] == v) for v in ("killed", "noticed", "missed", "broken")}
rate = 100.0 * count["killed"] / n if n else 0.0
print(f"killed {count['killed']}, noticed {count['noticed']}, missed {count['missed']}, broken {count['broken']} of {n}: kill rate {rate:.0f}% in {sys.argv[2]} s")
EOF
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "runs and logs: $out"
