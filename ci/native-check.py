"""Judges a native guest run (its --results JSON events) for ci/test.sh:
every test that did not pass or skip must be a known bug of the host
kernel, listed in ci/host-kernel-bugs.tsv, failing for the listed reason.

    python3 ci/native-check.py RESULTS.jsonl ci/host-kernel-bugs.tsv
"""

import fnmatch
import json
import platform
import sys


def main(results_path, bugs_path):
    release = platform.release()
    known = {}
    with open(bugs_path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 4:
                print(f"{bugs_path}:{n}: expected 4 tab-separated fields", file=sys.stderr)
                return 2
            test, glob, text, why = fields
            if fnmatch.fnmatch(release, glob):
                known[test] = (text, why)
    bad, allowed, fixed, results, done = [], [], [], {}, None
    with open(results_path) as f:
        for line in f:
            ev = json.loads(line)
            if ev.get("event") == "result":
                results[ev["id"]] = ev
            elif ev.get("event") == "done":
                done = ev
    for test, ev in results.items():
        status, reason = ev["status"], ev.get("reason") or ""
        if status in ("pass", "skip"):
            if test in known:
                fixed.append(test)
            continue
        if test in known and known[test][0] in reason:
            allowed.append((test, known[test][1]))
        else:
            bad.append((test, status, reason))
    for test, why in allowed:
        print(f"native: {test} fails, a known bug of host kernel {release}: {why}")
    for test in fixed:
        print(f"native: {test} passes on {release}, which ci/host-kernel-bugs.tsv lists as buggy: drop the line")
    for test, status, reason in bad:
        print(f"native: {test} {status}: {reason}")
    if not results or done is None:
        print(f"native: the run did not finish ({len(results)} results, no done event)")
        return 1
    print(f"native: {len(results)} tests, {len(bad)} unexpected, {len(allowed)} known host-kernel bugs")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
