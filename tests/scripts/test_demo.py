#!/usr/bin/env python3
"""plainsight demo end to end: it writes the story's logs, hunts them with the
built-in rules, writes the report and says where; hunting the same logs with
'plainsight hunt' and no --rules finds each step of the story with its rule
(and, on these hosts, nothing else), and beside an analyst's own rules with
--builtin; --help, a bad --out and stray arguments.

Works on a fresh clone (the demo needs nothing but the binary)."""

import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pslib  # noqa: E402

JUMP, FS, DC = ("CORP-JUMP01.northwind.local", "CORP-FS01.northwind.local",
                "CORP-DC01.northwind.local")

# (Computer, EventID, RuleTitle) for each step of the story.
EXPECTED = {
    "rdp-logon": [(JUMP, 4624, "Remote Desktop Logon From a Public Address"),
                  (JUMP, 4624, "Remote Logon by a Service Provider Account"),
                  (JUMP, 21, "Remote Desktop Session From a Public Address")],
    "certutil": [(JUMP, 1, "Certutil Fetches a File From a URL"),
                 (JUMP, 4688, "Certutil Fetches a File From a URL")],
    "schtask": [(JUMP, 1, "Scheduled Task Created on a Remote Host With Schtasks"),
                (DC, 4624, "Remote Logon by a Service Provider Account"),
                (DC, 4698, "Scheduled Task Registered to Run From a Staging Folder")],
    "service": [(JUMP, 1, "Service Created on a Remote Host With sc.exe"),
                (DC, 7045, "Service Installed That Runs From a Staging Folder"),
                (DC, 4697, "Service Installed That Runs From a Staging Folder (Security Log)")],
    "lsass-dump": [(JUMP, 1, "Full Memory Dump of LSASS With ProcDump"),
                   (JUMP, 4688, "Full Memory Dump of LSASS With ProcDump"),
                   (JUMP, 10, "Process Opens LSASS With Memory-Read Access"),
                   (JUMP, 1, "LSASS-Style Dump Through comsvcs.dll MiniDump"),
                   (JUMP, 4688, "LSASS-Style Dump Through comsvcs.dll MiniDump")],
    "rar-staging": [(JUMP, 1, "Archive Created With Password or Split Volumes"),
                    (JUMP, 4688, "Archive Created With Password or Split Volumes")],
    "psexec": [(JUMP, 1, "PsExec Run Against a Remote Host"),
               (JUMP, 4648, "Explicit Credentials Used Toward Another Host"),
               (FS, 7045, "PsExec Service Installed"),
               (FS, 17, "PsExec Named Pipe Created"),
               (FS, 1, "Bitsadmin Transfers a File From a URL")],
    "wmi": [(JUMP, 1, "Process Started on a Remote Host With WMIC"),
            (FS, 1, "WMI Provider Host Starts a Shell")],
    "log-clearing": [(FS, 1, "Event Log Cleared With Wevtutil"),
                     (FS, 1102, "Security Log Cleared"),
                     (FS, 104, "Event Log Cleared (System Log Record)")],
}

LOGS = ["CORP-JUMP01/Security.evtx", "CORP-JUMP01/System.evtx",
        "CORP-JUMP01/Microsoft-Windows-Sysmon%4Operational.evtx",
        "CORP-JUMP01/Microsoft-Windows-TerminalServices-LocalSessionManager%4Operational.evtx",
        "CORP-JUMP01/Microsoft-Windows-TerminalServices-RemoteConnectionManager%4Operational.evtx",
        "CORP-FS01/Security.evtx", "CORP-FS01/System.evtx",
        "CORP-FS01/Microsoft-Windows-Sysmon%4Operational.evtx",
        "CORP-DC01/Security.evtx", "CORP-DC01/System.evtx"]


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL: " + what, flush=True)


def check_demo_run(t, exe, out):
    rc, stdout, stderr = pslib.run([exe, "demo", "--out", out + "/"], timeout=120)
    text = stdout.decode("utf-8", "replace")
    t.check(rc == 0, "demo exits 0 (got %s): %s" % (rc, pslib.last_line(stderr)))
    for log in LOGS:
        t.check(os.path.getsize(os.path.join(out, log)) > 4096, "demo wrote " + log)
    report = os.path.join(out, "report.html")
    t.check(os.path.exists(report) and os.path.getsize(report) > 1000, "demo wrote the report")
    t.check(("The report: " + report) in text, "demo says where the report is")
    t.check(("The logs:   " + out) in text, "demo says where the logs are")
    t.check("PsExec Service Installed" in text, "demo prints the timeline")
    t.check(b"30 detections" in stderr, "demo prints the summary with 30 detections")
    html = open(report, encoding="utf-8", errors="replace").read()
    t.check("msp-admin" in html and "CORP-FS01" in html, "report shows the account and hosts")


def check_hunt_builtin(t, exe, out):
    rc, stdout, stderr = pslib.run([exe, "hunt", "-q", "-f", "jsonl", out], timeout=120)
    t.check(rc == 1, "hunt with the built-in rules exits 1 (got %s): %s"
            % (rc, pslib.last_line(stderr)))
    rows = [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]
    found = {(r["Computer"], int(r["EventID"]), r["RuleTitle"]) for r in rows}
    wanted = set()
    for step, items in EXPECTED.items():
        for item in items:
            wanted.add(item)
            t.check(item in found, "step %s: %s on %s event %d" % (step, item[2], item[0],
                                                                    item[1]))
    for extra in sorted(found - wanted):
        t.check(False, "unexpected detection: %s on %s event %d" % (extra[2], extra[0],
                                                                     extra[1]))
    for r in rows:
        t.check(r["MitreTags"] != "", "rule %s has ATT&CK tags" % r["RuleTitle"])


USER_RULE = """title: Security Log Cleared (Analyst's Own Rule)
id: 0d3c5a7e-1b2f-4c6d-9e8a-7f6b5c4d3e2f
level: high
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 1102}
  condition: sel
"""


def check_builtin_beside_rules(t, exe, out, tmp):
    """--builtin: the pack beside an analyst's own rules; without it, theirs alone."""
    rule = os.path.join(tmp, "own.yml")
    with open(rule, "w") as f:
        f.write(USER_RULE)

    def titles(*extra):
        rc, stdout, stderr = pslib.run([exe, "hunt", "-q", "-f", "jsonl", "-r", rule] +
                                       list(extra) + [out], timeout=120)
        rows = [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]
        return rc, {r["RuleTitle"] for r in rows}, stderr

    own = "Security Log Cleared (Analyst's Own Rule)"
    builtin = {item[2] for items in EXPECTED.values() for item in items}
    rc, found, err = titles()
    t.check(rc == 1 and found == {own}, "-r alone: the analyst's rule only (%s, %s)"
            % (sorted(found), pslib.last_line(err)))
    rc, found, err = titles("--builtin")
    t.check(rc == 1 and found == builtin | {own}, "-r with --builtin: both (%s, %s)"
            % (sorted(found ^ (builtin | {own})), pslib.last_line(err)))
    rc, stdout, stderr = pslib.run([exe, "hunt", "-f", "jsonl", "-r", rule, "--builtin", out],
                                   timeout=120)
    t.check(b"rules: %d loaded" % (1 + builtin_count(exe)) in stderr,
            "--builtin: the summary counts both: %s" % stderr[-400:])


def builtin_count(exe):
    rc, _, stderr = pslib.run([exe, "hunt", "-f", "jsonl", os.devnull], timeout=60)
    for line in stderr.decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line.startswith("rules: ") and " loaded" in line:
            return int(line.split()[1])
    return -1


def check_usage(t, exe, tmp):
    rc, stdout, _ = pslib.run([exe, "demo", "--help"])
    t.check(rc == 0 and b"examples:" in stdout and b"--out" in stdout, "demo --help")
    rc, _, stderr = pslib.run([exe, "demo", "stray"])
    t.check(rc == 2 and b"unexpected argument" in stderr, "demo refuses stray arguments")
    blocker = os.path.join(tmp, "a-file")
    open(blocker, "w").close()
    rc, _, stderr = pslib.run([exe, "demo", "--out", os.path.join(blocker, "sub")])
    t.check(rc == 2 and b"cannot write" in stderr, "demo reports an --out it cannot create")
    rc, stdout, _ = pslib.run([exe, "--help"])
    t.check(b"demo" in stdout, "plainsight --help lists demo")


def main():
    args = pslib.parse_args(__doc__)
    t = Checks()
    with tempfile.TemporaryDirectory(prefix="ps-demo-") as tmp:
        out = os.path.join(tmp, "case")
        check_demo_run(t, args.plainsight, out)
        check_hunt_builtin(t, args.plainsight, out)
        check_builtin_beside_rules(t, args.plainsight, out, tmp)
        check_usage(t, args.plainsight, tmp)
    pslib.finish(t.passed, t.failed)


if __name__ == "__main__":
    main()
