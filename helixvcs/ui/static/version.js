// Version: one run's DAG, left to right, each operator coloured by what it did in that run
// (computed, loaded, pruned) or as changed since the parent version; details and the
// operator's source on hover or click.
"use strict";

(() => {
  const { config, get, el, notice, short, number, seconds, bytes, delta, entryKind, badge, statusBadge, swatches, diffText, drawDag, selectNode } = HELIX;
  const main = document.getElementById("main");
  const STATE_NAMES = { compute: "computed", load: "loaded", prune: "pruned" };
  const LEGEND = { ...config.states, running: "#ffffff" };
  let cy = null;
  let poll = null;

  // the colour of a node: changed since the parent wins over what the run did
  function stateOf(node) {
    if (node.change === "changed" || node.change === "added") return "changed";
    return node.state ? STATE_NAMES[node.state] : "running";
  }

  function detail(doc, node) {
    const change = (doc.diff?.changed || []).find((c) => c.name === node.name);
    const rows = [
      ["kind", node.kind], ["stage", node.stage], ["state", stateOf(node)],
      ["in this run", node.state ? `${STATE_NAMES[node.state]} (${node.status})` : "not finished"],
      ["seconds", seconds(node.seconds)], ["load seconds", seconds(node.load_seconds)],
      ["bytes", bytes(node.bytes)], ["kept in the store", node.materialized === null ? "–" : node.materialized ? "yes" : "no"],
      ["since the parent", node.change ? `${node.change}${change ? `: ${change.causes.join(", ")}` : ""}` : "unchanged"],
      ["key", node.key.slice(0, 16)], ["defined at", `${node.file}:${node.line}`],
    ];
    const panel = [el("h2", { data: { node: node.name } }, node.name),
      el("dl", {}, rows.map(([k, v]) => [el("dt", {}, k), el("dd", { data: { field: k } }, v ?? "–")]))];
    if (change && change.diff) panel.push(el("h3", {}, "Source diff against the parent"), diffText(change.diff));
    panel.push(el("h3", {}, "Source"), el("pre", { class: "source" }, node.source));
    return panel;
  }

  function select(doc, name) {
    const node = doc.nodes.find((n) => n.name === name);
    if (!node) return;
    document.getElementById("detail").replaceChildren(...detail(doc, node));
    document.querySelectorAll("#nodes tr.selected").forEach((tr) => tr.classList.remove("selected"));
    document.querySelector(`#nodes tr[data-node="${CSS.escape(name)}"]`)?.classList.add("selected");
    if (cy) selectNode(cy, name);
  }

  function nodeTable(doc) {
    const head = el("tr", {}, ["operator", "kind", "stage", "state", "since the parent"].map((h) => el("th", {}, h)),
      el("th", { class: "num" }, "seconds"), el("th", { class: "num" }, "bytes"), el("th", {}, "kept"));
    const rows = doc.nodes.map((n) => el("tr", { data: { node: n.name, state: stateOf(n), change: n.change || "" }, onclick: () => select(doc, n.name) },
      el("td", { class: "mono" }, n.name), el("td", {}, n.kind), el("td", {}, n.stage || ""),
      el("td", {}, el("span", { class: "swatch", style: `background:${LEGEND[stateOf(n)]}` }), stateOf(n)),
      el("td", {}, n.change || ""), el("td", { class: "num" }, seconds(n.seconds)),
      el("td", { class: "num" }, bytes(n.bytes)), el("td", {}, n.materialized ? "yes" : "")));
    return el("table", { id: "nodes" }, el("thead", {}, head), el("tbody", {}, rows));
  }

  function metricTable(doc) {
    const run = doc.run;
    const parent = doc.parent?.metrics || {};
    const names = [...new Set([...Object.keys(run.metrics), ...Object.keys(parent)])].sort();
    if (!names.length) return el("p", { class: "muted" }, "No metrics recorded.");
    return el("table", { id: "metrics" },
      el("thead", {}, el("tr", {}, el("th", {}, "metric"), el("th", { class: "num" }, "this version"),
        el("th", { class: "num" }, `parent ${doc.parent ? doc.parent.revision : ""}`), el("th", { class: "num" }, "delta"))),
      el("tbody", {}, names.map((m) => el("tr", { data: { metric: m } }, el("td", {}, m),
        el("td", { class: "num", data: { value: "b" } }, number(run.metrics[m])),
        el("td", { class: "num" }, number(parent[m])), el("td", { class: "num" }, delta(parent[m], run.metrics[m]))))));
  }

  async function render() {
    let doc;
    try {
      doc = await get(`/api/version/${encodeURIComponent(config.id)}`);
    } catch (error) {
      main.replaceChildren(el("h1", {}, "Version"), notice("error", error.message));
      return;
    }
    const run = doc.run;
    const kind = entryKind(run);
    const parts = [
      el("h1", {}, "Version ", el("span", { class: "mono", id: "revision" }, run.revision), " ",
        badge(`kind-${kind}`, kind), " ", statusBadge(run.status)),
      el("p", {}, el("strong", {}, run.subject || ""), el("br"),
        el("span", { class: "muted" }, `run ${run.run_id} of workflow ${doc.workflow}, started ${run.started.replace("T", " ")}; `,
          `wall ${seconds(run.wall_seconds)}, ${run.counts.compute} computed, ${run.counts.load} loaded, ${run.counts.prune} pruned, saved ${seconds(run.saved_seconds)}`)),
    ];
    if (run.status === "running") {
      parts.push(notice("running", el("strong", {}, "This run is in progress. "),
        "Operators show what they did when it ends; this page refreshes until then."));
    }
    if (doc.error) parts.push(notice("error", doc.error));
    if (doc.parent && run.commit && doc.parent.commit) {
      parts.push(el("p", {}, "Changes are against the parent ", el("a", { href: `/version/${doc.parent.commit}` }, doc.parent.revision),
        " · ", el("a", { id: "compare-parent", href: `/compare?a=${doc.parent.commit}&b=${run.commit}` }, "compare with the parent")));
      if (!doc.diff) parts.push(el("p", { class: "muted", id: "parent-not-run" },
        "The parent has no recorded run, so what changed is not shown here; comparing (which imports the workflow code of both) shows it."));
    } else if (!doc.parent) {
      parts.push(el("p", { class: "muted" }, "No parent version: every operator is new."));
    }
    parts.push(swatches(LEGEND, { running: "not finished" }),
      el("div", { class: "row" }, el("div", { class: "grow" }, el("div", { id: "dag" })),
        el("aside", { class: "card", id: "detail" }, el("p", { class: "muted" }, "Hover over or click an operator for its timings, bytes and source."))),
      el("h2", {}, "Metrics"), metricTable(doc),
      el("h2", {}, "Operators"), nodeTable(doc));
    main.replaceChildren(...parts);
    cy = drawDag(document.getElementById("dag"), doc.nodes.map((n) => ({
      name: n.name, kind: n.kind, parents: n.parents, fill: LEGEND[stateOf(n)],
      classes: [n.change, n.state ? null : "pending"].filter(Boolean),
    })), (name) => select(doc, name));
    main.dataset.ready = "true";
    clearTimeout(poll);
    if (run.status === "running") poll = setTimeout(render, 2000);
  }

  render();
})();
