"""Running the real service in a subprocess on the replay platform, killing it, and comparing.

Used by tests/test_crash_recovery.py (a small run) and benchmarks/crash_recovery.py (the full
5,000-event run of issue 13). The synthetic community: ``threads`` conversations, each the bundled
demo conversations played again and again (new ids, two hours apart, so each round is judged
afresh), interleaved in time order and ending now.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "bot" / "demo"
_CONVERSATIONS = ("01_pile_on_clinician", "02_debate_turns_personal", "03_sharp_but_civil",
                  "04_congratulations")  # fmt: skip


def synthetic_inbox(events: int, threads: int, end: datetime | None = None) -> list[str]:
    """``events`` JSONL lines over ``threads`` conversations, in time order, the last at ``end``."""
    records: list[tuple[datetime, int, dict[str, Any]]] = []
    per_thread = events // threads
    for thread in range(threads):
        name = _CONVERSATIONS[thread % len(_CONVERSATIONS)]
        demo = [json.loads(line) for line in (DEMO / f"{name}.jsonl").read_text().splitlines()]
        start = datetime.fromisoformat(demo[0]["ts"])
        made = 0
        round_ = 0
        while made < per_thread:
            for record in demo:
                if made == per_thread:
                    break
                records.append((_moved(record, thread, round_, start), len(records),
                                _renamed(record, thread, round_)))  # fmt: skip
                made += 1
            round_ += 1
    records.sort(key=lambda item: (item[0], item[1]))
    shift = (end or datetime.now(UTC)) - records[-1][0]
    lines = []
    for at, _, record in records:
        record["ts"] = (at + shift).isoformat()
        lines.append(json.dumps(record) + "\n")
    return lines


def _moved(record: dict[str, Any], thread: int, round_: int, start: datetime) -> datetime:
    at = datetime.fromisoformat(record["ts"])
    return at - start + datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=2 * round_,
                                                                      seconds=7 * thread)  # fmt: skip


def _renamed(record: dict[str, Any], thread: int, round_: int) -> dict[str, Any]:
    out = dict(record)
    suffix = f"t{thread}r{round_}"
    for key in ("id", "reply_to"):
        if out.get(key):
            out[key] = f"{out[key]}-{suffix}"
    if "channel" in out:
        out["channel"] = f"{out['channel']}-t{thread}"
    return out


def config_text(
    folder: Path,
    snapshot_seconds: float = 0.5,
    delay_ms: int = 0,
    tick_seconds: float = 3600,
    policy: str = "strict",
) -> str:
    """A live config serving the replay platform in ``folder``. By default no tick falls during a
    run, so the uninterrupted run is a fixed function of the inbox, and nothing expires."""
    return f"""
policy = "{policy}"
mode = "live"
[storage]
url = "sqlite:///{folder / "longform.db"}"
[replay]
enabled = true
inbox = "{folder / "inbox.jsonl"}"
actions = "{folder / "actions.jsonl"}"
action_delay_ms = {delay_ms}
[scoring]
sentence_tier = "off"
[outbox]
expire_minutes = 10000000
[scheduler]
tick_seconds = {tick_seconds}
snapshot_seconds = {snapshot_seconds}
"""


@dataclass
class Run:
    """One service folder: its config, inbox, actions, log and database."""

    folder: Path

    @property
    def log(self) -> Path:
        return self.folder / "service.log"

    def prepare(self, lines: list[str], **config: Any) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "config.toml").write_text(config_text(self.folder, **config))
        (self.folder / "inbox.jsonl").write_text("".join(lines))

    def start(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as output:  # the child keeps its own copy of the descriptor
            return subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run", "--config",
                 str(self.folder / "config.toml"), "--pid-file", str(self.folder / "longform.pid")],
                cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)},
            )  # fmt: skip

    def consumed(self) -> float:
        """The share of the inbox read and judged (0 to 1)."""
        position = self.folder / "actions.jsonl.inbox-position"
        try:
            saved = json.loads(position.read_text())
        except (FileNotFoundError, ValueError):
            return 0.0
        offset = saved if isinstance(saved, int) else int(saved["offset"])  # older: the offset
        return offset / (self.folder / "inbox.jsonl").stat().st_size

    def outbox_open(self) -> int:
        """Decisions in the outbox not yet executed (-1 before the database exists)."""
        return self._count("SELECT count(*) FROM outbox WHERE state IN ('pending', 'in_flight')")

    def outbox_items(self) -> int:
        """Decisions ever written to the outbox (-1 before the database exists)."""
        return self._count("SELECT count(*) FROM outbox")

    def snapshots(self) -> int:
        """Engine snapshots saved (-1 before the database exists)."""
        return self._count("SELECT count(*) FROM engine_state WHERE key LIKE 'engine:%'")

    def _count(self, query: str) -> int:
        database = self.folder / "longform.db"
        if not database.exists():
            return -1
        try:
            connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)
            try:
                return int(connection.execute(query).fetchone()[0])
            finally:
                connection.close()
        except sqlite3.OperationalError:  # not migrated yet
            return -1

    def actions(self) -> list[dict[str, Any]]:
        path = self.folder / "actions.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def finished(self) -> bool:
        return self.consumed() >= 1.0 and self.outbox_open() == 0

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def wait_for(condition: Callable[[], bool], seconds: float, what: str, run: Run) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` and the log's end if it never does."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:g} s waiting for {what}\n{run.tail()}")
        time.sleep(0.05)  # a poll interval, not a synchronisation: the condition decides


def stop(process: subprocess.Popen[bytes], run: Run) -> int:
    """SIGTERM, and the exit status (fails if it does not stop within a minute)."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"the service did not stop on SIGTERM\n{run.tail()}") from None


def kill(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(30)


def uninterrupted(run: Run, limit: float = 300) -> list[dict[str, Any]]:
    """Serve the inbox to the end, stop cleanly; the actions executed."""
    before = run.log.read_text().count('"service_started"') if run.log.exists() else 0
    process = run.start()
    try:
        # This start's own: an inbox finished by an earlier run must not have us stop this one
        # while it is still starting (a SIGTERM before its handlers exist kills it).
        wait_for(lambda: run.log.read_text().count('"service_started"') > before, limit,
                 "the service to start", run)  # fmt: skip
        wait_for(run.finished, limit, "the inbox to be judged and the outbox emptied", run)
    finally:
        status = stop(process, run)
    assert status == 0, run.tail()
    return run.actions()


def interrupted(
    run: Run, kills: list[Callable[[Run, float], bool]], limit: float = 300
) -> list[dict[str, Any]]:
    """Serve the inbox, kill -9 when each of ``kills`` holds (given the run and the seconds since
    this start), restarting after each; then serve to the end and stop cleanly."""
    for moment in kills:
        process = run.start()
        started = time.monotonic()

        def due(moment: Callable[[Run, float], bool] = moment, started: float = started) -> bool:
            return moment(run, time.monotonic() - started)

        try:
            wait_for(due, limit, "a kill moment", run)
        finally:
            kill(process)
    return uninterrupted(run, limit)


async def in_process(run: Run, limit: float = 300) -> list[dict[str, Any]]:
    """The uninterrupted run, served in this process (no interpreter start-up to wait for)."""
    from bot.config import load_config
    from bot.runtime.app import build_service

    service = build_service(load_config(run.folder / "config.toml"))
    halt = asyncio.Event()
    serving = asyncio.create_task(service.run(halt))
    deadline = time.monotonic() + limit
    while not run.finished():
        if serving.done() or time.monotonic() > deadline:
            halt.set()
            await serving
            raise AssertionError("the in-process run did not finish its inbox")
        await asyncio.sleep(0.05)  # a poll interval; the condition decides
    halt.set()
    await asyncio.wait_for(serving, 60)
    return run.actions()


def executed(actions: list[dict[str, Any]]) -> set[str]:
    """The decisions executed, as canonical JSON (key and everything written), digests aside."""
    return {json.dumps(a, sort_keys=True) for a in actions if a.get("type") not in ("digest",
                                                                                  "reminder")}  # fmt: skip
