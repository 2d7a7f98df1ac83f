"""What a long run must not keep (issue 14): each cooldown forgotten once its own length has
passed, and the replay platform's memory of written keys bounded."""

from __future__ import annotations

import platform
from datetime import timedelta
from pathlib import Path

from adapters.replay import live
from bot.core.responses import Responder
from bot.runtime.memory import return_free_memory
from tests.test_thresholds import RESPOND, SEC, T0, _respond


def test_each_cooldown_is_forgotten_when_its_own_length_has_passed() -> None:
    responder = Responder()
    _respond(responder, timedelta())  # a notice, an alert, a prompt, a long-form space, a slow mode
    cooldowns = RESPOND.cooldowns
    first = responder.size
    responder.expire(T0 + timedelta(minutes=cooldowns.alert_minutes) + SEC, lambda _c: cooldowns)
    assert responder.size == first - 1  # the alert's (shortest) went
    responder.expire(T0 + timedelta(minutes=cooldowns.notice_minutes) + SEC, lambda _c: cooldowns)
    assert responder.size == first - 2  # then the notice's
    responder.expire(T0 + timedelta(hours=cooldowns.prompt_hours), lambda _c: cooldowns)
    assert responder.size == first - 2  # the prompt's and the space's: not yet
    responder.expire(T0 + timedelta(hours=cooldowns.prompt_hours) + SEC, lambda _c: cooldowns)
    assert responder.size == 1  # only the slow mode (never lifted here) is left


def test_the_replay_platform_remembers_only_the_latest_keys(tmp_path: Path) -> None:
    recent = live._Recent(3)
    for key in "abcd":
        recent.add(key)
    recent.add("c")  # again: no second place
    assert [k in recent for k in "abcd"] == [False, True, True, True]
    assert len(recent) == 3
    actions = tmp_path / "actions.jsonl"
    actions.write_text("".join(f'{{"key": "k{i}"}}\n' for i in range(5)) + "not json\n")
    platform = live.FilePlatform(tmp_path / "inbox.jsonl", actions)
    platform._written = live._Recent(2)
    platform.open_actions()
    assert [f"k{i}" in platform._written for i in range(5)] == [False] * 3 + [True] * 2


def test_freed_memory_is_handed_back_where_the_c_library_can() -> None:
    # glibc has malloc_trim; elsewhere the call is skipped and says so.
    assert return_free_memory() is (platform.libc_ver()[0] == "glibc")
