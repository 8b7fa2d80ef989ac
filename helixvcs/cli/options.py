"""What the command modules share: the context object, common options, JSON output.

It imports click and no command, so that every command module can import it and the
``helix`` group (``commands``) can import every command module.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


class Ctx:
    def __init__(self, repo_path: str, as_json: bool, quiet: bool, debug: bool) -> None:
        self.repo_path, self.as_json, self.quiet, self.debug = repo_path, as_json, quiet, debug
        self.sample: str | None = None  # --sample FRACTION, as given
        self.seed: str | None = None  # --seed N, as given
        self.precision: str | None = None  # --precision float32
        self.prune_zero_weight = False  # --prune-zero-weight

    def sampling(self) -> tuple[float | None, int | None]:
        """``--sample`` and ``--seed`` as numbers; a bad value is one line and exit 2."""
        from helixvcs.errors import UserInputError

        sample = seed = None
        if self.sample is not None:
            try:
                sample = float(self.sample)
            except ValueError:
                raise UserInputError(
                    f"bad --sample {self.sample!r}: give a fraction between 0 and 1, e.g. 0.1"
                ) from None
        if self.seed is not None:
            try:
                seed = int(self.seed)
            except ValueError:
                raise UserInputError(f"bad --seed {self.seed!r}: give an integer, e.g. 0") from None
        return sample, seed

    def repo(self) -> Any:
        from helixvcs.repo import Repo

        return Repo(self.repo_path)

    def progress(self) -> Any:
        from helixvcs.exec import make_progress

        return make_progress(quiet=self.quiet or self.as_json)


def json_option(func: F) -> F:
    """``--json`` on a command as well as on the group: either one turns it on."""

    def set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.ensure_object(Ctx).as_json = True

    return click.option(
        "--json", "as_json", is_flag=True, expose_value=False, callback=set_json,
        help="Print one JSON document on stdout (schema in docs/json.md).",
    )(func)  # fmt: skip


def sample_options(func: F) -> F:
    """``--sample FRACTION`` and ``--seed N`` after the command name as well as before it."""

    def setter(attribute: str) -> Callable[[click.Context, click.Parameter, str | None], None]:
        def set_value(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
            if value is not None:
                setattr(ctx.ensure_object(Ctx), attribute, value)

        return set_value

    func = click.option(
        "--seed", metavar="N", expose_value=False, callback=setter("seed"),
        help="Which rows a sample keeps (default 0); the same seed keeps the same rows.",
    )(func)  # fmt: skip
    return click.option(
        "--sample", metavar="FRACTION", expose_value=False, callback=setter("sample"),
        help="Run on this fraction (0 < F < 1) of every source's rows; metrics are approximate.",
    )(func)  # fmt: skip


def reduced_options(func: F) -> F:
    """``--precision`` and ``--prune-zero-weight`` after the command name as well as before."""

    def set_precision(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
        if value is not None:
            ctx.ensure_object(Ctx).precision = value

    def set_prune(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.ensure_object(Ctx).prune_zero_weight = True

    func = click.option(
        "--prune-zero-weight", is_flag=True, expose_value=False, callback=set_prune,
        help="Leave out feature blocks that the last recorded model gave zero weight.",
    )(func)  # fmt: skip
    return click.option(
        "--precision", metavar="DTYPE", expose_value=False, callback=set_precision,
        help="Cast float64 values to DTYPE (float32) where operators return.",
    )(func)  # fmt: skip


def emit_json(doc: Any) -> None:
    """One JSON document; NaN and infinities (not JSON) become null."""
    click.echo(json.dumps(_finite(doc), indent=2, default=str, allow_nan=False))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
