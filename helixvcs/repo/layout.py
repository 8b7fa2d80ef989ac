"""Where things live under ``.helix/`` and what ``config.toml`` says."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from helixvcs.errors import UserInputError
from helixvcs.hashing.files import remove_abandoned_temp_files, write_atomically
from helixvcs.store.sizes import parse_size

HELIX_DIR = ".helix"
DEFAULT_BUDGET = 5 * 2**30
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


@dataclass(frozen=True)
class Config:
    max_store_bytes: int = DEFAULT_BUDGET
    materialize: str = "helix"
    executor: str = "local"
    server: str = "auto"
    prune_tolerance: float = 1e-3  # a pruned run warns when a metric moves by more


SERVER_MODES = ("off", "auto")


@dataclass(frozen=True)
class Layout:
    root: Path
    scratch: Path | None = None  # where commits are exported instead of trees/ (helix ui)

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
        return self.scratch if self.scratch is not None else self.helix / "trees"

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
            write_atomically(self.config, CONFIG_TEMPLATE.format(budget="5GiB").encode())
        remove_abandoned_temp_files(self.helix)
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
        try:
            budget = parse_size(data.get("max_store_bytes", DEFAULT_BUDGET))
        except UserInputError as exc:
            raise UserInputError(f"{self.config}: max_store_bytes: {exc}") from None
        return Config(
            max_store_bytes=budget,
            materialize=str(data.get("materialize", "helix")),
            executor=str(data.get("executor", "local")),
            server=server,
            prune_tolerance=_tolerance(data.get("prune_tolerance", 1e-3), self.config),
        )


def _tolerance(value: object, where: Path) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    raise UserInputError(f"{where}: prune_tolerance = {value!r}; give a number >= 0, e.g. 1e-3")
