import json
from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app

DEMO = Path(__file__).resolve().parents[1] / "bot" / "demo"
runner = CliRunner()


def _records(*files: Path) -> list[dict]:
    result = runner.invoke(app, ["replay", *map(str, files), "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_jsonl_schema_is_stable() -> None:
    for record in _records(DEMO / "01_pile_on_clinician.jsonl"):
        if record["type"] == "detection":
            assert set(record) == {"type", "signal", "message", "target", "score", "evidence",
                                   "words"}  # fmt: skip
            assert record["signal"] in {
                "pile_on",
                "ad_hominem",
                "escalation",
                "long_exchange",
                "forecast",
                "absent_insult",
            }
            # The words an insult rests on, as written; other signals rest on no words.
            assert bool(record["words"]) == (record["signal"] in {"ad_hominem", "absent_insult"})
        elif record["type"] == "outcome":  # issue 17: after the events that settle them
            assert set(record) == {"type", "action", "signal", "message", "to", "decided_at",
                                   "settled_at", "measures"}  # fmt: skip
            assert all(isinstance(v, float) for v in record["measures"].values())
        else:
            assert set(record) == {"type", "action", "message", "to", "text"}
            assert record["action"] in {
                "notice",
                "private_prompt",
                "slow_mode",
                "open_longform",
                "alert_moderators",
            }


def test_demo_pile_on_is_noticed_and_congratulations_are_not() -> None:
    pile = _records(DEMO / "01_pile_on_clinician.jsonl")
    assert any(r.get("signal") == "pile_on" and r["target"] == "dr_amara" for r in pile)
    congrats = _records(DEMO / "04_congratulations.jsonl")
    assert not [r for r in congrats if r["type"] == "detection" and r["signal"] != "long_exchange"]


def test_civil_exchange_is_offered_long_form_and_never_alerts() -> None:
    records = _records(DEMO / "03_sharp_but_civil.jsonl")
    detected = {r.get("signal") for r in records if r["type"] == "detection"}
    assert detected <= {"long_exchange", "forecast"}
    assert "long_exchange" in detected
    actions = [r for r in records if r["type"] == "action"]
    # One gentle long-form offer (a forecast and a long exchange share its cooldown), nothing else.
    assert [a["action"] for a in actions] == ["notice"]
    assert "long form" in actions[0]["text"]


def test_bad_lines_are_reported_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    good = (DEMO / "02_debate_turns_personal.jsonl").read_text()
    path.write_text('{"type": "message"}\n\xff not json\n' + good)
    result = runner.invoke(app, ["replay", str(path), "--format", "jsonl"])
    assert result.exit_code == 0
    assert "line=1" in result.stderr
    assert "line=2" in result.stderr
    assert any(json.loads(line)["type"] == "detection" for line in result.stdout.splitlines())


def test_check_policy_rejects_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[pile_on]\nmin_autors = 3\n")
    result = runner.invoke(app, ["check-policy", str(path)])
    assert result.exit_code == 2
    assert "min_autors" in result.stderr


def test_demo_runs() -> None:
    result = runner.invoke(app, ["demo"])
    assert result.exit_code == 0
    assert "pile_on" in result.stdout


def test_compare_shows_only_the_decisions_that_differ_in_text_and_jsonl() -> None:
    demo = str(DEMO / "01_pile_on_clinician.jsonl")
    base = ["replay", "--compare", "professional", "strict", demo, "--sentence-tier", "off"]
    as_json = runner.invoke(app, [*base, "--format", "jsonl"])
    assert as_json.exit_code == 0, as_json.output
    summary, *records = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert summary["type"] == "summary"
    assert (summary["a"], summary["b"]) == ("professional", "strict")
    assert summary["differences"] == len(records) > 0
    assert {r["only_in"] for r in records} <= {"A", "B"}
    assert {"B"} <= {r["only_in"] for r in records}  # strict notices the pile-on earlier
    assert all(set(r) == {"type", "only_in", "policy", "at", "action", "signal", "message",
                          "to", "conversation", "text"} for r in records)  # fmt: skip
    as_text = runner.invoke(app, base)
    assert as_text.exit_code == 0, as_text.output
    lines = as_text.stdout.splitlines()
    assert lines[0].startswith("A = professional: ")
    assert f"{len(records)} decisions differ:" in lines[1]
    assert len([line for line in lines if line.startswith("  only ")]) == len(records)
    same = runner.invoke(app, ["replay", "--compare", "strict", "strict", demo,
                               "--sentence-tier", "off"])  # fmt: skip
    assert "Both policies make the same decisions." in same.stdout


def test_the_text_timeline_shows_each_outcome_once_its_window_has_passed() -> None:
    result = runner.invoke(app, ["replay", str(DEMO / "01_pile_on_clinician.jsonl")])
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())  # rich wraps long lines
    jsonl = [r for r in _records(DEMO / "01_pile_on_clinician.jsonl") if r["type"] == "outcome"]
    assert jsonl, "the bundled pile-on settles no outcome"
    assert text.count("◷ outcome of ") == len(jsonl)
    assert "outcome of open_longform_space (message po-006" in text
    assert f"{len(jsonl)} outcomes." in text
