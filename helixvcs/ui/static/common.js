// helix ui: what every page shares. Pages fetch their document from /api/... (the CLI's
// --json documents, see docs/ui.md) and build the DOM from it; nothing is rendered
// server-side. Text always goes in through textContent, never innerHTML.
"use strict";

const HELIX = (() => {
  const config = JSON.parse(document.getElementById("helix-config").textContent);

  async function get(url) {
    return answer(await fetch(url, { headers: { Accept: "application/json" } }));
  }

  // Compare and explain import workflow code: a POST, which the server accepts only with
  // its token (the cookie set by opening the URL `helix ui` printed) from its own pages.
  async function post(url, fields) {
    return answer(await fetch(url, {
      method: "POST",
      headers: { Accept: "application/json", "Content-Type": "application/json" },
      body: JSON.stringify(fields),
    }));
  }

  async function answer(response) {
    let doc;
    try {
      doc = await response.json();
    } catch (_) {
      doc = { error: `${response.status} ${response.statusText}` };
    }
    if (!response.ok) throw new Error(doc.error || `${response.status}`);
    return doc;
  }

  // el("td", {class: "num", data: {metric: "acc"}}, "0.91", child, ...)
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value === undefined || value === null) continue;
      if (name === "data") Object.entries(value).forEach(([k, v]) => { node.dataset[k] = v; });
      else if (name === "class") node.className = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value);
    }
    for (const child of children.flat(Infinity)) {
      if (child === undefined || child === null) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function notice(kind, ...children) {
    return el("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, ...children);
  }

  function showError(container, error) {
    container.replaceChildren(notice("error", error.message || String(error)));
  }

  const short = (sha) => (sha ? sha.slice(0, 7) : "");
  const number = (v) => (v === null || v === undefined ? "–" : Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, ""));
  const seconds = (s) => (s === null || s === undefined ? "–" : s < 1 ? `${(s * 1000).toFixed(0)} ms` : `${s.toFixed(2)} s`);
  function bytes(b) {
    if (b === null || b === undefined) return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (b >= 1024 && i < units.length - 1) { b /= 1024; i += 1; }
    return `${i ? b.toFixed(1) : b} ${units[i]}`;
  }
  function delta(a, b) {
    if (a === null || a === undefined || b === null || b === undefined) return el("span", { class: "muted" }, "–");
    const d = b - a;
    const sign = d > 0 ? "+" : "";
    return el("span", { class: d > 0 ? "delta-up" : d < 0 ? "delta-down" : "muted" }, `${sign}${number(d)}`);
  }

  // What a log entry is: commit, sampled, explored, or an uncommitted edit.
  function entryKind(entry) {
    if (entry.kind && entry.kind !== "commit") return entry.kind;
    if (!entry.kind && entry.sample !== null && entry.sample !== undefined) return "sampled";
    return entry.commit ? "commit" : "uncommitted";
  }
  const badge = (kind, text) => el("span", { class: `badge ${kind}` }, text);
  const statusBadge = (status) => badge(`status-${status}`, status);

  function swatches(colours, labels = {}) {
    return el("div", { class: "legend" }, Object.entries(colours).map(([name, colour]) =>
      el("span", {}, el("span", { class: "swatch", style: `background:${colour}` }), labels[name] || name)));
  }

  function diffText(text) {
    return el("pre", { class: "diff" }, text.split("\n").map((line) => {
      const cls = line.startsWith("+") && !line.startsWith("+++") ? "add"
        : line.startsWith("-") && !line.startsWith("---") ? "del"
          : line.startsWith("@@") ? "hunk" : "";
      return el("span", { class: cls || null }, `${line}\n`);
    }));
  }

  // The DAG, left to right (cytoscape + dagre). nodes: [{name, kind, parents, fill, classes}]
  const SHAPES = { source: "barrel", op: "round-rectangle", metric: "ellipse", output: "tag" };
  function drawDag(container, nodes, onSelect) {
    const names = new Set(nodes.map((n) => n.name));
    const elements = [];
    for (const n of nodes) {
      elements.push({ group: "nodes", data: { id: n.name, label: n.name, fill: n.fill, shape: SHAPES[n.kind] || "round-rectangle" }, classes: n.classes || [] });
      for (const p of n.parents) {
        if (names.has(p)) elements.push({ group: "edges", data: { id: `${p}->${n.name}`, source: p, target: n.name } });
      }
    }
    const cy = cytoscape({
      container,
      elements,
      layout: { name: "dagre", rankDir: "LR", nodeSep: 25, rankSep: 70, animate: false },
      style: [
        { selector: "node", style: {
          label: "data(label)", "text-valign": "center", "text-halign": "center", "font-size": 12,
          width: (node) => 7.5 * node.data("label").length + 16, height: 30, shape: "data(shape)", "background-color": "data(fill)",
          "border-width": 1, "border-color": "#555" } },
        { selector: "edge", style: {
          width: 1.5, "line-color": "#9aa3b2", "target-arrow-color": "#9aa3b2",
          "target-arrow-shape": "triangle", "curve-style": "bezier" } },
        { selector: "node.changed, node.added", style: { "border-width": 4, "border-color": "#b71c1c" } },
        { selector: "node.recomputed", style: { "border-width": 2, "border-style": "dashed", "border-color": "#b7791f" } },
        { selector: "node.removed", style: { "border-style": "dashed", opacity: 0.6 } },
        { selector: "node.pending", style: { "border-style": "dotted", "border-width": 2 } },
        { selector: "node:selected", style: { "overlay-color": "#2b6cb0", "overlay-opacity": 0.25, "overlay-padding": 4 } },
      ],
    });
    if (onSelect) {
      cy.on("tap mouseover", "node", (event) => onSelect(event.target.id()));
    }
    window.helixGraph = cy; // for the curious, and for the browser tests
    return cy;
  }

  function selectNode(cy, name) {
    cy.nodes().unselect();
    cy.getElementById(name).select();
  }

  document.querySelector(`[data-nav="${config.page}"]`)?.classList.add("current");

  return { config, get, post, el, notice, showError, short, number, seconds, bytes, delta, entryKind, badge, statusBadge, swatches, diffText, drawDag, selectNode };
})();
