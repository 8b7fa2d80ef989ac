"""Where things live under ``.helix/`` and what ``config.toml`` says."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from helixvcs.errors import UserInputError

HELIX_DIR = ".helix"
DEFAULT_BUDGET = 5 * 2**30
_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
    "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40,
}  # fmt: skip

CONFIG_TEMPLATE = """\
# helixvcs configuration for this repository (not committed).
# Storage budget for intermediates: bytes, or a size with a unit ("500MB", "2GiB").
max_store_bytes = "{budget}"
# Which intermediates to keep: "helix" (cost-based), "all" or "none".
materialize = "helix"
# How operators run: "local".
executor = "local"
# A warm helix process for fast commands (docs/server.md): "auto" starts one in the
# background when a command finds none; "off" leaves it to `helix server start`.
server = "auto"
"""


def parse_size(text: str | int) -> int:
    """``500MB`` -> 500_000_000, ``2GiB`` -> 2 * 2**30, ``1024`` -> 1024."""
    if isinstance(text, int):
        return text
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(text))
    if not m or m.group(2).lower() not in _UNITS:
        raise UserInputError(f"bad size {text!r}; use bytes or a unit, e.g. 500MB or 2GiB")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


@dataclass(frozen=True)
class Config:
    max_store_bytes: int = DEFAULT_BUDGET
    materialize: str = "helix"
    executor: str = "local"
    server: str = "auto"


SERVER_MODES = ("off", "auto")


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def helix(self) -> Path:
        return self.root / HELIX_DIR

    @property
    def objects(self) -> Path:
        return self.helix / "objects"

    @property
    def index(self) -> Path:
        return self.helix / "index.duckdb"

    @property
    def config(self) -> Path:
        return self.helix / "config.toml"

    @property
    def stat_cache(self) -> Path:
        return self.helix / "statcache.json"

    @property
    def compiled(self) -> Path:
        """The last compiles of the working tree (``helixvcs.graph.cache``)."""
        return self.helix / "compiled.json"

    @property
    def trees(self) -> Path:
        """Scratch checkouts of commits, one folder per commit sha and checkout settings."""
        return self.helix / "trees"

    @property
    def logs(self) -> Path:
        return self.helix / "logs"

    @property
    def queue(self) -> Path:
        """Commits waiting for a background run (``helixvcs.repo.feedback.queue``)."""
        return self.helix / "queue"

    def exists(self) -> bool:
        return self.helix.is_dir()

    def create(self) -> bool:
        """Make ``.helix/`` private to the user; True when it was new."""
        new = not self.helix.exists()
        for d in (self.helix, self.objects, self.logs):
            d.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.helix, 0o700)
        if not self.config.exists():
            self.config.write_text(CONFIG_TEMPLATE.format(budget="5GiB"), encoding="utf-8")
        return new

    def read_config(self) -> Config:
        if not self.config.is_file():
            return Config()
        try:
            data = tomllib.loads(self.config.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UserInputError(f"{self.config}: cannot parse ({exc}); fix or delete it") from None
        server = str(data.get("server", "auto"))
        if server not in SERVER_MODES:
            raise UserInputError(f'{self.config}: server = {server!r}; use "off" or "auto"')
        return Config(
            max_store_bytes=parse_size(data.get("max_store_bytes", DEFAULT_BUDGET)),
            materialize=str(data.get("materialize", "helix")),
            executor=str(data.get("executor", "local")),
            server=server,
        )
