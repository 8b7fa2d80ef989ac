"""Executors: how one operator's function is called. ``local`` calls it in-process."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from helixvcs.errors import UserInputError
from helixvcs.graph import Node


class Executor(ABC):
    name: str

    @abstractmethod
    def call(self, node: Node, kwargs: Mapping[str, Any]) -> tuple[Any, float]:
        """Run ``node``'s function; return its value and the seconds it took."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release workers, if any."""


class LocalExecutor(Executor):
    name = "local"

    def call(self, node: Node, kwargs: Mapping[str, Any]) -> tuple[Any, float]:
        start = time.perf_counter()
        value = node.spec.func(**kwargs)
        return value, time.perf_counter() - start


EXECUTORS = {"local": LocalExecutor}


def get_executor(name: str) -> Executor:
    try:
        return EXECUTORS[name]()
    except KeyError:
        known = ", ".join(sorted(EXECUTORS))
        raise UserInputError(f"unknown executor {name!r}; choose one of: {known}") from None
