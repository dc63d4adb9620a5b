#!/usr/bin/env python3
"""Golden test: `plainsight dump --format jsonl` against evtx_dump's JSON.

SigmaHQ's regression data holds, for each of its 202 tests, an .evtx file
and a .json rendering of it made by omerbenamram's evtx_dump (several
pretty-printed objects one after another). plainsight must produce the same
records, compared as parsed JSON with key order and JSON types significant.

Prints one line per failing file (first differing path, expected vs got) and
closes with "N passed, M failed". Exits 77 when the corpus is absent.
"""

import concurrent.futures
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pslib  # noqa: E402

REGRESSION_DIR = os.path.join("sigma-regression", "regression_data")
MAX_RECORD_DIFFS = 3   # differing records shown per file
# Known failures are reported but do not fail ctest unless PS_STRICT=1
# (see pslib.finish); set to False once the decoder passes everything.
LENIENT = False

# Reference files that do not match their own .evtx, checked by hand against
# libevtx and python-evtx. They are still compared, reported as XFAIL and
# counted as skipped; if one starts to match, it is reported too.
KNOWN_BAD_REFERENCES = {
    # Hand-edited JSON: SystemTime has 9 fraction digits (libevtx style; evtx_dump
    # and the 201 other files print 6) and ParentCommandLine reads
    # "Explorer.exe" where the record (and both peers) say "Explorer.EXE".
    "ad691d92-15f2-4181-9aa4-723c74f9ddc3.evtx":
        "hand-edited reference (SystemTime digits, ParentCommandLine case)",
}


def add_options(ap):
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--filter", default="", help="only files whose path contains this")


def load_expected(json_path):
    with open(json_path, encoding="utf-8") as f:
        return pslib.load_json_stream(f.read())


def dump_jsonl(plainsight, evtx_path):
    """Records plainsight prints for one file, or raise RuntimeError."""
    rc, out, err = pslib.run([plainsight, "dump", "--format", "jsonl", evtx_path], timeout=120)
    if rc != 0:
        why = "timed out" if rc is None else "exit status %s" % rc
        raise RuntimeError("plainsight %s: %s" % (why, pslib.last_line(err)))
    try:
        return pslib.load_json_stream(out.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise RuntimeError("output is not UTF-8 (byte %d)" % e.start)
    except ValueError as e:
        raise RuntimeError("output is not a JSON stream: %s" % e)


def compare_file(plainsight, evtx_path):
    """A list of problem lines for one file (empty: it passes)."""
    try:
        expected = load_expected(os.path.splitext(evtx_path)[0] + ".json")
        got = dump_jsonl(plainsight, evtx_path)
    except (OSError, ValueError, RuntimeError) as e:
        return [str(e)]
    problems = []
    if len(expected) != len(got):
        problems.append("expected %d records, got %d" % (len(expected), len(got)))
    ndiff = 0
    for i, (e, g) in enumerate(zip(expected, got)):
        d = pslib.first_difference(e, g)
        if not d:
            continue
        ndiff += 1
        if ndiff <= MAX_RECORD_DIFFS:
            problems.append("record %d/%d: %s: expected %s, got %s"
                            % (i + 1, len(expected), d[0], d[1], d[2]))
    if ndiff > MAX_RECORD_DIFFS:
        problems.append("... and %d more differing records" % (ndiff - MAX_RECORD_DIFFS))
    return problems


def main():
    args = pslib.parse_args(__doc__.splitlines()[0], add_options)
    root = os.path.join(args.corpus, REGRESSION_DIR)
    if not os.path.isdir(root):
        pslib.skip("corpus directory %s is absent" % root)
    if not os.access(args.plainsight, os.X_OK):
        print("plainsight binary %s is not executable" % args.plainsight)
        pslib.finish(0, 1)

    files = [p for p in pslib.find_evtx(root) if args.filter in p]
    skipped = [p for p in files if not os.path.exists(os.path.splitext(p)[0] + ".json")]
    files = [p for p in files if p not in skipped]
    for p in skipped:
        print("SKIP %s: no .json beside it" % os.path.relpath(p, root))

    passed = failed = xfailed = 0
    with concurrent.futures.ThreadPoolExecutor(max(1, args.jobs)) as pool:
        results = pool.map(lambda p: compare_file(args.plainsight, p), files)
        for path, problems in zip(files, results):
            rel = os.path.relpath(path, root)
            known = KNOWN_BAD_REFERENCES.get(os.path.basename(path))
            if known:
                xfailed += 1
                print("%s %s: %s" % ("XFAIL" if problems else "XPASS", rel, known))
                for line in problems:
                    print("    " + line)
            elif problems:
                failed += 1
                print("FAIL %s" % rel)
                for line in problems:
                    print("    " + line)
            else:
                passed += 1
                if args.verbose:
                    print("ok   %s" % rel)
    pslib.finish(passed, failed, len(skipped) + xfailed, lenient=LENIENT)


if __name__ == "__main__":
    main()
