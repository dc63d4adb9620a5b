#!/bin/sh
# Benchmark `plainsight hunt`: all of SigmaHQ's Windows rules over the merged
# benchmark corpus of bench/dump.sh, beside plainsight's own `dump` of the
# same file to /dev/null in the same run.
#
#   bench/hunt.sh [--smoke] [--size-mb N] [--mode shared|dense] [--runs N]
#                 [--rules DIR] [--corpus DIR]
#
# Reports rule load time, events/s, MB/s and peak RSS (GNU time %M) with 1
# and 2 threads, and hunt's speed as a fraction of dump's (target: at least
# 0.5) and its peak RSS (target: under 64 MiB). The merged file is built by
# bench/make-corpus.py and cached under bench/work/dump/, shared with
# bench/dump.sh. --smoke runs on a 2 MB file, one run each, in seconds.
# Never run by CI. Set PLAINSIGHT=/path/to/plainsight to measure an existing
# binary instead of building build-bench/.
set -eu
cd "$(dirname "$0")/.."
if [ -z "${PLAINSIGHT:-}" ]; then
  BUILD=${PS_BENCH_BUILD_DIR:-build-bench}
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DPS_WERROR=ON >/dev/null
  cmake --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)" --target plainsight >/dev/null
  PLAINSIGHT=$BUILD/plainsight
fi
REVISION="commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
git diff --quiet HEAD -- src include CMakeLists.txt 2>/dev/null || REVISION="$REVISION-dirty"
export PLAINSIGHT REVISION
exec python3 - "$@" <<'PYEOF'
import argparse, os, re, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, "bench")
import bench  # bench/bench.py: the merged corpus cache, shared with dump.sh

ap = argparse.ArgumentParser(prog="bench/hunt.sh")
ap.add_argument("--corpus", default=os.path.normpath(os.path.join("..", "shared", "corpus")))
ap.add_argument("--rules", default=None, help="default: CORPUS/sigma/rules/windows")
ap.add_argument("--size-mb", type=float, default=64)
ap.add_argument("--mode", default="shared", choices=("shared", "dense"))
ap.add_argument("--runs", type=int, default=3)
ap.add_argument("--smoke", action="store_true")
args = ap.parse_args(sys.argv[1:])
if args.smoke:
    args.size_mb, args.runs = 2, 1
rules = args.rules or os.path.join(args.corpus, "sigma", "rules", "windows")
ps = os.environ["PLAINSIGHT"]
for need in (bench.GNU_TIME, ps):
    if not os.path.exists(need):
        sys.exit("bench/hunt.sh: %s not found" % need)
if not os.path.isdir(rules):
    sys.exit("bench/hunt.sh: rules %s not found" % rules)
os.makedirs(bench.WORK, exist_ok=True)
meta = bench.cached_corpus(args, args.mode)


def run_once(cmd):
    """(wall s, peak RSS KiB, stderr text); output to /dev/null."""
    with tempfile.NamedTemporaryFile("r") as rss:
        t0 = time.perf_counter()
        p = subprocess.run([bench.GNU_TIME, "-f", "%M", "-o", rss.name] + cmd,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall = time.perf_counter() - t0
        lines = rss.read().split()
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode not in (0, 1):
        sys.exit("bench/hunt.sh: %s exited %d: %s" % (cmd[:2], p.returncode, err[-300:]))
    return wall, int(lines[-1]) if lines and lines[-1].isdigit() else 0, err


def measure(cmd):
    run_once(cmd)  # warm-up: page cache, rule files
    samples = [run_once(cmd) for _ in range(max(1, args.runs))]
    return {"s": statistics.median(x[0] for x in samples),
            "rss": statistics.median(x[1] for x in samples) / 1024, "err": samples[-1][2]}


def load_seconds(stderr):
    m = re.search(r"rules: (\d+) loaded in ([0-9.]+) s \((\d+) skipped\)", stderr)
    return (float(m.group(2)), int(m.group(1)), int(m.group(3))) if m else (0.0, 0, 0)


rows = []
for threads in (1, 2):
    d = measure([ps, "dump", "-q", "-t", str(threads), "-o", "/dev/null", meta["path"]])
    h = measure([ps, "hunt", "-r", rules, "-t", str(threads), "-f", "csv", "-o", "/dev/null",
                 meta["path"]])
    load, loaded, skipped = load_seconds(h["err"])
    found = re.search(r"hunt: (\d+) detections", h["err"])
    rows.append((threads, d, h, load, loaded, skipped, int(found.group(1)) if found else -1))

mb, rec = meta["bytes"] / 1e6, meta["records"]
print()
bench.describe_machine(argparse.Namespace(plainsight=ps))
print("Input: %s (%.0f MB, %d records, mode %s). Rules: %s. Median of %d runs after a "
      "warm-up, output to /dev/null, peak RSS by GNU time; %s." % (
          os.path.basename(meta["path"]), mb, rec, args.mode, rules, args.runs,
          os.environ.get("REVISION", "?")))
print()
print("| threads | command | seconds | events/s | MB/s | peak RSS MiB | note |")
print("|---:|---|---:|---:|---:|---:|---|")
for threads, d, h, load, loaded, skipped, found in rows:
    print("| %d | dump --format jsonl > /dev/null | %.2f | %.0f | %.1f | %.1f | |" % (
        threads, d["s"], rec / d["s"], mb / d["s"], d["rss"]))
    match_s = max(h["s"] - load, 1e-9)
    print("| %d | hunt (%d rules; %d skipped) | %.2f | %.0f | %.1f | %.1f | rule load %.2f s; "
          "matching only: %.0f events/s, %.1f MB/s; %d detections |" % (
              threads, loaded, skipped, h["s"], rec / h["s"], mb / h["s"], h["rss"], load,
              rec / match_s, mb / match_s, found))
print()
for threads, d, h, load, *_ in rows:
    ratio = d["s"] / h["s"]
    print("threads %d: hunt runs at %.2f of dump's speed (target >= 0.5: %s), peak RSS "
          "%.1f MiB (target < 64: %s)" % (threads, ratio, "met" if ratio >= 0.5 else "NOT met",
                                          h["rss"], "met" if h["rss"] < 64 else "NOT met"))
PYEOF
