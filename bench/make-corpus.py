#!/usr/bin/env python3
"""Build a large EVTX benchmark file by merging chunks of the shared corpus.

Every 64 KiB chunk is self-contained (all BinXML offsets are chunk-relative,
evtx-format.md 1), so chunks from many files can be copied verbatim behind
one fresh file header. The header's chunk count, last chunk, next record ID
and CRC32 are recomputed; the chunks themselves are not touched.

Modes (evtx-format.md 1.9 and 2.2):
  shared   every distinct usable chunk of the corpus, round-robin until the
           size is reached ("shared_x1" repeated): ~21 records per chunk,
           the mix of real triage data.
  dense    only chunks with at least --min-records records (default 64):
           ~100 records per chunk, close to the density of the published
           evtx_dump benchmark file (~129), so numbers compare with it.
  all      every non-empty chunk of the files, template-less, damaged and
           duplicate ones included (for plainsight only: the per-file
           overhead measurement compares this file with the separate files).

By default chunks the peers cannot read are left out: template-less records
(libevtx and python-evtx produce nothing for them), damaged record lists,
bad chunk magic, and duplicates.

  make-corpus.py --corpus DIR --out FILE [--size-mb N] [--mode M]
  make-corpus.py --sample-of FILE --out FILE --chunks K   (strided sample)

Each output FILE gets FILE.json: chunks, records, bytes, mode.
"""

import argparse
import hashlib
import json
import os
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "scripts"))
import pslib  # noqa: E402  (EVTX layout walker shared with the tests)

CORPUS_DIRS = ("evtx-attack-samples", "hayabusa-sample-evtx", "sigma-regression")
MAX_HEADER_CHUNKS = 0xFFFF   # the header's chunk count is a u16


def source_chunks(corpus, dirs, mode, min_records):
    """[(chunk bytes, ChunkInfo)] of the corpus in path order; distinct only,
    except in mode "all" which mirrors the files exactly."""
    seen, out = set(), []
    for sub in dirs:
        root = os.path.join(corpus, sub)
        for path in pslib.find_evtx(root) if os.path.isdir(root) else []:
            with open(path, "rb") as f:
                data = f.read()
            if data[:8] != pslib.FILE_MAGIC:
                continue
            for off in range(pslib.FILE_HEADER_SIZE, len(data) - pslib.CHUNK_SIZE + 1,
                             pslib.CHUNK_SIZE):
                chunk = data[off:off + pslib.CHUNK_SIZE]
                digest = hashlib.sha1(chunk).digest()
                if digest in seen and mode != "all":
                    continue
                seen.add(digest)
                info = pslib.chunk_info(chunk)
                if keep_chunk(info, mode, min_records):
                    out.append((chunk, info))
    return out


def keep_chunk(info, mode, min_records):
    if not info.magic_ok or info.records == 0:
        return False
    if mode == "all":
        return True
    if info.template_less or info.damaged:
        return False
    return mode != "dense" or info.records >= min_records


def make_header(nchunks, next_record_id):
    """A clean 4096-byte file header (evtx-format.md 1.1) with its CRC32."""
    h = bytearray(pslib.FILE_HEADER_SIZE)
    struct.pack_into("<8sQQQIHHHH", h, 0, pslib.FILE_MAGIC, 0, max(nchunks - 1, 0),
                     next_record_id, 128, 1, 3, pslib.FILE_HEADER_SIZE,
                     min(nchunks, MAX_HEADER_CHUNKS))
    struct.pack_into("<I", h, 120, 0)                 # flags: clean
    struct.pack_into("<I", h, 124, zlib.crc32(bytes(h[:120])))
    return bytes(h)


def write_merged(out_path, chunks, meta):
    """Write the header and `chunks` (list of (bytes, ChunkInfo)), then the
    metadata beside it. Returns the metadata."""
    if len(chunks) > MAX_HEADER_CHUNKS:
        print("note: %d chunks overflow the u16 chunk count (readers use the file size)"
              % len(chunks), file=sys.stderr)
    next_id = max((c[1].last_id for c in chunks), default=0) + 1
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    tmp = out_path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(make_header(len(chunks), next_id))
        for chunk, _ in chunks:
            f.write(chunk)
    os.replace(tmp, out_path)
    meta.update({"chunks": len(chunks), "records": sum(c[1].records for c in chunks),
                 "bytes": os.path.getsize(out_path)})
    meta["records_per_chunk"] = round(meta["records"] / max(1, meta["chunks"]), 1)
    with open(out_path + ".json", "w") as f:
        json.dump(meta, f, indent=1)
    return meta


def build(args):
    pool = source_chunks(args.corpus, args.dirs.split(","), args.mode, args.min_records)
    if not pool:
        sys.exit("make-corpus: no usable chunks under %s" % args.corpus)
    if args.mode == "all":
        chosen = pool
    else:
        want = max(1, int(args.size_mb * 1024 * 1024 - pslib.FILE_HEADER_SIZE)
                   // pslib.CHUNK_SIZE)
        if want < len(pool):    # evenly spaced, so a small file keeps the mix
            chosen = [pool[i * len(pool) // want] for i in range(want)]
        else:                   # whole passes over the pool, then a prefix
            chosen = [pool[i % len(pool)] for i in range(want)]
    return write_merged(args.out, chosen, {
        "mode": args.mode, "distinct_chunks": len(pool),
        "copies": round(len(chosen) / len(pool), 2)})


def sample(args):
    """Every n-th chunk of a merged file, so the mix stays representative."""
    with open(args.sample_of, "rb") as f:
        data = f.read()
    offsets = range(pslib.FILE_HEADER_SIZE, len(data) - pslib.CHUNK_SIZE + 1, pslib.CHUNK_SIZE)
    stride = max(1, len(offsets) // max(1, args.chunks))
    chunks = []
    for off in list(offsets)[::stride][:args.chunks]:
        chunk = data[off:off + pslib.CHUNK_SIZE]
        chunks.append((chunk, pslib.chunk_info(chunk)))
    return write_merged(args.out, chunks, {"mode": "sample", "of": args.sample_of,
                                           "stride": stride})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=os.path.join(HERE, "..", "..", "shared", "corpus"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--size-mb", type=float, default=256)
    ap.add_argument("--dirs", default=",".join(CORPUS_DIRS),
                    help="corpus sub-directories to take chunks from")
    ap.add_argument("--mode", choices=("shared", "dense", "all"), default="shared")
    ap.add_argument("--min-records", type=int, default=64)
    ap.add_argument("--sample-of", help="take a strided sample of this merged file")
    ap.add_argument("--chunks", type=int, default=64, help="chunks in the sample")
    args = ap.parse_args()
    meta = sample(args) if args.sample_of else build(args)
    print("%s: %d chunks, %d records (%.1f per chunk), %.1f MB"
          % (args.out, meta["chunks"], meta["records"], meta["records_per_chunk"],
             meta["bytes"] / 1e6))


if __name__ == "__main__":
    main()
