"""The pages in a real browser, over a real 4-commit history run by ``helix run``.

The toy workflow (tests/integration/toy.py) has no operator named like a model, so its
stages are: ``raw`` pre-processing, ``xs`` (which every metric reads) and ``scaled``
learning, the rest evaluation. Each commit edits one stage:

    1 Toy workflow    total 75
    2 More points     a data file under raw      pre-processing   total 124
    3 Scale by 3      scaled's default factor    learning         total 134
    4 Shift twice     shifted's body             evaluation       total 138
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from helixvcs.repo.history.drawing import KIND_COLOURS, STATE_COLOURS
from tests.conftest import GitRepo
from tests.integration.toy import FILES
from tests.ui.conftest import Server, fetch, ready, start_ui

TOTALS = [75.0, 124.0, 134.0, 138.0]
KINDS = ["first", "pre-processing", "learning", "evaluation"]
_SHOWN = {"compute": "computed", "load": "loaded", "prune": "pruned"}


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[GitRepo, list[str]]:
    path = tmp_path_factory.mktemp("ui") / "repo"
    path.mkdir()
    repo = GitRepo(path)
    repo.git("init", "-q", "-b", "main")
    shas = [repo.gen({**FILES, ".gitignore": ".helix/\n"}, commit="Toy workflow") or ""]
    repo.helix("init")
    repo.helix("run")
    edits = [
        ("data/points.csv", "3,30\n", "3,30\n4,40\n", "More points"),
        ("workflow.py", "def scaled(xs, factor=2.0):", "def scaled(xs, factor=3.0):", "Scale by 3"),
        ("workflow.py", "y + SHIFT for", "y + 2 * SHIFT for", "Shift twice"),
    ]
    for rel, old, new, subject in edits:
        repo.edit(rel, old, new)
        shas.append(repo.commit(subject))
        repo.helix("run")
    repo.helix("bisect", "total", "--good", shas[0], "--rise")
    repo.helix("blame-metric", "total")
    return repo, shas


@pytest.fixture(scope="module")
def server(history: tuple[GitRepo, list[str]]) -> Iterator[Server]:
    ui = start_ui(history[0])
    yield ui
    ui.stop()


def _api(server: Server, path: str) -> Any:
    status, body = fetch(server.url + path)
    assert status == 200, body
    return json.loads(body)


def test_iterations_page_shows_every_run_its_metrics_and_the_kind_of_change(
    history, server, page, shots
):
    _, shas = history
    ready(page, server.url + "?metric=total")
    rows = page.locator("#runs tbody tr")
    assert rows.count() == 4
    totals = page.locator("#runs tbody td[data-metric=total]").all_inner_texts()
    assert totals == ["138", "134", "124", "75"]  # newest first
    assert page.locator("#runs tbody td[data-change]").all_inner_texts() == KINDS[::-1]
    assert page.locator("#runs tbody tr[data-kind=commit]").count() == 4
    first = page.locator("#runs tbody tr").last
    assert first.locator("td[data-count=compute]").inner_text() == "7"
    chart = page.evaluate(
        "() => ({values: helixChart.data.datasets[0].data,"
        " colours: helixChart.data.datasets[0].pointBackgroundColor,"
        " labels: helixChart.data.labels})"
    )
    assert chart["values"] == TOTALS  # first-parent order, oldest first
    assert chart["colours"] == [KIND_COLOURS[k] for k in KINDS]
    assert chart["labels"] == [sha[:7] for sha in shas]
    page.screenshot(path=shots / "iterations.png", full_page=True)
    page.select_option("#metric", "count")
    page.wait_for_function("() => helixChart.data.datasets[0].label === 'count'")
    assert page.evaluate("() => helixChart.data.datasets[0].data") == [3.0, 4.0, 4.0, 4.0]


def test_version_page_draws_the_dag_left_to_right_coloured_by_state(history, server, page, shots):
    _, shas = history
    ready(page, server.url + f"version/{shas[2]}")
    assert page.locator("#revision").inner_text() == shas[2][:7]
    doc = _api(server, f"api/version/{shas[2]}")
    did = {n["name"]: n["state"] for n in doc["nodes"]}
    assert did["scaled"] == "compute" and did["raw"] == "prune" and did["unused"] == "prune"
    expected = {n: _SHOWN[s] for n, s in did.items()}
    expected["scaled"] = "changed"  # the edit of this commit
    shown = page.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll('#nodes tbody tr')]"
        ".map(tr => [tr.dataset.node, tr.dataset.state]))"
    )
    assert shown == expected
    graph = page.evaluate(
        "() => helixGraph.nodes().map(n => ({name: n.id(), fill: n.data('fill'),"
        " changed: n.hasClass('changed'), x: n.position('x')}))"
    )
    by_name = {n["name"]: n for n in graph}
    assert {n["name"] for n in graph if n["changed"]} == {"scaled"}
    assert all(n["fill"] == STATE_COLOURS[expected[n["name"]]] for n in graph)
    assert by_name["raw"]["x"] < by_name["xs"]["x"] < by_name["scaled"]["x"] < by_name["total"]["x"]
    assert page.locator("#metrics tr[data-metric=total] td[data-value=b]").inner_text() == "134"
    # a click on the node in the drawing shows its timings, bytes, source and diff
    box = page.locator("#dag").bounding_box()
    point = page.evaluate("() => helixGraph.getElementById('scaled').renderedPosition()")
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    detail = page.locator("#detail")
    detail.locator("h2[data-node=scaled]").wait_for()
    assert detail.locator("dd[data-field=state]").inner_text() == "changed"
    assert detail.locator("dd[data-field=bytes]").inner_text().endswith("B")
    assert "def scaled(xs, factor=3.0):" in detail.locator("pre.source").inner_text()
    assert "-def scaled(xs, factor=2.0):" in detail.locator("pre.diff").inner_text()
    page.screenshot(path=shots / "version.png", full_page=True)


def test_compare_page_highlights_changed_operators_diffs_and_deltas(history, server, page, shots):
    _, shas = history
    server.login(page)
    ready(page, server.url + f"compare?a={shas[1]}&b={shas[3]}")
    assert "imports the workflow code" in page.locator("p.notice.runs-code").inner_text()
    changed = page.locator("#changes li[data-change=changed]")
    assert sorted(changed.evaluate_all("els => els.map(e => e.dataset.name)")) == [
        "scaled",
        "shifted",
    ]
    diffs = page.locator("#changes pre.diff").all_inner_texts()
    assert any("+def scaled(xs, factor=3.0):" in d for d in diffs)
    classes = page.evaluate(
        "() => Object.fromEntries(helixGraph.nodes().map(n => [n.id(), n.classes()]))"
    )
    assert classes["scaled"] == ["changed"] and classes["shifted"] == ["changed"]
    assert classes["total"] == ["recomputed"] and classes["raw"] == []
    row = page.locator("#metric-deltas tr[data-metric=total] td")
    assert row.all_inner_texts()[:4] == ["total", "124", "138", "+14"]
    assert page.locator("#a").input_value() == shas[1]
    page.screenshot(path=shots / "compare.png", full_page=True)
    page.locator("#metric-deltas tr[data-metric=total] a.explain").click()
    page.wait_for_selector("main[data-ready=true] #path")
    assert page.locator("#path").inner_text() == " → ".join(s[:7] for s in shas[1:])
    page.screenshot(path=shots / "explain.png", full_page=True)


def test_reports_page_shows_the_recorded_bisect_and_blame(history, server, page, shots):
    _, shas = history
    ready(page, server.url + "reports")
    bisect = page.locator("section[data-verb=bisect]").first
    assert f"first bad commit: {shas[1][:7]}" in bisect.inner_text()
    blame = page.locator("section[data-verb=blame-metric]")
    assert "blame-metric total" in blame.inner_text()
    assert blame.locator("tbody").first.locator("tr").count() == 3  # every commit moved it
    page.screenshot(path=shots / "reports.png", full_page=True)


def test_the_api_serves_the_cli_json_documents(history, server):
    repo, shas = history
    assert _api(server, "api/log") == repo.helix_json("log")
    status, body = server.post("api/compare", {"a": shas[0], "b": shas[3]})
    assert status == 200, body
    assert json.loads(body)["diff"] == repo.helix_json("diff", shas[0], shas[3])
    status, body = server.post("api/explain", {"metric": "total", "a": shas[0], "b": shas[3]})
    assert status == 200, body
    assert json.loads(body) == repo.helix_json("explain", "total", shas[0], shas[3])
    plot = _api(server, "api/plot/total")
    assert [p["value"] for p in plot["points"]] == TOTALS
    assert [p["kind"] for p in plot["points"]] == KINDS
    reports = _api(server, "api/reports")
    assert {r["verb"] for r in reports} == {"bisect", "blame-metric"}
    bisect = repo.helix_json("bisect", "total", "--good", shas[0], "--rise")  # records it again
    newest = _api(server, "api/reports")[0]
    assert newest["verb"] == "bisect" and newest["document"] == bisect


def test_an_unknown_version_is_a_clear_404_page(history, server, page, shots):
    status, body = fetch(server.url + "version/no-such-version")
    assert status == 404
    assert "no run or revision &#x27;no-such-version&#x27;" in body
    assert "Traceback" not in body
    status, body = fetch(server.url + "api/version/no-such-version")
    assert status == 404 and "no run or revision" in json.loads(body)["error"]
    page.goto(server.url + "version/no-such-version")
    assert page.locator("section.error").get_attribute("data-status") == "404"
    assert "no run or revision" in page.locator("section.error .message").inner_text()
    page.screenshot(path=shots / "not-found.png", full_page=True)


def test_requests_for_another_host_name_are_refused(server):
    status, body = fetch(server.url + "api/log", headers={"Host": "attacker.example:80"})
    assert status == 400 and "answers only" in body
