"""The moderators' daily digest: what Longform noticed, what it did, what was marked wrong.

Plain text, short, with counts rather than quotes: the digest lands in a channel many
moderators read, so it names signals and places, never what members wrote.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from bot.storage.audit import AuditEntry

_DONE = ("sent", "downgraded")


def digest_text(
    community: str, entries: Sequence[AuditEntry], feedback: Mapping[str, tuple[int, int]]
) -> str:
    """The digest of ``entries`` (the last day's audit lines) and the feedback counts so far."""
    if not entries:
        return f"Longform daily digest for {community}: nothing noticed in the last 24 hours."
    decided = Counter(e.signal for e in entries if e.outcome == "decided")
    shadow = Counter(e.kind for e in entries if e.outcome == "suppressed_shadow")
    done = Counter(e.kind for e in entries if e.outcome in _DONE)
    failed = Counter(e.kind for e in entries if e.outcome == "failed")
    places = Counter(e.place for e in entries if e.outcome in ("decided", "suppressed_shadow"))
    lines = [f"Longform daily digest for {community} (last 24 hours)"]
    noticed = decided + Counter(e.signal for e in entries if e.outcome == "suppressed_shadow")
    lines.append("Noticed: " + _listed(noticed))
    if done:
        lines.append("Done: " + _listed(done))
    if shadow:
        lines.append("Shadow mode, would have done: " + _listed(shadow))
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


def _listed(counts: Counter[str]) -> str:
    return (
        ", ".join(f"{name.replace('_', ' ')} {count}" for name, count in counts.most_common())
        or "nothing"
    )
