#!/usr/bin/env python3
"""Compare two builds of plainsight on one command, interleaved.

    bench/ab.py [--runs N] OLD_BINARY NEW_BINARY -- ARGS...

runs `OLD ARGS...` and `NEW ARGS...` N times each (default 12), alternating
which goes first, output to /dev/null, and prints for each the child's CPU
time (user + system) and wall time: minimum, first quartile and median. On a
shared 2-vCPU machine wall time moves by 10% or more from run to run; CPU
time of interleaved runs is the steadier figure for a change of a few
percent. Exit status 0; the numbers are for a person to judge. Example:

    bench/ab.py /tmp/plainsight-main build-bench/plainsight -- \\
        hunt -q -t 1 -r ../shared/corpus/sigma/rules/windows --format csv \\
        -o /dev/null bench/work/dump/shared-256MB.evtx
"""
import argparse
import resource
import statistics
import subprocess
import sys
import time


def one_run(cmd):
    """(CPU seconds, wall seconds) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode not in (0, 1):
        sys.exit("bench/ab.py: %s exited %d" % (cmd[0], p.returncode))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def summary(values):
    s = sorted(values)
    return "min %.3f  q1 %.3f  median %.3f" % (s[0], s[len(s) // 4], statistics.median(s))


def main():
    argv = sys.argv[1:]
    if "--" not in argv:
        sys.exit(__doc__)
    split = argv.index("--")
    ap = argparse.ArgumentParser(prog="bench/ab.py")
    ap.add_argument("--runs", type=int, default=12)
    ap.add_argument("old")
    ap.add_argument("new")
    opts = ap.parse_args(argv[:split])
    args = argv[split + 1:]
    binaries = [opts.old, opts.new]
    cpu = {b: [] for b in binaries}
    wall = {b: [] for b in binaries}
    for k in range(opts.runs):
        for b in binaries if k % 2 == 0 else binaries[::-1]:
            c, w = one_run([b] + args)
            cpu[b].append(c)
            wall[b].append(w)
    for label, b in (("old", opts.old), ("new", opts.new)):
        print("%s %s" % (label, b))
        print("  cpu  " + summary(cpu[b]))
        print("  wall " + summary(wall[b]))


if __name__ == "__main__":
    main()
