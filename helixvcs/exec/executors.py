"""Choosing an executor by name: ``local``, ``threads`` or ``dask``.

The executors themselves (``executor``: the base class, ``local`` and ``threads``;
``dask_executor``) never import this module. The Dask one is imported here only when it
is chosen, so that the core never imports dask.
"""

from __future__ import annotations

from helixvcs.errors import UserInputError
from helixvcs.exec.executor import Executor, LocalExecutor, ThreadsExecutor
from helixvcs.store.remote import RemoteSpec

EXECUTORS = ("local", "threads", "dask")


def get_executor(
    name: str, scheduler: str | None = None, remote: RemoteSpec | None = None
) -> Executor:
    """The executor called ``name``; ``scheduler`` is a Dask scheduler's address,
    ``remote`` the store of Dask workers that share no disk with this process."""
    if name not in EXECUTORS:
        known = ", ".join(EXECUTORS)
        raise UserInputError(f"unknown executor {name!r}; choose one of: {known}")
    if scheduler is not None and name != "dask":
        raise UserInputError(
            f"--scheduler {scheduler} needs the dask executor; add --executor dask"
        )
    if remote is not None and name != "dask":
        raise UserInputError(
            f"--remote {remote.name} is the store of Dask workers; add --executor dask"
        )
    if name == "local":
        return LocalExecutor()
    if name == "threads":
        return ThreadsExecutor()
    try:
        from helixvcs.exec.dask_executor import DaskExecutor
    except ImportError as exc:
        raise UserInputError(
            f"the dask executor needs dask.distributed ({exc}); "
            "install it with: pip install 'helixvcs[dask]'"
        ) from None
    return DaskExecutor(scheduler, remote=remote)
