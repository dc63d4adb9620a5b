#!/usr/bin/env python3
"""EVTX dump benchmark: plainsight against libevtx and python-evtx.

Builds (or reuses) merged benchmark files under bench/work/dump/ with
make-corpus.py, then times each tool writing to /dev/null: wall time
(median of --runs runs; plainsight gets one warm-up run first, which also
puts the file in the page cache for the peers) and peak RSS (GNU /usr/bin/time %M). python-evtx (~0.2 MB/s) runs
--py-runs times on a strided sample of --py-chunks chunks of the same file
and its time is extrapolated linearly to the full size; that row says so.
Finally the whole shared corpus as separate files in one plainsight process,
against the same chunks merged into one file, gives the per-file overhead.

Prints a markdown table ready for the README. Normally started by
bench/dump.sh, which builds plainsight first.
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(HERE, "work", "dump")   # bench/work/ is git-ignored
CORPUS_DIRS = ("evtx-attack-samples", "hayabusa-sample-evtx", "sigma-regression")
GNU_TIME = "/usr/bin/time"


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--plainsight", required=True)
    ap.add_argument("--corpus", default=os.path.normpath(os.path.join(HERE, "..", "..",
                                                                      "shared", "corpus")))
    ap.add_argument("--size-mb", type=float, default=256, help="size of each merged file")
    ap.add_argument("--modes", default="shared,dense", help="make-corpus.py modes to run")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--py-runs", type=int, default=1)
    ap.add_argument("--py-chunks", type=int, default=32, help="python-evtx sample size")
    ap.add_argument("--smoke", action="store_true",
                    help="tiny inputs, one run each: checks the script in seconds")
    args = ap.parse_args()
    if args.smoke:
        args.size_mb, args.runs, args.py_runs, args.py_chunks = 2, 1, 1, 2
    return args


# ---------------------------------------------------------------- inputs

def make_corpus(*argv):
    """Run make-corpus.py and return the output file's metadata."""
    out = argv[argv.index("--out") + 1]
    subprocess.run([sys.executable, os.path.join(HERE, "make-corpus.py")] + list(argv),
                   check=True, stdout=subprocess.DEVNULL)
    with open(out + ".json") as f:
        meta = json.load(f)
    meta["path"] = out
    return meta


def cached_corpus(args, mode):
    """The merged file for a mode, rebuilt only when its parameters changed."""
    out = os.path.join(WORK, "%s-%gMB.evtx" % (mode, args.size_mb))
    meta_path = out + ".json"
    if os.path.exists(out) and os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        meta["path"] = out
        return meta
    return make_corpus("--corpus", args.corpus, "--out", out, "--mode", mode,
                       "--size-mb", str(args.size_mb))


def python_sample(args, big):
    out = big["path"].replace(".evtx", "-py%d.evtx" % args.py_chunks)
    return make_corpus("--sample-of", big["path"], "--out", out, "--chunks", str(args.py_chunks))


# ---------------------------------------------------------------- measuring

def run_once(cmd):
    """(wall seconds, peak RSS KiB) of one run, output to /dev/null."""
    with tempfile.NamedTemporaryFile("r") as rss:
        t0 = time.perf_counter()
        p = subprocess.run([GNU_TIME, "-f", "%M", "-o", rss.name] + cmd,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - t0
        text = rss.read().strip().splitlines()
    if p.returncode != 0:
        tail = p.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        print("warning: %s exited %d %s" % (os.path.basename(cmd[0]), p.returncode, tail),
              file=sys.stderr)
    return elapsed, int(text[-1]) if text and text[-1].isdigit() else 0


def measure(cmd, runs, warmup=False):
    if warmup:
        run_once(cmd)
    samples = [run_once(cmd) for _ in range(max(1, runs))]
    return {"seconds": statistics.median(s[0] for s in samples),
            "rss_kib": statistics.median(s[1] for s in samples), "runs": len(samples)}


def count_jsonl_records(plainsight, path):
    """Records plainsight prints (one JSON object per line): a sanity check
    that the timed runs really decode everything."""
    p = subprocess.Popen([plainsight, "dump", "--format", "jsonl", path],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    n = sum(1 for line in p.stdout if line.strip())
    p.wait()
    return n


# ---------------------------------------------------------------- rows

def row(label, tool, res, meta, note=""):
    s = res["seconds"]
    return {"input": label, "tool": tool, "runs": res["runs"], "seconds": s,
            "mbps": meta["bytes"] / 1e6 / s, "rps": meta["records"] / s,
            "rss_mib": res["rss_kib"] / 1024, "note": note}


def bench_file(args, meta):
    """Rows for one merged file: plainsight 1 and 2 threads, libevtx, python-evtx."""
    path, ps = meta["path"], args.plainsight
    label = "%s (%.0f MB, %d rec/chunk)" % (meta["mode"], meta["bytes"] / 1e6,
                                             meta["records_per_chunk"])
    got = count_jsonl_records(ps, path)
    if got != meta["records"]:
        print("warning: plainsight printed %d records, the file has %d"
              % (got, meta["records"]), file=sys.stderr)
    rows = []
    for threads in (1, 2):
        res = measure([ps, "dump", "--format", "jsonl", "--threads", str(threads), path],
                      args.runs, warmup=True)
        rows.append(row(label, "plainsight jsonl, %d thread%s" % (threads, "s"[:threads > 1]),
                        res, meta))
    res = measure(["evtxexport", "-f", "xml", path], args.runs)
    rows.append(row(label, "libevtx evtxexport -f xml", res, meta))
    rows.append(python_row(args, meta, label))
    return rows


def python_row(args, meta, label):
    small = python_sample(args, meta)
    res = measure(["evtx_dump.py", small["path"]], args.py_runs, warmup=False)
    r = row(label, "python-evtx evtx_dump.py", res, small)
    # Same throughput on the full file: scale the time by the size.
    r["seconds"] = res["seconds"] * meta["bytes"] / small["bytes"]
    r["note"] = ("extrapolated from %d run(s) on a %d-chunk strided sample (%.1f MB, %d records)"
                 % (res["runs"], small["chunks"], small["bytes"] / 1e6, small["records"]))
    return r


def bench_per_file(args):
    """plainsight on the corpus as separate files vs the same chunks merged."""
    subs = CORPUS_DIRS[2:] if args.smoke else CORPUS_DIRS   # smoke: 202 small files
    dirs = [os.path.join(args.corpus, d) for d in subs if os.path.isdir(os.path.join(args.corpus, d))]
    files = [os.path.join(r, f) for d in dirs for r, _, fs in os.walk(d)
             for f in fs if f.endswith(".evtx")]
    nbytes = sum(os.path.getsize(f) for f in files)
    merged = os.path.join(WORK, "all-%s.evtx" % ("smoke" if args.smoke else "corpus"))
    meta = make_corpus("--corpus", args.corpus, "--dirs", ",".join(subs), "--out", merged,
                       "--mode", "all")
    cmd = [args.plainsight, "dump", "--format", "jsonl", "--threads", "1"]
    sep = measure(cmd + dirs, args.runs, warmup=True)
    one = measure(cmd + [merged], args.runs, warmup=True)
    return {"files": len(files), "bytes": nbytes, "separate": sep, "merged": one,
            "merged_bytes": meta["bytes"]}


# ---------------------------------------------------------------- report

def print_table(rows):
    """The README table; python-evtx rows get a numbered footnote."""
    notes = []
    print("| input | tool | runs | seconds | MB/s | records/s | peak RSS MiB |"
          " plainsight 1T / 2T speed-up |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        ps = [x for x in rows if x["input"] == r["input"] and x["tool"].startswith("plainsight")]
        ratio = ""
        if not r["tool"].startswith("plainsight") and len(ps) == 2:
            ratio = "x%.1f / x%.1f" % (r["seconds"] / ps[0]["seconds"],
                                       r["seconds"] / ps[1]["seconds"])
        mark = approx = ""
        if r["note"]:
            notes.append(r["note"])
            mark, approx = " (%d)" % len(notes), "≈ "
        print("| %s | %s%s | %d | %s%.3f | %s | %s | %.1f | %s |" % (
            r["input"], r["tool"], mark, r["runs"], approx, r["seconds"], fmt_mbps(r["mbps"]),
            fmt_rate(r["rps"]), r["rss_mib"], ratio))
    print()
    for i, n in enumerate(notes, 1):
        print("(%d) %s; seconds scaled to the full file size, MB/s, records/s and RSS"
              " are the sample's." % (i, n))


def fmt_mbps(x):
    return "%.1f" % x if x >= 10 else "%.2f" % x


def fmt_rate(x):
    return "%.2f M" % (x / 1e6) if x >= 1e6 else "%.1f k" % (x / 1e3) if x >= 1e3 else "%.0f" % x


def print_per_file(pf):
    sep, one = pf["separate"]["seconds"], pf["merged"]["seconds"]
    print()
    print("| input | runs | seconds | per file | overhead per file (vs merged) |")
    print("|---|---:|---:|---:|---:|")
    print("| %d separate files, %.1f MB, one process | %d | %.3f | %.0f µs | %.0f µs |" % (
        pf["files"], pf["bytes"] / 1e6, pf["separate"]["runs"], sep,
        sep / pf["files"] * 1e6, (sep - one) / pf["files"] * 1e6))
    print("| the same non-empty chunks merged, %.1f MB | %d | %.3f | | |" % (
        pf["merged_bytes"] / 1e6, pf["merged"]["runs"], one))


def describe_machine(args):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print("Machine: %s, %d CPUs, Linux %s. plainsight %s (%s), evtxexport %s, "
          "python-evtx %s." % (cpu, os.cpu_count() or 0, platform.release(),
                               version([args.plainsight, "--version"]),
                               os.environ.get("PS_BENCH_REVISION") or args.plainsight,
                               version(["evtxexport", "-V"]), pkg_version("python3-evtx")))


def version(cmd):
    out = subprocess.run(cmd, capture_output=True, text=True).stdout.split()
    return next((w for w in out if w[:1].isdigit()), "?")


def pkg_version(pkg):
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg],
                         capture_output=True, text=True).stdout
    return out or "?"


def main():
    args = parse_args()
    for tool in (GNU_TIME, "evtxexport", "evtx_dump.py"):
        if not shutil.which(tool):
            sys.exit("bench: %s not found (scripts/install-deps installs it)" % tool)
    if not os.path.isdir(args.corpus):
        sys.exit("bench: corpus %s not found" % args.corpus)
    os.makedirs(WORK, exist_ok=True)
    rows = []
    for mode in args.modes.split(","):
        meta = cached_corpus(args, mode)
        print("measuring %s ..." % os.path.basename(meta["path"]), file=sys.stderr)
        rows += bench_file(args, meta)
    print("measuring the corpus as separate files ...", file=sys.stderr)
    pf = bench_per_file(args)
    print()
    describe_machine(args)
    print("Median of %d runs (plainsight after a warm-up run), file in the page cache, "
          "output to /dev/null; peak RSS by GNU time." % args.runs)
    print()
    print_table(rows)
    print_per_file(pf)


if __name__ == "__main__":
    main()
