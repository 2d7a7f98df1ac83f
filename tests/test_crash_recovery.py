"""kill -9 in the middle of executing decisions, then a restart: every decision is executed
exactly once, and a slow mode set before the crash is still lifted after it (subprocess test)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.runtime_support import recent_lines

ROOT = Path(__file__).resolve().parents[1]


def _config(tmp_path: Path, delay_ms: int) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f"""
policy = "{tmp_path / "policy.toml"}"
mode = "live"
[storage]
url = "sqlite:///{tmp_path / "longform.db"}"
[replay]
enabled = true
inbox = "{tmp_path / "inbox.jsonl"}"
actions = "{tmp_path / "actions.jsonl"}"
action_delay_ms = {delay_ms}
[scoring]
sentence_tier = "off"
[scheduler]
tick_seconds = 0.5
snapshot_seconds = 0.5
""")
    return path


def _policy(tmp_path: Path) -> None:
    # The strict preset, with a slow mode short enough to fall due during the test.
    strict = (ROOT / "policies" / "strict.toml").read_text()
    assert "[slow_mode]\nseconds = 120\nminutes = 30\n" in strict
    short = strict.replace("[slow_mode]\nseconds = 120\nminutes = 30\n",
                           "[slow_mode]\nseconds = 120\nminutes = 0.2\n")  # fmt: skip
    (tmp_path / "policy.toml").write_text(short)


def _start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


def _actions(tmp_path: Path) -> list[dict[str, str]]:
    path = tmp_path / "actions.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _wait(predicate, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_kill_9_mid_execution_then_restart_executes_each_decision_once(tmp_path: Path) -> None:
    _policy(tmp_path)
    config = _config(tmp_path, delay_ms=300)
    # Shifted so that the message that sets slow mode (po-006) happens now: its lift falls due
    # 12 s later, after the crash, with room for a slow machine to set it first.
    end = datetime.now(UTC) + timedelta(minutes=7, seconds=48)
    (tmp_path / "inbox.jsonl").write_text("".join(recent_lines("01_pile_on_clinician.jsonl", end)))
    log = tmp_path / "service.log"
    first = _start(config, log)
    try:
        assert _wait(lambda: len(_actions(tmp_path)) >= 2, 60), log.read_text()[-3000:]
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    before = len(_actions(tmp_path))
    second = _start(config, log)
    try:

        def lifted_and_settled() -> bool:
            done = _actions(tmp_path)
            return any(a["text"] == "Slow mode lifted." for a in done)

        assert _wait(lifted_and_settled, 60), log.read_text()[-3000:]
        time.sleep(1.5)  # let anything still pending finish
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
    done = _actions(tmp_path)
    keys = [a["key"] for a in done]
    assert len(keys) == len(set(keys)), "a decision was executed twice"
    assert len(done) > before, "the restart carried on with what was left"
    kinds = [a["action"] for a in done]
    assert kinds.count("slow_mode") == 2  # set before or after the crash, and lifted once
    assert "private_prompt" in kinds
    assert "Traceback" not in log.read_text()


def test_sighup_reloads_policies_and_rejects_a_bad_one_then_sigterm_stops_cleanly(
    tmp_path: Path,
) -> None:
    _policy(tmp_path)
    config = _config(tmp_path, delay_ms=0)
    log = tmp_path / "service.log"
    service = _start(config, log)
    try:
        assert _wait(lambda: "service_started" in log.read_text(), 30), log.read_text()[-2000:]
        policy = tmp_path / "policy.toml"
        good = policy.read_text()
        policy.write_text(good.replace("[escalation]\n", "[escalation]\nno_such_knob = 1\n"))
        service.send_signal(signal.SIGHUP)
        assert _wait(lambda: "policy_reload_rejected" in log.read_text(), 30), log.read_text()[
            -2000:
        ]
        assert "no_such_knob" in log.read_text()
        policy.write_text(good)
        service.send_signal(signal.SIGHUP)
        assert _wait(lambda: "policies_reloaded" in log.read_text(), 30), log.read_text()[-2000:]
    finally:
        service.send_signal(signal.SIGTERM)
        assert service.wait(20) == 0
    assert "service_stopping" in log.read_text()
