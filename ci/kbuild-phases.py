#!/usr/bin/env python3
"""Where the seconds of a kernel build go, from kbuild's own output.

    make ... 2>&1 | ci/kbuild-phases.py stamp >LOG   # each line: "<seconds>\t<line>"
    ci/kbuild-phases.py report LOG                  # the phases of that build

`stamp` prefixes every line with the seconds since it started and ends
with an `END` line when its input closes (make has exited). kbuild
prints a step's quiet line (`  CC      fs/splice.o`) when the step starts,
so the time from one line to the next is the time of the first step plus
make's own work in between. After `LD vmlinux.o` the build is serial
(one link step waits for the last), so there the deltas are the steps.

`report` sums them into phases:

    walk       make reading Makefiles and .cmd files, prepare, host tools
    compile    compiling what changed (with objtool on each object)
    archives   `AR` of the built-in.a files and vmlinux.a
    vmlinux.o  the relocatable link of everything
    modpost    modpost, version and export objects before the final links
    kallsyms   link passes that exist only to lay out the symbol table
               (.tmp_vmlinux*: ld, nm, kallsyms, as)
    link       the final `LD vmlinux`, System.map, sorttable
    bzImage    everything under arch/x86/boot: objcopy, relocs,
               compression, the decompressor's link, setup, build
               (the last phase runs until make exits)

and lists the serial steps from `LD vmlinux.o` on, one line each.
"""
import re
import sys
import time

STEP = re.compile(r"^  ([A-Z0-9_]{1,8}) +(\S.*)$")


def stamp():
    start = time.monotonic()
    for line in sys.stdin:
        sys.stdout.write(f"{time.monotonic() - start:.3f}\t{line}")
        sys.stdout.flush()
    sys.stdout.write(f"{time.monotonic() - start:.3f}\tEND\n")


def read(path):
    lines = []
    for raw in open(path, errors="replace"):
        t, _, text = raw.rstrip("\n").partition("\t")
        try:
            lines.append((float(t), text))
        except ValueError:
            continue
    return lines


def phase_of(tag, target, seen):
    """The phase a step line starts, given what was seen before it."""
    if tag == "LD" and target == "vmlinux.o":
        return "vmlinux.o"
    if ".tmp_vmlinux" in target:
        return "kallsyms"
    if tag == "LD" and target == "vmlinux":
        return "link"
    if "arch/x86/boot" in target and "link" in seen:
        return "bzImage"
    if seen and seen[-1] in ("vmlinux.o", "modpost"):
        return "modpost"
    if seen and seen[-1] == "link":
        return "link"
    if tag == "AR":
        return "archives"
    if tag in ("CC", "AS", "LDS", "CPP") and "vmlinux.o" not in seen:
        return "compile"
    return seen[-1] if seen else "walk"


def report(path):
    lines = read(path)
    if not lines or lines[-1][1] != "END":
        sys.exit(f"{path}: no END line (not written by `kbuild-phases.py stamp`?)")
    end = lines[-1][0]
    order, totals = [], {}
    serial = []
    current, since = "walk", 0.0
    seen = []
    steps = [(t, m.group(1), m.group(2)) for t, text in lines if (m := STEP.match(text))]
    for i, (t, tag, target) in enumerate(steps):
        phase = phase_of(tag, target, seen)
        if phase != current:
            totals[current] = totals.get(current, 0.0) + t - since
            if current not in order:
                order.append(current)
            current, since = phase, t
            if not seen or seen[-1] != phase:
                seen.append(phase)
        if "vmlinux.o" in seen:
            nxt = steps[i + 1][0] if i + 1 < len(steps) else end
            serial.append((nxt - t, tag, target))
    totals[current] = totals.get(current, 0.0) + end - since
    if current not in order:
        order.append(current)
    print(f"  {'phase':<10} {'wall':>7}")
    for p in order:
        print(f"  {p:<10} {totals[p]:>6.2f} s")
    print(f"  {'total':<10} {end:>6.2f} s")
    if serial:
        print("  serial steps from `LD vmlinux.o` (until the next line):")
        for d, tag, target in serial:
            print(f"    {d:6.2f} s  {tag:<8} {target}")


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "stamp":
        stamp()
    elif len(sys.argv) == 3 and sys.argv[1] == "report":
        report(sys.argv[2])
    else:
        sys.exit(__doc__)
