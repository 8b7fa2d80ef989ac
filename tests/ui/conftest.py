"""``helix ui`` as a real server process, and headless Chromium driven by Playwright.

The browser is Debian's ``chromium`` (``.ci/run`` installs it); Playwright only drives it
and never downloads one. Screenshots go to ``$HELIX_TEST_ARTIFACTS/ui``, by default
``test-artifacts/ui`` in the repository (git-ignored), so that CI can keep them.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GitRepo

CHROMIUM = os.environ.get("HELIX_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(
    os.environ.get("HELIX_TEST_ARTIFACTS") or Path(__file__).resolve().parents[2] / "test-artifacts"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(
    url: str, headers: dict[str, str] | None = None, data: dict[str, Any] | None = None
) -> tuple[int, str]:
    """Status and body of a GET (a JSON POST with ``data``), error statuses included."""
    body = None if data is None else json.dumps(data).encode()
    headers = {
        **({"Content-Type": "application/json"} if data is not None else {}),
        **(headers or {}),
    }
    request = urllib.request.Request(url, data=body, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")


@dataclass
class Server:
    """A running ``helix ui --port N`` process."""

    proc: subprocess.Popen[str]
    url: str  # http://127.0.0.1:N/
    token: str  # from the URL it printed: http://127.0.0.1:N/?token=...

    def login(self, tab: Any) -> None:
        """Open the printed URL in ``tab``, as the user would: it stores the token."""
        tab.goto(f"{self.url}?token={self.token}")

    def post(self, path: str, fields: dict[str, Any], **headers: str) -> tuple[int, str]:
        """A code-running API call with the token, as the UI's own pages make it."""
        origin = self.url.rstrip("/")
        return fetch(
            self.url + path,
            {"Origin": origin, "X-Helix-Token": self.token, **headers},
            data=fields,
        )

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()


def start_ui(repo: GitRepo, *args: str, env: dict[str, str] | None = None) -> Server:
    """Start ``helix ui`` on a free port and wait until it answers."""
    port = free_port()
    proc = repo.helix_proc("ui", "--port", str(port), *args, env=env)
    url = f"http://127.0.0.1:{port}/"
    assert proc.stdout is not None
    first = proc.stdout.readline()  # "helix ui: http://...:N/?token=T (...)"
    if proc.poll() is not None or "?token=" not in first:
        out, err = proc.communicate()
        raise AssertionError(f"helix ui exited with {proc.returncode}:\n{first}{out}\n{err}")
    token = first.split("?token=", 1)[1].split()[0]
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"helix ui exited with {proc.returncode}:\n{out}\n{err}")
        try:
            request = urllib.request.Request(
                url + "static/style.css", headers={"X-Helix-Token": token}
            )
            with urllib.request.urlopen(request, timeout=2):
                return Server(proc, url, token)
        except OSError:
            assert time.monotonic() < deadline, "helix ui did not answer within 30 s"
            time.sleep(0.1)


def run_helix(repo: GitRepo, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``helix ARGS`` as a process that must end by itself."""
    return subprocess.run(
        [sys.executable, "-m", "helixvcs", "--repo", str(repo.path), *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, **env},
    )  # fmt: skip


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Chromium; a missing binary fails clearly rather than skipping."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page; a JavaScript error on it fails the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.set_default_timeout(20_000)
    yield tab
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture(scope="session")
def shots() -> Path:
    folder = ARTIFACTS / "ui"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def ready(tab: Any, url: str) -> None:
    """Open ``url`` and wait until its page has drawn its document."""
    tab.goto(url)
    tab.wait_for_selector("main[data-ready=true]")
