"""The census benchmark repository: scaled Adult data, the template, and the iterations.

Shared by ``iterations.py`` and ``overhead.py``. Nothing here depends on which system
runs the workflow: the data and the commits are the same for every one of them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "fixtures" / "census"
ADULT = ROOT / "fixtures" / "adult"
DATA_FILES = ("adult.data", "adult.test")
# The data is generated per run and large, so it is not committed: every system's copy of
# the repository gets the same files (hard links), beside the same commits.
GITIGNORE = ".helix/\n__pycache__/\n/adult/\n"
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


# -- data -----------------------------------------------------------------------------------

# Column positions in the Adult files (see fixtures/census/censuslib/data.py).
_AGE, _FNLWGT, _GAIN, _LOSS, _HOURS = 0, 2, 10, 11, 12
_NUMERIC = (_AGE, _FNLWGT, _GAIN, _LOSS, _HOURS)


def scale_adult(dest: Path, scale: float, seed: int = 0) -> dict[str, int]:
    """Write ``adult.data`` and ``adult.test`` with ``scale`` times the real rows.

    Copy 0 of every row is the real row; further copies perturb the numeric columns with
    a seeded generator (age and hours +-2, clipped to the real range; fnlwgt and non-zero
    capital amounts times exp(N(0, 0.1))); categories, education-num and labels are kept.
    A fractional scale takes the first rows of the last copy. Returns rows per file.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    dest.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    counts = {}
    for name in DATA_FILES:
        lines = (ADULT / name).read_text(encoding="utf-8").splitlines()
        header = [line for line in lines if line.startswith("|")]
        rows = [line.split(", ") for line in lines if line and not line.startswith("|")]
        fields = list(zip(*rows, strict=True))
        numeric = {c: np.array(fields[c], dtype=np.int64) for c in _NUMERIC}
        total = round(len(rows) * scale)
        with open(dest / name, "w", encoding="utf-8", newline="\n") as out:
            for line in header:
                out.write(line + "\n")
            written, copy = 0, 0
            while written < total:
                take = min(len(rows), total - written)
                values = _perturb(numeric, rng, len(rows)) if copy else numeric
                cols = [
                    pa.array(values[c][:take]).cast(pa.string())
                    if c in numeric
                    else pa.array(fields[c][:take], pa.string())
                    for c in range(len(fields))
                ]
                joined = pc.binary_join_element_wise(*cols, ", ")
                out.write("\n".join(joined.to_pylist()))
                out.write("\n")
                written, copy = written + take, copy + 1
        counts[name] = total
    return counts


def _perturb(
    numeric: dict[int, np.ndarray], rng: np.random.Generator, n: int
) -> dict[int, np.ndarray]:
    out = {}
    out[_AGE] = np.clip(numeric[_AGE] + rng.integers(-2, 3, n), 17, 90)
    out[_HOURS] = np.clip(numeric[_HOURS] + rng.integers(-2, 3, n), 1, 99)
    noise = np.exp(rng.normal(0, 0.1, n))
    out[_FNLWGT] = np.maximum(1, np.rint(numeric[_FNLWGT] * noise)).astype(np.int64)
    for c in (_GAIN, _LOSS):
        noisy = np.rint(numeric[c] * np.exp(rng.normal(0, 0.1, n))).astype(np.int64)
        out[c] = np.where(numeric[c] > 0, np.maximum(noisy, 1), 0)
    return out


def link_data(data: Path, repo: Path) -> None:
    """Hard-link (or copy, across file systems) the generated data into ``repo/adult``."""
    target = repo / "adult"
    target.mkdir(exist_ok=True)
    for name in (*DATA_FILES, "README.md"):
        src = data / name if name != "README.md" else ADULT / name
        try:
            os.link(src, target / name)
        except OSError:
            shutil.copy2(src, target / name)


# -- the iterations -------------------------------------------------------------------------


class EditFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class Edit:
    """Replace the one occurrence of ``old`` with ``new`` in ``path``."""

    path: str
    old: str
    new: str

    def apply(self, root: Path) -> None:
        target = root / self.path
        text = target.read_text(encoding="utf-8")
        found = text.count(self.old)
        if found != 1:
            raise EditFailed(f"{self.path}: expected one {self.old!r}, found {found}")
        target.write_text(text.replace(self.old, self.new), encoding="utf-8")


@dataclass(frozen=True)
class Iteration:
    message: str
    kind: str  # pre-processing, learning or evaluation
    edits: tuple[Edit, ...]

    def apply(self, root: Path) -> None:
        for edit in self.edits:
            edit.apply(root)


def _replace(path: str, old: str, new: str) -> Edit:
    return Edit(path, old, new)


def _wf(old: str, new: str) -> Edit:
    return Edit("workflow.py", old, new)


def _insert_before_predictions(code: str) -> Edit:
    anchor = "@wf.output\ndef predictions(scores, rows):"
    return _wf(anchor, code + "\n\n\n" + anchor)


_ARGS = ("    country_group,\n", "    demographics,\n", "):")
_BLOCKS = ("        country_group,\n", "        demographics,\n", "    ]")
_AGE_HOURS = """@wf.op
def age_hours(age_bucket, hours_bucket):
    ages, hours = age_bucket.column("age_bucket"), hours_bucket.column("hours_bucket")
    return pa.table({"age_x_hours": cross(ages, hours)})


@wf.op
def marital_relationship(rows):"""
_METRICS_IMPORT = "from sklearn.metrics import accuracy_score, f1_score"
_PRECISION = """@wf.metric
def precision(scores, rows):
    return float(precision_score(labels(rows)[held_out(rows)], scores >= 0.5))"""
_ROC_AUC = """@wf.metric
def roc_auc(scores, rows):
    return float(roc_auc_score(labels(rows)[held_out(rows)], scores))"""
_LOGREG = "LogisticRegression(C=C, max_iter=1000, random_state=0"
_BALANCED = 'LogisticRegression(C=C, max_iter=1000, random_state=0, class_weight="balanced")'
_SGD = """SGDClassifier(
        loss="log_loss", alpha=1e-4 / C, random_state=0, class_weight="balanced"
    )"""
_RELATIONSHIP = '            "relationship": categorical(rows.column("relationship")),\n'
_SEX_MARITAL = (
    '            "sex_x_marital": cross(rows.column("sex"), rows.column("marital_status")),\n'
)

# A fixed sequence, written against fixtures/census before looking at any result: 6
# pre-processing, 3 learning and 3 evaluation changes (Helix: data pre-processing changes
# are the most common, then learning/inference, then evaluation). Edits accumulate.
ITERATIONS: tuple[Iteration, ...] = (
    Iteration(
        "Model: weaker regularization (C 1.0 -> 4.0)",
        "learning",
        (_wf("def model(features, rows, C=1.0):", "def model(features, rows, C=4.0):"),),
    ),
    Iteration(
        "Features: age x hours interaction",
        "pre-processing",
        (
            _wf("@wf.op\ndef marital_relationship(rows):", _AGE_HOURS),
            _wf("".join(_ARGS), "".join(_ARGS[:2]) + "    age_hours,\n" + _ARGS[2]),
            _wf("".join(_BLOCKS), "".join(_BLOCKS[:2]) + "        age_hours,\n" + _BLOCKS[2]),
        ),
    ),
    Iteration(
        "Features: hours buckets at 25/35/40/45/55",
        "pre-processing",
        (_wf("HOURS_BOUNDS = (20, 35, 41, 50, 60)", "HOURS_BOUNDS = (25, 35, 40, 45, 55)"),),
    ),
    Iteration(
        "Evaluation: add precision",
        "evaluation",
        (
            _wf(_METRICS_IMPORT, _METRICS_IMPORT + ", precision_score"),
            _insert_before_predictions(_PRECISION),
        ),
    ),
    Iteration(
        "Features: drop the country group",
        "pre-processing",
        (
            _wf("".join(_ARGS[:2]) + "    age_hours,\n", _ARGS[1] + "    age_hours,\n"),
            _wf("".join(_BLOCKS[:2]) + "        age_hours,", _BLOCKS[1] + "        age_hours,"),
        ),
    ),
    Iteration(
        "Model: balanced class weights",
        "learning",
        (_wf(_LOGREG + ")", _BALANCED),),
    ),
    Iteration(
        "Features: finer age buckets (every 5 years from 20 to 65)",
        "pre-processing",
        (
            _replace(
                "censuslib/features.py",
                "AGE_BOUNDS = (25, 35, 45, 55, 65)",
                "AGE_BOUNDS = (20, 25, 30, 35, 40, 45, 50, 55, 60, 65)",
            ),
        ),
    ),
    Iteration(
        "Evaluation: F1 at decision threshold 0.4",
        "evaluation",
        (_wf("def f1(scores, rows, threshold=0.5):", "def f1(scores, rows, threshold=0.4):"),),
    ),
    Iteration(
        "Features: capital amounts as log2",
        "pre-processing",
        (_replace("censuslib/features.py", "return pc.ln(pc.add(", "return pc.log2(pc.add("),),
    ),
    Iteration(
        "Model: switch to SGD logistic regression",
        "learning",
        (
            _wf("import LogisticRegression", "import SGDClassifier"),
            _wf(_BALANCED, _SGD),
        ),
    ),
    Iteration(
        "Features: sex x marital status cross",
        "pre-processing",
        (_wf(_RELATIONSHIP, _RELATIONSHIP + _SEX_MARITAL),),
    ),
    Iteration(
        "Evaluation: add ROC AUC",
        "evaluation",
        (
            _wf("precision_score\n", "precision_score, roc_auc_score\n"),
            _insert_before_predictions(_ROC_AUC),
        ),
    ),
)


# -- repositories ---------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **_GIT_ENV}
    done = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    )
    return done.stdout.strip()


@dataclass(frozen=True)
class Commit:
    sha: str
    message: str
    kind: str  # "initial" for the first commit


def build_history(dest: Path, iterations: tuple[Iteration, ...] = ITERATIONS) -> list[Commit]:
    """A git repo at ``dest`` with the census template, then one commit per iteration."""
    dest.mkdir(parents=True)
    git(dest, "init", "-q", "-b", "main")
    shutil.copytree(
        TEMPLATE, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
    )
    (dest / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "Census income workflow")
    commits = [Commit(git(dest, "rev-parse", "HEAD"), "Census income workflow", "initial")]
    for it in iterations:
        it.apply(dest)
        git(dest, "add", "-A")
        git(dest, "commit", "-q", "-m", it.message)
        commits.append(Commit(git(dest, "rev-parse", "HEAD"), it.message, it.kind))
    return commits


def clone(history: Path, dest: Path, data: Path) -> None:
    """A system's own copy of the history, at the first commit, with the data linked in."""
    subprocess.run(
        ["git", "clone", "-q", "--no-hardlinks", str(history), str(dest)],
        check=True,
        capture_output=True,
    )
    link_data(data, dest)


def checkout(repo: Path, sha: str) -> None:
    git(repo, "checkout", "-q", "--detach", sha)
