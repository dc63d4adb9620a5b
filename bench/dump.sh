#!/bin/sh
# Benchmark `plainsight dump` against libevtx (evtxexport) and python-evtx.
#
#   bench/dump.sh [--smoke] [--size-mb N] [--modes shared,dense] [--runs N]
#                 [--py-chunks K] [--corpus DIR]
#
# Builds plainsight (Release) in build-bench/, builds the merged benchmark
# files under bench/work/dump/ (git-ignored; reused on later runs), measures, and
# prints a markdown table for the README. --smoke checks the whole pipeline
# on tiny inputs in a few seconds. Never run by CI. Needs the packages from
# scripts/install-deps (libevtx-utils, python3-evtx, time). The default run
# (2 x 256 MB, 5 runs) takes about 10 minutes on 2 vCPUs, mostly evtxexport.
# Set PLAINSIGHT=/path/to/plainsight to measure an existing binary instead
# (and PS_BENCH_REVISION to name it in the report).
set -eu
cd "$(dirname "$0")/.."
if [ -z "${PLAINSIGHT:-}" ]; then
  BUILD=${PS_BENCH_BUILD_DIR:-build-bench}
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DPS_WERROR=ON >/dev/null
  cmake --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)" --target plainsight >/dev/null
  PLAINSIGHT=$BUILD/plainsight
  # Name the measured revision in the report (dirty: uncommitted changes).
  PS_BENCH_REVISION="commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  git diff --quiet HEAD -- src include CMakeLists.txt 2>/dev/null || PS_BENCH_REVISION="$PS_BENCH_REVISION-dirty"
  export PS_BENCH_REVISION
fi
exec python3 bench/bench.py --plainsight "$PLAINSIGHT" "$@"
