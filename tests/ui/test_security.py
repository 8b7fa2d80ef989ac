"""Who may make ``helix ui`` run workflow code: only its own pages, with its token.

The workflow of these tests appends a line to a marker file each time it is imported, so
"no code ran" is a fact about the file, not about the status code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.integration.toy import FILES
from tests.ui.conftest import Server, fetch, start_ui

MARKED = FILES["workflow.py"].replace(
    "import csv\n",
    'import csv\nimport os\n\nwith open(os.environ["HELIX_TEST_MARK"], "a") as _f:\n'
    '    _f.write("imported\\n")\n',
)


@pytest.fixture
def marked(git_repo, tmp_path):
    mark = tmp_path / "imports.log"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = {**os.environ, "HELIX_TEST_MARK": str(mark), "TMPDIR": str(scratch)}
    os.environ["HELIX_TEST_MARK"] = str(mark)  # for the runs made in this process
    try:
        first = git_repo.gen({**FILES, "workflow.py": MARKED, ".gitignore": ".helix/\n"}, "one")
        git_repo.helix("init")
        git_repo.helix("run")
        git_repo.edit("workflow.py", "factor=2.0", "factor=3.0")
        second = git_repo.commit("two")
        git_repo.helix("run")
        shutil_trees(git_repo.path)
        mark.unlink()
        server = start_ui(git_repo, env=env)
        yield server, mark, scratch, (first, second)
        server.stop()
    finally:
        os.environ.pop("HELIX_TEST_MARK", None)


def shutil_trees(root: Path) -> None:
    import shutil

    shutil.rmtree(root / ".helix" / "trees", ignore_errors=True)


def _imports(mark: Path) -> int:
    return len(mark.read_text().splitlines()) if mark.exists() else 0


def test_code_runs_only_on_a_post_with_the_token_from_the_server_itself(marked, git_repo):
    server, mark, scratch, (a, b) = marked
    fields = {"a": a, "b": b}
    # the reproducer: a GET from another page
    status, _ = fetch(server.url + f"api/compare?a={a}&b={b}", {"Origin": "http://evil.example"})
    assert status == 405
    refused = [
        fetch(server.url + "api/compare", {"Origin": "http://evil.example"}, data=fields),
        fetch(server.url + "api/compare", data=fields),  # no token
        server.post("api/compare", fields, Origin="http://evil.example"),
        server.post("api/compare", fields, Origin="http://localhost.evil.example:1"),
        fetch(server.url + "api/compare", {"X-Helix-Token": "guess"}, data=fields),
        server.post("api/explain", {"metric": "total", "a": a, "b": b}, Origin="null"),
    ]
    assert [status for status, _ in refused] == [403] * len(refused), refused
    assert "token" in json.loads(refused[1][1])["error"]
    assert _imports(mark) == 0
    status, body = server.post("api/compare", fields)
    assert status == 200, body
    assert json.loads(body)["diff"]["changed"]
    assert _imports(mark) > 0  # it did import the workflow, and only now
    # the commits were exported into a temporary folder, and it is gone
    assert not (git_repo.path / ".helix" / "trees").exists()
    assert list(scratch.iterdir()) == []


def test_the_printed_url_stores_the_token_in_a_same_site_cookie(marked):
    server, _, _, (a, b) = marked
    request = _no_redirects()
    response = request(server.url + f"compare?a={a}&token={server.token}")
    assert response.status == 303
    assert response.headers["location"] == f"/compare?a={a}"
    cookie = response.headers["set-cookie"]
    assert f"helix_ui_token={server.token}" in cookie
    assert "samesite=strict" in cookie.lower() and "httponly" in cookie.lower()
    status, _ = fetch(
        server.url + "api/compare",
        {"Cookie": f"helix_ui_token={server.token}", "Origin": server.url.rstrip("/")},
        data={"a": a, "b": b},
    )
    assert status == 200
    assert fetch(server.url + f"?token=wrong{server.token}")[0] == 200  # a page, no cookie


def _no_redirects():
    import urllib.error
    import urllib.request

    class Keep(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(Keep)

    def request(url: str):
        try:
            return opener.open(url, timeout=30)
        except urllib.error.HTTPError as error:
            return error

    return request


def test_the_page_says_that_compare_runs_code(marked, page):
    server, _, _, (a, b) = marked
    server.login(page)
    page.goto(server.url + f"compare?a={a}&b={b}")
    page.wait_for_selector("main[data-ready=true]")
    assert "imports the workflow code" in page.locator("p.notice.runs-code").inner_text()
    assert "runs workflow code" in page.locator("header .readonly").inner_text()


def test_the_token_is_printed_once_per_server(git_repo):
    git_repo.gen(FILES, commit="toy")
    git_repo.helix("init")
    one, two = start_ui(git_repo), start_ui(git_repo)
    try:
        assert isinstance(one, Server) and one.token != two.token and len(one.token) >= 24
        assert one.post("api/compare", {"a": "HEAD", "b": "HEAD"})[0] == 200
        status, _ = fetch(
            one.url + "api/compare",
            {"X-Helix-Token": two.token, "Origin": one.url.rstrip("/")},
            data={"a": "HEAD", "b": "HEAD"},
        )
        assert status == 403
    finally:
        one.stop()
        two.stop()


def test_reading_a_version_never_imports_workflow_code(git_repo, tmp_path):
    mark = tmp_path / "imports.log"
    os.environ["HELIX_TEST_MARK"] = str(mark)
    try:
        git_repo.gen({**FILES, "workflow.py": MARKED, ".gitignore": ".helix/\n"}, "never run")
        git_repo.helix("init")
        git_repo.edit("workflow.py", "factor=2.0", "factor=3.0")
        second = git_repo.commit("run")
        git_repo.helix("run")
        mark.unlink()
        server = start_ui(git_repo, env={**os.environ, "HELIX_TEST_MARK": str(mark)})
        try:
            status, body = fetch(server.url + f"api/version/{second}")
            assert status == 200, body
            doc = json.loads(body)
            assert doc["parent"]["commit"] and doc["diff"] is None  # the parent never ran
        finally:
            server.stop()
    finally:
        os.environ.pop("HELIX_TEST_MARK", None)
    assert _imports(mark) == 0
    assert not (git_repo.path / ".helix" / "trees").exists()
