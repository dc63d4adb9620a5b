#!/usr/bin/env python3
"""plainsight hunt with Sigma correlation rules, end to end.

One EVTX (written by the project's evtxgen) holds a password-guessing burst
against one account, a few failures for another, a logon after the burst, and
an RDP logon. One multi-document YAML file holds the base rules and three
correlations (event_count, temporal_ordered, and an event_count with
`generate: true`). Checks: exactly the expected correlation detections (title,
level, count and group in Details, Computer when grouped by it), base rules
used only by correlations are not reported while a `generate: true` one is,
the filters (--min-level, --rule-id, --tags, --status, --from) act on
correlation rules, the exit code, csv/jsonl, the summary line, --html, and
that --no-prefilter and the thread count change nothing.
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

ID_FAILED = "22222222-0000-4000-8000-000000000001"
ID_GOOD = "22222222-0000-4000-8000-000000000002"
ID_RDP = "22222222-0000-4000-8000-000000000003"
ID_BRUTE = "22222222-0000-4000-8000-0000000000c1"
ID_AFTER = "22222222-0000-4000-8000-0000000000c2"
ID_RDP_HOST = "22222222-0000-4000-8000-0000000000c3"

RULES = """title: Failed Logon
id: %(failed)s
name: failed_logon
status: stable
level: low
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4625}
  condition: sel
---
title: Successful Logon
id: %(good)s
name: good_logon
status: stable
level: informational
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4624}
  condition: sel
---
title: RDP Logon
id: %(rdp)s
name: rdp_logon
status: stable
level: low
tags: [attack.lateral_movement, attack.t1021.001]
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 4624, LogonType: 10}
  condition: sel
---
title: Password Guessing
id: %(brute)s
status: stable
level: high
tags: [attack.credential_access, attack.t1110.001]
correlation:
  type: event_count
  rules: [failed_logon]
  group-by: [TargetUserName]
  timespan: 5m
  condition: {gte: 5}
---
title: Logon After Failures
id: %(after)s
status: test
level: critical
tags: [attack.initial_access, attack.t1078]
correlation:
  type: temporal_ordered
  rules: [failed_logon, good_logon]
  group-by: [TargetUserName]
  timespan: 10m
---
title: RDP Logons On A Host
id: %(rdp_host)s
status: experimental
level: medium
correlation:
  type: event_count
  rules: [rdp_logon]
  generate: true
  group-by: [Computer]
  timespan: 1h
  condition: {gte: 1}
""" % {"failed": ID_FAILED, "good": ID_GOOD, "rdp": ID_RDP, "brute": ID_BRUTE,
       "after": ID_AFTER, "rdp_host": ID_RDP_HOST}

SECURITY_GUID = "54849625-5478-4994-A5BA-3E3B0328C30D"
DC = "DC01.corp.example"

EVENTDATA_4625 = {"guid": "6B1C2F10-6F24-4A4E-9C45-0D8A8E1D4625", "tree": [
    "EventData",
    ["Data", {"Name": "TargetUserName"}, {"$sub": 0, "type": "string"}],
    ["Data", {"Name": "TargetDomainName"}, {"$sub": 1, "type": "string"}],
    ["Data", {"Name": "Status"}, {"$sub": 2, "type": "hex32"}],
    ["Data", {"Name": "LogonType"}, {"$sub": 3, "type": "uint32"}],
    ["Data", {"Name": "IpAddress"}, {"$sub": 4, "type": "string"}],
    ["Data", {"Name": "IpPort"}, {"$sub": 5, "type": "string"}]]}


def at(hms):
    return "2024-05-01T%sZ" % hms


# (time, kind, user, logon type, address); kind 'fail' (4625) or 'logon' (4624).
# alice: six failures in 100 s from one address, then a network logon.
# bob: two failures. carol: an RDP logon, then one failure (wrong order).
EVENTS = ([(at("10:00:%02d" % (20 * i)) if i < 3 else at("10:01:%02d" % (20 * i - 60)),
            "fail", "alice", 3, "203.0.113.5") for i in range(6)] +
          [(at("10:00:30"), "fail", "bob", 3, "203.0.113.9"),
           (at("10:01:10"), "fail", "bob", 3, "203.0.113.9"),
           (at("10:03:00"), "logon", "alice", 3, "203.0.113.5"),
           (at("09:00:00"), "logon", "carol", 10, "10.0.0.7"),
           (at("09:01:00"), "fail", "carol", 3, "10.0.0.7")])


def evtxgen_description(fixture_dir):
    with open(os.path.join(fixture_dir, "security_4688.json")) as f:
        templates = json.load(f)["templates"]
    templates["eventdata_4625"] = EVENTDATA_4625

    def system(eid, time, rid, data):
        return ["Microsoft-Windows-Security-Auditing", SECURITY_GUID, eid, 0, 0, 12544, 0,
                "0x8010000000000000", time, rid, None, 4, 7512, "Security", DC, None, data]

    records = []
    for rid, (time, kind, user, logon_type, address) in enumerate(EVENTS, 1):
        if kind == "fail":
            eid, data = 4625, {"type": "binxml", "template": "eventdata_4625",
                               "values": [user, "CORP", "0xc000006d", logon_type, address,
                                          "50123"]}
        else:
            eid, data = 4624, {"type": "binxml", "template": "eventdata_4624",
                               "values": ["S-1-5-21-1-2-3-1104", user, logon_type,
                                          "00000000-0000-0000-0000-000000000000", address,
                                          "50124"]}
        records.append({"id": rid, "time": time, "template": "system",
                        "values": system(eid, time, rid, data)})
    return {"templates": templates, "records": records}


# Every detection expected by default, as (RuleID, Timestamp, Computer, Level, Details).
BRUTE_ALICE = (ID_BRUTE, "2024-05-01T10:00:00.000Z", "", "high",
               "count=6 window=2024-05-01T10:00:00.000Z..2024-05-01T10:01:40.000Z "
               "TargetUserName=alice")
AFTER_ALICE_PREFIX = (ID_AFTER, "critical", "count=2 window=", "TargetUserName=alice")
RDP_EVENT = (ID_RDP, "2024-05-01T09:00:00.000Z", DC, "low")
RDP_HOST = (ID_RDP_HOST, "2024-05-01T09:00:00.000Z", DC, "medium",
            "count=1 window=2024-05-01T09:00:00.000Z..2024-05-01T09:00:00.000Z "
            "Computer=" + DC)


def main():
    args = pslib.parse_args(__doc__)
    exe = os.path.abspath(args.plainsight)
    evtxgen = os.path.join(args.build_dir, "tools", "evtxgen", "evtxgen")
    here = os.path.dirname(os.path.abspath(__file__))
    fixtures = os.path.join(here, "..", "fixtures", "evtxgen")
    if not os.path.exists(evtxgen):
        pslib.skip("evtxgen not built at %s" % evtxgen)
    c = pslib.Checker(args.verbose)
    with tempfile.TemporaryDirectory(prefix="ps_hunt_corr_") as tmp:
        rules = os.path.join(tmp, "correlations.yml")
        with open(rules, "w") as f:
            f.write(RULES)
        desc = os.path.join(tmp, "desc.json")
        with open(desc, "w") as f:
            json.dump(evtxgen_description(fixtures), f)
        evtx = os.path.join(tmp, "Security.evtx")
        rc, _, err = pslib.run([evtxgen, desc, evtx])
        if rc != 0:
            print("FAIL evtxgen: " + pslib.last_line(err))
            pslib.finish(0, 1)

        def hunt(*extra):
            return pslib.run([exe, "hunt", "-r", rules] + list(extra) + [evtx], timeout=300)

        def rows_csv(*extra):
            rc, out, err = hunt("-f", "csv", *extra)
            rows = list(csv.reader(io.StringIO(out.decode("utf-8"), newline="")))
            return rc, rows, err

        def ids(rows):
            return [r[7] for r in rows[1:]]

        # Default run: the correlations and the generate: true base rule only.
        rc, rows, err = rows_csv()
        body = rows[1:]
        c.check("exit 1", rc == 1, "rc=%s %s" % (rc, pslib.last_line(err)))
        c.check("csv header", rows and rows[0] == COLUMNS, rows[:1])
        c.check("exactly the expected detections", sorted(ids(rows)) ==
                sorted([ID_RDP, ID_RDP_HOST, ID_BRUTE, ID_AFTER]), body)
        c.check("correlation-only base rules not reported",
                ID_FAILED not in ids(rows) and ID_GOOD not in ids(rows), ids(rows))
        c.check("sorted by time", [r[0] for r in body] == sorted(r[0] for r in body),
                [r[0] for r in body])
        by_id = {r[7]: r for r in body}
        brute = by_id.get(ID_BRUTE, [""] * 12)
        c.check("event_count: title, level, count, window, group",
                (brute[7], brute[0], brute[1], brute[5], brute[10]) == BRUTE_ALICE and
                brute[6] == "Password Guessing", brute)
        c.check("event_count: bob's two failures are not enough",
                not any("bob" in r[10] for r in body), body)
        c.check("correlation row: no channel, event, record or file",
                (brute[2], brute[3], brute[4], brute[11]) == ("", "0", "0", ""), brute)
        c.check("correlation row: ATT&CK columns from its tags",
                (brute[8], brute[9]) == ("credential_access", "t1110.001"), brute)
        after = by_id.get(ID_AFTER, [""] * 12)
        c.check("temporal_ordered: alice's failures then logon",
                after[6] == "Logon After Failures" and after[5] == "critical" and
                after[10].startswith("count=2 window=2024-05-01T10:00:00.000Z..") and
                after[10].endswith(" TargetUserName=alice"), after)
        c.check("temporal_ordered: carol's logon before her failure is not reported",
                sum(1 for r in body if r[7] == ID_AFTER) == 1, body)
        rdp = by_id.get(ID_RDP, [""] * 12)
        c.check("generate: true keeps the base rule's own detection",
                (rdp[7], rdp[0], rdp[1], rdp[5]) == RDP_EVENT and rdp[4] == "10" and
                rdp[3] == "4624" and "carol" in rdp[10], rdp)
        host = by_id.get(ID_RDP_HOST, [""] * 12)
        c.check("group-by Computer fills the Computer column",
                (host[7], host[0], host[1], host[5], host[10]) == RDP_HOST, host)
        c.check("summary counts correlation rules",
                b"correlation rules: 3 loaded, 3 used, 3 detections" in err and
                b"4 detections in 11 events" in err, err.decode("utf-8", "replace"))
        c.check("summary shows the prefilter", b"prefilter: " in err, err[-300:])

        # JSON lines: the same rows, numbers for EventID/RecordID.
        rc, out, _ = hunt("-f", "jsonl")
        objs = [json.loads(l) for l in out.decode("utf-8").splitlines()]
        c.check("jsonl exit 1 and keys", rc == 1 and objs and
                all(list(o.keys()) == COLUMNS for o in objs), objs[:1])
        c.check("jsonl == csv", [[str(o[k]) for k in COLUMNS] for o in objs] == body,
                (objs, body))
        jb = [o for o in objs if o["RuleID"] == ID_BRUTE]
        c.check("jsonl correlation row", len(jb) == 1 and jb[0]["EventID"] == 0 and
                jb[0]["RecordID"] == 0 and jb[0]["Details"] == BRUTE_ALICE[4], jb)

        # Filters act on correlation rules as on the others.
        rc, rows, _ = rows_csv("--min-level", "high")
        c.check("--min-level high", rc == 1 and sorted(ids(rows)) ==
                sorted([ID_BRUTE, ID_AFTER]), ids(rows))
        rc, rows, _ = rows_csv("--rule-id", ID_BRUTE)
        c.check("--rule-id a correlation (its base rule still counted)", rc == 1 and
                ids(rows) == [ID_BRUTE] and rows[1][10] == BRUTE_ALICE[4], rows)
        rc, rows, _ = rows_csv("--rule-id", ID_FAILED)
        c.check("--rule-id a correlation-only base rule: nothing, exit 0",
                rc == 0 and len(rows) == 1, rows)
        rc, rows, _ = rows_csv("--tags", "t1110")
        c.check("--tags", ids(rows) == [ID_BRUTE], rows)
        rc, rows, _ = rows_csv("--status", "stable")
        c.check("--status stable", sorted(ids(rows)) == sorted([ID_RDP, ID_BRUTE]), rows)
        rc, rows, _ = rows_csv("--from", "2024-05-01T10:00:50Z")
        c.check("--from leaves three failures: no event_count detection",
                ID_BRUTE not in ids(rows) and ID_AFTER in ids(rows), rows)
        rc, rows, _ = rows_csv("--to", "2024-05-01T09:30:00Z")
        c.check("--to", sorted(ids(rows)) == sorted([ID_RDP, ID_RDP_HOST]), rows)

        # The same output without the prefilter and with any thread count.
        _, base, _ = hunt("-f", "jsonl", "-t", "1")
        _, nopre, err = hunt("-f", "jsonl", "-t", "1", "--no-prefilter")
        c.check("--no-prefilter: same output", base == nopre and base, (base, nopre))
        c.check("--no-prefilter: summary says off", b"prefilter: off" in err, err[-300:])
        _, csv1, _ = hunt("-f", "csv", "--no-prefilter")
        _, csv2, _ = hunt("-f", "csv")
        c.check("--no-prefilter: same csv", csv1 == csv2)
        _, two, _ = hunt("-f", "jsonl", "-t", "2")
        c.check("threads 1 == 2", base == two)

        # -q: nothing on stderr; --html: the correlation detections in the page.
        html = os.path.join(tmp, "report.html")
        rc, _, err = hunt("-q", "-f", "csv", "--html", html)
        page = open(html, encoding="utf-8").read() if os.path.exists(html) else ""
        c.check("--html holds correlation detections", rc == 1 and err == b"" and
                "Password Guessing" in page and "Logon After Failures" in page, err)

        # value_count: the distinct values counted are listed in Details.
        spray = os.path.join(tmp, "spray.yml")
        with open(spray, "w") as f:
            f.write(RULES.split("---\ntitle: Password Guessing")[0] + SPRAY)
        rc, out, err = pslib.run([exe, "hunt", "-r", spray, "-f", "csv", evtx], timeout=300)
        rows = list(csv.reader(io.StringIO(out.decode("utf-8"), newline="")))[1:]
        c.check("value_count: the users tried from each address, in Details",
                rc == 1 and [(r[7], r[10]) for r in rows if r[7] == ID_SPRAY] ==
                [(ID_SPRAY, "count=3 window=2024-05-01T09:01:00.000Z..2024-05-01T10:01:00.000Z"
                            " TargetDomainName=CORP TargetUserName=carol \u00a6 alice \u00a6 bob"),
                 (ID_SPRAY, "count=2 window=2024-05-01T10:01:10.000Z..2024-05-01T10:01:40.000Z"
                            " TargetDomainName=CORP TargetUserName=bob \u00a6 alice")],
                (rows, pslib.last_line(err)))
    pslib.finish(c.passed, c.failed)


ID_SPRAY = "22222222-0000-4000-8000-0000000000c4"
SPRAY = """---
title: Users Tried From One Domain
id: %s
level: medium
correlation:
  type: value_count
  rules: [failed_logon]
  group-by: [TargetDomainName]
  timespan: 1h
  condition: {gte: 2, field: TargetUserName}
""" % ID_SPRAY


if __name__ == "__main__":
    main()
