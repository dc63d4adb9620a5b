#!/usr/bin/env python3
"""Generate the scan benchmark tree: N files in nested directories, a mix of
random binary (with an MZ header now and then), text built from the YARA rule
sources' own lines (so rules have something to match) and small configs.
Deterministic (seeded), so runs compare."""
import os
import random
import sys


def main():
    out, nfiles, total_mb, rules_dir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    rnd = random.Random(1234)
    lines = []
    for d, _, fs in os.walk(rules_dir):
        for f in sorted(fs):
            with open(os.path.join(d, f), "rb") as fh:
                lines.extend(fh.read().splitlines(keepends=True))
    avg = total_mb * 1024 * 1024 // nfiles
    exts = [".exe", ".dll", ".txt", ".js", ".php", ".log", ".dat", ".ps1", ".bin", ""]
    for i in range(nfiles):
        sub = os.path.join(out, f"d{i % 37:02d}", f"e{i % 11:02d}")
        os.makedirs(sub, exist_ok=True)
        size = max(64, int(rnd.expovariate(1.0 / avg)))
        kind = rnd.random()
        path = os.path.join(sub, f"f{i:05d}{rnd.choice(exts)}")
        with open(path, "wb") as fh:
            if kind < 0.5:
                head = b"MZ" + bytes(62) if rnd.random() < 0.3 else b""
                fh.write(head + rnd.randbytes(max(0, size - len(head))))
            else:
                written = 0
                while written < size:
                    chunk = b"".join(rnd.choice(lines) for _ in range(64))
                    fh.write(chunk)
                    written += len(chunk)
    print(f"generated {nfiles} files under {out}")


if __name__ == "__main__":
    main()
