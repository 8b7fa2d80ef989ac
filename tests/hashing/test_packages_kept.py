"""Installed distributions' versions kept between processes (``.helix/packages.json``):
used only while ``sys.path`` and its folders' modification times are as recorded."""

from __future__ import annotations

import importlib.metadata
import json
import os
import sys
from pathlib import Path

import pytest

from helixvcs.hashing import packages


@pytest.fixture
def fresh(tmp_path: Path):
    """A folder of our own on ``sys.path`` (standing for site-packages), and no versions
    looked up yet."""
    folder = tmp_path / "site"
    folder.mkdir()
    sys.path.append(str(folder))
    packages.clear_caches()
    yield folder
    sys.path.remove(str(folder))
    packages.clear_caches()


def _planted(kept: Path, version: str) -> None:
    data = json.loads(kept.read_text())
    data["versions"]["numpy"] = version
    kept.write_text(json.dumps(data))


def test_versions_are_read_back_while_the_library_folders_are_unchanged(fresh, tmp_path):
    kept = tmp_path / "packages.json"
    real = importlib.metadata.version("numpy")
    with packages.versions_kept(kept):
        assert packages.package_version("numpy.linalg") == real
    assert json.loads(kept.read_text())["versions"]["numpy"] == real

    _planted(kept, "9.9.9-kept")  # proves the next process reads it instead of looking
    packages.clear_caches()
    with packages.versions_kept(kept):
        assert packages.package_version("numpy") == "9.9.9-kept"


def test_an_install_into_a_library_folder_makes_them_looked_up_again(fresh, tmp_path):
    kept = tmp_path / "packages.json"
    with packages.versions_kept(kept):
        packages.package_version("numpy")
    _planted(kept, "9.9.9-kept")
    (fresh / "newpkg-1.0.dist-info").mkdir()  # what an install does to the folder
    os.utime(fresh, ns=(1, 1))  # and its modification time, whatever the clock's grain
    packages.clear_caches()
    with packages.versions_kept(kept):
        assert packages.package_version("numpy") == importlib.metadata.version("numpy")
    assert json.loads(kept.read_text())["versions"]["numpy"] != "9.9.9-kept"  # rewritten


@pytest.mark.parametrize("content", ["{not json", '{"place": 1}', "[]"])
def test_an_unreadable_file_is_an_empty_cache(fresh, tmp_path, content):
    kept = tmp_path / "packages.json"
    kept.write_text(content)
    with packages.versions_kept(kept):
        assert packages.package_version("numpy") == importlib.metadata.version("numpy")


NUMPY_WORKFLOW = """\
import numpy as np

from helixvcs import Workflow

wf = Workflow("versions")


@wf.metric
def total():
    return float(np.ones(3).sum())
"""


def test_a_new_repository_reads_the_versions_its_interpreter_kept(tmp_path):
    """Kept per interpreter in the user's private folder, so the first compile of a fresh
    clone skips reading every distribution's metadata."""
    from helixvcs.repo.context import _packages_file, compile_tree
    from helixvcs.repo.layout import Layout
    from tests.conftest import GitRepo

    def fresh_repository(name: str) -> Layout:
        path = tmp_path / name
        path.mkdir()
        repo = GitRepo(path)
        repo.git("init", "-q", "-b", "main")
        repo.gen({"workflow.py": NUMPY_WORKFLOW}, commit="a workflow")
        repo.helix("init")
        return Layout(path)

    kept = _packages_file()
    assert kept is not None
    before = kept.read_bytes() if kept.exists() else None
    try:
        packages.clear_caches()
        compile_tree(fresh_repository("first"))
        assert json.loads(kept.read_text())["versions"]["numpy"] == importlib.metadata.version(
            "numpy"
        )
        _planted(kept, "9.9.9-kept")
        packages.clear_caches()
        dag = compile_tree(fresh_repository("second"))
        assert dag["total"].parts["package:numpy"] == "9.9.9-kept"
    finally:
        packages.clear_caches()
        if before is None:
            kept.unlink(missing_ok=True)
        else:
            kept.write_bytes(before)
