// stackfleet coverage page: draws the OU × region heat map and the account × region grid from the
// JSON in #coverage-data (format: crates/cli/src/render/coverage_html.rs). User data (account
// names, OU paths, reasons) only ever reaches the page through textContent or attribute values,
// never as markup.
(function () {
  "use strict";
  var started = performance.now();
  var data = JSON.parse(document.getElementById("coverage-data").textContent);
  var statuses = data.statuses;
  var UNMANAGED = indexOfLabel("unmanaged");
  var app = document.getElementById("app");

  function indexOfLabel(label) {
    for (var i = 0; i < statuses.length; i++) if (statuses[i].label === label) return i;
    return -1;
  }

  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  }

  // A cell code: "." none, else a letter from "a" (status index), upper case when required.
  function statusOf(code) {
    return code.toLowerCase().charCodeAt(0) - 97;
  }
  function isRequired(code) {
    return code !== "." && code === code.toUpperCase();
  }
  // The table renderer's "needs attention": a required cell that is not covered, or a stale instance.
  function isProblem(code) {
    if (code === ".") return false;
    var s = statusOf(code);
    return (isRequired(code) && !statuses[s].counts) || s === UNMANAGED;
  }

  // OU tree: parent and depth of each path, and each OU's ancestors (itself included).
  var ous = data.ous;
  var ouIndex = {};
  ous.forEach(function (p, i) { ouIndex[p] = i; });
  var ouParent = ous.map(function (p) {
    if (p === "/") return -1;
    var cut = p.lastIndexOf("/");
    var parent = cut <= 0 ? "/" : p.slice(0, cut);
    return parent in ouIndex ? ouIndex[parent] : -1;
  });
  var ouDepth = ous.map(function (p) { return p === "/" ? 0 : p.split("/").length - 1; });
  var ouChildren = ous.map(function () { return 0; });
  ouParent.forEach(function (parent) { if (parent >= 0) ouChildren[parent]++; });
  var ouAncestors = ous.map(function (_, i) {
    var list = [];
    for (var o = i; o >= 0; o = ouParent[o]) list.push(o);
    return list;
  });
  function ouName(i) {
    var p = ous[i];
    return p === "/" ? "Root" : p.slice(p.lastIndexOf("/") + 1);
  }

  // Accounts in grid order: by OU (tree order), then id; accounts outside the organization last.
  var accountOrder = data.accounts.map(function (_, i) { return i; });
  accountOrder.sort(function (a, b) {
    var oa = data.accounts[a][2], ob = data.accounts[b][2];
    if (oa !== ob) return (oa < 0 ? 1e9 : oa) - (ob < 0 ? 1e9 : ob);
    return a - b;
  });

  var state = { set: 0, problems: false, query: "", ou: -1, collapsed: {} };
  var view = null; // what renderSet drew: rows and their facts, for filtering.

  // ---- controls --------------------------------------------------------------------------
  var controls = el("section", "controls");
  controls.id = "controls";
  if (data.sets.length > 1) {
    var tabs = el("nav", "tabs");
    tabs.id = "set-tabs";
    tabs.setAttribute("aria-label", "Stack sets");
    data.sets.forEach(function (set, i) {
      var b = el("button", "tab", set.name);
      b.type = "button";
      b.dataset.set = String(i);
      b.addEventListener("click", function () { state.set = i; state.ou = -1; renderSet(); });
      tabs.appendChild(b);
    });
    controls.appendChild(tabs);
  }
  var filters = el("div", "filters");
  var problemsLabel = el("label", "problems");
  var problems = el("input");
  problems.type = "checkbox";
  problems.id = "problems-only";
  problems.addEventListener("change", function () { state.problems = problems.checked; applyFilters(); });
  problemsLabel.appendChild(problems);
  problemsLabel.appendChild(document.createTextNode(" Only problems (required and not covered, or stale instances)"));
  var search = el("input");
  search.type = "search";
  search.id = "search";
  search.placeholder = "Search account id or name";
  search.setAttribute("aria-label", "Search account id or name");
  search.addEventListener("input", function () { state.query = search.value.trim().toLowerCase(); applyFilters(); });
  var ouChip = el("button", "chip");
  ouChip.type = "button";
  ouChip.id = "ou-filter";
  ouChip.hidden = true;
  ouChip.addEventListener("click", function () { state.ou = -1; applyFilters(); });
  var shown = el("span", "shown");
  shown.id = "shown";
  shown.setAttribute("aria-live", "polite");
  [problemsLabel, search, ouChip, shown].forEach(function (e) { filters.appendChild(e); });
  controls.appendChild(filters);
  app.appendChild(controls);

  var setTitle = el("h2", "set-title");
  setTitle.id = "set-title";
  app.appendChild(setTitle);
  var heatSection = el("section", "heat");
  app.appendChild(heatSection);
  var gridSection = el("section", "grid");
  app.appendChild(gridSection);
  var detail = el("aside", "detail");
  detail.id = "detail";
  detail.hidden = true;
  app.appendChild(detail);

  // ---- one stack set -----------------------------------------------------------------------
  function reasonOf(set, cell, status) {
    if (!set._exceptions) {
      set._exceptions = {};
      for (var i = 0; i + 1 < set.exceptions.length; i += 2) set._exceptions[set.exceptions[i]] = set.exceptions[i + 1];
    }
    var r = cell in set._exceptions ? set._exceptions[cell] : set.default_reason[status];
    return r >= 0 ? data.reasons[r] : "";
  }

  function shareClass(covered, required) {
    if (required === 0) return "h hn";
    var share = covered / required;
    if (share >= 1) return "h h5";
    if (share >= 0.95) return "h h4";
    if (share >= 0.8) return "h h3";
    if (share >= 0.5) return "h h2";
    return "h h1";
  }

  function regionHeader(row, regions) {
    regions.forEach(function (r) {
      var th = el("th", "region");
      th.appendChild(el("span", null, r));
      th.scope = "col";
      row.appendChild(th);
    });
  }

  function renderSet() {
    var set = data.sets[state.set];
    var regions = set.regions;
    var nr = regions.length;
    var cells = set.cells;
    setTitle.textContent = "Stack set " + set.name + ": " + set.percent.toFixed(1) + "% (" + set.covered + " of " + set.required + ")";
    Array.prototype.forEach.call(document.querySelectorAll("#set-tabs .tab"), function (b) {
      b.setAttribute("aria-selected", String(Number(b.dataset.set) === state.set));
    });

    // Heat map counts: each required cell counts in its OU and every ancestor.
    var req = new Int32Array(ous.length * nr), cov = new Int32Array(ous.length * nr), prob = new Int32Array(ous.length);
    var present = new Uint8Array(data.accounts.length), accountProblem = new Uint8Array(data.accounts.length);
    for (var a = 0; a < data.accounts.length; a++) {
      var o = data.accounts[a][2];
      for (var r = 0; r < nr; r++) {
        var code = cells[a * nr + r];
        if (code === ".") continue;
        present[a] = 1;
        var p = isProblem(code);
        if (p) accountProblem[a] = 1;
        if (o < 0) continue;
        var anc = ouAncestors[o];
        for (var k = 0; k < anc.length; k++) {
          if (p) prob[anc[k]]++;
          if (isRequired(code)) {
            req[anc[k] * nr + r]++;
            if (statuses[statusOf(code)].counts) cov[anc[k] * nr + r]++;
          }
        }
      }
    }

    // Heat map.
    heatSection.textContent = "";
    heatSection.appendChild(el("h3", null, "By OU (nested OUs included): share of required cells covered"));
    var heat = el("table", "heatmap");
    heat.id = "heatmap";
    var hhead = el("thead"), hrow = el("tr");
    hrow.appendChild(el("th", "ou", "OU"));
    regionHeader(hrow, regions);
    hhead.appendChild(hrow);
    heat.appendChild(hhead);
    var hbody = el("tbody");
    var heatRows = [];
    ous.forEach(function (path, i) {
      var tr = el("tr");
      tr.dataset.ou = path;
      var th = el("th", "ou");
      th.scope = "row";
      th.style.paddingLeft = (0.3 + ouDepth[i] * 1.1) + "em";
      var tog = el("button", "tog", ouChildren[i] ? (state.collapsed[i] ? "▸" : "▾") : "");
      tog.type = "button";
      if (ouChildren[i]) {
        tog.setAttribute("aria-label", "Collapse or expand " + path);
        tog.setAttribute("aria-expanded", String(!state.collapsed[i]));
        tog.addEventListener("click", function () {
          state.collapsed[i] = !state.collapsed[i];
          tog.textContent = state.collapsed[i] ? "▸" : "▾";
          tog.setAttribute("aria-expanded", String(!state.collapsed[i]));
          applyFilters();
        });
      } else {
        tog.disabled = true;
        tog.setAttribute("aria-hidden", "true");
      }
      th.appendChild(tog);
      var name = el("button", "ou-name", ouName(i));
      name.type = "button";
      name.title = "Show the accounts of " + path + " and nested OUs";
      name.addEventListener("click", function () { state.ou = i; applyFilters(); gridSection.scrollIntoView(); });
      th.appendChild(name);
      tr.appendChild(th);
      for (var r = 0; r < nr; r++) {
        var q = req[i * nr + r], c = cov[i * nr + r];
        var td = el("td", shareClass(c, q), q ? Math.floor((c * 100) / q) + "%" : "—");
        td.title = path + " · " + regions[r] + ": " + c + " of " + q + " required cells covered";
        td.dataset.required = String(q);
        td.dataset.covered = String(c);
        tr.appendChild(td);
      }
      hbody.appendChild(tr);
      heatRows.push({ tr: tr, ou: i, problems: prob[i] });
    });
    heat.appendChild(hbody);
    heatSection.appendChild(heat);
    heatSection.appendChild(scaleLegend());

    // Account grid: one row per account with a cell in this stack set, one cell per region.
    gridSection.textContent = "";
    gridSection.appendChild(el("h3", null, "Accounts × regions (click a cell for its reason)"));
    // The grid is a header table and chunks of CHUNK rows, each its own table in a box with
    // `content-visibility: auto`: the browser lays out and paints only the chunks on screen, so
    // 100,000 cells cost what a screenful costs. Fixed layout with the same column widths keeps
    // the chunks' columns aligned with the header's.
    var grid = el("div", "accounts");
    grid.id = "accounts";
    var width = (9 + 14 + 12 + nr * 1.8) + "em";
    function table() {
      var t = el("table");
      t.style.width = width;
      var cols = el("colgroup");
      [9, 14, 12].forEach(function (w) { var c = el("col"); c.style.width = w + "em"; cols.appendChild(c); });
      for (var w = 0; w < nr; w++) { var c = el("col"); c.style.width = "1.8em"; cols.appendChild(c); }
      t.appendChild(cols);
      return t;
    }
    var headTable = table();
    headTable.className = "head";
    var ghead = el("thead"), grow = el("tr");
    ["Account", "Name", "OU"].forEach(function (h) { var th = el("th", null, h); th.scope = "col"; grow.appendChild(th); });
    regionHeader(grow, regions);
    ghead.appendChild(grow);
    headTable.appendChild(ghead);
    grid.appendChild(headTable);
    var CHUNK = 100;
    var chunks = [];
    var gbody = null;
    var gridRows = [];
    var letters = statuses.map(function (s) { return s.letter; });
    var classes = statuses.map(function (s) { return "c st-" + s.label; });
    for (var n = 0; n < accountOrder.length; n++) {
      var ai = accountOrder[n];
      if (!present[ai]) continue;
      var acct = data.accounts[ai];
      if (gridRows.length % CHUNK === 0) {
        var box = el("div", "chunk");
        var t = table();
        gbody = el("tbody");
        t.appendChild(gbody);
        box.appendChild(t);
        grid.appendChild(box);
        chunks.push({ box: box, rows: [] });
      }
      var tr = document.createElement("tr");
      tr.dataset.account = acct[0];
      tr.dataset.index = String(ai);
      if (accountProblem[ai]) tr.className = "p";
      var idCell = document.createElement("th");
      idCell.scope = "row";
      idCell.textContent = acct[0];
      tr.appendChild(idCell);
      tr.appendChild(el("td", "name", acct[1]));
      tr.appendChild(el("td", "path", acct[2] >= 0 ? ous[acct[2]] : "(not in the organization)"));
      for (var r2 = 0; r2 < nr; r2++) {
        var code2 = cells[ai * nr + r2];
        var td2 = document.createElement("td");
        if (code2 === ".") {
          td2.className = "c none";
        } else {
          var s2 = statusOf(code2);
          td2.className = isRequired(code2) ? classes[s2] + " req" : classes[s2];
          td2.textContent = letters[s2];
        }
        tr.appendChild(td2);
      }
      gbody.appendChild(tr);
      chunks[chunks.length - 1].rows.push(gridRows.length);
      gridRows.push({ tr: tr, index: ai, problem: accountProblem[ai] === 1, id: acct[0].toLowerCase(), name: acct[1].toLowerCase(), ou: acct[2] });
    }
    gridSection.appendChild(grid);

    // The reason on hover (title set on first hover, not on 100,000 cells up front) and on click.
    function describe(td) {
      var tr = td.parentNode;
      if (!tr || !tr.dataset || tr.dataset.index === undefined) return null;
      var r = td.cellIndex - 3;
      if (r < 0 || r >= nr) return null;
      var ai = Number(tr.dataset.index);
      var code = cells[ai * nr + r];
      if (code === ".") return null;
      var s = statusOf(code);
      return {
        account: data.accounts[ai], region: regions[r], status: statuses[s].label,
        required: isRequired(code), reason: reasonOf(set, ai * nr + r, s)
      };
    }
    grid.addEventListener("mouseover", function (e) {
      var td = e.target;
      if (td.tagName !== "TD" || td.title) return;
      var d = describe(td);
      if (d) td.title = d.region + ": " + d.status + (d.required ? " (required)" : "") + " — " + d.reason;
    });
    grid.addEventListener("click", function (e) {
      var td = e.target.closest ? e.target.closest("td") : null;
      var d = td && describe(td);
      if (!d) return;
      detail.textContent = "";
      var close = el("button", "close", "×");
      close.type = "button";
      close.setAttribute("aria-label", "Close");
      close.addEventListener("click", function () { detail.hidden = true; });
      detail.appendChild(close);
      var dl = el("dl");
      [["Account", d.account[0]], ["Name", d.account[1]], ["OU", d.account[2] >= 0 ? ous[d.account[2]] : "(not in the organization)"],
       ["Region", d.region], ["Status", d.status + (d.required ? " (required)" : " (not required)")], ["Reason", d.reason]]
        .forEach(function (pair) { dl.appendChild(el("dt", null, pair[0])); var dd = el("dd", null, pair[1]); dd.dataset.field = pair[0].toLowerCase(); dl.appendChild(dd); });
      detail.appendChild(dl);
      detail.hidden = false;
    });

    view = { heatRows: heatRows, gridRows: gridRows, chunks: chunks };
    applyFilters();
  }

  function scaleLegend() {
    var ul = el("ul", "scale");
    [["h h5", "100%"], ["h h4", "95–99%"], ["h h3", "80–94%"], ["h h2", "50–79%"], ["h h1", "under 50%"], ["h hn", "nothing required"]]
      .forEach(function (pair) { var li = el("li"); li.appendChild(el("span", pair[0], " ")); li.appendChild(document.createTextNode(" " + pair[1])); ul.appendChild(li); });
    return ul;
  }

  function applyFilters() {
    if (!view) return;
    var q = state.query;
    // Heat map: hide rows under a collapsed OU, and rows without problems when asked.
    view.heatRows.forEach(function (row) {
      var hidden = state.problems && row.problems === 0;
      for (var o = ouParent[row.ou]; o >= 0 && !hidden; o = ouParent[o]) if (state.collapsed[o]) hidden = true;
      row.tr.hidden = hidden;
    });
    var visible = 0;
    view.gridRows.forEach(function (row) {
      var show = (!state.problems || row.problem) &&
        (q === "" || row.id.indexOf(q) >= 0 || row.name.indexOf(q) >= 0) &&
        (state.ou < 0 || (row.ou >= 0 && ouAncestors[row.ou].indexOf(state.ou) >= 0));
      row.tr.hidden = !show;
      row.shown = show;
      if (show) visible++;
    });
    // An empty chunk would keep its placeholder height: hide it.
    view.chunks.forEach(function (chunk) {
      chunk.box.hidden = !chunk.rows.some(function (i) { return view.gridRows[i].shown; });
    });
    ouChip.hidden = state.ou < 0;
    if (state.ou >= 0) ouChip.textContent = "OU " + ous[state.ou] + " ×";
    shown.textContent = "Showing " + visible + " of " + view.gridRows.length + " accounts";
    shown.dataset.visible = String(visible);
  }

  if (data.sets.length) {
    renderSet();
  } else {
    app.textContent = "";
    app.appendChild(el("p", null, "The fleet has no stack set: nothing to show."));
  }
  // For tests and the curious: when the script started (ms after navigation), how long building
  // the page took, and when the first frame with it was painted (layout included).
  var root = document.documentElement.dataset;
  root.scriptStartMs = String(Math.round(started));
  root.renderMs = String(Math.round(performance.now() - started));
  requestAnimationFrame(function () {
    setTimeout(function () { root.paintedMs = String(Math.round(performance.now())); }, 0);
  });
})();
