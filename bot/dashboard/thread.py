"""A thread as the dashboard shows it: heat over time, its marks, and a pile-on's reply graph.

How it works: the heat is recomputed from the logged messages' stored scores by the core's own
``EscalationDetector`` with the policy's escalation settings, so the line is the one the engine
followed (up to the attack score, which the engine derives from the text and is taken here from
the scorer's ``attack``). Marks come from the audit: a decision made is "noticed", a decision done
or withheld is "acted". The reply graph links each message's author to the author it replied to
or the members it mentioned; the target is the member most replied to in the pile-on's evidence,
and a newcomer is an author whose first message in the thread came within the pile-on window
of their pressing message (the engine's "new to the thread").
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from bot.core.escalation import EscalationDetector
from bot.core.scoring import hostility
from bot.core.settings import Settings
from bot.dashboard import charts
from bot.dashboard.queries import DONE, NOTICED, WITHHELD
from bot.storage.audit import AuditEntry
from bot.storage.records import LoggedMessage


@dataclass(frozen=True, slots=True)
class ReplyGraph:
    """The graph's target, edges and newcomers."""

    target: str
    edges: tuple[charts.Edge, ...]
    newcomers: frozenset[str]


def heat_series(messages: list[LoggedMessage], settings: Settings) -> list[float]:
    """The conversation's heat score after each message, in order."""
    detector = EscalationDetector()
    escalation = settings.escalation
    values = []
    for m in messages:
        detector.add(m.at, m.author, m.message_id, hostility(m.scores),
                     m.scores.get("attack", 0.0), escalation)  # fmt: skip
        values.append(detector.score)
    return values


def marks(entries: list[AuditEntry]) -> list[charts.Mark]:
    """The audit rows worth marking on the timeline."""
    found = []
    for e in entries:
        if e.outcome in NOTICED and e.outcome not in WITHHELD:
            found.append(charts.Mark(e.at, f"{e.signal}: {e.kind}", action=False))
        if e.outcome in DONE or e.outcome in WITHHELD:
            found.append(charts.Mark(e.at, f"{e.kind} {e.outcome}", action=True))
    return found


def reply_graph(
    messages: list[LoggedMessage], evidence: set[str], window_minutes: float
) -> ReplyGraph | None:
    """The pile-on's graph over ``evidence`` messages (and their thread), or None if no edges."""
    authors = {m.message_id: m.author for m in messages}
    first_seen: dict[str, LoggedMessage] = {}
    for m in messages:
        first_seen.setdefault(m.author, m)
    edges: list[charts.Edge] = []
    pressed: Counter[str] = Counter()
    newcomers: set[str] = set()
    window = timedelta(minutes=window_minutes)
    for m in messages:
        if m.message_id not in evidence:
            continue
        targets = [m.reply_to_author or authors.get(m.reply_to or "", ""), *m.mentions]
        for target in dict.fromkeys(t for t in targets if t and t != m.author):
            edges.append(charts.Edge(m.author, target))
            pressed[target] += 1
            if m.at - first_seen[m.author].at <= window:
                newcomers.add(m.author)
    if not edges:
        return None
    target = pressed.most_common(1)[0][0]
    unique = tuple(dict.fromkeys(edges))
    return ReplyGraph(target, unique, frozenset(newcomers - {target}))
