#!/usr/bin/env python3
"""EVTX files written by evtxgen must read back right in independent parsers.

For every description in tests/fixtures/evtxgen/*.json that has an "expect"
list, the file is built with <build-dir>/tools/evtxgen/evtxgen and read with
python-evtx (evtx_dump.py), libevtx (evtxexport -f xml) and plainsight's own
XML output. Each record's fields, flattened to paths such as
"System/EventID", "System/Provider@Name" or "EventData/Data[CommandLine]",
must equal the expected text after normalising the formatting the tools
disagree on (GUID case and braces, hex padding, time precision, bool case,
float notation). Known peer limitations are listed in a description's
"peer_limits" and skipped with their reason printed. Descriptions with
"peers": false (template-less records, which both peers cannot read; hostile
files) are read by plainsight only.

A generated description with several hundred records also checks that files
spilling over many chunks read back completely.

Exit 77 (skip) when python-evtx or evtxexport is not installed.
"""

import base64
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pslib  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "evtxgen")


# ------------------------------------------------------------------ readers

def parse_events(text):
    """The <Event> elements of one tool's XML output (tolerates banners,
    XML declarations and output cut short by a crash)."""
    text = re.sub(r"<\?xml[^>]*\?>", "", text)
    start = text.find("<Event ")
    end = text.rfind("</Event>")
    if start < 0 or end < 0:
        return []
    body = text[start:end + len("</Event>")]
    body = body.replace("<Events>", "").replace("</Events>", "")
    root = ET.fromstring("<Events>" + body + "</Events>")
    return list(root)


def run_reader(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def readers(plainsight):
    return {
        "python-evtx": lambda f: run_reader([shutil.which("evtx_dump.py"), f]),
        "evtxexport": lambda f: run_reader([shutil.which("evtxexport"), "-f", "xml", f]),
        "plainsight": lambda f: run_reader([plainsight, "dump", "-q", "-t", "1", "-f", "xml", f]),
    }


# ---------------------------------------------------------- flatten, normalise

def local(tag):
    return tag.split("}", 1)[-1]


def flatten(event):
    """Path -> text (a list when a path repeats) for one <Event>."""
    out = {}

    def put(key, value):
        if key in out:
            if not isinstance(out[key], list):
                out[key] = [out[key]]
            out[key].append(value)
        else:
            out[key] = value

    def walk(elem, prefix):
        tag = local(elem.tag)
        name = elem.get("Name")
        key = prefix + tag + ("[%s]" % name if tag == "Data" and name else "")
        for attr, value in elem.attrib.items():
            if not (tag == "Data" and attr == "Name"):
                put(key + "@" + local(attr), value)
        children = list(elem)
        if not children:
            put(key, elem.text or "")
        for child in children:
            walk(child, key + "/")

    for child in event:
        walk(child, "")
    return out


GUID_RE = re.compile(r"^\{?([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\}?$")
TIME_RE = re.compile(r"^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(\.\d+)?Z?$")
NUM_RE = re.compile(r"^[-+]?\d+(\.\d+)?([eE][-+]?\d+)?$")


def normalise(value):
    """One spelling for values the tools format differently."""
    if isinstance(value, list):
        return [normalise(v) for v in value]
    v = value.strip()
    m = GUID_RE.match(v)
    if m:
        return m.group(1).lower()
    if re.match(r"^0x[0-9a-fA-F]+$", v):
        return str(int(v, 16))
    m = TIME_RE.match(v)
    if m:
        frac = float(m.group(3) or 0)
        when = datetime.datetime.fromisoformat(m.group(1) + " " + m.group(2))
        millis = round(frac * 1000)
        return "%s.%03d" % (when.strftime("%Y-%m-%d %H:%M:%S"), millis)
    if v in ("True", "true", "False", "false"):
        return v.lower()
    if NUM_RE.match(v):
        if re.match(r"^[-+]?\d+$", v):
            return str(int(v))
        return repr(float(v))
    return v


# ------------------------------------------------------------------- checks

class Tally:
    def __init__(self, verbose):
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.verbose = verbose

    def ok(self, what):
        self.passed += 1
        if self.verbose:
            print("ok   " + what)

    def bad(self, what):
        self.failed += 1
        print("FAIL " + what, flush=True)

    def skip(self, what):
        self.skipped += 1
        print("skip " + what, flush=True)


def check_description(tally, name, desc, path, reader_name, read):
    expect = desc.get("expect", [])
    limits = desc.get("peer_limits", {}).get(reader_name, {})
    skip_records = {int(k): v for k, v in limits.get("records", {}).items()}
    skip_fields = limits.get("fields", {})
    rc, out, err = read(path)
    events = parse_events(out)
    label = "%s [%s]" % (name, reader_name)
    wanted = len(expect) - len(skip_records)
    if len(events) < wanted:
        tally.bad("%s: %d records read, %d expected (exit %d) %s" % (
            label, len(events), wanted, rc, err.strip().splitlines()[-1:] if err.strip() else ""))
    for index, fields in enumerate(expect, 1):
        if index in skip_records:
            tally.skip("%s record %d: %s" % (label, index, skip_records[index]))
            continue
        if index > len(events):
            break
        got = flatten(events[index - 1])
        for key, want in fields.items():
            what = "%s record %d %s" % (label, index, key)
            if key in skip_fields:
                tally.skip("%s: %s" % (what, skip_fields[key]))
                continue
            if key not in got:
                tally.bad("%s: missing (have %s)" % (what, sorted(got)))
            elif normalise(got[key]) != normalise(want):
                tally.bad("%s: expected %r, got %r" % (what, want, got[key]))
            else:
                tally.ok(what)


def build(evtxgen, desc_path, out_path, tally, name):
    p = subprocess.run([evtxgen, desc_path, out_path], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    if p.returncode != 0:
        tally.bad("%s: evtxgen failed: %s" % (name, p.stderr.decode().strip()))
        return False
    return True


def many_chunks_description():
    """600 records of one template (over several chunks), each carrying its
    own id in a string value so a lost or shifted record shows."""
    records, expect = [], []
    for i in range(1, 601):
        records.append({"id": i, "template": "event",
                        "values": [4688 + i % 3, "process %d started with a long command line " % i
                                   + "x" * (i % 97)]})
        expect.append({"System/EventID": str(4688 + i % 3), "System/EventRecordID": str(i),
                       "EventData/Data[CommandLine]": "process %d started with a long command line " % i
                       + "x" * (i % 97)})
    return {
        "templates": {"event": {"tree": [
            "Event", {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
            ["System", ["Provider", {"Name": "Plainsight-Spill"}],
             ["EventID", {"$sub": 0, "type": "uint16"}],
             ["EventRecordID", "n/a"]],
            ["EventData", ["Data", {"Name": "CommandLine"}, {"$sub": 1, "type": "string"}]]]}},
        "records": records,
        "expect": [dict(e, **{"System/EventRecordID": "n/a"}) for e in expect],
    }


def main():
    args = pslib.parse_args(__doc__.splitlines()[0])
    evtxgen = os.path.join(args.build_dir, "tools", "evtxgen", "evtxgen")
    if not shutil.which("evtx_dump.py") or not shutil.which("evtxexport"):
        pslib.skip("python-evtx (evtx_dump.py) or libevtx (evtxexport) not installed")
    if not os.path.exists(evtxgen):
        pslib.skip("evtxgen not built: " + evtxgen)

    tally = Tally(args.verbose)
    all_readers = readers(args.plainsight)
    with tempfile.TemporaryDirectory(prefix="ps_fixture_peers_") as tmp:
        descriptions = []
        for fname in sorted(os.listdir(FIXTURES)):
            if fname.endswith(".json"):
                with open(os.path.join(FIXTURES, fname), encoding="utf-8") as f:
                    descriptions.append((fname, os.path.join(FIXTURES, fname), json.load(f)))
        spill = many_chunks_description()
        spill_path = os.path.join(tmp, "many_chunks.json")
        with open(spill_path, "w", encoding="utf-8") as f:
            json.dump(spill, f)
        descriptions.append(("many_chunks (generated)", spill_path, spill))

        for name, desc_path, desc in descriptions:
            out = os.path.join(tmp, os.path.basename(desc_path) + ".evtx")
            if not build(evtxgen, desc_path, out, tally, name):
                continue
            if not desc.get("expect"):
                continue
            for reader_name, read in all_readers.items():
                if reader_name != "plainsight" and desc.get("peers") is False:
                    continue
                check_description(tally, name, desc, out, reader_name, read)
    pslib.finish(tally.passed, tally.failed, tally.skipped)


if __name__ == "__main__":
    main()
