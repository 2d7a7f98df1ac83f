"""The moderators' daily digest: what Longform noticed, what it did, what was marked wrong.

Plain text, short, with counts rather than quotes: the digest lands in a channel many
moderators read, so it names signals and places, never what members wrote.

How it counts: the audit log records decisions, not detections, and one detection can lead to
several decisions (an escalation: a notice, a slow mode, a long-form space and an alert), each
with a line when decided and another when done. A detection is therefore counted once, as the
signal and message its decisions share; actions are counted apart, each once, by what became of
them. A detection whose every action was held back by a cooldown left no decision, so it is not
in the audit and not in the digest.

Every community with a ``[[communities]]`` table gets a digest, and so does any other community
Longform decided something in during the day (the bot serves every group it is in): its digest
goes where the platform finds that community's moderators, which on Discord and Telegram needs a
``moderators`` setting, so for an unlisted community it can be printed (`longform digest`) but
not delivered; the job logs why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import Config
from bot.runtime.outcome_report import summary_line
from bot.storage.audit import AuditEntry
from bot.storage.outcomes import StoredOutcome
from bot.storage.store import Store

_DONE = ("sent", "downgraded")
# The first line each decision gets: decided (into the outbox), or held back right away.
_FIRST = ("decided", "suppressed_shadow", "opted_out", "held_back")
# The most audit lines one round of digests reads (a day of a very busy bot); lines past it are
# left out of the counts.
MAX_ENTRIES = 200_000


@dataclass(frozen=True, slots=True)
class Digest:
    """One community's digest: its core id (``platform:id``), and the text moderators read."""

    community: str
    text: str


def digest_text(
    community: str, entries: Sequence[AuditEntry], feedback: Mapping[str, tuple[int, int]]
) -> str:
    """The digest of ``entries`` (the last day's audit lines) and the feedback counts so far."""
    if not entries:
        return f"Longform daily digest for {community}: nothing noticed in the last 24 hours."
    first = [e for e in entries if e.outcome in _FIRST]
    detected = {(e.signal, e.community, e.channel, e.thread, e.message_id): e for e in first}
    noticed = Counter(e.signal for e in detected.values())
    decided = Counter(e.kind for e in first)
    shadow = Counter(e.kind for e in entries if e.outcome == "suppressed_shadow")
    done = Counter(e.kind for e in entries if e.outcome in _DONE)
    failed = Counter(e.kind for e in entries if e.outcome == "failed")
    places = Counter(e.place for e in detected.values())
    lines = [f"Longform daily digest for {community} (last 24 hours)"]
    lines.append("Noticed: " + _listed(noticed))
    if decided:
        lines.append("Actions decided: " + _listed(decided))
    if done:
        lines.append("Done: " + _listed(done))
    if shadow:
        lines.append("Shadow mode, would have done: " + _listed(shadow))
    held = Counter(e.kind for e in entries if e.outcome == "held_back")
    if held:
        lines.append("Held back as the experiment's control group: " + _listed(held))
    if failed:
        lines.append("Could not do (see the audit log): " + _listed(failed))
    if places:
        lines.append(
            "Busiest places: " + ", ".join(f"#{p} ({n})" for p, n in places.most_common(3))
        )
    marked = {signal: wrong for signal, (_, wrong) in feedback.items() if wrong}
    if marked:
        lines.append("Marked wrong by moderators so far: " + _listed(Counter(marked)))
    return "\n".join(lines)


def digests(config: Config, store: Store, now: datetime, community: str = "") -> list[Digest]:
    """The digest of the day before ``now`` for each community (only ``community``, a core id
    such as ``discord:123``, when given): the configured ones, then any other with decisions."""
    entries = store.audit.entries(since=now - timedelta(days=1), until=now, limit=MAX_ENTRIES)
    by_community: dict[str, list[AuditEntry]] = {}
    for entry in entries:
        by_community.setdefault(entry.community, []).append(entry)
    names = {f"{c.platform}:{c.id}": c.name for c in config.communities}
    keys = [*names, *(key for key in by_community if key not in names)]
    if community:
        keys = [key for key in keys if key == community] or [community]
    feedback = store.feedback.feedback_counts
    return [
        Digest(key, _with_outcomes(
            digest_text(names.get(key) or key, by_community.get(key, []), feedback(key)),
            store.outcomes.read(key)))
        for key in keys
    ]  # fmt: skip


def _with_outcomes(text: str, outcomes: Sequence[StoredOutcome]) -> str:
    """The digest with its one-line outcomes summary, once anything has been measured."""
    return f"{text}\n{summary_line(outcomes)}" if outcomes else text


def _listed(counts: Counter[str]) -> str:
    return (
        ", ".join(f"{name.replace('_', ' ')} {count}" for name, count in counts.most_common())
        or "nothing"
    )
