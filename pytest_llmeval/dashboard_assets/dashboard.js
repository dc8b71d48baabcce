/* pytest-llmeval dashboard: draws the page from the JSON in <script id="llmeval-data">.
 *
 * Plain JavaScript, no dependencies, nothing fetched. Every piece of run data is inserted with
 * textContent / setAttribute, never as HTML, so an output containing markup stays text.
 *
 * DOM hooks (stable; tests and people's scripts may rely on them):
 *   body[data-ready="true"]           set once the page has been drawn; on failure body[data-error] holds the message
 *   #llmeval-header                   model, run, commit, what the run was compared with; #llmeval-differences
 *                                     (when present) lists generation-setting and model differences from the reference
 *   #llmeval-tiles .tile[data-tile]   "overall", "mode:<name>", "regressions", "fixes", "new", "metric_drops",
 *                                     "still_failing", "not_run"; .value holds the big number
 *   #llmeval-comparison[data-verdict]  shown when the run was compared: the paired statistics of this run (B) against
 *                                     the reference (A). #llmeval-verdict (the verdict line), table.estimates
 *                                     tr[data-measure="pass rate"|<metric>][data-verdict], table.groups
 *                                     tr[data-group="file <name>"|"tag <name>"][data-verdict], #llmeval-detectable,
 *                                     ul#llmeval-broke / ul#llmeval-fixed li[data-node-id] (the cases B broke / fixed)
 *   #llmeval-model-comparison[data-verdict]  (--llm-compare-base) the base model (A) against base + adapter (B):
 *                                     #llmeval-model-counts .result-count[data-result="fixed"|"broke"|"both pass"|
 *                                     "both fail"] b (the count); the paired statistics as above with ids
 *                                     #llmeval-model-verdict, #llmeval-model-detectable, ul#llmeval-model-broke /
 *                                     ul#llmeval-model-fixed; table#llmeval-model-cases tr[data-node-id][data-result]
 *                                     with both outcomes and both outputs side by side
 *   #llmeval-breakdown-file, #llmeval-breakdown-tag
 *                                     .bar-row[data-name] per file / tag (clicking a row filters by that file / tag)
 *   #llmeval-chart-pass-rate svg      circle.point[data-series="overall"|"mode:<name>"][data-run-index][data-run]
 *                                     one per run with a value; path.line[data-series] joins them
 *   #llmeval-chart-legend             .legend-item[data-series]
 *   #llmeval-metric-charts            .metric-chart[data-metric="<name>"] > svg circle.point[data-run-index][data-run]
 *   filters                           #filter-failed, #filter-regressed (checkboxes), #filter-mode, #filter-tag (selects;
 *                                     value "" = all, "__none__" = no mode / no tags), #filter-search, #filter-clear
 *   #cases-count                      "showing N of M cases", with data-shown and data-total
 *   #cases-table tbody tr.case-row    [data-index] (position in data.cases), [data-node-id], [data-outcome],
 *                                     [data-mode], [data-failed], [data-regressed] ("true"/"false"), [aria-expanded];
 *                                     rows filtered out have the hidden attribute; click / Enter toggles the detail
 *   tr.case-detail[data-index]        the detail row right after its case row: .detail-prompt, .detail-baseline
 *                                     (baseline output, deletions as del.diff-del), .detail-output (this run's
 *                                     output, insertions as ins.diff-ins), .detail-checks li[data-passed],
 *                                     .detail-metrics tr[data-metric]
 *   #llmeval-partial                  (when the run is partial) why: the pass rate covers only the cases it ran
 *   #llmeval-suite-errors             errors of the suite (broken case files, checks used wrongly), apart from the
 *                                     model's results: li.suite-error[data-node-id]; tile "suite_errors" counts them
 *   circle.point[data-partial="true"] a partial run: drawn hollow, off the trend line; every point's <title> has
 *                                     the run's date and case count; clicking a point fills #llmeval-run-panel
 *   td.node .node-base, .node-param   a test's id without and with its parameters ([...]), each visible
 *   .detail-generations li[data-differs]  every generation of a test with several, differing ones first
 *   .detail-label                     a classification case's gold label
 *   #llmeval-human-review             (when people reviewed the runs shown; llmeval review) Likert: table.review-likert
 *                                     tr[data-dimension] (mean [95% CI], cases, alpha, judge vs human), #llmeval-review-judge;
 *                                     pairwise: #llmeval-win-rate[data-wins][data-losses][data-ties], #llmeval-review-pair-judge;
 *                                     .review-note lines (left-out counts, notes)
 *   location.hash                     filter state: failed=1&regressed=1&file=..&mode=..&tag=..&q=..&open=<node id>
 *                                     (open repeatable); clicking a file's bar sets file=, "clear" resets all
 */
(function () {
  "use strict";

  var SVG_NS = "http://www.w3.org/2000/svg";
  var NONE = "__none__";
  var PALETTE = ["#2563eb", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#9333ea", "#0f766e"];
  var OVERALL_COLOR = "#1f2937";

  // ---------- small helpers ----------

  function el(tag, attrs, kids) {
    var node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, kids);
    return node;
  }

  function svg(tag, attrs, kids) {
    var node = document.createElementNS(SVG_NS, tag);
    setAttrs(node, attrs);
    append(node, kids);
    return node;
  }

  function setAttrs(node, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") node.textContent = String(v);
      else if (k === "cls") node.setAttribute("class", v);
      else node.setAttribute(k, v === true ? "" : String(v));
    });
  }

  function append(node, kids) {
    if (kids === null || kids === undefined) return;
    if (!Array.isArray(kids)) kids = [kids];
    kids.forEach(function (kid) {
      if (kid === null || kid === undefined || kid === false) return;
      node.appendChild(typeof kid === "string" ? document.createTextNode(kid) : kid);
    });
  }

  function isNum(x) { return typeof x === "number" && isFinite(x); }

  function pct(x) { return isNum(x) ? String(Math.round(x * 1000) / 10) + "%" : "–"; }

  function num(x) {
    if (!isNum(x)) return "–";
    var a = Math.abs(x);
    if (a !== 0 && (a < 0.001 || a >= 1e6)) return x.toExponential(2);
    return String(Number(x.toPrecision(4)));
  }

  function secs(x) { return isNum(x) ? (x < 10 ? x.toFixed(2) : x.toFixed(1)) + " s" : "–"; }

  function slug(text) { return String(text).replace(/[^a-z0-9]+/gi, "-").toLowerCase(); }

  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }

  function modeKey(c) { return c.mode === null || c.mode === undefined ? NONE : String(c.mode); }

  function runLabel(run) {
    var bits = [(run.started_at || "date unknown") + " · run " + (run.short_id || "?")];
    if (isNum(run.total)) bits.push(plural(run.total, "case") + (run.suite_errors ? " (and " + plural(run.suite_errors, "suite error") + ")" : ""));
    if (run.model_source) bits.push("model " + run.model_source);
    if (run.git_commit) bits.push("commit " + String(run.git_commit).slice(0, 10));
    if (run.partial) bits.push("PARTIAL: " + (run.partial_reason || "not the whole suite") + " (off the trend line)");
    bits.push("click to open this run");
    return bits.join("\n");
  }

  function shortDate(run) {
    // "2026-11-23 16:59:01" -> "11-23 16:59": the axis has room for little
    var t = String(run.started_at || "");
    return t.length >= 16 ? t.slice(5, 16) : String(run.short_id || "").slice(0, 7);
  }

  function refName(ref) { return ref.kind === "previous run" ? "previous run" : ref.kind === "baseline" ? "baseline" : "reference"; }

  // ---------- header, tiles, bars ----------

  function renderHeader(data) {
    var latest = data.latest || {};
    var model = latest.model || {};
    var head = document.getElementById("llmeval-header");
    var facts = el("div", { cls: "facts" });
    function fact(label, value, cls) {
      if (value === null || value === undefined || value === "") return;
      append(facts, el("span", { cls: cls }, [label + " ", el("b", { text: value })]));
    }
    var modelBits = [model.backend, model.dtype, model.device].filter(function (x) { return x; }).join(", ");
    fact("model", (model.source || "unknown") + (modelBits ? " (" + modelBits + ")" : ""));
    fact("run", latest.short_id || "none");
    fact("started", latest.started_at);
    fact("took", isNum(latest.duration_s) ? secs(latest.duration_s) : null);
    fact("commit", latest.git_commit ? String(latest.git_commit).slice(0, 12) : "unknown");
    var ref = data.reference || {};
    fact("vs", ref.label ? refName(ref) + " " + ref.label : "nothing (no baseline and no earlier run)");
    append(head, [el("h1", { text: "llmeval report" }), facts]);
    if (latest.partial) {
      append(head, el("p", { id: "llmeval-partial", cls: "warn partial",
        text: "Partial run: " + (latest.partial_reason || "not the whole suite") + ". Its pass rate covers only the cases it ran; " +
          "the charts keep it off the trend line." }));
    }
    // Outputs made with other generation settings are not comparable: say so before any number.
    var differs = (ref.settings_differences || []);
    var models = (ref.model_differences || []);
    if (differs.length || models.length) {
      var banner = el("div", { id: "llmeval-differences", cls: "differences" });
      if (differs.length) {
        append(banner, el("p", { cls: "warn", text: "Generation settings differ from the " + refName(ref) +
          "'s, so outputs may differ for that reason alone: " + differs.join("; ") }));
      }
      if (models.length) append(banner, el("p", { cls: "model-differences", text: "Another model than the " + refName(ref) + "'s: " + models.join("; ") }));
      append(head, banner);
    }

    var settings = el("dl");
    [["model", model], ["settings", latest.settings || {}]].forEach(function (pair) {
      Object.keys(pair[1]).sort().forEach(function (k) {
        var v = pair[1][k];
        append(settings, [el("dt", { text: pair[0] + "." + k }), el("dd", { text: typeof v === "string" ? v : JSON.stringify(v) })]);
      });
    });
    if (settings.childNodes.length) append(head, el("details", { cls: "settings" }, [el("summary", { text: "model and generation settings" }), settings]));

    append(document.getElementById("llmeval-footer"), "generated " + (data.generated_at || "?") + " from " + (data.history || "the run history") +
      " · " + plural((data.runs || []).length, "run") + " · pytest-llmeval");
  }

  function countsText(counts, total) {
    var order = ["passed", "failed", "error", "xfailed", "xpassed", "skipped"];
    var keys = Object.keys(counts || {}).sort(function (a, b) {
      var ia = order.indexOf(a), ib = order.indexOf(b);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib);
    });
    var parts = keys.map(function (k) { return counts[k] + " " + k; });
    return parts.join(" · ") + (isNum(total) ? " of " + total : "");
  }

  function tile(key, label, value, sub, cls) {
    return el("div", { cls: "tile " + (cls || ""), "data-tile": key },
      [el("div", { cls: "label", text: label }), el("div", { cls: "value", text: value }), sub ? el("div", { cls: "sub", text: sub }) : null]);
  }

  function rateClass(rate) { return !isNum(rate) ? "quiet" : rate >= 1 ? "good" : rate < 0.8 ? "bad" : "neutral"; }

  function renderTiles(data) {
    var box = document.getElementById("llmeval-tiles");
    var latest = data.latest || {};
    append(box, tile("overall", "pass rate", pct(latest.pass_rate), countsText(latest.counts, latest.total), "main " + rateClass(latest.pass_rate)));
    var overallSub = box.lastChild.querySelector(".sub");
    if (latest.partial && overallSub) overallSub.textContent += " · partial run";
    ((data.breakdowns || {}).mode || []).forEach(function (row) {
      var noMode = row.name === "no mode";
      var t = tile("mode:" + row.name, noMode ? "no mode marker" : row.name, pct(row.pass_rate), row.passed + " of " + (row.total - (row.skipped || 0)) + " passed" +
        (row.skipped ? " · " + row.skipped + " skipped" : "") + (noMode ? " · tests marked neither success_mode nor failure_mode" : ""), rateClass(row.pass_rate));
      if (noMode) t.title = "Cases without @pytest.mark.success_mode or @pytest.mark.failure_mode (a case file's cases have no mode unless tagged).";
      append(box, t);
    });
    var errors = data.suite_errors || [];
    if (errors.length) {
      append(box, tile("suite_errors", "suite errors", String(errors.length), "problems in the tests, not the model: fix them (below)", "bad"));
    }
    var cc = data.comparison_counts;
    if (!cc) {
      append(box, tile("comparison", "vs", "–", "no baseline and no earlier run", "quiet"));
      return;
    }
    var vs = "vs " + refName(data.reference || {});
    [["regressions", "regressions", "bad"], ["metric_drops", "metric drops", "bad"], ["fixes", "fixes", "good"],
      ["new", "new cases", "neutral"], ["still_failing", "still failing", "neutral"], ["not_run", "not run", "neutral"]].forEach(function (t) {
      var n = cc[t[0]];
      if (!isNum(n)) return;
      if (n === 0 && (t[0] === "still_failing" || t[0] === "not_run")) return;
      append(box, tile(t[0], t[1], String(n), t[0] === "not_run" ? "in the " + refName(data.reference || {}) + ", not in this run" : vs, n > 0 ? t[2] : "quiet"));
    });
  }

  // ---------- paired comparison ----------

  function pValue(p) { return !isNum(p) ? "–" : p < 0.001 ? p.toExponential(1) : p.toFixed(3); }

  function signedPoints(x) { return isNum(x) ? (x >= 0 ? "+" : "") + (x * 100).toFixed(1) + " pts" : "–"; }

  function signedNum(x) { return isNum(x) ? (x >= 0 ? "+" : "") + num(x) : "–"; }

  function intervalText(iv, points) {
    if (!iv) return "– (one case)";
    if (points) return "[" + signedPoints(iv.low).replace(" pts", "") + ", " + signedPoints(iv.high).replace(" pts", "") + "] pts";
    return "[" + signedNum(iv.low) + ", " + signedNum(iv.high) + "]";
  }

  function estimateTable(cls, head, rows) {
    var table = el("table", { cls: cls }, [el("thead", null, el("tr", null, head.map(function (h) { return el("th", { text: h }); })))]);
    var body = el("tbody");
    rows.forEach(function (r) { append(body, r); });
    append(table, body);
    return table;
  }

  function renderComparison(data) {
    var p = data.paired;
    var box = document.getElementById("llmeval-comparison");
    if (!p) return;
    box.hidden = false;
    box.setAttribute("data-verdict", p.verdict);
    var level = Math.round(p.confidence * 100) + "%";
    append(box, el("h2", { text: "Better or worse than the reference, beyond chance? (paired, " + level + " confidence)" }));
    renderPaired(box, p, "llmeval-");
  }

  // The paired statistics of B against A into box; ids start with prefix ("llmeval-" for the run against its
  // reference, "llmeval-model-" for the base model against base + adapter).
  function renderPaired(box, p, prefix) {
    var level = Math.round(p.confidence * 100) + "%";
    append(box, el("p", { id: prefix + "verdict", cls: "verdict " + String(p.verdict).replace(/ /g, "-"), text: p.verdict_line }));
    append(box, el("p", { cls: "sides" }, [el("b", { text: "A " }), String(p.label_a), " · ", el("b", { text: "B " }), String(p.label_b),
      " · " + plural(p.pairs.length, "shared case") + " (" + p.counted + " counted), " + p.only_a.length + " only in A, " + p.only_b.length + " only in B"]));
    var measures = (p.pass_rate ? [p.pass_rate] : []).concat(p.metrics || []);
    if (measures.length) {
      var rows = measures.map(function (e) {
        var isRate = e === p.pass_rate;
        var name = isRate ? "pass rate" : e.name + (e.higher_is_better ? "" : " (lower is better)");
        var a = isRate ? pct(e.before) + (e.before_interval ? " [" + pct(e.before_interval.low) + ", " + pct(e.before_interval.high) + "]" : "") : num(e.before);
        var b = isRate ? pct(e.after) + (e.after_interval ? " [" + pct(e.after_interval.low) + ", " + pct(e.after_interval.high) + "]" : "") : num(e.after);
        var cells = [name, String(e.n), a, b, isRate ? signedPoints(e.difference) : signedNum(e.difference),
          intervalText(e.interval, isRate), isRate ? "exact McNemar (" + e.fixed + " fixed, " + e.broke + " broke)" : "sign-flip",
          pValue(e.p_value), pValue(e.adjusted_p), e.verdict];
        return el("tr", { "data-measure": isRate ? "pass rate" : e.name, "data-verdict": e.verdict }, cells.map(function (c) { return el("td", { text: c }); }));
      });
      append(box, estimateTable("estimates", ["measure", "n", "A", "B", "B − A", level + " interval", "test", "p", "p (Holm)", "verdict"], rows));
    }
    if ((p.groups || []).length) {
      append(box, el("h4", { text: "pass rate by file and tag (exact McNemar, Holm across the groups with enough flips to decide)" }));
      append(box, estimateTable("groups", ["group", "n", "A", "B", "B − A", level + " interval", "fixed", "broke", "p (Holm)", "verdict"],
        p.groups.map(function (g) {
          var e = g.estimate;
          var cells = [g.kind + " " + g.name, String(e.n), pct(e.before), pct(e.after), signedPoints(e.difference), intervalText(e.interval, true),
            String(e.fixed), String(e.broke), pValue(e.adjusted_p), e.verdict];
          return el("tr", { "data-group": g.kind + " " + g.name, "data-verdict": e.verdict }, cells.map(function (c) { return el("td", { text: c }); }));
        })));
    }
    if (p.detectable_text) append(box, el("p", { id: prefix + "detectable", cls: "detectable", text: "Detectable: " + p.detectable_text }));
    var flips = el("div", { cls: "flips" });
    [["broke", "B broke (A passed, B fails)"], ["fixed", "B fixed (A failed, B passes)"]].forEach(function (kind) {
      var pairs = p.pairs.filter(function (x) { return x.result === kind[0]; });
      var list = el("ul", { id: prefix + kind[0] });
      pairs.forEach(function (x) { append(list, el("li", { "data-node-id": x.node_id, text: x.node_id })); });
      append(flips, el("div", null, [el("h4", { text: kind[1] + ": " + pairs.length }), pairs.length ? list : el("p", { cls: "detectable", text: "none" })]));
    });
    append(box, flips);
  }

  // ---------- base model vs base + adapter (--llm-compare-base) ----------

  function renderModelComparison(data) {
    var m = data.model_comparison;
    var box = document.getElementById("llmeval-model-comparison");
    if (!m || !box) return;
    var p = m.paired;
    box.hidden = false;
    box.setAttribute("data-verdict", p.verdict);
    append(box, el("h2", { text: "Base model vs base + adapter: what the fine-tune fixed and what it broke" }));
    var counts = el("div", { id: "llmeval-model-counts", cls: "result-counts" });
    [["fixed", "fixed"], ["broke", "broke (forgetting)"], ["both pass", "both pass"], ["both fail", "both fail"]].forEach(function (r) {
      var n = p.pairs.filter(function (x) { return x.result === r[0]; }).length;
      append(counts, el("span", { cls: "result-count", "data-result": r[0] }, [el("b", { text: String(n) }), " " + r[1]]));
    });
    append(box, counts);
    renderPaired(box, p, "llmeval-model-");
    append(box, el("h4", { text: "every shared case side by side (A = base model, B = base + adapter)" }));
    var order = { broke: 0, fixed: 1, "both fail": 2, "both pass": 3 };
    var rows = m.cases.slice().sort(function (a, b) {
      return (order[a.result] === undefined ? 4 : order[a.result]) - (order[b.result] === undefined ? 4 : order[b.result]) || (a.node_id < b.node_id ? -1 : 1);
    }).map(function (c) {
      function output(text, message, outcome) {
        var kids = [el("div", { cls: "text", text: text === null || text === undefined ? "(no output)" : String(text) })];
        if (message && outcome !== "passed") kids.push(el("div", { cls: "why", text: String(message) }));
        return el("td", { cls: "side" }, kids);
      }
      return el("tr", { "data-node-id": c.node_id, "data-result": c.result }, [
        el("td", { cls: "result", text: c.result }), el("td", { cls: "node", text: c.node_id }),
        el("td", { cls: "outcome", text: c.base_outcome }), el("td", { cls: "outcome", text: c.adapter_outcome }),
        output(c.base_output, c.base_message, c.base_outcome), output(c.adapter_output, c.adapter_message, c.adapter_outcome)]);
    });
    append(box, estimateTable("side-by-side", ["result", "case", "A", "B", "A's output (base model)", "B's output (base + adapter)"], rows));
    box.querySelector("table.side-by-side").id = "llmeval-model-cases";
    append(box, el("p", { cls: "detectable", text: "Runs: base model " + String(m.base_run_id).slice(0, 12) + ", base + adapter " +
      String(m.adapter_run_id).slice(0, 12) + " (llmeval compare " + String(m.base_run_id).slice(0, 12) + " " + String(m.adapter_run_id).slice(0, 12) + ")" }));
  }

  function renderBars(boxId, rows, onPick) {
    var box = document.getElementById(boxId);
    if (!rows || !rows.length) { append(box, el("div", { cls: "empty", text: "none" })); return; }
    rows.forEach(function (row) {
      var total = row.total || 0;
      var bar = el("div", { cls: "bar", role: "img", "aria-label": pct(row.pass_rate) + " passed" });
      [["seg-pass", row.passed], ["seg-fail", row.failed], ["seg-skip", row.skipped]].forEach(function (s) {
        if (total > 0 && s[1] > 0) append(bar, el("span", { cls: s[0], style: "width:" + (100 * s[1] / total) + "%" }));
      });
      var line = el("div", { cls: "bar-row", "data-name": row.name, title: row.name + ": " + row.passed + " passed, " + row.failed + " failed, " + (row.skipped || 0) + " skipped" },
        [el("span", { cls: "bar-name", text: row.name }), bar,
          el("span", { cls: "bar-num" }, [el("b", { text: pct(row.pass_rate) }), el("small", { text: " " + row.passed + "/" + (total - (row.skipped || 0)) })])]);
      line.addEventListener("click", function () { onPick(row.name); });
      append(box, line);
    });
  }

  // ---------- charts ----------

  function lineChart(opts) {
    // opts: width, height, runs, series [{key, label, color, strong, values}], lo, hi, ticks, fmt
    var w = opts.width, h = opts.height, padL = opts.padLeft || 44, padR = 28, padT = 10, padB = 26;
    var n = opts.runs.length;
    function x(i) { return n === 1 ? (padL + w - padR) / 2 : padL + i * (w - padL - padR) / (n - 1); }
    function y(v) { return padT + (opts.hi - v) / (opts.hi - opts.lo) * (h - padT - padB); }
    var root = svg("svg", { viewBox: "0 0 " + w + " " + h, role: "img", "aria-label": opts.label, preserveAspectRatio: "xMidYMid meet" });
    opts.ticks.forEach(function (t) {
      append(root, [svg("line", { cls: "grid", x1: padL, x2: w - padR, y1: y(t), y2: y(t) }),
        svg("text", { x: padL - 6, y: y(t) + 4, "text-anchor": "end", text: opts.fmt(t) })]);
    });
    append(root, svg("line", { cls: "axis", x1: padL, x2: w - padR, y1: h - padB, y2: h - padB }));
    // At most ~8 run labels fit; the latest run is always labelled. Every label has the run in <title>.
    var step = Math.max(1, Math.ceil(n / 8));
    opts.runs.forEach(function (run, i) {
      if (i % step !== 0 && i !== n - 1) return;
      if (i !== n - 1 && n - 1 - i < step) return;
      append(root, svg("text", { x: x(i), y: h - padB + 15, "text-anchor": "middle" },
        [svg("title", { text: runLabel(run) }), shortDate(run)]));
    });
    opts.series.forEach(function (s) {
      var d = "", pen = false;
      s.values.forEach(function (v, i) {
        // a partial run's pass rate is not the suite's: the trend line goes past it
        if (!isNum(v) || opts.runs[i].partial) return;
        d += (pen ? " L" : " M") + x(i).toFixed(1) + " " + y(v).toFixed(1);
        pen = true;
      });
      if (d) append(root, svg("path", { cls: "line" + (s.strong ? " strong" : ""), d: d.trim(), stroke: s.color, "data-series": s.key }));
    });
    opts.series.forEach(function (s) {
      s.values.forEach(function (v, i) {
        if (!isNum(v)) return;
        var run = opts.runs[i];
        var point = svg("circle", {
          cls: "point" + (run.partial ? " partial" : ""), cx: x(i).toFixed(1), cy: y(v).toFixed(1),
          r: s.strong ? 4.5 : 3.5, fill: run.partial ? "#ffffff" : s.color, style: run.partial ? "stroke:" + s.color : null,
          "data-series": s.key, "data-run-index": i, "data-run": run.short_id || "", "data-partial": run.partial ? "true" : "false"
        }, svg("title", { text: s.label + ": " + opts.fmt(v) + "\n" + runLabel(run) }));
        point.addEventListener("click", function () { if (opts.onPick) opts.onPick(run); });
        append(root, point);
      });
    });
    return root;
  }

  function renderCharts(data) {
    var runs = data.runs || [];
    var box = document.getElementById("llmeval-chart-pass-rate");
    if (!runs.length) { append(box, el("div", { cls: "empty", text: "no runs in the history" })); return; }
    var modes = {};
    runs.forEach(function (r) { Object.keys(r.mode_pass_rates || {}).forEach(function (m) { modes[m] = true; }); });
    var series = [{ key: "overall", label: "overall", color: OVERALL_COLOR, strong: true, values: runs.map(function (r) { return r.pass_rate; }) }];
    Object.keys(modes).sort().forEach(function (m, i) {
      series.push({ key: "mode:" + m, label: m, color: PALETTE[i % PALETTE.length],
        values: runs.map(function (r) { return (r.mode_pass_rates || {})[m]; }) });
    });
    append(box, lineChart({ width: 1100, height: 260, runs: runs, series: series, lo: 0, hi: 1, ticks: [0, 0.25, 0.5, 0.75, 1],
      fmt: function (v) { return Math.round(v * 100) + "%"; }, label: "pass rate across runs", onPick: function (run) { showRun(run, data); } }));
    var legend = document.getElementById("llmeval-chart-legend");
    series.forEach(function (s) {
      var last = s.values[s.values.length - 1];
      append(legend, el("span", { cls: "legend-item", "data-series": s.key },
        [el("span", { cls: "swatch", style: "background:" + s.color }), s.label + " " + pct(last)]));
    });

    var metricsBox = document.getElementById("llmeval-metric-charts");
    (data.metrics || []).forEach(function (m) {
      var values = runs.map(function (r) { var v = (r.metrics || {})[m.name]; return isNum(v) ? v : null; });
      var present = values.filter(isNum);
      if (!present.length) return;
      var lo = Math.min.apply(null, present), hi = Math.max.apply(null, present);
      var pad = hi - lo > 1e-12 ? (hi - lo) * 0.12 : (Math.abs(hi) * 0.1 || 0.5);
      lo -= pad; hi += pad;
      var higher = m.higher_is_better !== false;
      var head = el("div", { cls: "head" }, [el("span", { cls: "name", text: m.name }),
        el("span", { cls: "dir", text: higher ? "higher is better" : "lower is better" })]);
      // The delta is against what the header compares with: the reference's run when it is in the
      // charts, else the run before the latest.
      var latestV = values[values.length - 1], prev = null, against = "previous run";
      var refIndex = runs.map(function (r) { return r.run_id; }).indexOf((data.reference || {}).run_id);
      if (refIndex >= 0 && refIndex < values.length - 1 && isNum(values[refIndex])) {
        prev = values[refIndex]; against = refName(data.reference);
      } else {
        for (var i = values.length - 2; i >= 0; i--) { if (isNum(values[i])) { prev = values[i]; break; } }
      }
      var latestLine = el("div", { cls: "latest-line" }, [el("span", { cls: "latest", text: "latest " + num(latestV) })]);
      if (isNum(latestV) && isNum(prev)) {
        var delta = latestV - prev;
        var good = delta === 0 ? "same" : ((delta > 0) === higher ? "good" : "bad");
        append(latestLine, el("span", { cls: "delta " + good, text: " (" + (delta >= 0 ? "+" : "") + num(delta) + " vs " + against + ")" }));
      }
      append(metricsBox, el("div", { cls: "metric-chart", "data-metric": m.name }, [head, latestLine,
        lineChart({ width: 300, height: 140, padLeft: 46, runs: runs, label: m.name + " across runs", lo: lo, hi: hi,
          ticks: [lo + pad, (lo + hi) / 2, hi - pad].filter(function (t, k, a) { return k === 0 || Math.abs(t - a[0]) > 1e-12; }),
          fmt: num, series: [{ key: m.name, label: m.name, color: PALETTE[0], strong: true, values: values }],
          onPick: function (run) { showRun(run, data); } })]));
    });
  }

  function showRun(run, data) {
    // The page holds one run's cases; another run's report is one command away.
    var panel = document.getElementById("llmeval-run-panel");
    panel.textContent = "";
    var latest = (data.latest || {}).run_id === run.run_id;
    var facts = [(run.started_at || "date unknown") + " · run " + run.short_id, plural(run.total || 0, "case") +
      " · pass rate " + pct(run.pass_rate) + (run.suite_errors ? " · " + plural(run.suite_errors, "suite error") : "")];
    if (run.model_source) facts.push("model " + run.model_source);
    if (run.git_commit) facts.push("commit " + String(run.git_commit).slice(0, 12));
    if (run.partial) facts.push("partial: " + (run.partial_reason || "not the whole suite"));
    append(panel, [el("h3", { text: latest ? "This run" : "Run " + run.short_id }), el("p", { text: facts.join(" · ") })]);
    if (latest) {
      append(panel, el("p", { text: "Its cases are in the table below." }));
    } else {
      append(panel, el("p", null, ["Its cases are in its own report: ",
        el("code", { cls: "run-command", text: "llmeval report --run " + run.short_id + " --out report-" + run.short_id + ".html" })]));
    }
    panel.hidden = false;
    panel.setAttribute("data-run", run.short_id || "");
  }

  function renderSuiteErrors(data) {
    var errors = data.suite_errors || [];
    var box = document.getElementById("llmeval-suite-errors");
    if (!errors.length) return;
    var ul = el("ul");
    errors.forEach(function (e) {
      append(ul, el("li", { cls: "suite-error", "data-node-id": e.node_id }, [el("code", { text: e.node_id }),
        el("pre", { cls: "text", text: e.message || e.outcome })]));
    });
    append(box, [el("h2", { text: "Errors in the suite, not the model (" + errors.length + ")" }),
      el("p", { cls: "note", text: "Broken case files and checks used wrongly: problems in the tests. They are in none of the pass rates, regressions or charts." }), ul]);
    box.hidden = false;
  }

  function nodeCell(c) {
    // A parametrized test's id: the parameters get their own line, so rows of one test differ visibly.
    var id = String(c.node_id), cut = id.indexOf("[");
    var kids = cut > 0 ? [el("div", { cls: "node-base", text: id.slice(0, cut) }), el("div", { cls: "node-param", text: id.slice(cut) })]
      : [el("div", { cls: "node-base", text: id })];
    return el("td", { cls: "node", title: id }, kids);
  }

  // ---------- cases: table, filters, details ----------

  function outcomeBadge(outcome) {
    var known = ["passed", "failed", "error", "skipped", "xfailed", "xpassed"];
    return el("span", { cls: "badge " + (known.indexOf(outcome) >= 0 ? outcome : "unknown"), text: outcome || "?" });
  }

  function textBlock(cls, text, missing) {
    if (text === null || text === undefined) return el("pre", { cls: "text missing " + cls, text: missing });
    return el("pre", { cls: "text " + cls, text: text === "" ? "" : String(text) }, text === "" ? el("span", { cls: "note", text: "(empty)" }) : null);
  }

  function diffBlock(cls, segments, keep, mark, markCls) {
    // segments: [[kind, text]...]; `keep` kinds are plain text, `mark` kinds are wrapped in <del>/<ins>.
    var pre = el("pre", { cls: "text " + cls });
    segments.forEach(function (seg) {
      var kind = seg[0], text = String(seg[1] === null || seg[1] === undefined ? "" : seg[1]);
      if (kind === mark) append(pre, el(mark === "delete" ? "del" : "ins", { cls: markCls, text: text }));
      else append(pre, document.createTextNode(text));
    });
    return pre;
  }

  function buildDetail(c, data) {
    var ref = data.reference || {};
    var meta = ["outcome " + (c.outcome || "?")];
    if (c.baseline_outcome) meta.push("in the reference: " + c.baseline_outcome);
    if (c.change) meta.push("change: " + c.change);
    if (c.flaky) meta.push(c.flaky);
    if (c.samples) {
      var s = c.samples, k = String(s.n);
      meta.push(s.passed + " of " + s.n + " samples passed (rate " + s.rate.toFixed(2) + ", 95% Wilson [" + s.low.toFixed(2) +
        ", " + s.high.toFixed(2) + "], min_pass_rate " + s.min_pass_rate.toFixed(2) + "; pass@1 " + s.pass_at_k["1"].toFixed(2) +
        ", pass@" + k + " " + s.pass_at_k[k].toFixed(2) + ", pass^" + k + " " + s.pass_hat_k[k].toFixed(2) + ")");
    }
    meta.push("file " + (c.file || "?"));
    if (isNum(c.duration_s)) meta.push(secs(c.duration_s));
    if (isNum(c.generations) && c.generations !== 1) meta.push(plural(c.generations, "generation") + (c.generations > 1 ? " (all below)" : ""));
    var parts = [el("div", { cls: "detail-meta", text: meta.join(" · ") })];
    if (c.label !== null && c.label !== undefined) {
      parts.push(el("div", { cls: "detail-label" }, ["gold label ", el("b", { text: c.label }), " · predicted ",
        el("b", { text: c.output === null || c.output === undefined ? "(no output)" : String(c.output).trim() })]));
    }
    if (c.message) parts.push(el("div", { cls: "detail-message", text: c.message }));
    parts.push(el("section", { cls: "detail-prompt" }, [el("h4", { text: "prompt" }), textBlock("prompt-text", c.prompt, "no prompt recorded")]));

    var diff = c.diff && Array.isArray(c.diff.before) && Array.isArray(c.diff.after) ? c.diff : null;
    var changed = diff && (diff.before.some(function (s) { return s[0] === "delete"; }) || diff.after.some(function (s) { return s[0] === "insert"; }));
    var baseTitle = ref.kind === "previous run" ? "output in the previous run" : ref.kind === "run A" ? "output in run A" : "baseline output";
    var refOutput = ref.kind === "run A" ? "run A's output" : "the baseline output";
    var base = el("section", { cls: "detail-baseline" }, [el("h4", { text: baseTitle }),
      diff ? diffBlock("baseline-text", diff.before, "equal", "delete", "diff-del")
        : textBlock("baseline-text", c.baseline_output, ref.kind ? "no output recorded in the reference" : "no baseline")]);
    if (c.baseline_output_is_excerpt) append(base, el("div", { cls: "note", text: "only the first 160 characters of the baseline output are known" }));
    var out = el("section", { cls: "detail-output" }, [el("h4", { text: ref.kind === "run A" ? "output in run B" : "output (this run)" }),
      diff ? diffBlock("output-text", diff.after, "equal", "insert", "diff-ins") : textBlock("output-text", c.output, "no output recorded")]);
    if (diff) append(out, el("div", { cls: "note", text: changed ? "differences from " + refOutput + " are marked" : "same as " + refOutput }));
    parts.push(el("div", { cls: "detail-compare" }, [base, out]));

    var extras = el("div", { cls: "detail-extras" });
    var checks = c.checks || [];
    if (checks.length) {
      var ul = el("ul");
      checks.forEach(function (ch) {
        append(ul, el("li", { "data-passed": ch.passed ? "true" : "false" }, [el("span", { cls: "mark", text: ch.passed ? "✓" : "✗" }),
          el("span", { cls: "cname", text: ch.name }), isNum(ch.score) ? " (score " + num(ch.score) + ")" : null, ch.message ? ": " + ch.message : null]));
      });
      append(extras, el("section", { cls: "detail-checks" }, [el("h4", { text: "checks" }), ul]));
    }
    var metrics = c.metrics || [];
    if (metrics.length) {
      var table = el("table", null, el("tr", null, [el("th", { text: "metric" }), el("th", { text: "before → after" }), el("th", { text: "" })]));
      metrics.forEach(function (m) {
        append(table, el("tr", { cls: m.dropped ? "dropped" : null, "data-metric": m.name }, [el("td", { cls: "mono", text: m.name }),
          el("td", { text: num(m.before) + " → " + num(m.value) + (m.interval ? " [" + num(m.interval[0]) + ", " + num(m.interval[1]) + "] (" + pct(m.interval[2]) + " interval)" : "") }),
          el("td", { text: (m.dropped ? "dropped · " : "") + (m.higher_is_better === false ? "lower is better" : "higher is better") })]));
      });
      append(extras, el("section", { cls: "detail-metrics" }, [el("h4", { text: "metrics" }), table]));
    }
    if (extras.childNodes.length) parts.push(extras);
    var gens = c.generation_list || [];
    if (gens.length) {
      var list = el("ol", { cls: "generations" });
      gens.forEach(function (g) {
        var tag = g.differs === true ? "differs from the " + refName(ref) : g.differs === false ? "same as the " + refName(ref) : "no counterpart in the " + refName(ref);
        var item = el("li", { "data-differs": g.differs === true ? "true" : g.differs === false ? "false" : "unknown", "data-position": g.position },
          [el("div", { cls: "gen-head", text: "generation " + g.position + (g.phase && g.phase !== "call" ? " (" + g.phase + ")" : "") + " · " + tag }),
            textBlock("prompt-text", g.prompt, "no prompt recorded"), textBlock("output-text", g.output, "no output recorded")]);
        if (g.differs === true) append(item, [el("div", { cls: "note", text: refName(ref) + "'s output:" }), textBlock("baseline-text", g.reference_output, "none")]);
        append(list, item);
      });
      parts.push(el("section", { cls: "detail-generations" }, [el("h4", { text: "all " + gens.length + " generations, differing first" }), list]));
    }
    return el("div", { cls: "detail" }, parts);
  }

  function renderCases(data) {
    var cases = data.cases || [];
    var tbody = document.querySelector("#cases-table tbody");
    var ui = {
      failed: document.getElementById("filter-failed"), regressed: document.getElementById("filter-regressed"),
      mode: document.getElementById("filter-mode"), tag: document.getElementById("filter-tag"),
      q: document.getElementById("filter-search"), clear: document.getElementById("filter-clear"),
      count: document.getElementById("cases-count")
    };
    var state = { failed: false, regressed: false, file: "", mode: "", tag: "", q: "", open: {} };
    var rows = [], details = [], hay = [];

    // Select options: the modes and tags that occur, plus "none" when some case has no mode / tag.
    var modes = {}, tags = {}, noMode = false, noTag = false;
    cases.forEach(function (c) {
      if (modeKey(c) === NONE) noMode = true; else modes[c.mode] = true;
      if (!(c.tags || []).length) noTag = true;
      (c.tags || []).forEach(function (t) { tags[t] = true; });
    });
    Object.keys(modes).sort().forEach(function (m) { append(ui.mode, el("option", { value: m, text: m })); });
    if (noMode) append(ui.mode, el("option", { value: NONE, text: "(no mode)" }));
    Object.keys(tags).sort().forEach(function (t) { append(ui.tag, el("option", { value: t, text: t })); });
    if (noTag) append(ui.tag, el("option", { value: NONE, text: "(untagged)" }));

    cases.forEach(function (c, i) {
      var tagCell = el("td", { title: (c.tags || []).join(", ") });
      (c.tags || []).forEach(function (t) { append(tagCell, el("span", { cls: "tag", text: t })); });
      var row = el("tr", {
        cls: "case-row" + (c.regressed ? " regressed" : ""), tabindex: "0", "aria-expanded": "false",
        "data-index": i, "data-node-id": c.node_id, "data-outcome": c.outcome, "data-mode": c.mode === null ? "" : c.mode,
        "data-failed": c.failed ? "true" : "false", "data-regressed": c.regressed ? "true" : "false"
      }, [el("td", null, outcomeBadge(c.outcome)), el("td", { cls: "change " + slug(c.change || ""), title: c.flaky || "", text: (c.change || "") + (c.flaky ? " (flaky)" : "") }),
        nodeCell(c), el("td", { text: c.mode || "" }), tagCell,
        el("td", { title: c.message || "", text: c.message || "" })]);
      row.addEventListener("click", function () { toggle(i); });
      row.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); toggle(i); }
      });
      rows.push(row);
      details.push(null);
      hay.push([c.node_id, c.prompt, c.output, c.message].filter(function (s) { return s; }).join("\n").toLowerCase());
      append(tbody, row);
    });
    var noMatch = el("tr", { cls: "no-match", hidden: true }, el("td", { colspan: "6", text: cases.length ? "no case matches these filters" : "no cases in this run" }));
    append(tbody, noMatch);

    function ensureDetail(i) {
      // Built on first open: thousands of cases stay cheap, and long outputs cost nothing until looked at.
      if (!details[i]) {
        details[i] = el("tr", { cls: "case-detail", "data-index": i, "data-node-id": cases[i].node_id, hidden: true },
          el("td", { colspan: "6" }, buildDetail(cases[i], data)));
        rows[i].parentNode.insertBefore(details[i], rows[i].nextSibling);
      }
      return details[i];
    }

    function toggle(i) {
      var id = cases[i].node_id;
      if (state.open[id]) delete state.open[id]; else state.open[id] = true;
      apply(true);
    }

    function visible(c, i) {
      if (state.failed && !c.failed) return false;
      if (state.regressed && !c.regressed) return false;
      if (state.file && c.file !== state.file) return false;
      if (state.mode && modeKey(c) !== state.mode) return false;
      if (state.tag) {
        var ts = c.tags || [];
        if (state.tag === NONE ? ts.length > 0 : ts.indexOf(state.tag) < 0) return false;
      }
      return !state.q || hay[i].indexOf(state.q.toLowerCase()) >= 0;
    }

    var lastHash = null;
    function apply(writeHash) {
      var shown = 0;
      cases.forEach(function (c, i) {
        var v = visible(c, i), open = v && !!state.open[c.node_id];
        rows[i].hidden = !v;
        rows[i].setAttribute("aria-expanded", open ? "true" : "false");
        if (open) ensureDetail(i).hidden = false; else if (details[i]) details[i].hidden = true;
        if (v) shown++;
      });
      noMatch.hidden = shown > 0;
      ui.count.textContent = "showing " + shown + " of " + plural(cases.length, "case") + (state.file ? " in " + state.file : "");
      ui.count.setAttribute("data-shown", shown);
      ui.count.setAttribute("data-total", cases.length);
      if (writeHash) writeState();
    }

    function writeState() {
      var p = new URLSearchParams();
      if (state.failed) p.set("failed", "1");
      if (state.regressed) p.set("regressed", "1");
      if (state.file) p.set("file", state.file);
      if (state.mode) p.set("mode", state.mode);
      if (state.tag) p.set("tag", state.tag);
      if (state.q) p.set("q", state.q);
      Object.keys(state.open).forEach(function (id) { p.append("open", id); });
      var hash = p.toString();
      lastHash = hash;
      if (hash === location.hash.replace(/^#/, "")) return;
      // replace, not push: typing in the search box must not fill the back button's history.
      try { history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search); }
      catch (e) { location.replace("#" + hash); }
    }

    function hasOption(select, value) {
      return Array.prototype.some.call(select.options, function (o) { return o.value === value; });
    }

    function readState() {
      var p = new URLSearchParams(location.hash.replace(/^#/, ""));
      state.failed = p.get("failed") === "1";
      state.regressed = p.get("regressed") === "1";
      state.file = p.get("file") || "";
      state.mode = hasOption(ui.mode, p.get("mode") || "") ? p.get("mode") || "" : "";
      state.tag = hasOption(ui.tag, p.get("tag") || "") ? p.get("tag") || "" : "";
      state.q = p.get("q") || "";
      state.open = {};
      p.getAll("open").forEach(function (id) { state.open[id] = true; });
      ui.failed.checked = state.failed;
      ui.regressed.checked = state.regressed;
      ui.mode.value = state.mode;
      ui.tag.value = state.tag;
      ui.q.value = state.q;
    }

    ui.failed.addEventListener("change", function () { state.failed = ui.failed.checked; apply(true); });
    ui.regressed.addEventListener("change", function () { state.regressed = ui.regressed.checked; apply(true); });
    ui.mode.addEventListener("change", function () { state.mode = ui.mode.value; apply(true); });
    ui.tag.addEventListener("change", function () { state.tag = ui.tag.value; apply(true); });
    ui.q.addEventListener("input", function () { state.q = ui.q.value; apply(true); });
    ui.clear.addEventListener("click", function () {
      state = { failed: false, regressed: false, file: "", mode: "", tag: "", q: "", open: {} };
      ui.failed.checked = ui.regressed.checked = false;
      ui.mode.value = ui.tag.value = ui.q.value = "";
      apply(true);
    });
    window.addEventListener("hashchange", function () {
      if (location.hash.replace(/^#/, "") === lastHash) return;
      readState();
      apply(false);
    });

    readState();
    apply(false);
    lastHash = location.hash.replace(/^#/, "");
    var firstOpen = rows.filter(function (r, i) { return state.open[cases[i].node_id] && !r.hidden; })[0];
    if (firstOpen && firstOpen.scrollIntoView) firstOpen.scrollIntoView({ block: "center" });

    return {
      pickTag: function (tag) { state.tag = hasOption(ui.tag, tag) ? tag : ""; ui.tag.value = state.tag; apply(true); },
      pickFile: function (file) { state.file = file; apply(true); }
    };
  }

  // ---------- human review ----------

  function ratingInterval(m) {
    if (!m) return "–";
    if (!isNum(m.low)) return m.estimate.toFixed(2) + " [n too small for an interval]";
    return m.estimate.toFixed(2) + " [" + m.low.toFixed(2) + ", " + m.high.toFixed(2) + "]";
  }

  function rhoText(c) {
    if (!c) return "no judge scores";
    if (!isNum(c.rho)) return "undefined (n=" + c.n + ": needs 3+ cases and variation on both sides)";
    return "rho " + c.rho.toFixed(2) + " (p " + pValue(c.p_value) + ", n=" + c.n + ")";
  }

  function alphaText(a) { return isNum(a) ? a.toFixed(2) : "–"; }

  function leftOut(n) {
    return plural(n, "judged case") + " left out of the judge's agreement: the judge was inconclusive (no score)";
  }

  function renderHumanReview(data) {
    var r = data.human_review;
    var box = document.getElementById("llmeval-human-review");
    if (!r || !box) return;
    box.hidden = false;
    append(box, el("h2", { text: "Human review (llmeval review)" }));
    var lk = r.likert;
    if (lk) {
      append(box, el("h3", { text: "Likert ratings of run " + String(lk.run_id).slice(0, 12) + " (" + String(lk.model_source) + ")" }));
      append(box, el("p", { text: lk.rated + " of " + lk.items + " cases rated by " + (lk.annotators.length ? lk.annotators.join(", ") : "nobody yet") +
        "; " + lk.needs_review + " need review (output changed since rated)" }));
      append(box, estimateTable("review-likert", ["dimension", "mean [95% CI]", "cases", "alpha", "judge vs human (Spearman)"],
        lk.dimensions.map(function (d) {
          var cells = [d.name, ratingInterval(d.mean), String(d.mean.n), alphaText(d.agreement_alpha), rhoText(d.judge_spearman)];
          return el("tr", { "data-dimension": d.name }, cells.map(function (c) { return el("td", { text: c }); }));
        })));
      append(box, el("p", { id: "llmeval-review-judge", text: "judge vs the mean of all dimensions: " + rhoText(lk.judge_overall) }));
      if (lk.judge_inconclusive) append(box, el("p", { cls: "review-note", text: leftOut(lk.judge_inconclusive) }));
    }
    var pw = r.pairwise;
    if (pw) {
      append(box, el("h3", { text: "Pairwise, blind: run " + String(pw.first_run_id).slice(0, 12) + " (" + String(pw.first_model) + ") vs run " +
        String(pw.second_run_id).slice(0, 12) + " (" + String(pw.second_model) + ")" }));
      append(box, el("p", { text: pw.judged + " of " + pw.items + " differing cases judged by " + (pw.annotators.length ? pw.annotators.join(", ") : "nobody yet") +
        "; " + plural(pw.identical, "case") + " with identical outputs not asked" }));
      if (pw.win_rate) {
        var w = pw.win_rate;
        append(box, el("p", { id: "llmeval-win-rate", "data-wins": String(pw.wins), "data-losses": String(pw.losses), "data-ties": String(pw.ties),
          text: "win rate of " + String(pw.first_run_id).slice(0, 12) + ": " + pct(w.estimate) + " [" + pct(w.low) + ", " + pct(w.high) + "] (Wilson 95%; " +
            pw.wins + " wins, " + pw.losses + " losses, " + pw.ties + " ties counted as half)" }));
      }
      append(box, el("p", { text: "agreement between annotators (Krippendorff's alpha, ordinal): " + alphaText(pw.agreement_alpha) +
        (isNum(pw.agreement_alpha) ? "" : " (needs two annotators on a common case)") }));
      var j = pw.judge;
      append(box, el("p", { id: "llmeval-review-pair-judge", text: !j ? "judge vs human: no judge scores on both runs"
        : "judge vs human: the judge's scores prefer the same run in " + j.agree + " of " + j.n + " cases (" + (j.n ? pct(j.agree / j.n) : "–") + "); " +
          j.human_ties_left_out + " human ties left out" }));
      if (j && j.judge_inconclusive) append(box, el("p", { cls: "review-note", text: leftOut(j.judge_inconclusive) }));
    }
    (r.notes || []).forEach(function (note) { append(box, el("p", { cls: "review-note", text: String(note) })); });
  }

  // ---------- NER and fairness groups (group_views.py) ----------

  function signedDelta(now, before) { return isNum(now) && isNum(before) ? signedNum(now - before) : "–"; }

  function nerView(v, refLabel) {
    var head = ["scheme", "precision", "recall", "F1", refLabel + " F1", "change"];
    var schemes = Object.keys(v.schemes || {}).map(function (k) {
      var s = v.schemes[k];
      return el("tr", { "data-scheme": k }, [k, num(s.precision), num(s.recall), num(s.f1), num(s.reference_f1),
        signedDelta(s.f1, s.reference_f1)].map(function (c) { return el("td", { text: c }); }));
    });
    var types = Object.keys(v.types || {}).sort().map(function (k) {
      var t = v.types[k];
      var dropped = isNum(t.reference_f1) && (!isNum(t.f1) || t.f1 < t.reference_f1 - 1e-12);
      return el("tr", { "data-type": k, "data-dropped": dropped ? "true" : "false", cls: dropped ? "dropped" : null },
        [k, num(t.precision), num(t.recall), num(t.f1), String(t.support), num(t.reference_f1),
          signedDelta(t.f1, t.reference_f1)].map(function (c) { return el("td", { text: c }); }));
    });
    var kids = [estimateTable("ner-schemes", head, schemes),
      el("h4", { text: "Per entity type (strict)" }),
      estimateTable("ner-types", ["type", "precision", "recall", "F1", "support", refLabel + " F1", "change"], types)];
    if (v.unparsed) kids.push(el("p", { cls: "note", text: v.unparsed + " of " + v.documents + " outputs had no readable entities (scored as none)" }));
    return kids;
  }

  function pairBlock(p) {
    // prompts and outputs are text nodes only: whatever a model wrote is never read as HTML
    return el("div", { cls: "pair", "data-case": p.case || "", "data-group": p.group }, [
      el("p", { cls: "pair-head", text: (p.case || "?") + " \u2192 " + p.group + ": " + (p.disagreements || []).join("; ") }),
      el("div", { cls: "detail-compare" }, [
        el("div", null, [el("div", { cls: "detail-label", text: "original prompt" }), el("pre", { cls: "text pair-original-prompt", text: p.original_prompt }),
          el("div", { cls: "detail-label", text: "original output" }), el("pre", { cls: "text pair-original-output", text: p.original_output })]),
        el("div", null, [el("div", { cls: "detail-label", text: "variant prompt" }), el("pre", { cls: "text pair-variant-prompt", text: p.variant_prompt }),
          el("div", { cls: "detail-label", text: "variant output" }), el("pre", { cls: "text pair-variant-output", text: p.variant_output })])])]);
  }

  function fairnessView(v, refLabel) {
    var kids = [];
    Object.keys(v.categories || {}).sort().forEach(function (name) {
      var c = v.categories[name];
      var over = isNum(v.max_gap) && c.gap > v.max_gap + 1e-12;
      var rates = Object.keys(c.rates || {}).sort().map(function (g) { return g + " " + pct(c.rates[g]); }).join(", ");
      var box = el("div", { cls: "category" + (over ? " over" : ""), "data-category": name, "data-over": over ? "true" : "false" }, [
        el("h4", { text: name + ": parity gap " + num(c.gap) + (isNum(v.max_gap) ? (over ? " > max " : " \u2264 max ") + num(v.max_gap) : "") +
          " (" + refLabel + " " + num(c.reference_gap) + ", change " + signedDelta(c.gap, c.reference_gap) + ")" }),
        el("p", { cls: "rates", text: "pass rate by group: " + rates })]);
      if ((c.pairs || []).length) {
        append(box, el("p", { cls: "note", text: plural(c.pairs.length, "failing pair") + ", original and variant side by side:" }));
        c.pairs.forEach(function (p) { append(box, pairBlock(p)); });
      }
      kids.push(box);
    });
    return kids;
  }

  function renderGroupViews(data) {
    var views = data.group_views || [];
    var box = document.getElementById("llmeval-groups");
    if (!box || !views.length) return;
    var refLabel = refName(data.reference || {});
    append(box, el("h2", { text: "Entity scores and fairness" }));
    views.forEach(function (v) {
      var head = el("h3", null, [el("code", { text: v.node_id }), " " + v.outcome + (v.in_reference ? "" : " (not in the " + refLabel + ")")]);
      var body = v.kind === "ner" ? nerView(v, refLabel) : fairnessView(v, refLabel);
      append(box, el("div", { cls: "group-view " + v.kind, "data-node-id": v.node_id, "data-kind": v.kind, "data-outcome": v.outcome },
        [head, el("p", { cls: "note", text: v.message })].concat(body)));
    });
    box.hidden = false;
  }

  // ---------- start ----------

  function main() {
    var data = JSON.parse(document.getElementById("llmeval-data").textContent);
    renderHeader(data);
    renderTiles(data);
    renderSuiteErrors(data);
    renderGroupViews(data);
    renderComparison(data);
    renderHumanReview(data);
    renderModelComparison(data);
    renderCharts(data);
    var table = renderCases(data);
    var bd = data.breakdowns || {};
    renderBars("llmeval-breakdown-file", bd.file, function (name) { table.pickFile(name); });
    renderBars("llmeval-breakdown-tag", bd.tag, function (name) { table.pickTag(name); });
    document.body.setAttribute("data-ready", "true");
  }

  try {
    main();
  } catch (err) {
    var box = document.getElementById("llmeval-error");
    box.textContent = "The report could not be drawn: " + (err && err.message ? err.message : String(err));
    box.hidden = false;
    document.body.setAttribute("data-error", String(err && err.message ? err.message : err));
    throw err;
  }
})();
