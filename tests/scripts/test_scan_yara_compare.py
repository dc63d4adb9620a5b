#!/usr/bin/env python3
"""The YARA matches of plainsight scan equal those of Debian's yara CLI with
the same rules (all of signature-base/yara, one namespace) and the same
external variables, file by file. Skipped (77) without the corpus or yara."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile


def skip(msg):
    print("skipped:", msg)
    sys.exit(77)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plainsight", required=True)
    ap.add_argument("--build-dir")
    ap.add_argument("--corpus", required=True)
    a = ap.parse_args()
    sb = os.path.join(a.corpus, "signature-base")
    if not os.path.isdir(os.path.join(sb, "yara")):
        skip(f"{sb}/yara not found")
    if not shutil.which("yara") or not shutil.which("yarac"):
        skip("yara/yarac CLI not installed")
    rules = sorted(os.path.join(d, f) for d, _, fs in os.walk(os.path.join(sb, "yara"))
                   for f in fs if f.endswith((".yar", ".yara")))
    if len(rules) != 72:
        print(f"note: {len(rules)} rule files (the corpus README says 72)")
    externals = ["filename", "filepath", "extension", "filetype", "md5", "owner"]
    with tempfile.TemporaryDirectory() as tmp:
        # Test tree: the rule sources (their own strings match many rules),
        # a few system binaries and files built around well-known strings.
        tree = os.path.join(tmp, "tree")
        shutil.copytree(os.path.join(sb, "yara"), os.path.join(tree, "rules"))
        os.makedirs(os.path.join(tree, "bin"))
        for b in ("/bin/ls", "/bin/sh", "/usr/bin/yara"):
            if os.path.exists(b):
                shutil.copy(b, os.path.join(tree, "bin", os.path.basename(b) + ".exe"))
        with open(os.path.join(tree, "mimi.txt"), "wb") as f:
            f.write(b"MZ" + b"\0" * 62 + b"sekurlsa::logonpasswords mimikatz gentilkiwi "
                    b"Benjamin DELPY kiwi_msv1_0 wdigest.dll\n")
        compiled = os.path.join(tmp, "all.yarc")
        defs = [arg for e in externals for arg in ("-d", f"{e}=")]
        r = subprocess.run(["yarac", "-w", *defs, *rules, compiled], capture_output=True)
        if r.returncode != 0:
            print("FAIL: yarac could not compile the rules:", r.stderr.decode()[-2000:])
            return 1
        r = subprocess.run([a.plainsight, "scan", tree, "--yara", os.path.join(sb, "yara"),
                            "--iocs", os.path.join(sb, "iocs"), "--all", "--format", "jsonl",
                            "--quiet"], capture_output=True, timeout=600)
        if r.returncode not in (0, 1):
            print("FAIL: plainsight exit", r.returncode, r.stderr.decode())
            return 1
        rows = [json.loads(x) for x in r.stdout.decode().splitlines()]
        if len(rows) < 70:
            print("FAIL: expected every file listed with --all, got", len(rows))
            return 1
        mismatches, total = 0, 0
        for row in rows:
            path = row["Path"]
            ours = sorted(x["Name"] for x in row["Reasons"] if x["Type"] == "yara")
            base = os.path.basename(path)
            ext = os.path.splitext(path)[1].lower()
            owner = subprocess.run(["stat", "-c", "%U", path], capture_output=True,
                                   text=True).stdout.strip()
            values = {"filename": base, "filepath": os.path.dirname(path), "extension": ext,
                      "filetype": row["FileType"], "md5": row["MD5"], "owner": owner}
            args = [arg for k, v in values.items() for arg in ("-d", f"{k}={v}")]
            y = subprocess.run(["yara", "-w", "-C", *args, compiled, path], capture_output=True,
                               text=True)
            theirs = sorted(line.split(" ", 1)[0] for line in y.stdout.splitlines() if line)
            total += len(theirs)
            if ours != theirs:
                mismatches += 1
                print(f"MISMATCH {path}\n  plainsight: {ours}\n  yara:       {theirs}")
        print(f"{len(rows)} files, {total} YARA matches compared, {mismatches} files differ")
        if total == 0:
            print("FAIL: the test tree matched no rule at all; it proves nothing")
            return 1
        return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
