#!/bin/sh
# Benchmark `plainsight hunt`: all of SigmaHQ's Windows rules over the merged
# benchmark corpus of bench/dump.sh, beside plainsight's own `dump` of the
# same file to /dev/null in the same run.
#
#   bench/hunt.sh [--smoke] [--size-mb N] [--mode shared|dense] [--runs N]
#                 [--rules DIR] [--corpus DIR]
#
# Reports rule load time, events/s, MB/s, user CPU and peak RSS (GNU time)
# with 1 and 2 threads, and hunt's speed as a fraction of dump's (target: at
# least 0.5), counted two ways: the whole command, rule load included, and
# the events alone (each run less the load time it reports, to the ms). Hunt runs
# with its prefilter cache in bench/work/hunt-cache, emptied first: one run
# without the cache (--no-cache) gives the cold load, the warm-up fills the
# cache and the timed runs read it. Peak RSS target: under 64 MiB. One more
# row hunts the same events as JSON lines (plainsight dump's output, cached
# beside the merged file), the input of logs exported from a SIEM. The merged
# file is built by bench/make-corpus.py and cached under bench/work/dump/,
# shared with bench/dump.sh. --smoke runs on a 2 MB file, one run each, in
# seconds. Never run by CI. Set PLAINSIGHT=/path/to/plainsight to measure an
# existing binary instead of building build-bench/.
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
import argparse, os, re, shutil, statistics, subprocess, sys, tempfile, time

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
cache = os.path.join(os.path.dirname(bench.WORK), "hunt-cache")
shutil.rmtree(cache, ignore_errors=True)


def run_once(cmd):
    """(wall s, user s, peak RSS KiB, stderr text); output to /dev/null."""
    with tempfile.NamedTemporaryFile("r") as tf:
        t0 = time.perf_counter()
        p = subprocess.run([bench.GNU_TIME, "-f", "%U %M", "-o", tf.name] + cmd,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall = time.perf_counter() - t0
        last = (tf.read().strip().splitlines() or ["0 0"])[-1].split()
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode not in (0, 1):
        sys.exit("bench/hunt.sh: %s exited %d: %s" % (cmd[:2], p.returncode, err[-300:]))
    return wall, float(last[0]), int(last[1]), err


def load_seconds(stderr):
    m = re.search(r"rules: (\d+) loaded in ([0-9.]+) s \((\d+) skipped\)", stderr)
    return (float(m.group(2)), int(m.group(1)), int(m.group(3))) if m else (0.0, 0, 0)


def summary(samples):
    """Medians; `events` is each run's wall time less that run's rule load
    (hunt reports it to the millisecond), the median of those, and
    `events_min` the least."""
    med = lambda k: statistics.median(x[k] for x in samples)
    loads = [load_seconds(x[3])[0] for x in samples]
    events = [max(x[0] - l, 1e-9) for x, l in zip(samples, loads)]
    return {"s": med(0), "user": med(1), "rss": med(2) / 1024, "err": samples[-1][3],
            "load": statistics.median(loads), "min": min(x[0] for x in samples),
            "events": statistics.median(events), "events_min": min(events)}


def measure(*cmds):
    """The commands' runs interleaved (on a shared machine each then sees
    much the same load), after one warm-up of each: page cache, rule files
    and hunt's prefilter cache."""
    for cmd in cmds:
        run_once(cmd)
    samples = [[] for _ in cmds]
    for _ in range(max(1, args.runs)):
        for i, cmd in enumerate(cmds):
            samples[i].append(run_once(cmd))
    return [summary(x) for x in samples]


# The same events as JSON lines (plainsight's dump, evtx_dump's layout: what
# hunt reads from a SIEM export), made once beside the merged file.
jsonl = meta["path"] + ".jsonl"
if not os.path.exists(jsonl) or os.path.getmtime(jsonl) < os.path.getmtime(meta["path"]):
    with open(jsonl + ".tmp", "wb") as out:
        subprocess.run([ps, "dump", "-q", meta["path"]], stdout=out, check=True)
    os.replace(jsonl + ".tmp", jsonl)
jsonl_mb = os.path.getsize(jsonl) / 1e6

loads = [os.getloadavg()[0]]
rows = []
for threads in (1, 2):
    hunt = [ps, "hunt", "-r", rules, "-t", str(threads), "-f", "csv", "-o", "/dev/null"]
    d, warm, cold, js = measure([ps, "dump", "-q", "-t", str(threads), "-o", "/dev/null", meta["path"]],
                                hunt + ["--cache-dir", cache, meta["path"]],
                                hunt + ["--no-cache", meta["path"]],
                                hunt + ["--cache-dir", cache, jsonl])
    _, loaded, skipped = load_seconds(warm["err"])
    found = re.search(r"hunt: (\d+) detections", warm["err"])
    rows.append((threads, d, cold, warm, loaded, skipped, int(found.group(1)) if found else -1, js))
loads.append(os.getloadavg()[0])

mb, rec = meta["bytes"] / 1e6, meta["records"]
print()
bench.describe_machine(argparse.Namespace(plainsight=ps))
print("Input: %s (%.0f MB, %d records, mode %s). Rules: %s. Median of %d runs after a "
      "warm-up, dump and hunt runs interleaved, output to /dev/null, peak RSS by GNU time; "
      "%s. Load average %.1f before, %.1f after." % (
          os.path.basename(meta["path"]), mb, rec, args.mode, rules, args.runs,
          os.environ.get("REVISION", "?"), loads[0], loads[1]))
print()
print("| threads | command | seconds | user s | events/s | MB/s | peak RSS MiB | rule load s | "
      "events only: events/s, MB/s |")
print("|---:|---|---:|---:|---:|---:|---:|---:|---|")
for threads, d, cold, warm, loaded, skipped, found, js in rows:
    print("| %d | dump --format jsonl > /dev/null | %.3f | %.2f | %.0f | %.1f | %.1f | | |" % (
        threads, d["s"], d["user"], rec / d["s"], mb / d["s"], d["rss"]))
    for label, h in (("hunt, prefilter cache warm", warm), ("hunt --no-cache (cold)", cold)):
        ev = h["events"]
        print("| %d | %s (%d rules, %d skipped; %d detections) | %.3f | %.2f | %.0f | %.1f | "
              "%.1f | %.3f | %.0f, %.1f |" % (
                  threads, label, loaded, skipped, found, h["s"], h["user"], rec / h["s"],
                  mb / h["s"], h["rss"], h["load"], rec / ev, mb / ev))
    ev = js["events"]
    print("| %d | hunt of the same events as JSON lines (%.0f MB; MB/s of JSON) | %.3f | %.2f | "
          "%.0f | %.1f | %.1f | %.3f | %.0f, %.1f |" % (
              threads, jsonl_mb, js["s"], js["user"], rec / js["s"], jsonl_mb / js["s"],
              js["rss"], js["load"], rec / ev, jsonl_mb / ev))
print()
for threads, d, cold, warm, *_ in rows:
    whole, events = d["s"] / warm["s"], d["s"] / warm["events"]
    print("threads %d: fastest runs: dump %.3f s, hunt %.3f s (cache warm), %.3f s (cold); "
          "events alone %.3f s: %.2f of dump's fastest" % (
              threads, d["min"], warm["min"], cold["min"], warm["events_min"],
              d["min"] / warm["events_min"]))
    print("threads %d: by the medians, hunt runs at %.2f of dump's speed, rule load included (%.2f with a cold "
          "cache), %.2f for the events alone (target >= 0.5: %s included, %s events alone); "
          "peak RSS %.1f MiB (target < 64: %s)" % (
              threads, whole, d["s"] / cold["s"], events, "met" if whole >= 0.5 else "NOT met",
              "met" if events >= 0.5 else "NOT met", max(warm["rss"], cold["rss"]),
              "met" if max(warm["rss"], cold["rss"]) < 64 else "NOT met"))
PYEOF
