"""Running several reads of one step at once, and stopping them together."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any


async def gather_or_cancel(*aws: Awaitable[Any]) -> list[Any]:
    """`asyncio.gather`, except that when one fails the others are cancelled (and awaited) before
    the error is raised: a live read that is over must not go on reading, and holding, pages of
    the lists beside the one that failed (against a hostile server, hundreds of MiB)."""
    tasks = [asyncio.ensure_future(aw) for aw in aws]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
