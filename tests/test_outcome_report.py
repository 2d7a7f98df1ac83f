"""The outcomes report: intervals that find a known effect and claim none where there is none;
outcomes stored beside the audit, once; the service holding back its control group."""

from __future__ import annotations

import io
import json
import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from adapters.replay.reader import parse_event
from bot.core.decisions import Signal
from bot.core.events import ConversationKey
from bot.core.outcomes import OutcomeRecord
from bot.runtime.app import build_service
from bot.runtime.outcome_report import MIN_PER_ARM, NOT_ENOUGH, compare, newcombe, wilson, write
from bot.storage.outcomes import StoredOutcome
from bot.storage.store import Store
from tests.runtime_support import recent_lines, service_config

AT = datetime(2026, 12, 1, tzinfo=UTC)


def _stored(arm: str, edited: float, heat: float) -> StoredOutcome:
    return StoredOutcome("discord:1", "ad_hominem", "prompt_member:ad_hominem_author", arm,  # type: ignore[arg-type]
                         AT, {"edited": edited, "later_heat": heat})  # fmt: skip


def _synthetic(
    n: int, edit_rates: tuple[float, float], heat_means: tuple[float, float], seed: int
) -> list[StoredOutcome]:
    rng = random.Random(seed)
    found = []
    for arm, rate, mean in (
        ("treated", edit_rates[0], heat_means[0]),
        ("control", edit_rates[1], heat_means[1]),
    ):
        found += [_stored(arm, float(rng.random() < rate), rng.gauss(mean, 0.15)) for _ in range(n)]
    return found


def _by_outcome(items: list[StoredOutcome]) -> dict[str, object]:
    return {c.outcome: c for c in compare(items)}


def test_a_known_effect_is_found_with_the_right_sign() -> None:
    found = _by_outcome(_synthetic(400, (0.30, 0.08), (0.35, 0.55), seed=1))
    edited, heat = found["edited"], found["later_heat"]
    assert edited.low > 0
    assert edited.low < 0.22 < edited.high
    assert edited.verdict == "higher when sent"  # type: ignore[attr-defined]
    assert heat.high < 0
    assert heat.low < -0.2 < heat.high
    assert heat.interval == "bootstrap"  # type: ignore[attr-defined]


def test_no_effect_is_not_claimed() -> None:
    # The same outcomes in both arms: no difference, and the report must not claim one.
    same = _synthetic(200, (0.2, 0.2), (0.4, 0.4), seed=4)
    treated = [s for s in same if s.arm == "treated"]
    mirrored = treated + [replace(s, arm="control") for s in treated]
    for comparison in _by_outcome(mirrored).values():
        assert comparison.low < 0 < comparison.high, comparison  # type: ignore[attr-defined]
        assert comparison.verdict == "no clear difference when sent"  # type: ignore[attr-defined]


def test_false_claims_stay_near_five_percent_when_there_is_no_effect() -> None:
    # 400 experiments without an effect: a 95% interval wrongly excludes 0 in about 5% of them.
    rng = random.Random(11)
    claimed = 0
    for _ in range(400):
        k1 = sum(rng.random() < 0.2 for _ in range(150))
        k0 = sum(rng.random() < 0.2 for _ in range(150))
        _, low, high = newcombe(k1, 150, k0, 150)
        claimed += not (low <= 0 <= high)
    assert claimed / 400 <= 0.08
    means = 0
    for seed in range(30):
        comparison = _by_outcome(_synthetic(60, (0.2, 0.2), (0.4, 0.4), seed=100 + seed))[
            "later_heat"
        ]
        means += not (comparison.low <= 0 <= comparison.high)  # type: ignore[attr-defined]
    assert means <= 4  # expected 1.5 of 30


def test_small_arms_are_not_enough_data() -> None:
    found = _by_outcome(_synthetic(MIN_PER_ARM - 1, (0.9, 0.0), (0.1, 0.9), seed=3))
    for comparison in found.values():
        assert comparison.difference is None  # type: ignore[attr-defined]
        assert comparison.verdict.startswith(NOT_ENOUGH)  # type: ignore[attr-defined]


def test_wilson_and_newcombe_match_published_values() -> None:
    # Newcombe (1998), example (a): 56/70 against 48/80: 0.2000, interval 0.0524 to 0.3339.
    d, low, high = newcombe(56, 70, 48, 80)
    assert (round(d, 4), round(low, 4), round(high, 4)) == (0.2, 0.0524, 0.3339)
    assert tuple(round(v, 4) for v in wilson(0, 10)) == (0.0, 0.2775)


def test_report_formats_say_which_interval() -> None:
    comparisons = compare(_synthetic(50, (0.5, 0.1), (0.3, 0.5), seed=2))
    text, md, lines = io.StringIO(), io.StringIO(), io.StringIO()
    write(comparisons, [], "text", text)
    write(comparisons, [], "markdown", md)
    write(comparisons, [], "jsonl", lines)
    assert "Newcombe" in text.getvalue()
    assert "bootstrap" in text.getvalue()
    assert md.getvalue().startswith("| signal | action |")
    parsed = [json.loads(line) for line in lines.getvalue().splitlines()]
    assert {p["outcome"] for p in parsed} == {"edited", "later_heat"}
    assert all(p["type"] == "comparison" for p in parsed)


def _record(message_id: str) -> OutcomeRecord:
    return OutcomeRecord("post_notice", ConversationKey("discord:1", "general", "t1"), message_id,
                         Signal.ESCALATION, "t1", "", AT, AT + timedelta(hours=1),
                         (("cooled_15", 1.0), ("heat_before", 2.0)))  # fmt: skip


def test_outcomes_are_stored_once_per_decision(tmp_path: Path) -> None:
    with Store.open(f"sqlite:///{tmp_path}/o.db") as store:
        assert store.outcomes.add([_record("m1"), _record("m2")], "discord") == 2
        assert store.outcomes.add([_record("m1")], "discord") == 0  # remade after a restart
        read = store.outcomes.read("discord:1")
    assert [r.measures["heat_before"] for r in read] == [2.0, 2.0]
    assert {r.arm for r in read} == {"excluded"}  # no audit line: neither arm


def _policy_file(tmp_path: Path, holdback: float) -> Path:
    preset = Path(__file__).resolve().parents[1] / "policies" / "strict.toml"
    path = tmp_path / "held.toml"
    text = preset.read_text().replace("holdback = 0\n", f"holdback = {holdback}\n")
    assert f"holdback = {holdback}" in text
    path.write_text(text)
    return path


async def test_the_service_holds_back_its_control_group_and_stores_outcomes(tmp_path: Path) -> None:
    service = build_service(service_config(tmp_path, policy=str(_policy_file(tmp_path, 1.0))))
    runtime = service.runtime
    await runtime.open()
    last = None
    try:
        for line in recent_lines("01_pile_on_clinician.jsonl"):
            event = parse_event(json.loads(line))
            if hasattr(event, "community"):
                event = replace(event, community=f"replay:{event.community}")
            await runtime.on_event(event)
            last = event.at
        assert last is not None
        await runtime.tick(last + timedelta(hours=2))
        entries = runtime.store.audit.entries()
        held = [e for e in entries if e.outcome == "held_back"]
        assert held
        assert "alert_moderators" not in {e.kind for e in held}
        decided = {e.kind for e in entries if e.outcome == "decided"}
        assert decided == {"alert_moderators"}  # only alerts reach anyone
        stored = runtime.store.outcomes.read()
        assert stored
        assert {s.arm for s in stored} == {"control"}
        assert "held back as a control group" in await _status(runtime)
    finally:
        await runtime.close()
        runtime.store.close()


async def _status(runtime: object) -> str:
    from bot.runtime.control import Control

    return await Control(runtime).status("replay:clinicians-hub")  # type: ignore[arg-type]


def _store_with_an_experiment(tmp_path: Path) -> Path:
    from bot.core.decisions import Evidence, PostNotice
    from bot.storage.audit import AuditEntry, Provenance
    from bot.storage.codec import decision_key
    from bot.storage.schema import Outcome

    config = tmp_path / "config.toml"
    config.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n[replay]\nenabled = true\n'
    )
    live = Provenance("replay", "strict", "1", "live")
    place = ConversationKey("replay:c", "general", "t1")
    with Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        for i in range(60):
            notice = PostNotice(place, f"m{i}", AT, Signal.ESCALATION, "r", Evidence(), text="n")
            outcome = Outcome.SENT if i % 2 else Outcome.HELD_BACK
            store.audit.append(AuditEntry.of(notice, outcome, at=AT, provenance=live,
                                             decision_key=decision_key(notice, "replay")))  # fmt: skip
            cooled = float(i % 2 == 1 and i % 10 != 1)  # sent: 80% cool; held back: none
            store.outcomes.add([OutcomeRecord("post_notice", place, f"m{i}", Signal.ESCALATION, "t1", "",
                                              AT, AT + timedelta(hours=1), (("cooled_15", cooled),))], "replay")  # fmt: skip
    return config


def test_outcomes_command_reports_the_experiment(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    config = str(_store_with_an_experiment(tmp_path))
    runner = CliRunner()
    md = runner.invoke(app, ["outcomes", "--config", config, "--format", "markdown"])
    assert md.exit_code == 0, md.output
    assert "| escalation | post_notice | cooled_15 (rate) | 30 | 30 | 0.800 | 0.000 |" in md.stdout
    assert "higher when sent" in md.stdout
    lines = runner.invoke(
        app, ["outcomes", "--config", config, "--format", "jsonl", "--community", "replay:c"]
    )
    [row] = [json.loads(line) for line in lines.stdout.splitlines()]
    assert (row["n_treated"], row["n_control"], row["interval"]) == (30, 30, "Newcombe (Wilson)")
    later = runner.invoke(app, ["outcomes", "--config", config, "--since", "2026-12-02"])
    assert "No outcomes stored yet." in later.stdout
    bad = runner.invoke(app, ["outcomes", "--config", config, "--since", "yesterday"])
    assert bad.exit_code == 2
    assert "use YYYY-MM-DD" in bad.output
    wrong = runner.invoke(app, ["outcomes", "--config", config, "--format", "csv"])
    assert wrong.exit_code == 2
    assert "text, jsonl, markdown" in wrong.output


def test_digest_carries_the_one_line_summary(tmp_path: Path) -> None:
    from bot.config import load_config
    from bot.runtime.digest import digests

    config = _store_with_an_experiment(tmp_path)
    with Store.open(f"sqlite:///{tmp_path / 'db.sqlite'}") as store:
        [found] = digests(load_config(config), store, AT + timedelta(hours=2), "replay:c")
    assert (
        "Outcomes: 30 sent and 30 in the control group measured so far; 1 clear difference(s)"
        in found.text
    )
    assert "Held back as the experiment's control group: post notice 30" in found.text


def test_alert_acknowledgement_and_verdict_are_timed(tmp_path: Path) -> None:
    from bot.core.decisions import AlertModerators, Evidence
    from bot.storage.audit import AuditEntry, Provenance
    from bot.storage.codec import decision_key
    from bot.storage.schema import Outcome, Verdict

    alert = AlertModerators(ConversationKey("replay:c", "general", "t1"), "m1", AT,
                            Signal.PILE_ON, "r", Evidence(), text="Look")  # fmt: skip
    key = decision_key(alert, "replay")
    live = Provenance("replay", "strict", "1", "live")
    with Store.open(f"sqlite:///{tmp_path}/a.db") as store:
        store.audit.append(
            AuditEntry.of(alert, Outcome.SENT, at=AT, provenance=live, decision_key=key)
        )
        assert (
            store.outcomes.acknowledge(key, by_platform="replay", at=AT + timedelta(minutes=6))
            == 6.0
        )
        assert (
            store.outcomes.acknowledge(key, by_platform="replay", at=AT + timedelta(minutes=9))
            is None
        )
        store.feedback.add("replay", "pile_on", Verdict.WRONG, by="mod", at=AT + timedelta(minutes=12),
                           message_id="m1", community="replay:c")  # fmt: skip
        [found] = store.outcomes.alerts("replay:c")
        assert store.outcomes.read() == []  # an acknowledgement is not an intervention's outcome
    assert (found.minutes_to_ack, found.minutes_to_verdict, found.verdict) == (6.0, 12.0, "wrong")
    out = io.StringIO()
    write([], [found], "text", out)
    assert (
        "1 sent, 1 acknowledged (median 6.0 min), 1 judged, median 12.0 min to a verdict"
        in out.getvalue()
    )
