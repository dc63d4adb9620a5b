"use strict";
/* plainsight report: builds the views from the JSON in #ps-data.
 * Every value in that JSON came from event logs an intruder may have
 * written, so text only ever reaches the page through textContent or
 * setAttribute of fixed, harmless attributes; never through innerHTML. */
(function () {
  var data = JSON.parse(document.getElementById("ps-data").textContent);
  var SVG = "http://www.w3.org/2000/svg";
  var LEVELS = ["critical", "high", "medium", "low", "informational"];
  var TACTICS = ["reconnaissance", "resource_development", "initial_access", "execution",
    "persistence", "privilege_escalation", "defense_evasion", "credential_access",
    "discovery", "lateral_movement", "collection", "command_and_control",
    "exfiltration", "impact"];
  var MAX_ROWS = 1000, MAX_HOST_ROWS = 500, MAX_COLUMN_NODES = 60;
  /* detection columns, as written by report_page.c */
  var D_TIME = 0, D_HOST = 1, D_CHANNEL = 2, D_EID = 3, D_RID = 4, D_LEVEL = 5,
    D_TITLE = 6, D_RULE = 7, D_TACTICS = 8, D_TECHS = 9, D_DETAILS = 10, D_FILE = 11;
  /* logon edge columns */
  var L_KIND = 0, L_TARGET = 1, L_ACCOUNT = 2, L_DOMAIN = 3, L_SRC_HOST = 4, L_SRC_IP = 5,
    L_COUNT = 6, L_FIRST = 7, L_LAST = 8;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs) e.setAttribute(k, String(attrs[k]));
    return e;
  }
  function section(id, title) {
    var s = el("section", "view");
    s.id = id;
    s.appendChild(el("h2", null, title));
    document.getElementById("app").appendChild(s);
    return s;
  }
  function list(text) { return text ? text.split(",") : []; }
  function table(headers) {
    var t = el("table"), tr = el("tr");
    headers.forEach(function (h) { tr.appendChild(el("th", null, h)); });
    t.appendChild(el("thead")).appendChild(tr);
    t.appendChild(el("tbody"));
    return t;
  }
  function row(t, cells, cls) {
    var tr = el("tr", cls);
    cells.forEach(function (c) {
      var td = el("td");
      if (c instanceof Node) td.appendChild(c);
      else td.textContent = String(c);
      tr.appendChild(td);
    });
    t.tBodies[0].appendChild(tr);
    return tr;
  }
  function levelBadge(level) { return el("span", "lvl lvl-" + LEVELS.indexOf(level), level); }
  function countBy(items, key) {
    var m = new Map();
    items.forEach(function (it) {
      [].concat(key(it)).forEach(function (k) { m.set(k, (m.get(k) || 0) + 1); });
    });
    return m;
  }
  function byCountDesc(m) {
    return Array.from(m.entries()).sort(function (a, b) {
      return b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
    });
  }
  function option(select, value, label) {
    var o = el("option", null, label);
    o.value = value;
    select.appendChild(o);
  }

  var dets = data.detections;

  /* --- summary: hosts with counts (the numbers are in the static HTML) --- */
  function summaryHosts() {
    var s = document.getElementById("summary");
    var hosts = byCountDesc(countBy(dets, function (d) { return d[D_HOST]; }));
    if (!hosts.length) return;
    s.appendChild(el("h3", null, "Hosts with detections"));
    var ul = el("ul", "hosts");
    hosts.forEach(function (h) {
      var li = el("li");
      var a = el("a", null, h[0] || "(none)");
      a.href = "#host-" + hosts.indexOf(h);
      li.appendChild(a);
      li.appendChild(document.createTextNode(" (" + h[1] + ")"));
      ul.appendChild(li);
    });
    s.appendChild(ul);
  }

  /* --- timeline with filters and search --- */
  var filters = {};
  function timeline() {
    var s = section("timeline", "Timeline of detections");
    var bar = el("div", "filters");
    function addSelect(name, label, values) {
      var sel = el("select");
      sel.setAttribute("aria-label", label);
      option(sel, "", "all " + label);
      values.forEach(function (v) { option(sel, v, v || "(none)"); });
      sel.addEventListener("change", draw);
      bar.appendChild(sel);
      filters[name] = sel;
    }
    function distinct(f) {
      var set = new Set();
      dets.forEach(function (d) { [].concat(f(d)).forEach(function (v) { set.add(v); }); });
      return Array.from(set).sort();
    }
    addSelect("level", "levels", LEVELS.filter(function (l) {
      return dets.some(function (d) { return d[D_LEVEL] === l; });
    }));
    addSelect("host", "hosts", distinct(function (d) { return d[D_HOST]; }));
    addSelect("rule", "rules", distinct(function (d) { return d[D_TITLE]; }));
    addSelect("tactic", "tactics", distinct(function (d) { return list(d[D_TACTICS]); }));
    var search = el("input");
    search.type = "search";
    search.placeholder = "search";
    search.setAttribute("aria-label", "search");
    search.addEventListener("input", draw);
    bar.appendChild(search);
    filters.search = search;
    s.appendChild(bar);
    var info = el("p", "info");
    s.appendChild(info);
    var t = table(["Time (UTC)", "Level", "Host", "Rule", "Tactics", "Techniques", "Event",
      "Details"]);
    t.className = "timeline";
    s.appendChild(t);

    function matches(d) {
      var q = search.value.toLowerCase();
      return (!filters.level.value || d[D_LEVEL] === filters.level.value) &&
        (!filters.host.value || d[D_HOST] === filters.host.value) &&
        (!filters.rule.value || d[D_TITLE] === filters.rule.value) &&
        (!filters.tactic.value || list(d[D_TACTICS]).indexOf(filters.tactic.value) >= 0) &&
        (!q || d.join("\u0001").toLowerCase().indexOf(q) >= 0);
    }
    function draw() {
      var body = t.tBodies[0];
      while (body.firstChild) body.removeChild(body.firstChild);
      var shown = 0, total = 0;
      dets.forEach(function (d) {
        if (!matches(d)) return;
        total++;
        if (shown >= MAX_ROWS) return;
        shown++;
        var tr = row(t, [d[D_TIME], levelBadge(d[D_LEVEL]), d[D_HOST], d[D_TITLE],
          d[D_TACTICS].replace(/,/g, ", "), d[D_TECHS].replace(/,/g, ", "),
          d[D_CHANNEL] + " " + d[D_EID] + " #" + d[D_RID], d[D_DETAILS]]);
        tr.title = d[D_FILE] + " (rule " + d[D_RULE] + ")";
      });
      info.textContent = total + " of " + dets.length + " detections match" +
        (total > shown ? "; the first " + shown + " are shown" : "");
    }
    draw();
    return draw;
  }

  /* --- ATT&CK: tactics in kill-chain order, techniques under each --- */
  function attack(redraw) {
    var s = section("attack", "MITRE ATT\u0026CK");
    var perTactic = new Map();
    dets.forEach(function (d) {
      var tactics = list(d[D_TACTICS]);
      if (!tactics.length) tactics = ["(no tactic)"];
      tactics.forEach(function (ta) {
        if (!perTactic.has(ta)) perTactic.set(ta, { count: 0, techs: new Map() });
        var e = perTactic.get(ta);
        e.count++;
        list(d[D_TECHS]).forEach(function (te) { e.techs.set(te, (e.techs.get(te) || 0) + 1); });
      });
    });
    if (!perTactic.size) { s.appendChild(el("p", "info", "No detections.")); return; }
    var order = TACTICS.filter(function (t) { return perTactic.has(t); });
    perTactic.forEach(function (v, k) { if (order.indexOf(k) < 0) order.push(k); });
    var grid = el("div", "attack-grid");
    order.forEach(function (ta) {
      var e = perTactic.get(ta), col = el("div", "tactic");
      var head = el("button", "tactic-head", ta.replace(/_/g, " ") + " (" + e.count + ")");
      head.type = "button";
      head.addEventListener("click", function () {
        filters.tactic.value = ta;
        redraw();
        document.getElementById("timeline").scrollIntoView();
      });
      col.appendChild(head);
      byCountDesc(e.techs).forEach(function (te) {
        col.appendChild(el("div", "technique", te[0].toUpperCase() + " (" + te[1] + ")"));
      });
      grid.appendChild(col);
    });
    s.appendChild(grid);
  }

  /* --- logon graph: source -> account -> target host --- */
  var LOCAL = new Set(["", "127.0.0.1", "::1", "localhost"]);
  var BUILTIN_DOMAINS = new Set(["nt authority", "window manager", "font driver host",
    "nt service", "workgroup"]);
  function shortName(host) { return host.split(".")[0].toLowerCase(); }
  function source(e) { return e[L_SRC_HOST] || e[L_SRC_IP] || ""; }
  function account(e) { return (e[L_DOMAIN] ? e[L_DOMAIN] + "\\" : "") + e[L_ACCOUNT]; }
  /* From another machine? (a workstation name or an address that is not the
   * target itself) */
  function isRemote(e) {
    var src = source(e).toLowerCase();
    return !LOCAL.has(src) && shortName(src) !== shortName(e[L_TARGET]);
  }
  /* An account of another domain than the target host's: the hop of a
   * service provider's admin into a customer's network. The host's domain is
   * its DNS suffix; an account domain matches when it equals the suffix or
   * its first label (NetBIOS names), or the host itself (local accounts). */
  function isForeign(e) {
    var dom = e[L_DOMAIN].toLowerCase(), host = e[L_TARGET].toLowerCase();
    var dot = host.indexOf(".");
    if (!dom || BUILTIN_DOMAINS.has(dom) || dot < 0) return false;
    var suffix = host.slice(dot + 1);
    return dom !== suffix && dom !== suffix.split(".")[0] && dom !== shortName(host) &&
      suffix.slice(-dom.length - 1) !== "." + dom;
  }
  function logonGraph() {
    var s = section("logons", "Logon graph");
    var edges = data.logons;
    if (!edges.length) { s.appendChild(el("p", "info", "No remote logons in the events read.")); return; }
    s.appendChild(el("p", "info", "Source (workstation or address) \u2192 account \u2192 " +
      "target host, from Security 4624 (types 3, 10), 4625, 4648, 4768, 4769 and " +
      "TerminalServices 1149, 21, 25. Red: an account of another domain than the target's " +
      "(e.g. a service provider's); orange: from another machine; line width: logon count."));
    var cols = [new Map(), new Map(), new Map()];
    function bump(m, k, n) { m.set(k, (m.get(k) || 0) + n); }
    edges.forEach(function (e) {
      bump(cols[0], source(e) || "(local)", e[L_COUNT]);
      bump(cols[1], account(e), e[L_COUNT]);
      bump(cols[2], e[L_TARGET] || "(unknown)", e[L_COUNT]);
    });
    var kept = cols.map(function (m) {
      return byCountDesc(m).slice(0, MAX_COLUMN_NODES).map(function (x) { return x[0]; }).sort();
    });
    var rowH = 30, top = 40, width = 1100, xs = [160, 550, 940];
    var height = top + rowH * Math.max(kept[0].length, kept[1].length, kept[2].length) + 10;
    var g = svg("svg", { width: width, height: height, viewBox: "0 0 " + width + " " + height,
      role: "img", "aria-label": "logon graph" });
    ["Source", "Account", "Target host"].forEach(function (h, i) {
      var t = svg("text", { x: xs[i], y: 16, "text-anchor": "middle", "class": "col-head" });
      t.textContent = h;
      g.appendChild(t);
    });
    function y(col, name) {
      var i = kept[col].indexOf(name);
      return i < 0 ? -1 : top + rowH * i + rowH / 2;
    }
    /* merge edges per drawn link, remembering the worst colour */
    var links = new Map();
    function link(c0, a, b, n, cls) {
      var key = c0 + "\u0000" + a + "\u0000" + b, l = links.get(key);
      if (!l) links.set(key, l = { c0: c0, a: a, b: b, n: 0, cls: "local" });
      l.n += n;
      if (cls === "foreign" || (cls === "remote" && l.cls === "local")) l.cls = cls;
    }
    edges.forEach(function (e) {
      var cls = isForeign(e) ? "foreign" : isRemote(e) ? "remote" : "local";
      link(0, source(e) || "(local)", account(e), e[L_COUNT], cls);
      link(1, account(e), e[L_TARGET] || "(unknown)", e[L_COUNT], cls);
    });
    links.forEach(function (l) {
      var y1 = y(l.c0, l.a), y2 = y(l.c0 + 1, l.b);
      if (y1 < 0 || y2 < 0) return;
      var x1 = xs[l.c0] + 8, x2 = xs[l.c0 + 1] - 8, mx = (x1 + x2) / 2;
      var p = svg("path", { d: "M" + x1 + "," + y1 + " C" + mx + "," + y1 + " " + mx + "," +
        y2 + " " + x2 + "," + y2, "class": "edge edge-" + l.cls,
        "stroke-width": Math.min(1 + Math.log(l.n) * 1.5, 9).toFixed(1) });
      var tip = svg("title", {});
      tip.textContent = l.a + " \u2192 " + l.b + ": " + l.n;
      p.appendChild(tip);
      g.appendChild(p);
    });
    kept.forEach(function (names, col) {
      names.forEach(function (name) {
        var yy = y(col, name);
        g.appendChild(svg("circle", { cx: xs[col], cy: yy, r: 6, "class": "node node-" + col }));
        /* accounts sit between two fans of edges: label them above the node */
        var t = col === 1
          ? svg("text", { x: xs[col], y: yy - 9, "text-anchor": "middle", "class": "halo" })
          : svg("text", { x: xs[col] + (col === 2 ? 12 : -12), y: yy + 4,
            "text-anchor": col === 2 ? "start" : "end" });
        t.textContent = name.length > 40 ? name.slice(0, 39) + "\u2026" : name;
        g.appendChild(t);
      });
    });
    var wrap = el("div", "graph");
    wrap.appendChild(g);
    s.appendChild(wrap);
    if (cols.some(function (m) { return m.size > MAX_COLUMN_NODES; }))
      s.appendChild(el("p", "info", "The graph shows the " + MAX_COLUMN_NODES +
        " busiest nodes of each column; the table below lists every cross-host logon."));

    s.appendChild(el("h3", null, "Cross-host logons"));
    var cross = edges.filter(function (e) { return isRemote(e) || isForeign(e); });
    cross.sort(function (a, b) {
      return isForeign(b) - isForeign(a) || b[L_COUNT] - a[L_COUNT];
    });
    var t = table(["Source host", "Source address", "Account", "Target host", "Kind", "Count",
      "First (UTC)", "Last (UTC)"]);
    cross.forEach(function (e) {
      row(t, [e[L_SRC_HOST], e[L_SRC_IP], account(e), e[L_TARGET], e[L_KIND], e[L_COUNT],
        e[L_FIRST], e[L_LAST]], isForeign(e) ? "foreign" : null);
    });
    s.appendChild(cross.length ? t : el("p", "info", "None."));
  }

  /* --- one section per host --- */
  function hosts() {
    var s = section("hosts", "Hosts");
    var byHost = new Map();
    dets.forEach(function (d) {
      if (!byHost.has(d[D_HOST])) byHost.set(d[D_HOST], []);
      byHost.get(d[D_HOST]).push(d);
    });
    var order = byCountDesc(countBy(dets, function (d) { return d[D_HOST]; }));
    if (!order.length) s.appendChild(el("p", "info", "No detections."));
    order.forEach(function (h, i) {
      var list_ = byHost.get(h[0]), box = el("details", "host");
      box.id = "host-" + i;
      var levels = countBy(list_, function (d) { return d[D_LEVEL]; });
      box.appendChild(el("summary", null, (h[0] || "(none)") + " \u2014 " + h[1] +
        " detections (" + LEVELS.filter(function (l) { return levels.has(l); })
          .map(function (l) { return l + " " + levels.get(l); }).join(", ") + ")"));
      var t = table(["Time (UTC)", "Level", "Rule", "Event", "Details"]);
      list_.slice(0, MAX_HOST_ROWS).forEach(function (d) {
        row(t, [d[D_TIME], levelBadge(d[D_LEVEL]), d[D_TITLE], d[D_CHANNEL] + " " + d[D_EID],
          d[D_DETAILS]]);
      });
      box.appendChild(t);
      if (list_.length > MAX_HOST_ROWS)
        box.appendChild(el("p", "info", "First " + MAX_HOST_ROWS + " of " + list_.length +
          "; use the timeline's host filter for all."));
      s.appendChild(box);
    });
  }

  /* --- scan findings --- */
  function findings() {
    if (!data.findings.length) return;
    var s = section("findings", "Scan findings");
    var t = table(["Level", "File", "Reason", "Detail", "SHA-256"]);
    data.findings.forEach(function (f) { row(t, [f[1], f[0], f[2], f[3], f[4]]); });
    s.appendChild(t);
  }

  summaryHosts();
  var redraw = timeline();
  attack(redraw);
  logonGraph();
  hosts();
  findings();
})();
