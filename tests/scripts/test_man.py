"""The man pages are generated from --help (help2man) and carry each
subcommand's options. Skipped when help2man is not installed."""
import argparse
import os
import shutil
import sys

PAGES = {
    "plainsight.1": ["hunt", "scan", "dump", "demo"],
    "plainsight-dump.1": ["--format", "--threads", "--recover"],
    "plainsight-hunt.1": ["--rules", "--min-level", "--html"],
    "plainsight-scan.1": ["--iocs", "--yara", "--max-size"],
    "plainsight-demo.1": ["--out"],
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plainsight")
    ap.add_argument("--build-dir", required=True)
    ap.add_argument("--corpus")
    args = ap.parse_args()
    if not shutil.which("help2man"):
        print("SKIP: help2man not installed (scripts/install-deps installs it)")
        return 77
    passed = failed = 0
    for page, words in PAGES.items():
        path = os.path.join(args.build_dir, "man", page)
        if not os.path.exists(path):
            print("FAIL %s: not generated" % page)
            failed += 1
            continue
        text = open(path, encoding="utf-8", errors="replace").read()
        # troff escapes dashes: "\-\-format"
        plain = text.replace("\\-", "-")
        missing = [w for w in words if w not in plain]
        if ".SH" not in text or missing:
            print("FAIL %s: missing %s" % (page, missing or "sections"))
            failed += 1
        else:
            passed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
