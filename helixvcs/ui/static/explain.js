// Explain: the path through recorded versions that accounts for a metric's gap between
// two versions (helix explain M A B --json).
"use strict";

(() => {
  const { post, el, notice, number, delta } = HELIX;
  const main = document.getElementById("main");
  const params = new URLSearchParams(location.search);

  async function render() {
    const [metric, a, b] = ["metric", "a", "b"].map((n) => params.get(n));
    main.replaceChildren(el("h1", {}, `Explain ${metric || ""}`),
      notice("runs-code", "Explaining may import the workflow code of the versions it compares, " +
        "in a temporary folder that is removed afterwards."));
    let doc;
    try {
      doc = await post("/api/explain", { metric: metric || "", a: a || "", b: b || "" });
    } catch (error) {
      main.append(notice("error", error.message));
      return;
    }
    main.append(
      el("p", {}, `${doc.metric} went from ${number(doc.a.metric)} at ${doc.a.version} to ${number(doc.b.metric)} at ${doc.b.version} `,
        "(", delta(doc.a.metric, doc.b.metric), `), through ${doc.path.length} of ${doc.versions} recorded versions, ${doc.distance} operator edits:`),
      el("p", { class: "mono", id: "path" }, doc.path.join(" → ")),
      el("table", { id: "steps" },
        el("thead", {}, el("tr", {}, ["from", "to", "subject", "edits"].map((h) => el("th", {}, h)), el("th", { class: "num" }, "delta"))),
        el("tbody", {}, doc.steps.map((s) => el("tr", {},
          el("td", { class: "mono" }, el("a", { href: `/compare?a=${encodeURIComponent(s.from)}&b=${encodeURIComponent(s.to)}` }, s.from)),
          el("td", { class: "mono" }, s.to), el("td", {}, s.subject || ""),
          el("td", {}, [...s.changes.changed.filter((c) => c.direct).map((c) => `${c.name}: ${c.causes.join(", ")}`),
            ...s.changes.added.map((n) => `added ${n}`), ...s.changes.removed.map((n) => `removed ${n}`)].join("; ") || "none"),
          el("td", { class: "num" }, delta(s.a, s.b)))))));
    main.dataset.ready = "true";
  }

  render();
})();
