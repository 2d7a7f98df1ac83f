"""Logging for the service: structlog, JSON when nobody is watching a terminal.

Privacy: messages in these communities are sensitive, so any field that can carry message text
(``text``, ``content``, ``quote``...) is replaced by its length unless the level is debug. This is
enforced here, in one processor, rather than trusted to every call site.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

# Fields that may hold what a member wrote.
TEXT_FIELDS = frozenset({"text", "content", "quote", "message_text", "body", "prompt_text"})
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}  # fmt: skip


def redact_text(_: Any, method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Replace message text by its length, except in debug records."""
    if method == "debug":
        return event
    for name in TEXT_FIELDS.intersection(event):
        value = event[name]
        event[name] = f"<{len(value)} chars>" if isinstance(value, str) else "<redacted>"
    return event


def configure(
    level: str = "info", output_format: str = "auto", stream: TextIO | None = None
) -> None:
    """Set up structlog (and the standard library's logging, which discord.py and PTB use)."""
    stream = stream or sys.stderr
    as_json = output_format == "json" or (output_format == "auto" and not stream.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_text,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(_LEVELS[level], logging.INFO), stream=stream, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # fmt: skip
    # APScheduler logs every run of every job at info: the service logs what the jobs did instead.
    logging.getLogger("apscheduler").setLevel(max(_LEVELS[level], logging.WARNING))
