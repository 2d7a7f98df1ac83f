"""The engines' memory written by a forked child: the same snapshot, and failures reported."""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from pathlib import Path

import pytest

from bot.core.engine import Engine
from bot.core.events import Event, MemberJoined, MessagePosted
from bot.core.settings import Policy
from bot.core.snapshot import SnapshotError
from bot.runtime import snapshots
from bot.runtime.app import build_service
from bot.scoring.embedded import EmbeddedScorer
from tests.builders import mixed_stream
from tests.runtime_support import service_config

pytestmark = pytest.mark.skipif(not snapshots.can_fork(), reason="this platform cannot fork")


def _served(count: int, seed: int) -> list[Event]:
    """The mixed stream's posts and joins, in a community the replay platform serves."""
    return [replace(event, community="replay:c") for event in mixed_stream(count, seed=seed)
            if isinstance(event, MessagePosted | MemberJoined)]  # fmt: skip


def _engines() -> dict[str, Engine]:
    first, second = Engine(Policy(), EmbeddedScorer()), Engine(Policy(), EmbeddedScorer())
    for event in mixed_stream(700, seed=31):
        first.feed(event)
    for event in mixed_stream(90, seed=32):
        second.feed(event)
    return {"": first, "clinic": second}


def test_the_child_writes_what_this_process_would_have_written() -> None:
    engines = _engines()
    here = snapshots.start(engines, 41, in_child=False).collect()
    pending = snapshots.start(engines, 41, in_child=True)
    assert pending.pid not in (0, os.getpid())
    there = pending.collect()
    assert there.keys() == here.keys() == {"", "clinic"}
    for key, text in there.items():
        blob = json.loads(text.text)
        assert blob == json.loads(here[key].text)
        assert blob["journal_seq"] == 41
        assert blob["engine"] == engines[key].snapshot()


def test_the_child_sees_the_engines_as_they_were_at_the_fork() -> None:
    engines = _engines()
    before = engines[""].snapshot()
    pending = snapshots.start(engines, 1, in_child=True)
    for event in mixed_stream(300, seed=33):  # the engine goes on judging meanwhile
        engines[""].feed(event)
    assert json.loads(pending.collect()[""].text)["engine"] == before
    assert engines[""].snapshot() != before


def test_a_failure_in_the_child_is_reported_with_its_reason() -> None:
    engines = _engines()
    engines[""]._now = object()  # type: ignore[assignment]  # not storable
    with pytest.raises(
        SnapshotError, match=r"snapshot process failed: SnapshotError: object is not"
    ):
        snapshots.start(engines, 1, in_child=True).collect()


def test_a_fork_that_fails_writes_the_snapshot_here_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog_structlog: list[dict[str, object]]
) -> None:
    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    engines = _engines()
    monkeypatch.setattr(os, "fork", no_fork)
    pending = snapshots.start(engines, 9, in_child=True)
    assert pending.pid == 0
    texts = pending.collect()
    assert json.loads(texts[""].text)["engine"] == engines[""].snapshot()
    (warned,) = [e for e in caplog_structlog if e["event"] == "snapshot_fork_failed"]
    assert "Resource temporarily unavailable" in str(warned["problem"])


def test_a_silent_child_is_stopped_and_reported() -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # a child that writes nothing for far longer than the parent waits
        try:
            time.sleep(60)
        finally:
            os._exit(0)
    os.close(write_end)
    with pytest.raises(SnapshotError, match="wrote nothing for 0 s and was stopped"):
        snapshots.Pending(pid=pid, pipe=read_end).collect(silence_s=0.2)
    with pytest.raises(ChildProcessError):  # reaped: no zombie left behind
        os.waitpid(pid, os.WNOHANG)


async def test_the_service_saves_through_the_child_and_restores_the_same_memory(
    tmp_path: Path, caplog_structlog: list[dict[str, object]]
) -> None:
    config = service_config(tmp_path)
    assert config.scheduler.snapshot_in_child
    runtime = build_service(config).runtime
    await runtime.open()
    try:
        for event in _served(200, seed=34):
            await runtime.on_event(event)
        assert runtime.engines[""].size["messages"] > 100
        await runtime.save_memory()
        saved = runtime.store.states.load("engine:")
        assert saved is not None
        assert saved.blob["engine"] == runtime.engines[""].snapshot()
        assert saved.blob["journal_seq"] == runtime._position
        (logged,) = [e for e in caplog_structlog if e["event"] == "engine_memory_saved"]
        assert logged["in_child"] is True
        assert logged["bytes"] == runtime.metrics.snapshot_bytes._value.get() > 1000
        registry = runtime.metrics.registry
        assert registry.get_sample_value("longform_snapshot_pause_seconds_count") == 1
    finally:
        await runtime.close()
        runtime.store.close()


@pytest.mark.parametrize("in_child", [True, False])
async def test_a_failed_save_keeps_the_previous_snapshot_and_says_so(
    tmp_path: Path, caplog_structlog: list[dict[str, object]], in_child: bool
) -> None:
    config = service_config(tmp_path, scheduler={"snapshot_in_child": in_child})
    runtime = build_service(config).runtime
    await runtime.open()
    try:
        for event in _served(60, seed=35):
            await runtime.on_event(event)
        await runtime.save_memory()
        kept = runtime.store.states.load("engine:")
        engine = runtime.engines[""]
        real_now = engine._now
        engine._now = object()  # type: ignore[assignment]
        await runtime.save_memory()
        engine._now = real_now
        again = runtime.store.states.load("engine:")
        assert kept is not None
        assert again is not None
        assert again.blob == kept.blob
        (failed,) = [e for e in caplog_structlog if e["event"] == "engine_memory_not_saved"]
        assert "not part of the engine's stored state" in str(failed["problem"])
    finally:
        await runtime.close()
        runtime.store.close()
