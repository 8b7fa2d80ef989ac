// Compare: two versions (helix diff A B --json) on one DAG, each operator coloured by how
// it changed from A to B, each changed operator's source diff, the metric deltas, and a
// link to the explain path between them.
"use strict";

(() => {
  const { get, post, el, notice, short, number, seconds, delta, swatches, diffText, drawDag, selectNode } = HELIX;
  const main = document.getElementById("main");
  const params = new URLSearchParams(location.search);
  const CHANGE_COLOURS = { changed: "#e76f51", added: "#57cc99", removed: "#e9ecef", renamed: "#ffd166", recomputed: "#f4d6b8", unchanged: "#ffffff" };

  function picker(log, a, b) {
    const seen = new Set();
    const commits = log.filter((e) => e.commit && !seen.has(e.commit) && seen.add(e.commit));
    [a, b].filter((rev) => rev && !seen.has(rev)).forEach((rev) => { seen.add(rev); commits.push({ commit: rev, subject: "" }); });
    const options = (chosen) => commits.map((e) => el("option", { value: e.commit, selected: e.commit === chosen ? "selected" : null },
      `${short(e.commit)} ${e.subject || ""}`));
    return el("form", { class: "controls", method: "get", action: "/compare", id: "pick" },
      el("label", { for: "a" }, "from A"), el("select", { id: "a", name: "a" }, options(a)),
      el("label", { for: "b" }, "to B"), el("select", { id: "b", name: "b" }, options(b)),
      el("button", { type: "submit" }, "Compare"));
  }

  function changeList(diff) {
    const items = [];
    for (const c of diff.changed.filter((c) => c.direct)) {
      items.push(el("li", { data: { name: c.name, change: "changed" } }, el("strong", { class: "mono" }, c.name),
        ` changed: ${c.causes.join(", ")}`, c.diff ? diffText(c.diff) : ""));
    }
    diff.added.forEach((n) => items.push(el("li", { data: { name: n, change: "added" } }, el("strong", { class: "mono" }, n), " added")));
    diff.removed.forEach((n) => items.push(el("li", { data: { name: n, change: "removed" } }, el("strong", { class: "mono" }, n), " removed")));
    diff.renamed.forEach(([o, n]) => items.push(el("li", { data: { name: n, change: "renamed" } }, el("strong", { class: "mono" }, n), ` renamed from ${o}`)));
    const recomputed = diff.changed.filter((c) => !c.direct).map((c) => c.name);
    if (!items.length) items.push(el("li", {}, "No operator was edited."));
    if (recomputed.length) items.push(el("li", { class: "muted" }, `recomputed because something upstream changed: ${recomputed.join(", ")}`));
    return el("ul", { class: "changes", id: "changes" }, items);
  }

  function metricTable(doc, a, b) {
    const names = Object.keys(doc.diff.metrics).sort();
    if (!names.length) return el("p", { class: "muted" }, "Neither version has a recorded metric.");
    return el("table", { id: "metric-deltas" },
      el("thead", {}, el("tr", {}, el("th", {}, "metric"), el("th", { class: "num" }, "A"), el("th", { class: "num" }, "B"),
        el("th", { class: "num" }, "delta"), el("th", {}, "why"))),
      el("tbody", {}, names.map((m) => {
        const v = doc.diff.metrics[m];
        const explain = `/explain?metric=${encodeURIComponent(m)}&a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`;
        return el("tr", { data: { metric: m } }, el("td", {}, m), el("td", { class: "num" }, number(v.a)), el("td", { class: "num" }, number(v.b)),
          el("td", { class: "num", data: { delta: v.delta ?? "" } }, delta(v.a, v.b)),
          el("td", {}, v.a !== null && v.b !== null ? el("a", { href: explain, class: "explain" }, "explain the path from A to B") : ""));
      })));
  }

  function runsCode() {
    return notice("runs-code", "Comparing imports the workflow code of both versions (helix diff does the same), " +
      "in a temporary folder that is removed afterwards.");
  }

  async function render() {
    main.replaceChildren(el("h1", {}, "Compare two versions"));
    let log;
    try {
      log = await get("/api/log");
    } catch (error) {
      main.append(notice("error", error.message));
      return;
    }
    const commits = [...new Set(log.filter((e) => e.commit).map((e) => e.commit))];
    const a = params.get("a") || commits[1];
    const b = params.get("b") || commits[0];
    main.append(picker(log, a, b), runsCode());
    if (!a || !b) {
      main.append(notice("empty", "Compare needs two recorded commits; run another iteration with ", el("code", {}, "helix run"), "."));
      return;
    }
    let doc;
    try {
      doc = await post("/api/compare", { a, b });
    } catch (error) {
      main.append(notice("error", error.message));
      return;
    }
    const d = doc.diff;
    for (const [id, side] of [["a", d.a], ["b", d.b]]) {  // HEAD~1 and the like: show the commit
      const select = document.getElementById(id);
      if (side.commit && [...select.options].some((o) => o.value === side.commit)) select.value = side.commit;
    }
    main.append(
      el("p", {}, "A ", el("a", { class: "mono", href: `/version/${encodeURIComponent(a)}` }, d.a.revision), ` ${d.a.subject || ""} → B `,
        el("a", { class: "mono", href: `/version/${encodeURIComponent(b)}` }, d.b.revision), ` ${d.b.subject || ""}`,
        el("span", { class: "muted" }, ` · wall ${seconds(d.wall_seconds.a)} → ${seconds(d.wall_seconds.b)}`)),
      swatches(CHANGE_COLOURS),
      el("div", { class: "row" }, el("div", { class: "grow" }, el("div", { id: "dag" })),
        el("aside", { class: "card", id: "detail" }, el("p", { class: "muted" }, "Click an operator to see how it changed."))),
      el("h2", {}, "Metrics"), metricTable(doc, a, b),
      el("h2", {}, "Edits from A to B"), changeList(d));
    const cy = drawDag(document.getElementById("dag"), doc.nodes.map((n) => ({
      name: n.name, kind: n.kind, parents: n.parents, fill: CHANGE_COLOURS[n.change || "unchanged"], classes: n.change ? [n.change] : [],
    })), (name) => {
      const node = doc.nodes.find((n) => n.name === name);
      const change = d.changed.find((c) => c.name === name);
      const panel = [el("h2", {}, name), el("p", {}, node.change || "unchanged")];
      if (change) panel.push(el("p", {}, change.causes.join(", ")), change.diff ? diffText(change.diff) : "");
      document.getElementById("detail").replaceChildren(...panel);
      selectNode(cy, name);
    });
    main.dataset.ready = "true";
  }

  render();
})();
