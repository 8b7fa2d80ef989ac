"""The server's edges: which address it binds, a repository with no runs, a run in progress."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

from tests.integration.test_processes import SLOW
from tests.integration.toy import FILES
from tests.ui.conftest import fetch, free_port, ready, run_helix, start_ui


def test_a_non_loopback_address_is_refused_without_host(git_repo):
    result = run_helix(git_repo, "ui", "--port", str(free_port()), HELIX_UI_HOST="0.0.0.0")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "0.0.0.0 is not a loopback address" in lines[0] and "--host 0.0.0.0" in lines[0]


def test_a_port_in_use_is_one_line_and_exit_2(git_repo):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_helix(git_repo, "ui", "--port", str(port))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: cannot serve on 127.0.0.1:{port}: Address already in use; "
        "pick another port with --port"
    ]


def test_host_serves_another_interface_with_a_warning(git_repo):
    git_repo.gen(FILES, commit="toy")
    git_repo.helix("init")
    server = start_ui(git_repo, "--host", "0.0.0.0", "--allow-host", "127.0.0.1")
    try:
        status, body = fetch(server.url + "api/log")  # every request needs the token here
        assert status == 403 and "?token=" in body
        status, _ = fetch(server.url + "api/log", {"X-Helix-Token": server.token})
        assert status == 200
        status, _ = fetch(server.url + "static/style.css")
        assert status == 403
        # the Host check stays: only the bound address and the names given with --allow-host
        other = {"X-Helix-Token": server.token, "Host": "attacker.example"}
        assert fetch(server.url + "api/log", other)[0] == 400
    finally:
        server.stop()
    _, err = server.proc.communicate()
    assert "warning: serving on 0.0.0.0, not only on this machine" in err


def test_a_repository_without_runs_says_what_to_do(git_repo, page, shots):
    git_repo.gen(FILES, commit="toy")
    server = start_ui(git_repo)  # before `helix init`
    try:
        page.goto(server.url)
        page.wait_for_selector("p.notice.error")
        assert "run `helix init` first" in page.locator("p.notice.error").inner_text()
        git_repo.helix("init")
        ready(page, server.url)
        empty = page.locator("p.notice.empty").inner_text()
        assert "No runs yet" in empty and "helix run" in empty
        page.screenshot(path=shots / "no-runs.png", full_page=True)
        ready(page, server.url + "reports")
        assert "Nothing recorded yet" in page.locator("p.notice.empty").inner_text()
        server.login(page)
        page.goto(server.url + "compare")
        assert "needs two recorded commits" in page.locator("p.notice.empty").inner_text()
    finally:
        server.stop()


def test_a_run_in_progress_is_shown_running_until_it_ends(git_repo, page, shots):
    git_repo.gen({**FILES, "workflow.py": SLOW, ".gitignore": ".helix/\ndata/hold\n"}, "slow toy")
    git_repo.helix("init")
    hold = git_repo.path / "data" / "hold"
    hold.touch()
    run = git_repo.helix_proc("run", "--json")
    server = start_ui(git_repo)
    try:
        deadline = time.monotonic() + 30
        while "running" not in {e["status"] for e in json.loads(fetch(server.url + "api/log")[1])}:
            assert time.monotonic() < deadline and run.poll() is None, "the run never started"
            time.sleep(0.1)
        ready(page, server.url)
        assert "A run is in progress" in page.locator("p.notice.running").inner_text()
        row = page.locator("#runs tbody tr").first
        assert row.get_attribute("data-status") == "running"
        run_id = row.get_attribute("data-run")
        page.screenshot(path=shots / "running.png", full_page=True)
        version = page.context.new_page()
        ready(version, server.url + f"version/{run_id}")
        assert "This run is in progress" in version.locator("p.notice.running").inner_text()
        rows = version.locator("#nodes tbody tr")
        assert set(rows.evaluate_all("rs => rs.map(r => r.dataset.state)")) == {"running"}
        version.screenshot(path=shots / "version-running.png", full_page=True)
        hold.unlink()
        out, err = run.communicate(timeout=60)
        assert run.returncode == 0, err
        # both pages refresh themselves while a run is in progress
        page.wait_for_selector("#runs tbody tr[data-status=ok]")
        assert page.locator("p.notice.running").count() == 0
        version.wait_for_selector("#nodes tbody tr[data-node=total][data-state=computed]")
    finally:
        hold.unlink(missing_ok=True)
        if run.poll() is None:
            run.kill()
            run.communicate()
        server.stop()
    assert json.loads(out)["status"] == "ok"


def test_the_cli_does_not_load_the_web_framework():
    code = (
        "import sys; from helixvcs.cli import cli; "
        "assert not {'starlette', 'uvicorn'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
