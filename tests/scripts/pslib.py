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
