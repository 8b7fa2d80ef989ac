// Iterations: every run (helix log --json) with its metrics, and one metric across the
// first-parent iterations (helix plot --json), each point coloured by the kind of change.
"use strict";

(() => {
  const { config, get, el, notice, showError, short, number, seconds, entryKind, badge, statusBadge, swatches } = HELIX;
  const main = document.getElementById("main");
  const params = new URLSearchParams(location.search);
  let chart = null;
  let shownMetric = null;
  let poll = null;

  function metricNames(log) {
    const names = new Set();
    log.forEach((e) => Object.keys(e.metrics).forEach((m) => names.add(m)));
    return [...names].sort();
  }

  function emptyState() {
    return notice("empty",
      el("strong", {}, "No runs yet. "),
      "Run ", el("code", {}, "helix run"), ` in ${config.repo} to record the first iteration `,
      "(or ", el("code", {}, "helix commit-and-run -a -m MESSAGE"), " to commit and run). ",
      "This page shows it as soon as it starts.");
  }

  function table(log, metrics, kinds) {
    const head = el("tr", {},
      el("th", {}, "version"), el("th", {}, "kind"), el("th", {}, "subject"), el("th", {}, "status"),
      el("th", {}, "change"),
      metrics.map((m) => el("th", { class: "num" }, m)),
      el("th", { class: "num" }, "wall"), el("th", { class: "num" }, "computed"),
      el("th", { class: "num" }, "loaded"), el("th", { class: "num" }, "pruned"),
      el("th", { class: "num" }, "saved"), el("th", {}, "started"));
    const rows = log.map((e) => {
      const kind = entryKind(e);
      const change = e.commit && kinds[e.commit];
      return el("tr", { data: { run: e.run_id, status: e.status, kind } },
        el("td", { class: "mono" }, el("a", { href: `/version/${encodeURIComponent(e.run_id)}` }, e.revision)),
        el("td", {}, badge(`kind-${kind}`, kind + (e.sample ? ` ${e.sample}` : ""))),
        el("td", {}, e.subject || ""),
        el("td", {}, statusBadge(e.status)),
        el("td", { data: { change: change || "" } }, change ? el("span", {}, el("span", { class: "swatch", style: `background:${config.kinds[change]}` }), change) : ""),
        metrics.map((m) => el("td", { class: "num", data: { metric: m } }, number(e.metrics[m]))),
        el("td", { class: "num" }, seconds(e.wall_seconds)),
        el("td", { class: "num", data: { count: "compute" } }, e.counts.compute),
        el("td", { class: "num", data: { count: "load" } }, e.counts.load),
        el("td", { class: "num", data: { count: "prune" } }, e.counts.prune),
        el("td", { class: "num" }, seconds(e.saved_seconds)),
        el("td", { class: "muted" }, e.started.replace("T", " ")));
    });
    return el("table", { id: "runs" }, el("thead", {}, head), el("tbody", {}, rows));
  }

  function drawChart(canvas, doc) {
    const points = doc.points;
    const colours = points.map((p) => config.kinds[p.kind] || "#888");
    if (chart) chart.destroy();
    chart = new Chart(canvas, {
      type: "line",
      data: {
        labels: points.map((p) => short(p.commit)),
        datasets: [{
          label: doc.metric, data: points.map((p) => p.value), borderColor: "#9aa3b2",
          pointBackgroundColor: colours, pointBorderColor: colours, pointRadius: 6, pointHoverRadius: 8, tension: 0,
        }],
      },
      options: {
        animation: false, maintainAspectRatio: false,
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: {
            title: (items) => { const p = points[items[0].dataIndex]; return `${short(p.commit)} ${p.subject}`; },
            afterLabel: (item) => { const p = points[item.dataIndex]; return `${p.kind}${p.edited.length ? `: ${p.edited.join(", ")}` : ""}`; },
          } },
        },
        scales: { y: { title: { display: true, text: doc.metric } }, x: { title: { display: true, text: "iteration (first-parent order)" } } },
        onClick: (_event, active) => { if (active.length) location.href = `/version/${points[active[0].index].commit}`; },
      },
    });
    window.helixChart = chart;
  }

  async function render() {
    let log;
    try {
      log = await get("/api/log");
    } catch (error) {
      main.replaceChildren(el("h1", {}, "Iterations"));
      main.append(notice("error", error.message));
      return;
    }
    const running = log.filter((e) => e.status === "running");
    const metrics = metricNames(log);
    const metric = shownMetric || params.get("metric") || metrics[0];
    shownMetric = metric;
    let plot = { points: [], missing: [] };
    let plotError = null;
    if (metric) {
      try { plot = await get(`/api/plot/${encodeURIComponent(metric)}`); } catch (error) { plotError = error; }
    }
    const kinds = Object.fromEntries(plot.points.map((p) => [p.commit, p.kind]));
    const parts = [el("h1", {}, "Iterations")];
    if (running.length) {
      parts.push(notice("running", el("strong", {}, `${running.length === 1 ? "A run is" : `${running.length} runs are`} in progress`),
        ` (${running.map((e) => e.revision).join(", ")}); this page refreshes until ${running.length === 1 ? "it ends" : "they end"}.`));
    }
    if (!log.length) {
      parts.push(emptyState());
    } else {
      const select = el("select", { id: "metric", onchange: (e) => { shownMetric = e.target.value; render(); } },
        metrics.map((m) => el("option", { value: m, selected: m === metric ? "selected" : null }, m)));
      const card = el("section", { class: "card", id: "chart-card" },
        el("div", { class: "controls" }, el("label", { for: "metric" }, "metric "), select,
          el("span", { class: "muted" }, "points coloured by the kind of change the commit made")),
        swatches(config.kinds));
      if (plotError) card.append(notice("error", plotError.message));
      else if (!plot.points.length) card.append(notice("empty", `No commit has a successful run with ${metric} yet.`));
      else card.append(el("div", { class: "chart-box" }, el("canvas", { id: "chart" })));
      parts.push(card, el("h2", {}, `Runs (${log.length}), newest first`), table(log, metrics, kinds));
    }
    main.replaceChildren(...parts);
    const canvas = document.getElementById("chart");
    if (canvas) drawChart(canvas, plot);
    main.dataset.ready = "true";
    clearTimeout(poll);
    if (running.length || !log.length) poll = setTimeout(render, 2000);
  }

  render();
})();
