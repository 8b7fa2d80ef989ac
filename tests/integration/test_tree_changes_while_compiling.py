"""A working tree that changes while helix reads it is never recorded as another version.

The workflow module below rewrites the helper module it imports, as an editor saving (or
a commit, or a checkout) during a run's compile would. The run must record the version
whose files it compiled: the tree with the change, never the clean commit.
"""

from __future__ import annotations

WORKFLOW = """\
from pathlib import Path

from helixvcs import Workflow

HELPER = Path(__file__).with_name("helper.py")
TEXT = HELPER.read_text()
if TEXT != {final!r}:
    HELPER.write_text({write})  # someone saves a file while the workflow is read

import helper

wf = Workflow("moving")


@wf.op
def base():
    return float(helper.X)


@wf.metric
def score(base):
    return base
"""


def _files(write: str, final: str) -> dict[str, str]:
    return {
        "workflow.py": WORKFLOW.format(write=write, final=final),
        "helper.py": "X = 1\n",
        ".gitignore": ".helix/\n",
    }


def test_a_file_saved_during_the_compile_is_in_the_recorded_version(git_repo):
    git_repo.gen(_files(repr("X = 2\n"), "X = 2\n"), commit="moving")
    git_repo.helix("init")
    sha = git_repo.git("rev-parse", "--short=7", "HEAD")
    doc = git_repo.helix_json("run")
    assert (git_repo.path / "helper.py").read_text() == "X = 2\n"
    assert doc["metrics"] == {"score": 2.0}
    assert doc["revision"] == f"{sha}+dirty"  # the tree it compiled, not the clean commit


def test_a_tree_that_never_settles_is_refused_with_one_line(git_repo):
    growing = '"X = " + str(int(TEXT.split("=")[1]) + 1) + "\\n"'  # +1 at every import
    git_repo.gen(_files(growing, "never"), commit="moving")
    git_repo.helix("init")
    result = git_repo.helix("run", code=2)
    assert "kept changing while helix read it" in result.stderr
    assert "Traceback" not in result.stderr
    assert git_repo.helix_json("log") == []  # nothing recorded
