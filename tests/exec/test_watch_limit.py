"""Which shared inputs are digested to catch an operator changing them in place."""

from __future__ import annotations

import numpy as np
import pandas as pd

from helixvcs.exec.task import WATCH_LIMIT, _worth_checking, value_digest


def test_small_values_and_plain_python_objects_are_checked():
    assert _worth_checking(np.zeros(1000))
    assert _worth_checking(pd.DataFrame({"a": range(1000)}))
    assert _worth_checking([list(range(10))] * 1000)  # size unknown without pickling


def test_arrays_and_frames_over_the_limit_are_not():
    assert not _worth_checking(np.zeros(WATCH_LIMIT // 8 + 1))
    assert not _worth_checking(pd.DataFrame({"a": np.zeros(WATCH_LIMIT // 8 + 1)}))


def test_a_digest_sees_an_in_place_change():
    values = np.arange(10.0)
    before = value_digest(values)
    values[3] = -1
    assert value_digest(values) != before
