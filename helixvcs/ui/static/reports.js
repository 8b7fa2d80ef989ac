// Bisect / blame: the results of `helix bisect` and `helix blame-metric` as they were
// recorded when those commands finished (their --json documents), newest first.
"use strict";

(() => {
  const { get, el, notice, short, number, delta } = HELIX;
  const main = document.getElementById("main");
  const commitLink = (sha) => el("a", { class: "mono", href: `/version/${sha}` }, short(sha));

  function bisect(report) {
    const doc = report.document;
    const found = doc.first_bad
      ? ["first bad commit: ", commitLink(doc.first_bad), ` (${doc.metric} = ${number(doc.first_bad_metric)})`]
      : [`no commit after ${short(doc.good.commit)} is worse`];
    return el("section", { class: "card", data: { verb: "bisect" } },
      el("h2", {}, `bisect ${doc.metric}: good ${short(doc.good.commit)}, bad ${short(doc.bad)}`),
      el("p", {}, ...found, el("span", { class: "muted" },
        ` · ${doc.direction}, threshold ${doc.threshold}; ${doc.tested.length} of ${doc.candidates} commits tested, ${doc.runs} runs, ${doc.computed_operators} operators computed; recorded ${report.recorded}`)),
      doc.maybe.length ? el("p", {}, "may also be first bad (skipped): ", doc.maybe.map(short).join(", ")) : "",
      el("table", {},
        el("thead", {}, el("tr", {}, ["commit", "subject", "verdict"].map((h) => el("th", {}, h)), el("th", { class: "num" }, doc.metric))),
        el("tbody", {}, doc.tested.map((t) => el("tr", { data: { verdict: t.verdict } },
          el("td", {}, commitLink(t.commit)), el("td", {}, t.subject), el("td", {}, t.verdict + (t.reason ? `: ${t.reason}` : "")),
          el("td", { class: "num" }, number(t.metric)))))));
  }

  function blame(report) {
    const doc = report.document;
    return el("section", { class: "card", data: { verb: "blame-metric" } },
      el("h2", {}, `blame-metric ${doc.metric} over ${doc.range}`),
      el("p", { class: "muted" }, `${doc.walked} commits walked, ${doc.commits.length} moved ${doc.metric}; `,
        `${report.options.isolate ? "edits replayed one by one (--isolate)" : "not isolated"}; recorded ${report.recorded}`),
      el("table", {},
        el("thead", {}, el("tr", {}, el("th", {}, "commit"), el("th", {}, "subject"), el("th", { class: "num" }, "before"),
          el("th", { class: "num" }, "after"), el("th", { class: "num" }, "delta"), el("th", {}, "operators edited (effect)"))),
        el("tbody", {}, doc.commits.map((c) => el("tr", {},
          el("td", {}, commitLink(c.commit)), el("td", {}, c.subject), el("td", { class: "num" }, number(c.a)),
          el("td", { class: "num" }, number(c.b)), el("td", { class: "num" }, delta(c.a, c.b)),
          el("td", {}, c.operators.map((o) => `${o.name} (${o.change}${o.effect !== null ? `, ${number(o.effect)}` : ""})`).join("; ")))))),
      el("h3", {}, "By operator"),
      el("table", {},
        el("thead", {}, el("tr", {}, el("th", {}, "operator"), el("th", { class: "num" }, "total effect"), el("th", { class: "num" }, "edits"))),
        el("tbody", {}, doc.operators.map((o) => el("tr", {}, el("td", { class: "mono" }, o.name),
          el("td", { class: "num" }, number(o.total)), el("td", { class: "num" }, o.edits))))));
  }

  async function render() {
    main.replaceChildren(el("h1", {}, "Bisect / blame"));
    let reports;
    try {
      reports = await get("/api/reports");
    } catch (error) {
      main.append(notice("error", error.message));
      return;
    }
    main.append(el("p", { class: "muted" }, "Results are recorded when ", el("code", {}, "helix bisect"), " or ",
      el("code", {}, "helix blame-metric"), " finishes; each stays as it was then."));
    if (!reports.length) {
      main.append(notice("empty", "Nothing recorded yet. Run ", el("code", {}, "helix bisect METRIC --good REV"), " or ",
        el("code", {}, "helix blame-metric METRIC"), " and its result appears here."));
    }
    reports.forEach((r) => main.append(r.verb === "bisect" ? bisect(r) : blame(r)));
    main.dataset.ready = "true";
  }

  render();
})();
