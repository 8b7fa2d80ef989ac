"""Executors under test, and one real Dask cluster per test module.

``EXECUTORS`` is what the contract suite is parametrized over; ``executor_args`` turns
one of them into ``helix run`` options. The Dask cluster is a ``LocalCluster`` of two
single-threaded worker processes, started once per module (a cluster takes seconds to
start) and reached by address, as a user's cluster would be.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

EXECUTORS = ["local", "threads", "dask"]


@pytest.fixture(scope="module")
def dask_scheduler() -> Iterator[str]:
    """The address of a 2-process LocalCluster; a task is tried on two workers at most."""
    dask = pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.fixture(params=EXECUTORS)
def executor(request: pytest.FixtureRequest) -> str:
    """Each executor in turn: a test that uses it runs once per executor."""
    return str(request.param)


@pytest.fixture
def executor_args(request: pytest.FixtureRequest, executor: str) -> list[str]:
    """``helix run`` options for ``executor``."""
    name = executor
    if name == "dask":
        return ["--executor", "dask", "--scheduler", request.getfixturevalue("dask_scheduler")]
    return ["--executor", name]
