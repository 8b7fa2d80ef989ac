"""A teammate's history: B bisects over what A ran and pushed, and computes none of it."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import GitRepo
from tests.remote.conftest import RemoteUrl, make_clone


def test_bisect_over_pushed_history_computes_nothing(
    team: tuple[GitRepo, RemoteUrl], tmp_path: Path
) -> None:
    a, _ = team
    shas = [a.git("rev-parse", "HEAD")]
    for values in ("1 2 3 4 0.5\n", "1 2 3\n", "1 2 3 0.1\n"):  # the second drops `total`
        a.gen({"data/values.txt": values}, commit=f"data: {values.strip()}")
        shas.append(a.git("rev-parse", "HEAD"))
    for sha in shas:
        a.helix("run", sha)
    pushed = a.helix_json("push", "origin", *shas)
    assert len(pushed["runs"]) == 4

    b = make_clone(a, tmp_path / "b")
    assert len(b.helix_json("pull")["runs"]) == 4
    found = b.helix_json("bisect", "total", "--good", shas[0], "--bad", shas[-1])
    assert found["first_bad"] == shas[2]
    assert found["computed_operators"] == 0
    assert {e["revision"][:7] for e in b.helix_json("log")} == {s[:7] for s in shas}
