#!/bin/sh
# Benchmark: plainsight scan (hashing on, IOCs + YARA) against the yara CLI
# (YARA only) with the same rules and externals, on a generated tree.
#
#   bench/scan.sh            ~3000 files, ~300 MB (first run generates them)
#   bench/scan.sh --smoke    ~200 files, ~10 MB, runs in seconds
#
# Environment: PLAINSIGHT (binary; default build-scan/plainsight or build/),
# BASELINE (another plainsight binary, e.g. an older build: one more row),
# CORPUS (default ../shared/corpus), THREADS (default "1 2").
# The tree lives under bench/work/ (git-ignored). Not run by CI.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
corpus=${CORPUS:-$top/../shared/corpus}
sb=$corpus/signature-base
threads=${THREADS:-"1 2"}
if [ -n "${PLAINSIGHT:-}" ]; then ps=$PLAINSIGHT
elif [ -x "$top/build-scan/plainsight" ]; then ps=$top/build-scan/plainsight
else ps=$top/build/plainsight; fi

nfiles=3000 mb=300 name=full
if [ "${1:-}" = "--smoke" ]; then nfiles=200 mb=10 name=smoke; fi
for need in "$ps" /usr/bin/yara /usr/bin/time; do
    [ -x "$need" ] || { echo "scan.sh: $need not found" >&2; exit 2; }
done
[ -d "$sb/yara" ] || { echo "scan.sh: $sb not found (set CORPUS)" >&2; exit 2; }

tree=$here/work/scan-$name
if [ ! -d "$tree" ]; then
    python3 "$here/scan-gen.py" "$tree" "$nfiles" "$mb" "$sb/yara"
fi
rules=$(find "$sb/yara" -name '*.yar' -o -name '*.yara' | sort)
files=$(find "$tree" -type f | wc -l)
bytes=$(find "$tree" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
cat "$(find "$tree" -type f)" >/dev/null 2>&1 || find "$tree" -type f -exec cat {} + >/dev/null
echo "tree: $files files, $(awk "BEGIN {printf \"%.1f\", $bytes/1e6}") MB ($tree); page cache warm"
echo "rules: $(echo "$rules" | wc -l) YARA files from $sb/yara; IOCs: $sb/iocs (plainsight only)"
echo

# measure LABEL CMD... -> prints one row. CPU time (user + system) is the
# figure compared: the machine is shared, so wall time is noisy. The yara CLI
# gets the same externals Loki defines (empty values: it has no per-file
# externals).
measure() {
    label=$1; shift
    /usr/bin/time -f '%e %U %S %M' -o "$here/work/time.txt" "$@" >/dev/null 2>"$here/work/stderr.txt" || true
    # time prints "Command exited with non-zero status 1" first when plainsight
    # reports findings (exit 1): the figures are on the last line.
    read -r secs user sys rss <<EOT
$(tail -n 1 "$here/work/time.txt")
EOT
    awk -v l="$label" -v s="$secs" -v u="$user" -v y="$sys" -v r="$rss" -v f="$files" -v b="$bytes" 'BEGIN {
        c = u + y; if (c < 0.001) c = 0.001
        printf "| %-32s | %7.2f | %7.2f | %7.2f | %8.0f | %8.1f | %7.1f |\n", l, s, c, y, f/c, b/1e6/c, r/1024 }'
    awk -v u="$user" -v y="$sys" 'BEGIN { print u + y }' > "$here/work/last.txt"
}

echo "| run                              | wall s  |  CPU s  |  sys s  | files/CPU s | MB/CPU s | RSS MB |"
echo "|----------------------------------|---------|---------|---------|----------|----------|---------|"
ratios=""
for n in $threads; do
    measure "plainsight -t$n (hash+IOC+YARA)" "$ps" scan "$tree" --iocs "$sb/iocs" --yara "$sb/yara" \
        --threads "$n" --quiet --format jsonl -o /dev/null
    pst=$(cat "$here/work/last.txt")
    if [ -n "${BASELINE:-}" ]; then
        measure "baseline -t$n (hash+IOC+YARA)" "$BASELINE" scan "$tree" --iocs "$sb/iocs" \
            --yara "$sb/yara" --threads "$n" --quiet --format jsonl -o /dev/null
    fi
    # shellcheck disable=SC2086
    measure "yara -r -p $n (YARA only)" /usr/bin/yara -w -r -p "$n" -d filename= -d filepath= \
        -d extension= -d filetype= -d md5= -d owner= $rules "$tree"
    yt=$(cat "$here/work/last.txt")
    ratios="$ratios$(awk -v a="$pst" -v b="$yt" -v n="$n" 'BEGIN { if (a < 0.001) a = 0.001
        printf "at %s thread(s): yara CPU / plainsight CPU = %.2f (above 1: plainsight cheaper)\n", n, b/a }')
"
done
echo
printf "%s" "$ratios"
