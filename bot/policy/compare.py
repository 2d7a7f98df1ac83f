"""What another policy would have done: the same events through two policies, and the decisions
that differ.

How it works: each policy gets its own engine and sees every event in the same order, with the
clock ticked as in ``runner.replay``. A decision is identified by what it is (its kind, signal,
message and recipient), not by its wording, so two policies that send the same prompt with other
words agree on it. The result lists each decision only one policy made, in time order. Scores can
be given per message (the dashboard passes the scores the service stored, so no model runs);
otherwise the scorer scores each text, as in a replay.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TextIO

from bot.core.decisions import (
    UNDO_WORDS,
    Decision,
    LiftSlowMode,
    SetSlowMode,
    UndoActions,
    recipient,
)
from bot.core.engine import Engine
from bot.core.events import Event, MessageEdited, MessagePosted
from bot.core.scoring import Scorer, Scores
from bot.core.settings import Policy
from bot.storage.codec import kind_name

Identity = tuple[str, str, str, str]


@dataclass(frozen=True, slots=True)
class Difference:
    """A decision only one policy made: ``side`` is "A" or "B", ``policy`` its name."""

    side: str
    policy: str
    at: datetime
    kind: str
    signal: str
    message_id: str
    recipient: str | None
    conversation: str
    text: str

    def record(self) -> dict[str, Any]:
        """The stable JSONL schema of a difference."""
        return {"type": "difference", "only_in": self.side, "policy": self.policy,
                "at": self.at.isoformat(), "action": self.kind, "signal": self.signal,
                "message": self.message_id, "to": self.recipient,
                "conversation": self.conversation, "text": self.text}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Comparison:
    """Two policies over the same events: how many decisions each made, and where they differ."""

    policy_a: str
    policy_b: str
    events: int
    decisions_a: int
    decisions_b: int
    differences: tuple[Difference, ...]


def compare(
    policy_a: Policy,
    policy_b: Policy,
    events: Iterable[Event],
    scorer: Scorer,
    scores: Mapping[str, Scores] | None = None,
) -> Comparison:
    """Replay ``events`` through both policies; see the module docstring."""
    ordered = sorted(events, key=lambda event: event.at)
    known = scores or {}
    made_a = _decisions(Engine(policy_a, scorer), ordered, scorer, known)
    made_b = _decisions(Engine(policy_b, scorer), ordered, scorer, known)
    only_a = [d for key, d in made_a.items() if key not in made_b]
    only_b = [d for key, d in made_b.items() if key not in made_a]
    differences = [_difference("A", policy_a.name, d) for d in only_a]
    differences += [_difference("B", policy_b.name, d) for d in only_b]
    differences.sort(key=lambda d: (d.at, d.side, d.kind, d.message_id))
    return Comparison(policy_a.name, policy_b.name, len(ordered), len(made_a), len(made_b),
                      tuple(differences))  # fmt: skip


def write_text(comparison: Comparison, out: TextIO) -> None:
    """A readable account: the totals, then each decision only one policy made."""
    out.write(f"A = {comparison.policy_a}: {comparison.decisions_a} decisions; "
              f"B = {comparison.policy_b}: {comparison.decisions_b} decisions; "
              f"{comparison.events} events.\n")  # fmt: skip
    if not comparison.differences:
        out.write("Both policies make the same decisions.\n")
        return
    out.write(f"{len(comparison.differences)} decisions differ:\n")
    for d in comparison.differences:
        to = f" to {d.recipient}" if d.recipient else ""
        out.write(f"  only {d.side} ({d.policy})  {d.at:%Y-%m-%d %H:%M}  {d.kind} "
                  f"[{d.signal}] on {d.message_id}{to} in {d.conversation}: {d.text}\n")  # fmt: skip


def write_jsonl(comparison: Comparison, out: TextIO) -> None:
    """One JSON object a line: a summary line, then one per difference."""
    summary = {"type": "summary", "a": comparison.policy_a, "b": comparison.policy_b,
               "events": comparison.events, "decisions_a": comparison.decisions_a,
               "decisions_b": comparison.decisions_b,
               "differences": len(comparison.differences)}  # fmt: skip
    out.write(json.dumps(summary) + "\n")
    for difference in comparison.differences:
        out.write(json.dumps(difference.record(), ensure_ascii=False) + "\n")


def _decisions(
    engine: Engine, events: list[Event], scorer: Scorer, scores: Mapping[str, Scores]
) -> dict[Identity, Decision]:
    made: dict[Identity, Decision] = {}
    for decision in _run(engine, events, scorer, scores):
        made.setdefault(_identity(decision), decision)
    return made


def _run(
    engine: Engine, events: list[Event], scorer: Scorer, scores: Mapping[str, Scores]
) -> Iterator[Decision]:
    last = None
    for event in events:
        yield from engine.tick(event.at).actions
        given = scores.get(event.id) if isinstance(event, MessagePosted) else None
        if given is None and isinstance(event, MessagePosted | MessageEdited):
            given = scorer.score([event.text])[0]
        yield from engine.feed(event, given).actions
        last = event.at
    if last is not None:
        yield from engine.tick(last + timedelta(days=1)).actions


def _identity(decision: Decision) -> Identity:
    return (kind_name(decision), str(decision.signal), decision.message_id,
            recipient(decision) or "")  # fmt: skip


def _difference(side: str, policy: str, decision: Decision) -> Difference:
    conversation = decision.conversation
    return Difference(side, policy, decision.at, kind_name(decision), str(decision.signal),
                      decision.message_id, recipient(decision),
                      conversation.thread or conversation.channel,
                      _text(decision))  # fmt: skip


def _text(decision: Decision) -> str:
    # What the decision would send, or what it would do (as a replay's timeline words it).
    if isinstance(decision, SetSlowMode):
        return (f"Slow mode: one message per member every {decision.seconds} s until "
                f"{decision.until:%H:%M}.")  # fmt: skip
    if isinstance(decision, LiftSlowMode):
        return "Slow mode lifted."
    if isinstance(decision, UndoActions):
        return UNDO_WORDS
    return decision.text
