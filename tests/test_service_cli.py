"""The service's commands: check-config, reload, erase-member, evaluate --feedback."""

from __future__ import annotations

import inspect
import os
import signal
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.core.events import MessagePosted
from bot.runtime import commands
from bot.storage.schema import Verdict
from bot.storage.store import Store

runner = CliRunner()


def _config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n[replay]\nenabled = true\n{extra}'
    )
    return path


def test_check_config_accepts_a_good_config_and_names_problems(tmp_path: Path) -> None:
    good = runner.invoke(app, ["check-config", "--config", str(_config(tmp_path))])
    assert good.exit_code == 0, good.output
    assert "OK" in good.stdout
    bad = runner.invoke(app, ["check-config", "--config",
                              str(_config(tmp_path, "[discord]\nenabled = true\n"))])  # fmt: skip
    assert bad.exit_code == 2
    assert "LONGFORM_DISCORD_TOKEN is not set" in bad.output


def test_run_refuses_to_start_without_a_platform(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[storage]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n')
    result = runner.invoke(app, ["run", "--config", str(path)])
    assert result.exit_code == 2
    assert "no platform is enabled" in result.output


def test_reload_without_a_running_service_says_how(tmp_path: Path) -> None:
    result = runner.invoke(app, ["reload", "--pid-file", str(tmp_path / "none.pid")])
    assert result.exit_code == 1
    assert str(tmp_path / "none.pid") in result.output  # which pid file it looked in
    assert "--pid-file" in result.output


def test_run_and_reload_share_a_default_pid_file_and_say_which(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert Path("longform.pid") == commands.DEFAULT_PID_FILE
    assert inspect.signature(commands.run).parameters["pid_file"].default == Path("longform.pid")
    assert inspect.signature(commands.reload).parameters["pid_file"].default == Path("longform.pid")
    (tmp_path / "longform.pid").write_text(str(os.getpid()))
    received: list[int] = []
    previous = signal.signal(signal.SIGHUP, lambda number, _frame: received.append(number))
    try:
        result = runner.invoke(app, ["reload"])
    finally:
        signal.signal(signal.SIGHUP, previous)
    assert result.exit_code == 0, result.output
    assert received == [signal.SIGHUP]
    assert str(tmp_path / "longform.pid") in result.output.replace("\n", "")


def test_check_config_and_run_refuse_the_same_configs(tmp_path: Path) -> None:
    no_platform = tmp_path / "none.toml"
    no_platform.write_text(f'[storage]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n')
    missing_dir = _config(tmp_path)
    missing_dir.write_text(
        missing_dir.read_text().replace(str(tmp_path / "db.sqlite"), str(tmp_path / "no" / "db"))
    )
    for path, problem in [(no_platform, "no platform is enabled"),
                          (missing_dir, f"mkdir -p {tmp_path / 'no'}")]:  # fmt: skip
        for command in ("check-config", "run"):
            result = runner.invoke(app, [command, "--config", str(path)])
            assert result.exit_code == 2, (command, result.output)
            assert problem in result.output.replace("\n", ""), (command, result.output)
            assert "[replay]" in result.output or problem != "no platform is enabled"
    assert not (tmp_path / "no").exists()  # neither created the directory


def test_errors_keep_text_in_square_brackets_and_never_crash_on_markup(tmp_path: Path) -> None:
    community = '[[communities]]\nplatform = "discord"\nid = "1"\nmoderators = "m"\n'
    result = runner.invoke(app, ["check-config", "--config", str(_config(tmp_path, community))])
    assert result.exit_code == 2
    assert "set [discord] enabled = true or remove the community" in result.output
    result = runner.invoke(
        app, ["check-config", "--config", str(_config(tmp_path, '"[/x]" = 1\n'))]
    )
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)  # not rich's MarkupError
    assert "replay.[/x]: unknown key" in result.output


def test_erase_member_names_an_unknown_platform_and_an_unknown_member(tmp_path: Path) -> None:
    config = _config(tmp_path)
    typo = runner.invoke(app, ["erase-member", "discrod", "nobody", "--config", str(config)])
    assert typo.exit_code == 2
    assert "unknown platform 'discrod'" in typo.output
    unknown = runner.invoke(app, ["erase-member", "discord", "nobody", "--config", str(config)])
    assert unknown.exit_code == 1
    assert "nothing is stored about member 'nobody' on discord" in unknown.output.replace("\n", " ")


def test_erase_member_and_feedback_report(tmp_path: Path) -> None:
    config = _config(tmp_path)
    now = datetime.now(UTC)
    with Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        store.messages.record(
            "discord", MessagePosted("m1", now, "discord:1", "c", "ana", "hi"), {}
        )
        for message, verdict, community in [("m1", Verdict.WRONG, "discord:1"),
                                            ("m2", Verdict.HELPFUL, "discord:1"),
                                            ("m3", Verdict.HELPFUL, "discord:2")]:  # fmt: skip
            store.feedback.add("discord", "pile_on", verdict, by="mod", at=now,
                               message_id=message, community=community)  # fmt: skip
    erased = runner.invoke(app, ["erase-member", "discord", "ana", "--config", str(config)])
    assert erased.exit_code == 0, erased.output
    assert "1 messages" in erased.stdout
    with Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        assert store.messages.get("discord", "m1") is None
    report = runner.invoke(app, ["evaluate", "--feedback", "--config", str(config)])
    assert report.exit_code == 0, report.output
    assert "pile_on" in report.stdout
    assert "0.67" in report.stdout  # in all communities
    assert "0.50" in report.stdout  # in discord:1
    assert "discord:2" in report.stdout
