"""Progress of a run on stderr: a live table on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO


class Progress:
    """Plain lines: one per finished operator. Also the interface the live display keeps."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self, name: str, state: str) -> None:
        pass

    def finish(self, name: str, state: str, seconds: float, note: str = "") -> None:
        verb = {"compute": "computed", "load": "loaded"}.get(state, state)
        extra = f"  ({note})" if note else ""
        print(f"  {verb:<8} {name:<28} {seconds:7.2f} s{extra}", file=self.stream, flush=True)

    def warn(self, message: str) -> None:
        print(f"warning: {message}", file=self.stream, flush=True)

    def close(self) -> None:
        pass


class LiveProgress(Progress):
    """A rich live table: operator, state, elapsed; finished rows stay visible."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        from rich.console import Console
        from rich.live import Live

        self._console = Console(file=self.stream)
        self._rows: dict[str, tuple[str, float, float | None, str]] = {}
        self._live = Live(console=self._console, refresh_per_second=8, transient=False)
        self._live.start()
        self._live.update(self)

    def __rich__(self) -> Any:
        from rich.table import Table

        table = Table(show_header=True, header_style="bold", box=None, padding=(0, 1))
        for col in ("operator", "state", "elapsed"):
            table.add_column(col)
        now = time.perf_counter()
        for name, (state, started, seconds, note) in self._rows.items():
            shown = seconds if seconds is not None else now - started
            label = state if seconds is not None else f"{state}..."
            table.add_row(name, label + (f" ({note})" if note else ""), f"{shown:.2f} s")
        return table

    def start(self, name: str, state: str) -> None:
        self._rows[name] = (
            "computing" if state == "compute" else "loading",
            time.perf_counter(),
            None,
            "",
        )

    def finish(self, name: str, state: str, seconds: float, note: str = "") -> None:
        verb = {"compute": "computed", "load": "loaded"}.get(state, state)
        started = self._rows.get(name, (verb, time.perf_counter(), None, ""))[1]
        self._rows[name] = (verb, started, seconds, note)

    def warn(self, message: str) -> None:
        self._console.print(f"[yellow]warning:[/] {message}")

    def close(self) -> None:
        self._live.stop()


def make_progress(quiet: bool = False) -> Progress:
    if quiet:
        return _Silent()
    if sys.stderr.isatty():
        return LiveProgress()
    return Progress()


class _Silent(Progress):
    def finish(self, name: str, state: str, seconds: float, note: str = "") -> None:
        pass
