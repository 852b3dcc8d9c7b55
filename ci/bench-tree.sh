#!/usr/bin/env bash
# `kharness run --tree DIR --base HEAD` on a git copy of Debian's 6.12
# source, the way a kernel developer uses it: edit, run, edit again, run
# again. Prints the time of each run and of each build in it (kbuild
# steps from kharness's own "built in" lines), so the second run shows
# what "incremental" costs.
#
#   1. a git repository made from $SRC (a hard-link copy; the edits below
#      replace files, so $SRC itself is never written);
#   2. one-line edit of fs/splice.c (tee() on a non-pipe fails with EBADF,
#      kernel-patches/mutants/15-*): run 1 builds HEAD in a scratch
#      worktree (or reuses its image) and the working tree (a hard-link
#      mirror, built out of tree), and must name tee.non_pipe_einval;
#   3. a second one-line edit of fs/splice.c (vmsplice of an empty iovec
#      fails with EINVAL, mutants/17-*): run 2 reuses the base image and
#      rebuilds the working tree incrementally, and must name
#      vmsplice.errors.
#
# The first run on a machine compiles the base from scratch unless ccache
# already holds it (any scratch tree kharness built before: their objects
# are shared, see README "Working trees"). Exit 1 when a run does not
# report what the edit changed.
#
#   ci/bench-tree.sh
#   SRC=~/linux JOBS=4 ci/bench-tree.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=${SRC:-/usr/src/linux-source-6.12}
JOBS=${JOBS:-$(nproc)}
FILTERS=(--filter tee.non_pipe_einval --filter vmsplice.errors)

[ -x target/release/kharness ] || ci/setup.sh >/dev/null
kharness=$PWD/target/release/kharness
work=$(mktemp -d /tmp/kharness-btree.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The same path as harness/tests/tree_e2e.rs: kharness keys its mirror and
# scratch worktree by the tree's path, so either warms the other's builds.
tree=${TREE:-$PWD/target/tmp/tree-e2e/linux}
rm -rf "$tree"
mkdir -p "$(dirname "$tree")"

t0=$(date +%s.%N)
cp -al "$SRC" "$tree"
git -C "$tree" init -q
# Debian's tree ignores what a release tarball should not hold: -f.
git -C "$tree" add -f -A .
# Fixed identity and dates: the same commit id every time (and the one
# harness/tests/tree_e2e.rs makes), so a rerun reuses the base image.
GIT_AUTHOR_DATE=2026-01-01T00:00:00Z GIT_COMMITTER_DATE=2026-01-01T00:00:00Z \
  git -C "$tree" -c user.name=kharness -c user.email=kharness@localhost commit -q -m base
echo "git copy of $SRC: $(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.0f}')" "$t0" "$(date +%s.%N)") s"
echo "jobs $JOBS; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

run() { # NAME EXPECTED_TEST
  local name=$1 want=$2 t code=0
  t=$(date +%s.%N)
  "$kharness" run --tree "$tree" --base HEAD "${FILTERS[@]}" --build-jobs "$JOBS" \
    --out "$work/runs" >"$work/$name.out" 2>"$work/$name.err" || code=$?
  local took
  took=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$t" "$(date +%s.%N)")
  echo "$name: ${took} s in all, exit $code"
  grep -E '\] (built in|reusing)' "$work/$name.err" | sed 's/^kharness: /  /'
  if [ "$code" != 1 ] || ! python3 - "$work/runs/latest/series.json" "$want" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
found = [c for c in s["changes"] if c["test"] == sys.argv[2] and c["what"] == "status"]
for c in found:
    print(f"  reported: {c['test']} {c['from']} -> {c['to']}")
sys.exit(0 if found else 1)
EOF
  then
    echo "$name did not report $want (exit $code); stderr tail:" >&2
    tail -n 30 "$work/$name.err" >&2
    exit 1
  fi
}

edit_vmsplice() {
python3 - "$tree/fs/splice.c" <<'EOF'
import os, sys
p = sys.argv[1]
s = open(p).read()
old = "\tif (!iov_iter_count(&iter))\n\t\terror = 0;\n"
assert s.count(old) == 1, "vmsplice's empty-iovec check not found"
# A new file renamed into place, as editors write: the hard-linked
# original in $SRC stays as it was.
open(p + ".new", "w").write(s.replace(old, "\tif (!iov_iter_count(&iter))\n\t\terror = -EINVAL;\n"))
os.rename(p + ".new", p)
EOF
}

sed -i 's/^\tssize_t ret = -EINVAL;$/\tssize_t ret = -EBADF;/' "$tree/fs/splice.c"
git -C "$tree" diff --stat | tail -1
run "run 1 (edit 1)" tee.non_pipe_einval

edit_vmsplice
run "run 2 (edit 2)" vmsplice.errors
git -C "$tree" status --porcelain --ignored | sed 's/^/  tree status after both runs: /'

# The two edits as two commits: `series HEAD~2..HEAD` reuses the base image
# and builds each commit incrementally in the scratch worktree.
commit() {
  GIT_AUTHOR_DATE=2026-01-01T00:00:00Z GIT_COMMITTER_DATE=2026-01-01T00:00:00Z \
    git -C "$tree" -c user.name=kharness -c user.email=kharness@localhost commit -q -am "$1"
}
git -C "$tree" stash -q
sed -i 's/^\tssize_t ret = -EINVAL;$/\tssize_t ret = -EBADF;/' "$tree/fs/splice.c"
commit "splice: tee EBADF"
edit_vmsplice
commit "splice: vmsplice EINVAL"
t=$(date +%s.%N)
code=0
"$kharness" series HEAD~2..HEAD --tree "$tree" "${FILTERS[@]}" --build-jobs "$JOBS" \
  --out "$work/runs" >"$work/series.out" 2>"$work/series.err" || code=$?
echo "series HEAD~2..HEAD: $(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$t" "$(date +%s.%N)") s in all, exit $code"
grep -E '\] (built in|reusing)' "$work/series.err" | sed 's/^kharness: /  /'
sed -n '/^What each patch changed/,/^$/p' "$work/series.out" | sed 's/^/  /'
[ "$code" = 1 ] || { tail -n 30 "$work/series.err" >&2; exit 1; }
