#!/usr/bin/env python3
"""plainsight hunt keeps its detections in bounded memory: past a budget
(PLAINSIGHT_HUNT_SORT_MEMORY bytes, 8 MiB by default) they are sorted in runs
written to a nameless temporary file in $TMPDIR and merged at the end.

On two JSON-lines exports written here (120,000 detections, times that tie
across files, records and rules), the timeline must be byte for byte the
same whether everything stays in memory, spills a few runs or spills so
many that they are merged in several passes, with 1, 2 and 80 threads, as CSV
and JSON lines; the summary and the --html report too. A spilling run's
peak RSS must stay far below an in-memory run's. A $TMPDIR that cannot be written gives a warning
and the same output, from memory. No file is left in $TMPDIR.
"""

import json
import os
import random
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pslib  # noqa: E402

RULES = {
    "all.yml": """title: Every Process
id: 22222222-0000-4000-8000-000000000001
level: low
logsource: {product: windows, category: process_creation}
detection:
  sel:
    CommandLine|contains: '.exe'
  condition: sel
""",
    "odd.yml": """title: Odd Ones
id: 22222222-0000-4000-8000-000000000002
level: high
logsource: {product: windows, category: process_creation}
detection:
  sel:
    CommandLine|contains: ' odd '
  condition: sel
""",
}


def write_exports(tmp, n):
    """Two exports of Sysmon process events in evtx_dump's layout."""
    rnd = random.Random(7)
    paths = []
    for name in ("a.jsonl", "b.jsonl"):
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            for rid in range(1, n + 1):
                # few distinct times: ties broken by file, record and rule
                t = "2024-05-%02dT%02d:%02d:00.000Z" % (1 + rnd.randrange(3),
                                                          rnd.randrange(24), rnd.randrange(4))
                cmd = "C:\\Windows\\tool%d.exe %s /x %s" % (
                    rnd.randrange(50), "odd" if rid % 2 else "even", "y" * rnd.randrange(300))
                ev = {"Event": {"System": {
                    "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}},
                    "EventID": 1, "EventRecordID": rid, "Channel":
                    "Microsoft-Windows-Sysmon/Operational",
                    "Computer": "host%d.example" % rnd.randrange(7),
                    "TimeCreated": {"#attributes": {"SystemTime": t}}},
                    "EventData": {"Image": "C:\\Windows\\tool.exe", "CommandLine": cmd,
                                  "User": "CORP\\u%d" % rnd.randrange(9)}}}
                f.write(json.dumps(ev) + "\n")
        paths.append(path)
    return paths


def run_rss(cmd, env, out_path):
    """(rc, stderr, peak RSS in KiB) of one run, its output in out_path (not
    in this process's memory: see main)."""
    with open(out_path, "wb") as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(p.pid, 0)
        err.seek(0)
        return os.waitstatus_to_exitcode(status), err.read(), usage.ru_maxrss


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main():
    args = pslib.parse_args(__doc__)
    exe = os.path.abspath(args.plainsight)
    c = pslib.Checker(args.verbose)
    with tempfile.TemporaryDirectory(prefix="ps_spill_") as tmp:
        rules = os.path.join(tmp, "rules")
        os.mkdir(rules)
        for name, text in RULES.items():
            with open(os.path.join(rules, name), "w") as f:
                f.write(text)
        inputs = write_exports(tmp, 40000)
        spill_dir = os.path.join(tmp, "spill")
        os.mkdir(spill_dir)

        outputs = iter(range(1000))

        def hunt(memory, *extra, tmpdir=spill_dir):
            """(rc, output file, stderr, peak RSS KiB)"""
            env = dict(os.environ, PLAINSIGHT_HUNT_SORT_MEMORY=str(memory), TMPDIR=tmpdir)
            path = os.path.join(tmp, "out%d" % next(outputs))
            rc, err, rss = run_rss([exe, "hunt", "--no-cache", "-r", rules] + list(extra) +
                                   inputs, env, path)
            return rc, path, err, rss

        # The peak RSS runs first: a child's peak counts the peak of the
        # process it was forked from, and this one grows as it reads outputs.
        rc, ref, ref_err, ref_rss = hunt(1 << 30, "-f", "jsonl", "-t", "1")
        _, _, _, spilled_rss = hunt(64 << 10, "-f", "jsonl", "-t", "1")
        lines = read(ref).count(b"\n")
        c.check("in memory: 120,000 detections", rc == 1 and lines == 120000,
                (rc, lines, pslib.last_line(ref_err)))
        if b"__asan_init" in read(exe):  # its quarantine keeps freed memory resident
            print("note: sanitizer build, peak RSS not compared")
        else:
            c.check("spilling bounds memory (%d KiB against %d KiB in memory)" %
                    (spilled_rss, ref_rss), spilled_rss * 2 < ref_rss, (spilled_rss, ref_rss))
        summary = lambda err: [l for l in err.splitlines() if b" s, " not in l and
                               b"loaded in" not in l]
        for memory, what in ((4 << 20, "a few runs"), (64 << 10, "runs merged in passes")):
            # 80: more lanes (one per worker) than once fitted the store's merge
            for threads in ("1", "2") + (("80",) if memory == 64 << 10 else ()):
                rc, out, err, rss = hunt(memory, "-f", "jsonl", "-t", threads)
                c.check("%s, %s thread(s): same timeline" % (what, threads),
                        rc == 1 and read(out) == read(ref), (rc, pslib.last_line(err)))
                c.check("%s, %s thread(s): same summary" % (what, threads),
                        summary(err) == summary(ref_err), err.decode(errors="replace"))
        _, csv_ref, _, _ = hunt(1 << 30, "-f", "csv", "-q")
        _, csv_spilled, _, _ = hunt(64 << 10, "-f", "csv", "-q")
        c.check("csv: spilled == in memory", read(csv_spilled) == read(csv_ref))
        html = [os.path.join(tmp, "report%d.html" % i) for i in range(2)]
        hunt(1 << 30, "-q", "--html", html[0])
        hunt(64 << 10, "-q", "--html", html[1])
        run_time = re.compile(rb"events, [0-9.]+ s<|written [0-9T:.Z-]+ by")
        c.check("--html: the same report", run_time.sub(b"", read(html[0])) ==
                run_time.sub(b"", read(html[1])) and os.path.getsize(html[0]) > 1000000)
        c.check("no file left in $TMPDIR", os.listdir(spill_dir) == [], os.listdir(spill_dir))

        rc, out, err, _ = hunt(64 << 10, "-f", "jsonl", "-t", "2",
                               tmpdir=os.path.join(tmp, "no", "such", "dir"))
        c.check("unwritable $TMPDIR: same timeline, from memory",
                rc == 1 and read(out) == read(ref), (rc, pslib.last_line(err)))
        c.check("unwritable $TMPDIR: a warning", b"warning: cannot make a temporary file" in err
                and b"kept in memory" in err, err[-300:])
    pslib.finish(c.passed, c.failed)


if __name__ == "__main__":
    main()
