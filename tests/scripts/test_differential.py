#!/usr/bin/env python3
"""Differential test: plainsight against python-evtx and libevtx.

Over every .evtx of the shared corpus, `plainsight dump --format xml` is
compared with python-evtx (`evtx_dump.py FILE`) and libevtx (`evtxexport -f
xml FILE`): record counts, and per record (matched by EventRecordID) the
EventID, TimeCreated, Computer, Channel and the EventData/UserData values.
The formatting differences documented in evtx-format.md 1.7 are normalised
away (GUID braces and case, hex padding, time fraction digits, NULL
attributes). A file fails when plainsight errors, or when both peers agree
on something and plainsight says otherwise. Where only one peer has an
opinion, or the peers disagree, the difference is listed but not fatal.

Peer outputs are cached, normalised, under BUILD_DIR/differential-cache keyed
by the file's sha256, so only the first run pays for python-evtx (~0.2 MB/s).
"""

import base64
import binascii
import collections
import concurrent.futures
import gzip
import hashlib
import json
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pslib  # noqa: E402

CORPUS_DIRS = ("evtx-attack-samples", "hayabusa-sample-evtx", "sigma-regression")
# Bump when the normalisation below changes, so cached peer outputs are redone.
CACHE_VERSION = 3
PEER_TIMEOUT = 600          # seconds per file; python-evtx is slow
MAX_DIFFS_SHOWN = 4         # differing records printed per file
LENIENT = False             # see pslib.finish

FIELDS = ("EventID", "TimeCreated", "Computer", "Channel", "Data")


def tool_commands(plainsight):
    return {
        "plainsight": [plainsight, "dump", "--format", "xml"],
        "python-evtx": [shutil.which("evtx_dump.py") or "evtx_dump.py"],
        "libevtx": [shutil.which("evtxexport") or "evtxexport", "-f", "xml"],
    }


PEERS = ("python-evtx", "libevtx")


def add_options(ap):
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--filter", default="", help="only files whose path contains this")
    ap.add_argument("--no-cache", action="store_true", help="rerun the peers")


# ---------------------------------------------------------------- XML reading
# A small tolerant tokenizer rather than ElementTree: the three tools differ
# in how (and whether) they escape control characters, declare namespace
# prefixes and mark the XML version, and one bad character must not lose a
# whole file. Only elements, attributes, text and references matter here.

TOKEN = re.compile(r"""
    <!--.*?-->
  | <!\[CDATA\[(?P<cdata>.*?)\]\]>
  | <[?!][^>]*>
  | </(?P<end>[^\s>]+)\s*>
  | <(?P<start>[^\s/>!?]+)(?P<attrs>(?:[^>"']|"[^"]*"|'[^']*')*?)(?P<empty>/?)>
  | (?P<text>[^<]+|<)
""", re.S | re.X)
ATTR = re.compile(r"""([^\s=]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
REF = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|lt|gt|amp|quot|apos);")
NAMED_REFS = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}


def _ref(m):
    r = m.group(1)
    if r[0] != "#":
        return NAMED_REFS[r]
    cp = int(r[2:], 16) if r[1] == "x" else int(r[1:])
    return chr(cp) if cp < 0x110000 else "\ufffd"


def unescape(s):
    return REF.sub(_ref, s) if "&" in s else s


class Node:
    __slots__ = ("name", "attrs", "children", "text")

    def __init__(self, name, attrs):
        self.name = name
        self.attrs = attrs
        self.children = []
        self.text = []

    def child(self, name):
        for c in self.children:
            if c.name == name:
                return c
        return None

    def all_text(self):
        return "".join(self.text)


def iter_events(text):
    """Yield each top-level <Event> element of a document as a Node tree.
    Anything outside Event elements (declarations, <Events>, banners) is
    ignored; a stray end tag is tolerated."""
    stack = []
    for m in TOKEN.finditer(text):
        name = m.group("start")
        if name is not None:
            if not stack and name != "Event":
                continue
            node = Node(name, [(a, unescape(v if v is not None else w))
                               for a, v, w in ATTR.findall(m.group("attrs"))])
            if stack:
                stack[-1].children.append(node)
            if m.group("empty"):
                if not stack:
                    yield node
            else:
                stack.append(node)
            continue
        if not stack:
            continue
        name = m.group("end")
        if name is not None:
            if not any(n.name == name for n in stack):
                continue
            while stack:
                node = stack.pop()
                if node.name == name:
                    break
            if not stack:
                yield node
        elif m.group("text") is not None:
            stack[-1].text.append(unescape(m.group("text")))
        elif m.group("cdata") is not None:
            stack[-1].text.append(m.group("cdata"))


# ---------------------------------------------------------------- normalising

GUID = re.compile(r"\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                  r"[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?")
HEX = re.compile(r"0[xX]([0-9a-fA-F]+)")
TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?Z?")
REPLACEMENTS = re.compile("\ufffd+")


def norm(value):
    """One value in a form all three tools agree on when they mean the same
    thing (evtx-format.md 1.7)."""
    if value is None:
        return ""
    v = value.replace("\r\n", "\n").replace("\r", "\n")
    nul = v.find("\0")
    if nul >= 0:                      # strings end at the first NUL (1.7)
        v = v[:nul]
    if "\ufffd" in v:                 # bad UTF-16: one or three U+FFFD
        v = REPLACEMENTS.sub("\ufffd", v)
    if len(v) in (36, 38):
        m = GUID.fullmatch(v)
        if m:                         # braces and case differ per tool
            return m.group(1).upper()
    if v in ("True", "False"):       # python-evtx prints Python bools
        return v.lower()
    if v[:2] in ("0x", "0X"):
        m = HEX.fullmatch(v)
        if m:                         # zero padding differs per tool
            return "0x" + (m.group(1).lstrip("0").lower() or "0")
    return v


def time_ticks(v):
    """(100 ns ticks since 0001-01-01, fraction digits) of a timestamp, or None."""
    m = TIME.fullmatch(v)
    if not m:
        return None
    y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
    frac = m.group(7) or ""
    days = _days_from_civil(y, mo, d)
    ticks = (((days * 24 + h) * 60 + mi) * 60 + s) * 10**7 + int((frac + "0000000")[:7])
    return ticks, len(frac)


def _days_from_civil(y, m, d):
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe


HEX_BYTES = re.compile(r"(?:[0-9A-Fa-f]{2})+")


def same_bytes(hex_text, other):
    """python-evtx prints Binary values in base64, the others in hex."""
    if not HEX_BYTES.fullmatch(hex_text):
        return False
    try:
        return base64.b64decode(other, validate=True) == bytes.fromhex(hex_text)
    except (binascii.Error, ValueError):
        return False


def same(a, b):
    """Values equal after normalisation. Times compare at 100 ns when both
    have 7+ fraction digits. python-evtx converts through a float of seconds
    and prints microseconds, which ends up to ~2 us off (seen: 2.1 us), so
    with 6 or fewer digits on one side 3 us are allowed."""
    if a == b:
        return True
    ta, tb = time_ticks(a), time_ticks(b)
    if ta is None or tb is None:
        return same_bytes(a, b) or same_bytes(b, a)
    if ta[1] >= 7 and tb[1] >= 7:
        return ta[0] == tb[0]
    return abs(ta[0] - tb[0]) <= 30


def same_field(field, a, b):
    if field != "Data":
        return same(a, b)
    return len(a) == len(b) and all(pa == pb and same(va, vb)
                                    for (pa, va), (pb, vb) in zip(a, b))


STRING_ARRAY = re.compile(r"(?:<string>.*?</string>\n?)+", re.S)
STRING_ITEM = re.compile(r"<string>(.*?)</string>", re.S)


def leaf_values(node):
    """The values of a leaf element. python-evtx prints a string array as
    one text "<string>a</string>\n<string>b</string>\n" where the others
    repeat the element per item (1.7 Arrays): split it the same way."""
    text = node.all_text()
    if text.startswith("<string>") and STRING_ARRAY.fullmatch(text):
        return [norm(v) for v in STRING_ITEM.findall(text)]
    return [norm(text)]


def flatten(node, path, out):
    """EventData/UserData as (path, value) pairs in document order. Data
    elements are named by their Name attribute; attributes whose value is
    empty are dropped (python-evtx prints NULL optional attributes as ""),
    and so are empty <Binary> elements: libevtx honours the dependency id
    that suppresses them when NULL, the others print them (1.9)."""
    for name, value in node.attrs:
        if name == "Name" and node.name == "Data" or name.startswith("xmlns"):
            continue
        v = norm(value)
        if v:
            out.append((path + "@" + name, v))
    kids = node.children
    if not kids:
        values = leaf_values(node)
        if values != [""] or node.name != "Binary" or node.attrs:
            out.extend((path, v) for v in values)
        return
    for c in kids:
        label = c.name
        for an, av in c.attrs:
            if an == "Name" and c.name == "Data":
                label = "Data[%s]" % av
        flatten(c, path + "/" + label, out)
    text = node.all_text().strip()
    if text:
        out.append((path + "#text", norm(text)))


def record_of(event):
    """[EventRecordID, {field: value}] of one Event element."""
    system = event.child("System")

    def text(name):
        n = system.child(name) if system else None
        return norm(n.all_text().strip()) if n else ""

    tc = system.child("TimeCreated") if system else None
    data = []
    for c in event.children:
        if c.name != "System":
            flatten(c, c.name, data)
    return [text("EventRecordID"), {
        "EventID": text("EventID"),
        "TimeCreated": norm(dict(tc.attrs).get("SystemTime")) if tc else "",
        "Computer": text("Computer"),
        "Channel": text("Channel"),
        "Data": data,
    }]


# ---------------------------------------------------------------- running tools

def run_tool(tool, cmd, path):
    """Run one tool on one file: {"status", "message", "records"}."""
    rc, out, err = pslib.run(cmd + [path], timeout=PEER_TIMEOUT)
    text = out.decode("utf-8", "replace")
    records = [record_of(e) for e in iter_events(text)]
    if rc is None:
        status, message = "timeout", "timed out after %d s" % PEER_TIMEOUT
    elif rc != 0:
        status, message = "error", "exit status %d: %s" % (rc, pslib.last_line(err))
    else:
        status, message = "ok", pslib.last_line(err)
    return {"tool": tool, "status": status, "message": message, "records": records}


def cache_path(cache_dir, tool, sha):
    return os.path.join(cache_dir, tool, sha + ".json.gz")


def load_cached(path):
    try:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def run_and_cache(tool, cmd, path, cache_file):
    result = run_tool(tool, cmd, path)
    if cache_file and result["status"] != "timeout":
        os.makedirs(os.path.dirname(cache_file), exist_ok=True)
        tmp = cache_file + ".%d.tmp" % os.getpid()
        with gzip.open(tmp, "wt", encoding="utf-8") as f:
            json.dump(result, f)
        os.replace(tmp, cache_file)
    return result


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run_everything(files, commands, cache_dir, jobs, use_cache):
    """{(tool, path): result}. Peers come from the cache where possible; the
    slowest work (python-evtx on the biggest files) is started first."""
    results, tasks = {}, []
    for path in files:
        sha = sha256_of(path)
        for tool in PEERS:
            cf = cache_path(cache_dir, tool, sha)
            cached = load_cached(cf) if use_cache else None
            if cached is not None:
                results[(tool, path)] = cached
            else:
                tasks.append((tool, path, cf))
        tasks.append(("plainsight", path, None))
    cost = {"python-evtx": 100, "libevtx": 2, "plainsight": 1}
    tasks.sort(key=lambda t: -cost[t[0]] * os.path.getsize(t[1]))
    npeer = sum(1 for t in tasks if t[0] != "plainsight")
    print("running: %d files, %d peer runs not cached, %d jobs" % (len(files), npeer, jobs),
          flush=True)
    with concurrent.futures.ProcessPoolExecutor(max(1, jobs)) as pool:
        futures = {pool.submit(run_and_cache, tool, commands[tool], path, cf): (tool, path)
                   for tool, path, cf in tasks}
        for fut in concurrent.futures.as_completed(futures):
            results[futures[fut]] = fut.result()
    return results


# ---------------------------------------------------------------- comparing

def keyed(records):
    """{(EventRecordID, n-th occurrence): fields}; IDs can repeat in a file."""
    seen, out = collections.Counter(), {}
    for rid, fields in records:
        out[(rid, seen[rid])] = fields
        seen[rid] += 1
    return out


def why_peer_failed(tool, layout):
    """Known causes (evtx-format.md 1.4, 1.1) seen in the file's structure."""
    header, chunks = layout
    reasons = []
    tl = sum(c.template_less for c in chunks)
    if tl:
        reasons.append("%d template-less records" % tl)
    live = [c for c in chunks if c.magic_ok]
    if tool == "python-evtx" and header and header["chunk_count"] < len(live):
        reasons.append("header says %d chunks, file has %d (python-evtx stops at the header count)"
                       % (header["chunk_count"], len(live)))
    if any(c.damaged for c in chunks):
        reasons.append("damaged records")
    return "; ".join(reasons) or "cause not identified"


class FileReport:
    def __init__(self):
        self.failures = []      # consensus disagreements, plainsight errors
        self.peer_failures = []
        self.unconfirmed = []   # plainsight differs from a lone peer
        self.stats = collections.Counter()


def describe(field, a, b):
    """Short text of the first difference between two field values."""
    if field != "Data":
        return "%r vs %r" % (a, b)
    for i, (x, y) in enumerate(zip(a, b)):
        if x[0] != y[0] or not same(x[1], y[1]):
            return "item %d: %s=%r vs %s=%r" % (i, x[0], x[1][:80], y[0], y[1][:80])
    return "%d items vs %d items" % (len(a), len(b))


def compare_file(path, results, layout):
    rep = FileReport()
    ps = results[("plainsight", path)]
    if ps["status"] != "ok":
        rep.failures.append("plainsight %s" % ps["message"])
    ps_recs = keyed(ps["records"])
    peers = {t: results[(t, path)] for t in PEERS}
    peer_recs = {t: keyed(r["records"]) for t, r in peers.items()}
    for tool, r in peers.items():
        if (r["status"] != "ok" or len(r["records"]) < len(ps["records"])) \
                and ps["status"] == "ok":
            rep.peer_failures.append("%s: %d of %d records (%s%s)" % (
                tool, len(r["records"]), len(ps["records"]), why_peer_failed(tool, layout),
                "; " + r["message"] if r["message"] else ""))
    check_counts(rep, ps, peers)
    for key, mine in ps_recs.items():
        theirs = {t: recs[key] for t, recs in peer_recs.items() if key in recs}
        rep.stats["records"] += 1
        rep.stats["records compared with %d peer(s)" % len(theirs)] += 1
        for field in FIELDS:
            compare_field(rep, key, field, mine[field],
                          {t: f[field] for t, f in theirs.items()})
    both = set(peer_recs["python-evtx"]) & set(peer_recs["libevtx"])
    for key in sorted(both - set(ps_recs)):
        rep.failures.append("record %s: both peers have it, plainsight does not" % key[0])
    for tool, recs in peer_recs.items():
        for key in sorted(set(recs) - both - set(ps_recs)):
            rep.unconfirmed.append("record %s: only %s has it" % (key[0], tool))
    return rep


def check_counts(rep, ps, peers):
    n = len(ps["records"])
    counts = {t: len(r["records"]) for t, r in peers.items()}
    clean = all(r["status"] == "ok" for r in peers.values())
    if clean and len(set(counts.values())) == 1 and n != counts["libevtx"]:
        rep.failures.append("record count: both peers %d, plainsight %d" % (counts["libevtx"], n))


def compare_field(rep, key, field, mine, theirs):
    values = list(theirs.values())
    if not values:
        rep.stats["no peer has the record: " + field] += 1
        return
    if len(values) == 2 and same_field(field, values[0], values[1]):
        # Against each peer: libevtx's 9-digit times are checked at 100 ns,
        # python-evtx's 6-digit ones only within its float error.
        if all(same_field(field, mine, v) for v in values):
            rep.stats["agree: " + field] += 1
        else:
            rep.stats["FAIL: " + field] += 1
            ref = values[-1]        # libevtx: the more precise of the two
            rep.failures.append("record %s %s: peers %s" % (
                key[0], field, describe(field, ref, mine).replace(" vs ", ", plainsight ", 1)))
        return
    sides = [t for t, v in theirs.items() if same_field(field, mine, v)]
    others = [t for t in theirs if t not in sides]
    if not others:
        rep.stats["agree with lone peer: " + field] += 1
        return
    if len(values) == 2:
        rep.stats["peers disagree on %s; plainsight sides with %s" % (field, sides[0] if sides else "neither")] += 1
        if sides:
            return
    rep.stats["unconfirmed: %s differs from %s" % (field, "/".join(others))] += 1
    t = others[0]
    rep.unconfirmed.append("record %s %s: %s %s" % (
        key[0], field, t, describe(field, theirs[t], mine).replace(" vs ", ", plainsight ", 1)))


# ---------------------------------------------------------------- main

def main():
    args = pslib.parse_args(__doc__.splitlines()[0], add_options)
    roots = [os.path.join(args.corpus, d) for d in CORPUS_DIRS]
    roots = [r for r in roots if os.path.isdir(r)]
    if not roots:
        pslib.skip("no EVTX corpus under %s" % args.corpus)
    commands = tool_commands(os.path.abspath(args.plainsight))
    missing = [t for t in PEERS if not shutil.which(commands[t][0])]
    if missing:
        pslib.skip("peer tool(s) not installed: %s (scripts/install-deps)" % ", ".join(missing))

    files = [p for r in roots for p in pslib.find_evtx(r) if args.filter in p]
    # PS_PEER_CACHE lets several builds (release, sanitizers) share the slow
    # peers' outputs; plainsight itself always runs.
    cache_root = os.environ.get("PS_PEER_CACHE") or os.path.join(args.build_dir,
                                                                 "differential-cache")
    cache_dir = os.path.join(cache_root, "v%d" % CACHE_VERSION)
    started = time.time()
    results = run_everything(files, commands, cache_dir, args.jobs, not args.no_cache)
    print("tools ran in %.1f s" % (time.time() - started), flush=True)

    totals = collections.Counter()
    passed = failed = skipped = 0
    for path in files:
        header, chunks, _ = pslib.evtx_layout(path)
        rep = compare_file(path, results, (header, chunks))
        totals.update(rep.stats)
        rel = os.path.relpath(path, args.corpus)
        for line in rep.peer_failures:
            print("PEER-FAIL %s: %s" % (rel, line))
        if rep.failures:
            failed += 1
            print("FAIL %s" % rel)
            for line in rep.failures[:MAX_DIFFS_SHOWN]:
                print("    " + line)
            if len(rep.failures) > MAX_DIFFS_SHOWN:
                print("    ... %d more" % (len(rep.failures) - MAX_DIFFS_SHOWN))
        elif not any(results[(t, path)]["records"] for t in PEERS) and \
                results[("plainsight", path)]["records"]:
            skipped += 1        # nothing to compare against
        else:
            passed += 1
        if rep.unconfirmed and (args.verbose or not rep.failures):
            print("NOTE %s: %d unconfirmed difference(s), e.g. %s"
                  % (rel, len(rep.unconfirmed), rep.unconfirmed[0]))
    print("summary:")
    for k in sorted(totals):
        print("    %-70s %d" % (k, totals[k]))
    pslib.finish(passed, failed, skipped, lenient=LENIENT)


if __name__ == "__main__":
    main()
