#!/bin/sh
# Benchmark `plainsight dump` against libevtx (evtxexport) and python-evtx.
#
#   bench/dump.sh [--smoke] [--size-mb N] [--modes shared,dense] [--runs N]
#                 [--py-chunks K] [--corpus DIR]
#
# Builds plainsight (Release) in build-bench/, builds the merged benchmark
# files under bench/work/ (git-ignored; reused on later runs), measures, and
# prints a markdown table for the README. --smoke checks the whole pipeline
# on tiny inputs in a few seconds. Never run by CI. Needs the packages from
# scripts/install-deps (libevtx-utils, python3-evtx, time).
# Set PLAINSIGHT=/path/to/plainsight to measure an existing binary instead.
set -eu
cd "$(dirname "$0")/.."
if [ -z "${PLAINSIGHT:-}" ]; then
  BUILD=${PS_BENCH_BUILD_DIR:-build-bench}
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DPS_WERROR=ON >/dev/null
  cmake --build "$BUILD" -j "$(nproc 2>/dev/null || echo 2)" --target plainsight >/dev/null
  PLAINSIGHT=$BUILD/plainsight
fi
exec python3 bench/bench.py --plainsight "$PLAINSIGHT" "$@"
