"""Helpers every command shares: loading settings, reporting errors, running async code."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from pavedroad.config.loader import ConfigError, Loc, load_settings
from pavedroad.config.models import Settings
from pavedroad.core.errors import PavedroadError

T = TypeVar("T")

DEFAULT_CONFIG = "pavedroad.yaml"

config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
    envvar="PAVEDROAD_CONFIG", default=None,
    help="Config file (YAML). Default: ./pavedroad.yaml when it exists. Env: PAVEDROAD_CONFIG.")


def fail(message: str, *, code: int = 1) -> NoReturn:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(code)


def settings_from(path: Path | None, overrides: dict[Loc, Any] | None = None) -> Settings:
    if path is None and Path(DEFAULT_CONFIG).exists():
        path = Path(DEFAULT_CONFIG)
    try:
        return load_settings(path, overrides=overrides)
    except ConfigError as exc:
        fail(str(exc), code=2)


def run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except PavedroadError as exc:
        fail(f"{exc.message} [{exc.code}]")
    except ConfigError as exc:
        fail(str(exc), code=2)
