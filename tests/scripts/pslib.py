"""Shared helpers for plainsight's script tests (tests/scripts/test_*.py).

Every script test is started by ctest as
    python3 test_X.py --plainsight PATH --build-dir DIR --corpus DIR
and follows the same conventions: exit 77 means "skipped" (the corpus or a
peer tool is missing), the last line printed is "N passed, M failed" (plus
", K skipped" when something was skipped), and the exit status is 0 only when
nothing failed -- unless the test is registered as lenient (see finish()).

Python standard library only.
"""

import argparse
import json
import os
import subprocess
import sys

EXIT_SKIP = 77


def parse_args(description, add_options=None):
    """The three arguments ctest passes, plus test-specific ones."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--plainsight", required=True, help="the plainsight binary")
    ap.add_argument("--build-dir", required=True, help="build directory (for caches)")
    ap.add_argument("--corpus", required=True, help="the shared third-party corpus")
    ap.add_argument("-v", "--verbose", action="store_true")
    if add_options:
        add_options(ap)
    return ap.parse_args()


def skip(message):
    """Exit with ctest's skip code and say why."""
    print("SKIP: " + message, flush=True)
    sys.exit(EXIT_SKIP)


def strict_mode():
    """PS_STRICT=1 makes known failures fatal (see finish())."""
    return os.environ.get("PS_STRICT", "") not in ("", "0")


def finish(passed, failed, skipped=0, lenient=False):
    """Print the closing line and exit.

    `lenient` is for tests committed while the decoder still has known
    failures: they then exit 0 unless PS_STRICT=1, so the suite stays green
    but the count is visible."""
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line, flush=True)
    if failed and (strict_mode() or not lenient):
        sys.exit(1)
    sys.exit(0)


def find_evtx(root):
    """Every *.evtx under `root`, sorted, as absolute paths."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            if name.lower().endswith(".evtx"):
                found.append(os.path.join(dirpath, name))
    found.sort()
    return found


def run(cmd, timeout=None):
    """Run a command, capturing bytes. Returns (rc, stdout, stderr); rc is
    None on timeout and -N when killed by signal N."""
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        return None, e.stdout or b"", e.stderr or b""
    except OSError as e:
        return 127, b"", str(e).encode()
    return p.returncode, p.stdout, p.stderr


def last_line(data, limit=200):
    """The last non-empty line of some output, for short error messages."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    return lines[-1][:limit] if lines else ""


# ---------------------------------------------------------------- JSON

def _pairs(pairs):
    # Keep objects as lists of (key, value) so key order and duplicate keys
    # are both significant in comparisons.
    return ("obj", pairs)


def load_json_stream(text):
    """Parse a stream of JSON values (pretty-printed one after another, or
    one per line). Objects become ("obj", [(key, value), ...]).
    Raises ValueError with the offset when the stream is malformed."""
    dec = json.JSONDecoder(object_pairs_hook=_pairs)
    values = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            return values
        value, i = dec.raw_decode(text, i)
        values.append(value)


def _short(value, limit=120):
    s = json_text(value)
    return s if len(s) <= limit else s[:limit] + "..."


def json_text(value):
    """Back to compact JSON text (for messages)."""
    return json.dumps(_plain(value), ensure_ascii=False, separators=(",", ":"))


def _plain(value):
    if isinstance(value, tuple) and len(value) == 2 and value[0] == "obj":
        return {k: _plain(v) for k, v in value[1]}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _kind(value):
    # bool is a subclass of int in Python and 1 == 1.0: compare JSON types
    # explicitly so 1, 1.0, true and "1" are all different.
    if isinstance(value, tuple):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "null"


def first_difference(expected, got, path=""):
    """None if equal, else (path, expected_text, got_text) for the first
    difference in document order. Key order is significant."""
    ke, kg = _kind(expected), _kind(got)
    if ke != kg:
        return (path or "(root)", "%s %s" % (ke, _short(expected)),
                "%s %s" % (kg, _short(got)))
    if ke == "object":
        return _first_object_difference(expected[1], got[1], path)
    if ke == "array":
        for i, (e, g) in enumerate(zip(expected, got)):
            d = first_difference(e, g, "%s[%d]" % (path, i))
            if d:
                return d
        if len(expected) != len(got):
            return ("%s (length)" % (path or "(root)"), "%d items" % len(expected),
                    "%d items" % len(got))
        return None
    if expected != got:
        return path or "(root)", _short(expected), _short(got)
    return None


def _join(path, key):
    return "%s.%s" % (path, key) if path else key


def _first_object_difference(exp_pairs, got_pairs, path):
    for i in range(max(len(exp_pairs), len(got_pairs))):
        if i >= len(got_pairs):
            return (_join(path, exp_pairs[i][0]), _short(exp_pairs[i][1]),
                    "(missing; no more keys)")
        if i >= len(exp_pairs):
            return (_join(path, got_pairs[i][0]), "(absent; no more keys)",
                    _short(got_pairs[i][1]))
        (ek, ev), (gk, gv) = exp_pairs[i], got_pairs[i]
        if ek != gk:
            return ("%s (key #%d)" % (path or "(root)", i), "key %s" % json.dumps(ek),
                    "key %s" % json.dumps(gk))
        d = first_difference(ev, gv, _join(path, ek))
        if d:
            return d
    return None


# ---------------------------------------------------------------- EVTX layout
# Just enough of the file structure (see docs: evtx-format.md section 1) to
# explain peer failures and to build benchmark corpora. Not a decoder.

import struct  # noqa: E402
import zlib  # noqa: E402

FILE_HEADER_SIZE = 4096
CHUNK_SIZE = 65536
CHUNK_HEADER_SIZE = 512
FILE_MAGIC = b"ElfFile\0"
CHUNK_MAGIC = b"ElfChnk\0"
RECORD_MAGIC = b"**\0\0"
FRAGMENT_HEADER = b"\x0f\x01\x01\x00"


class ChunkInfo:
    """What a quick walk of one chunk's records found."""

    def __init__(self, index, offset):
        self.index = index
        self.offset = offset            # file offset of the chunk
        self.magic_ok = False
        self.all_zero = False
        self.header_crc_ok = False
        self.data_crc_ok = False
        self.first_id = self.last_id = 0
        self.records = 0                # records walked from offset 512
        self.template_less = 0          # of which plain element trees
        self.damaged = False            # the walk stopped on a bad record


def file_header(data):
    """The interesting file-header fields, or None when not an EVTX file."""
    if len(data) < 128 or data[:8] != FILE_MAGIC:
        return None
    first, last, next_id, hsize, minor, major, block, nchunks = struct.unpack_from(
        "<QQQIHHHH", data, 8)
    flags, crc = struct.unpack_from("<II", data, 120)
    return {"first_chunk": first, "last_chunk": last, "next_record_id": next_id,
            "minor": minor, "major": major, "header_block": block,
            "chunk_count": nchunks, "flags": flags,
            "crc_ok": zlib.crc32(data[:120]) == crc}


def chunk_info(chunk, index=0, offset=0):
    """Walk the records of one 64 KiB chunk (bytes)."""
    info = ChunkInfo(index, offset)
    if len(chunk) < CHUNK_SIZE:
        return info
    if chunk[:8] != CHUNK_MAGIC:
        info.all_zero = not any(chunk)
        return info
    info.magic_ok = True
    info.first_id, info.last_id = struct.unpack_from("<QQ", chunk, 24)
    free, data_crc = struct.unpack_from("<II", chunk, 48)
    hdr_crc = struct.unpack_from("<I", chunk, 124)[0]
    info.header_crc_ok = zlib.crc32(chunk[128:512], zlib.crc32(chunk[:120])) == hdr_crc
    end = min(max(free, CHUNK_HEADER_SIZE), CHUNK_SIZE)
    info.data_crc_ok = zlib.crc32(chunk[CHUNK_HEADER_SIZE:end]) == data_crc
    _walk_records(chunk, end, info)
    return info


def _walk_records(chunk, end, info):
    off = CHUNK_HEADER_SIZE
    while off + 28 <= end:
        if chunk[off:off + 4] != RECORD_MAGIC:
            info.damaged = any(chunk[off:off + 4])   # zeros: clean end
            return
        size = struct.unpack_from("<I", chunk, off + 4)[0]
        if size < 28 or off + size > CHUNK_SIZE or \
                struct.unpack_from("<I", chunk, off + size - 4)[0] != size:
            info.damaged = True
            return
        info.records += 1
        if _is_template_less(chunk[off + 24:off + 30]):
            info.template_less += 1
        rec_id = struct.unpack_from("<Q", chunk, off + 8)[0]
        off += size
        if rec_id == info.last_id:
            return


def _is_template_less(binxml):
    # Records normally start with a template instance (0x0C), with or
    # without a fragment header; a start element (0x01/0x41) means the
    # record is a plain element tree (exported or forwarded logs).
    if binxml.startswith(FRAGMENT_HEADER):
        binxml = binxml[4:]
    return bool(binxml) and (binxml[0] & 0xBF) == 0x01


def evtx_layout(path):
    """(file header dict or None, [ChunkInfo...], trailing bytes) of a file."""
    with open(path, "rb") as f:
        data = f.read()
    header = file_header(data)
    chunks = []
    if header is None:
        return None, chunks, len(data)
    off = FILE_HEADER_SIZE
    while off + CHUNK_SIZE <= len(data):
        chunks.append(chunk_info(data[off:off + CHUNK_SIZE], len(chunks), off))
        off += CHUNK_SIZE
    return header, chunks, len(data) - off


class Checker:
    """Counts named checks; prints each failure (and each pass with -v)."""

    def __init__(self, verbose):
        self.passed = self.failed = 0
        self.verbose = verbose

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            if self.verbose:
                print("ok   " + name)
        else:
            self.failed += 1
            print("FAIL %s %s" % (name, detail))
