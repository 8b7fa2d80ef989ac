"""Commits waiting for a background run, and the one runner that works through them.

The post-commit hook may fire again while an earlier background run is still going
(three commits in ten seconds is normal). Every commit is queued; one runner per
repository runs them one after the other, oldest first, so background runs never
compete for the machine or for the index, and no commit is lost.

State, in ``.helix/queue/``:

``pending``
    one full commit sha per line, oldest first. A sha leaves the file only after its
    run ended, so a runner that dies (reboot, ``kill``) leaves it for the next runner.
``lock``
    ``flock``-ed around every read-modify-write of ``pending`` (a few microseconds).
``runner``
    ``flock``-ed by the runner for as long as it works. A second runner that cannot take
    it leaves at once: the active one will find the newly queued sha.

The hook queues in the background, so rapid commits may be queued out of order; the
runner's ``pick`` puts them back in history order.

The runner lets go of ``runner`` only while it holds ``lock`` and has just seen
``pending`` empty. A sha pushed after that moment is seen by the next runner, which can
take ``runner``; a sha pushed before it is seen by the current one. So a queued sha is
never stranded.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


class RunQueue:
    """The queue in ``folder`` (normally ``.helix/queue/``)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.pending = self.folder / "pending"

    def push(self, sha: str) -> bool:
        """Queue ``sha``; False when it is already waiting."""
        with self._locked():
            shas = self._read()
            if sha in shas:
                return False
            self._write([*shas, sha])
            return True

    def items(self) -> list[str]:
        """Waiting shas, oldest first (the one being run included)."""
        if not self.pending.exists():
            return []
        with self._locked():
            return self._read()

    def drain(
        self, run: Callable[[str], None], pick: Callable[[list[str]], str] | None = None
    ) -> bool:
        """Run every queued sha until none is left; ``pick`` chooses the next one among
        those waiting (default: the first queued).

        False, at once, when another runner is already at work (it will run them).
        """
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.folder / "runner", "a+b") as runner:
            try:
                fcntl.flock(runner, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            while (sha := self._next_or_release(runner, pick)) is not None:
                try:
                    run(sha)
                finally:
                    self._remove(sha)
        return True

    def _next_or_release(
        self, runner: IO[bytes], pick: Callable[[list[str]], str] | None
    ) -> str | None:
        with self._locked():
            shas = self._read()
            if not shas:
                fcntl.flock(runner, fcntl.LOCK_UN)
                return None
            return pick(shas) if pick else shas[0]

    def _remove(self, sha: str) -> None:
        with self._locked():
            self._write([s for s in self._read() if s != sha])

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.folder / "lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _read(self) -> list[str]:
        try:
            text = self.pending.read_text(encoding="ascii")
        except FileNotFoundError:
            return []
        return [line.strip() for line in text.splitlines() if line.strip()]

    def _write(self, shas: list[str]) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".pending-", dir=self.folder)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write("".join(f"{s}\n" for s in shas))
        os.replace(tmp, self.pending)
