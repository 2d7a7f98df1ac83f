"""Waiting in tests without sleeping for a guessed time: poll a condition until a deadline."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], *, within: float, what: str, every: float = 0.01
) -> None:
    """Return as soon as ``check()`` is true; fail naming ``what`` if it is not within ``within`` s.

    ``every`` is only how often to look again, never a guess at how long the work takes, so a
    loaded machine makes the test slower, not wrong.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        outcome = check()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if loop.time() >= deadline:
            raise AssertionError(f"{what}: still not the case after {within:.0f} s")
        await asyncio.sleep(every)
