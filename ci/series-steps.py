#!/usr/bin/env python3
"""Prints a series run's steps as the benchmarks show them: per step its
build time (or "reused"), the VM's wall time, the time inside tests, the
rest (boot and power-off), and its results by status; then each kernel
complaint with its test, and how many series.toml expectations were met;
then, per built step, where make's time went (kharness's phases: walk,
compile, archives, vmlinux.o, modpost, kallsyms, link, bzImage; each good
to the 0.2 s kharness reads the build log at).

    ci/series-steps.py RUN_DIR        (a run directory: series.json, results.json)
"""
import json
import os
import sys

run = sys.argv[1]
series = json.load(open(os.path.join(run, "series.json")))
results = json.load(open(os.path.join(run, "results.json")))
kernels = {k.get("label") or k["identity"]["release"]: k for k in results["kernels"]}
print(f"{'step':<6} {'build':>9} {'VM wall':>9} {'tests':>8} {'boot+off':>9}  results")
for step in series["steps"]:
    k = kernels.get(step["label"])
    build = "reused" if step.get("reused") else f"{step['build_s']:.1f} s"
    if k is None:
        print(f"{step['label']:<6} {build:>9}  (not booted)")
        continue
    recs = k["records"]
    tests = sum(r["duration_us"] for r in recs) / 1e6
    wall = k["wall_s"]
    counts = {}
    for r in recs:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    print(f"{step['label']:<6} {build:>9} {wall:>7.1f} s {tests:>6.1f} s {wall - tests:>7.1f} s  {summary}")
    for r in recs:
        for f in r.get("kernel_findings", []):
            print(f"       {r['id']}: {r['status']}, {f.get('signature', f['kind'])}")
expectations = series.get("expectations", [])
if expectations:
    unmet = [e for e in expectations if not e.get("met")]
    print(f"expectations: {len(expectations) - len(unmet)} of {len(expectations)} met")
built = [s for s in series["steps"] if s.get("build_phases")]
if built:
    names = []
    for s in built:
        for p in s["build_phases"]:
            if p["name"] not in names:
                names.append(p["name"])
    print("build phases (wall seconds):")
    print(f"{'step':<6} " + " ".join(f"{n:>9}" for n in names))
    for s in built:
        got = {p["name"]: p["seconds"] for p in s["build_phases"]}
        cells = [f"{got[n]:>9.1f}" if n in got else f"{'':>9}" for n in names]
        print(f"{s['label']:<6} " + " ".join(cells))
