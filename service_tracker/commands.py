"""What every command of the command line needs: one piece of database work on its own
engine, and an input file read with a message for the operator when it cannot be."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from service_tracker.config import Settings
from storage.db import PoolSizes, create_engine

T = TypeVar("T")


async def _with_engine(settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    pools = PoolSizes.split(settings.database_pool_size)
    engine = create_engine(settings.database_url, pool_size=pools.engine)
    try:
        return await work(engine)
    finally:
        await engine.dispose()


def run_with_engine(settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    return asyncio.run(_with_engine(settings, work))


def read_input(path: Path) -> bytes | None:
    """The file's bytes, or None after telling the operator why it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as error:
        print(f"cannot read {path}: {error.strerror}", file=sys.stderr)
        return None


def no_survey(id_or_form_id: str) -> int:
    """Tell the operator the survey does not exist; the command's exit status."""
    print(f"no survey with id or form_id '{id_or_form_id}'", file=sys.stderr)
    return 1
