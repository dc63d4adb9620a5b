#!/usr/bin/env python3
"""plainsight scan end to end on fixtures this test builds: exit codes, the
three output formats (CSV parsed as RFC 4180, JSONL as JSON), the summary,
special files, determinism across thread counts, and the cache of the
compiled file-name IOC database."""
import argparse
import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile

FIXTURE = b"plainsight cli fixture\n"


def build(root):
    os.makedirs(f"{root}/tree/Windows/Temp")
    os.makedirs(f"{root}/tree/sub")
    os.makedirs(f"{root}/clean")
    with open(f"{root}/tree/hash-hit.bin", "wb") as f:
        f.write(FIXTURE)
    with open(f"{root}/tree/Windows/Temp/usbclass.sys", "wb") as f:
        f.write(b"x\n")
    # A name that needs CSV quoting and JSON escaping.
    with open(f'{root}/tree/sub/we,ird "name".txt', "wb") as f:
        f.write(b"PLAINSIGHT-CLI-MARKER\n")
    with open(f"{root}/clean/ok.txt", "wb") as f:
        f.write(b"fine\n")
    os.symlink("..", f"{root}/tree/sub/loop")
    os.mkfifo(f"{root}/tree/fifo")
    os.makedirs(f"{root}/iocs")
    sha = hashlib.sha256(FIXTURE).hexdigest()
    with open(f"{root}/iocs/hash-iocs.txt", "w") as f:
        f.write(f"# fixture\n{sha};80;CLI fixture; with semicolon\nnothex;bad line\n")
    with open(f"{root}/iocs/filename-iocs.txt", "w") as f:
        f.write("# Regin\n\\\\usbclass\\.sys;80\n")
    with open(f"{root}/rule.yar", "w") as f:
        f.write('rule CLI_Marker { meta: description = "cli, \\"quoted\\"" score = 40\n'
                ' strings: $a = "PLAINSIGHT-CLI-MARKER" condition: $a }\n')
    return sha


def run(ps, *args, env=None):
    return subprocess.run([ps, "scan", *args], capture_output=True, timeout=120,
                          env={**os.environ, **(env or {})})


def check(cond, msg):
    if not cond:
        print("FAIL:", msg)
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--plainsight", required=True)
    ap.add_argument("--build-dir")
    ap.add_argument("--corpus")
    a = ap.parse_args()
    ps = a.plainsight
    with tempfile.TemporaryDirectory() as root:
        sha = build(root)
        # Every run below caches in the test's own directory, never in $HOME.
        os.environ["PLAINSIGHT_CACHE_DIR"] = f"{root}/cache"
        common = ["--iocs", f"{root}/iocs", "--yara", f"{root}/rule.yar"]

        r = run(ps, "--help")
        check(r.returncode == 0 and b"examples:" in r.stdout, "--help teaches with examples")
        check(run(ps).returncode == 2, "no arguments is a usage error (2)")
        check(run(ps, f"{root}/tree", "--format", "xml", *common).returncode == 2, "bad --format is 2")
        check(run(ps, f"{root}/tree", "--iocs", f"{root}/missing").returncode == 2, "missing IOC dir is 2")

        r = run(ps, f"{root}/clean", *common)
        check(r.returncode == 0, f"clean tree exits 0, got {r.returncode}: {r.stderr}")
        check(r.stdout == b"", "nothing printed for a clean tree")

        r = run(ps, f"{root}/tree", "--format", "jsonl", *common)
        check(r.returncode == 1, f"findings exit 1, got {r.returncode}: {r.stderr}")
        err = r.stderr.decode()
        check("hash-iocs.txt:3:" in err, "bad IOC line reported with file and line: " + err)
        check("1 ALERT" not in err and "ALERT" in err, "summary on stderr")
        rows = [json.loads(line) for line in r.stdout.decode().splitlines()]
        paths = [x["Path"] for x in rows]
        check(paths == sorted(paths), "sorted by path")
        by_name = {os.path.basename(x["Path"]): x for x in rows}
        check(set(by_name) == {"hash-hit.bin", "usbclass.sys", 'we,ird "name".txt'}, str(by_name.keys()))
        h = by_name["hash-hit.bin"]
        for key in ("Path", "Size", "Modified", "MD5", "SHA1", "SHA256", "Score", "Level", "Reasons"):
            check(key in h, f"key {key} in JSONL")
        check(h["SHA256"] == sha and h["MD5"] == hashlib.md5(FIXTURE).hexdigest(), "hashes")
        check(h["SHA1"] == hashlib.sha1(FIXTURE).hexdigest(), "sha1")
        check(h["Reasons"] == [{"Type": "hash", "Name": sha, "Score": 80,
                                "Description": "CLI fixture; with semicolon"}], str(h["Reasons"]))
        check(h["Level"] == "WARNING" and h["Score"] == 80, "level by score")
        y = by_name['we,ird "name".txt']
        check(y["Reasons"][0]["Type"] == "yara" and y["Reasons"][0]["Name"] == "CLI_Marker", "yara reason")
        check(y["Level"] == "NOTICE", "score 40 is NOTICE")

        r = run(ps, f"{root}/tree", "--format", "csv", "--quiet", *common)
        check(r.returncode == 1 and r.stderr == b"", "quiet prints nothing on stderr")
        table = list(csv.reader(io.StringIO(r.stdout.decode(), newline="")))
        check(table[0] == ["Path", "Size", "Modified", "MD5", "SHA1", "SHA256", "Score", "Level",
                           "Reasons"], "CSV header")
        names = [os.path.basename(row[0]) for row in table[1:]]
        check('we,ird "name".txt' in names, "CSV quoting round-trips: " + str(names))
        check(all(len(row) == 9 for row in table), "9 fields per row")

        out = f"{root}/out.txt"
        r = run(ps, f"{root}/tree", "-o", out, *common)
        check(r.returncode == 1 and r.stdout == b"", "-o writes the file, not stdout")
        text = open(out).read()
        check("usbclass.sys" in text and "filename" in text, "table lists reasons")

        one = run(ps, f"{root}/tree", "--format", "jsonl", "--threads", "1", "--quiet", "--all", *common)
        four = run(ps, f"{root}/tree", "--format", "jsonl", "--threads", "4", "--quiet", "--all", *common)
        check(one.stdout == four.stdout and one.stdout, "same output with 1 and 4 threads")
        check_cache(ps, root)
        check_digests(ps, root)
        check_file_types(ps, root)
    print("ok")


def check_file_types(ps, root):
    """The file type comes from a file's first bytes whatever its size and
    path: small (batched), large and only hashed, large and over --max-size."""
    tree = f"{root}/types"
    os.makedirs(tree)
    with open(f"{root}/types.txt", "w") as f:
        f.write("# test\n4D 5A;EXE\n")
    for name, size in (("small.bin", 100), ("big.bin", 3 << 20), ("huge.bin", 9 << 20)):
        with open(f"{tree}/{name}", "wb") as f:
            f.write(b"MZ" + b"\0" * (size - 3) + b"Z")
    for extra in ([], ["--yara", f"{root}/rule.yar", "--max-size", "4M"]):
        r = run(ps, tree, "--iocs", f"{root}/iocs", "--filetypes", f"{root}/types.txt", "--all",
                "--format", "jsonl", "--quiet", *extra)
        rows = {os.path.basename(x["Path"]): x for x in map(json.loads, r.stdout.decode().splitlines())}
        for name in ("small.bin", "big.bin", "huge.bin"):
            check(rows[name]["FileType"] == "EXE", f"{name} is EXE {extra}: {rows[name]['FileType']}")


def check_digests(ps, root):
    """Every file's MD5, SHA1 and SHA256 equal Python's, whatever its size:
    around the 64-byte block and padding edges (small files are hashed in
    batches, MD5 side by side), past the batch limit of 4 MiB, empty."""
    tree = f"{root}/sizes"
    os.makedirs(tree)
    sizes = [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 4095, 4096,
             65536, 100003, 1 << 20, (4 << 20) + 1, 5 << 20]
    seed = 1
    for i, n in enumerate(sizes * 2):
        data = bytearray(n)
        for k in range(0, n, 4096):
            seed = (seed * 6364136223846793005 + 1442695040888963407) % (1 << 64)
            data[k:k + 8] = seed.to_bytes(8, "little")[: max(0, min(8, n - k))]
        with open(f"{tree}/f{i:03d}.bin", "wb") as f:
            f.write(bytes(data))
    for threads in ("1", "2"):
        r = run(ps, tree, "--yara", f"{root}/rule.yar", "--all", "--format", "jsonl",
                "--quiet", "--threads", threads)
        rows = [json.loads(line) for line in r.stdout.decode().splitlines()]
        check(len(rows) == 2 * len(sizes), f"every file listed ({len(rows)})")
        for row in rows:
            data = open(row["Path"], "rb").read()
            for key, fn in (("MD5", hashlib.md5), ("SHA1", hashlib.sha1),
                            ("SHA256", hashlib.sha256)):
                check(row[key] == fn(data).hexdigest(),
                      f"{key} of {row['Path']} ({len(data)} bytes), {threads} thread(s)")


def check_cache(ps, root):
    """The compiled file-name database: stored, reused, rebuilt when the lists
    change, never a reason for a different result; --no-cache,
    PLAINSIGHT_NO_CACHE and an unusable directory."""
    shutil.copytree(f"{root}/iocs", f"{root}/iocs2")
    cache = f"{root}/cache2"
    args = [f"{root}/tree", "--format", "jsonl", "-v", "--iocs", f"{root}/iocs2",
            "--cache-dir", cache]
    first, second = run(ps, *args), run(ps, *args)
    check("database compiled and cached" in first.stderr.decode(), first.stderr.decode())
    check("database loaded from the cache" in second.stderr.decode(), second.stderr.decode())
    check(first.returncode == second.returncode == 1 and first.stdout == second.stdout,
          "same findings from a cached database")
    check(len(os.listdir(cache)) == 1, "one database file: " + str(os.listdir(cache)))
    with open(f"{root}/iocs2/filename-iocs.txt", "a") as f:
        f.write("# new\n\\\\hash-hit\\.bin;30\n")
    third = run(ps, *args)
    check("database compiled and cached" in third.stderr.decode(), "changed lists: rebuilt")
    check(b"hash-hit.bin" in third.stdout and b"\\\\\\\\hash-hit" in third.stdout,
          "the new IOC matches: " + third.stdout.decode())
    check(len(os.listdir(cache)) == 1, "the old database is gone")
    r = run(ps, *args, "--no-cache", "--cache-dir", f"{root}/cache3")
    check(r.returncode == 1 and "database" not in r.stderr.decode() and
          not os.path.exists(f"{root}/cache3"), "--no-cache: no cache read or written")
    r = run(ps, *args[:-2], env={"PLAINSIGHT_NO_CACHE": "1", "PLAINSIGHT_CACHE_DIR": f"{root}/c4"})
    check(r.returncode == 1 and not os.path.exists(f"{root}/c4"), "PLAINSIGHT_NO_CACHE=1")
    r = run(ps, *args[:-1], f"{root}/tree/hash-hit.bin/sub")
    check(r.returncode == 1 and "cache not writable" in r.stderr.decode() and
          r.stdout == third.stdout, "an unusable cache directory only costs the rebuild")


if __name__ == "__main__":
    main()
