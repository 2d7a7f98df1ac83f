"""Logs never carry message text at info level; the metrics endpoint serves the counters."""

from __future__ import annotations

import io
import json
import logging
import socket
import urllib.request
from collections.abc import Iterator

import pytest
import structlog

from bot import logs
from bot.runtime.metrics import Metrics


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    handlers = logging.getLogger().handlers[:]
    yield
    logging.getLogger().handlers[:] = handlers


def test_message_text_is_redacted_at_info_and_kept_at_debug() -> None:
    stream = io.StringIO()
    logs.configure("debug", "json", stream)
    log = structlog.get_logger()
    log.info("judged", text="you are an idiot", message="m1")
    log.debug("judged_detail", text="you are an idiot")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["text"] == "<16 chars>"
    assert first["message"] == "m1"
    assert second["text"] == "you are an idiot"


def test_level_filter_and_json_when_not_a_terminal() -> None:
    stream = io.StringIO()
    logs.configure("warning", "auto", stream)
    structlog.get_logger().info("quiet")
    structlog.get_logger().warning("loud", content="secret words")
    (line,) = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["event"] == "loud"
    assert record["content"] == "<12 chars>"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_metrics_endpoint_serves_the_counters() -> None:
    metrics = Metrics()
    metrics.events.labels("discord", "MessagePosted").inc(3)
    metrics.observe_scoring(8, 0.01)
    port = _free_port()
    metrics.serve("127.0.0.1", port)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            body = response.read().decode()
    finally:
        metrics.close()
    assert 'longform_events_total{kind="MessagePosted",platform="discord"} 3.0' in body
    assert "longform_scoring_seconds_count 1.0" in body
