"""Fixtures shared by many test modules."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from hypothesis import settings

from bot.core import events, explain, language, text

# No per-example deadline: a loaded CI machine must not turn a slow example into a failure.
settings.register_profile("longform", deadline=None)
settings.load_profile("longform")


@pytest.fixture
def caplog_structlog() -> Iterator[list[dict[str, Any]]]:
    """Every structlog event logged during the test, as dicts."""
    with structlog.testing.capture_logs() as logs:
        yield logs


@pytest.fixture(autouse=True)
def _fresh_structlog() -> Iterator[None]:
    """Each test starts with structlog's defaults (a CLI test may have pointed it elsewhere)."""
    yield
    structlog.reset_defaults()


@pytest.fixture(autouse=True)
def _fresh_core_caches_under_mutmut() -> None:
    """Under mutmut, each test starts with the core's memo caches empty.

    mutmut runs each mutant in a process forked after the clean run, whose caches (analyse,
    normalise, as_written, the events' field getters) already hold the unmutated results: a test
    of the same text would read the cache and never call the mutant. Plain runs keep the caches.
    """
    if "MUTANT_UNDER_TEST" not in os.environ:
        return
    for module in (events, explain, language, text):
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()
    events._GETTERS.clear()
