"""The service's commands: check-config, reload, erase-member, evaluate --feedback."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app
from bot.core.events import MessagePosted
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
    assert "longform run --pid-file" in result.output


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
