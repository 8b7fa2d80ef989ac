"""A remote as a store (what Dask workers without a shared disk use): the trust rules of
remote loads hold, on top of the contract every store meets (``test_contract``)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from helixvcs.store import CorruptObject
from helixvcs.store.remote import Remote, RemoteSpec
from helixvcs.store.remote_store import RemoteObjectStore

KEY = "0123456789abcdef0123456789abcdef01234567"


def _store(folder: Path, trusted: bool) -> RemoteObjectStore:
    return RemoteObjectStore(Remote.open(RemoteSpec("team", str(folder), trusted=trusted)))


def test_an_untrusted_remote_loads_no_pickle_that_names_code(tmp_path: Path) -> None:
    folder = tmp_path / "remote"
    folder.mkdir()
    _store(folder, trusted=True).put(KEY, Fraction(1, 3))  # a pickle that imports a class
    untrusted = _store(folder, trusted=False)
    with pytest.raises(CorruptObject, match=r"needs pickle .* not trusted"):
        untrusted.get(KEY)
    assert untrusted.has(KEY)  # refused, not removed: a clone that trusts it may load it
    assert _store(folder, trusted=True).get(KEY) == Fraction(1, 3)


def test_an_untrusted_remote_loads_arrays_and_plain_data(tmp_path: Path) -> None:
    folder = tmp_path / "remote"
    folder.mkdir()
    store = _store(folder, trusted=False)
    other = "fedcba9876543210fedcba9876543210fedcba98"
    store.put(KEY, np.arange(5.0))
    store.put(other, {"n": [1, 2.5, "x"]})
    assert np.array_equal(store.get(KEY), np.arange(5.0))  # type: ignore[arg-type]
    assert store.get(other) == {"n": [1, 2.5, "x"]}
    assert sorted(store.keys()) == sorted([KEY, other])
