"""A fast synthetic classification workflow with numpy and scikit-learn, and its histories.

Eight operators that an output needs (a source, samples, two feature extractors, the
assembled features, labels, a logistic regression, accuracy) plus one unused operator.
Operators that take measurable time sleep 20 ms, so the default materialization policy
keeps their values as it would keep a real operator's.

Accuracy is 0.9067 on the held-out half; dropping column 4 in ``texture_features`` costs
3.5 points (``DROP_COLUMN``), regularizing the model harder (``STRONG_C``) about 1 point.
"""

from __future__ import annotations

WORKFLOW = """\
import time

import numpy as np
from sklearn.linear_model import LogisticRegression

from helixvcs import Workflow
from synthlib import WEIGHTS, held_out

wf = Workflow("synth")


@wf.source("data/seed.txt")
def seed(path):
    time.sleep(0.02)
    with open(path) as f:
        return int(f.read())


@wf.op
def samples(seed, n=1500):
    time.sleep(0.02)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    y = (x @ np.array(WEIGHTS) + rng.normal(scale=1.0, size=n) > 0).astype(int)
    return x, y


@wf.op
def shape_features(samples):
    time.sleep(0.02)
    return samples[0][:, [0, 1, 2]]


@wf.op
def texture_features(samples):
    time.sleep(0.02)
    return samples[0][:, [3, 4, 5]]


@wf.op
def features(shape_features, texture_features):
    time.sleep(0.02)
    return np.hstack([shape_features, texture_features])


@wf.op
def labels(samples):
    return samples[1]


@wf.op
def summary(samples):
    return len(samples[1])


@wf.op
def model(features, labels, C=1.0):
    time.sleep(0.02)
    train = ~held_out(len(labels))
    return LogisticRegression(C=C).fit(features[train], labels[train])


@wf.metric
def accuracy(model, features, labels):
    test = held_out(len(labels))
    return float(np.mean(model.predict(features[test]) == labels[test]))
"""

SYNTHLIB = """\
import numpy as np

WEIGHTS = (2.0, 1.0, 0.5, 1.5, 0.8, 0.3)


def held_out(n):
    mask = np.zeros(n, dtype=bool)
    mask[n // 2 :] = True
    return mask
"""

FILES = {
    "workflow.py": WORKFLOW,
    "synthlib.py": SYNTHLIB,
    "data/seed.txt": "7\n",
    ".gitignore": ".helix/\n",
}
NEEDED = 8  # operators a full run computes (summary is pruned)
BASE_ACCURACY = 0.9066666666666666

DROP_COLUMN = ("workflow.py", "samples[0][:, [3, 4, 5]]", "samples[0][:, [3, 5]]")
STRONG_C = (
    "workflow.py",
    "def model(features, labels, C=1.0):",
    "def model(features, labels, C=0.003):",
)

METHOD_FORM = (
    "workflow.py",
    "float(np.mean(model.predict(features[test]) == labels[test]))",
    "float((model.predict(features[test]) == labels[test]).mean())",
)
_FIT = "    time.sleep(0.02)\n    train"
_HSTACK = "np.hstack([shape_features, texture_features])"
_CONCATENATE = "np.concatenate([shape_features, texture_features], axis=1)"
_SUMMARY = "@wf.op\ndef summary"

# Commits 2-16 of the bisect history; commit 11 (index 9 here) drops accuracy by 3.5 points.
# Every other edit leaves accuracy as it was: documentation, comments, code that computes
# the same values in another way (which changes keys, so later runs recompute a little).
HISTORY: list[tuple[str, str, str, str]] = [
    ("README.md", "", "# synth\n", "Add a README"),
    ("workflow.py", 'wf = Workflow("synth")\n', 'wf = Workflow("synth")  # toy data\n', "Comment"),
    ("workflow.py", "return len(samples[1])", "return int(len(samples[1]))", "Summary"),
    ("workflow.py", _FIT, '    """Fit."""\n' + _FIT, "Docstring"),
    ("workflow.py", "    return samples[1]\n", "    _, y = samples\n    return y\n", "Unpack"),
    ("README.md", "# synth\n", "# synth\n\nA toy.\n", "README: describe"),
    ("synthlib.py", "def held_out(n):", "def unused():\n    pass\n\n\ndef held_out(n):", "Helper"),
    ("workflow.py", _HSTACK, _CONCATENATE, "Concatenate"),
    ("workflow.py", "# toy data", "# synthetic data", "Comment again"),
    (*DROP_COLUMN, "Texture features: drop column 4"),
    ("README.md", "A toy.", "A toy workflow.", "README wording"),
    ("workflow.py", _SUMMARY, "# not an output\n" + _SUMMARY, "Comment summary"),
    (*METHOD_FORM, "Accuracy: method form"),
    ("README.md", "A toy workflow.", "A toy workflow for tests.", "README again"),
    ("workflow.py", "# not an output", "# pruned: not an output", "Last comment"),
]


def build(repo, history=HISTORY) -> list[str]:
    """Commit the workflow, then one commit per edit; the shas, oldest first."""
    shas = [repo.gen(FILES, commit="Synthetic workflow")]
    for path, old, new, message in history:
        if old:
            repo.edit(path, old, new)
        else:
            repo.write({path: new})
        shas.append(repo.commit(message))
    return shas
