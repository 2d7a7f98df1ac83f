"""Fixtures shared by many test modules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from hypothesis import settings

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
