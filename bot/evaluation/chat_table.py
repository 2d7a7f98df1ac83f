"""The chat evaluation as tables: each measure with its bootstrap 95% interval, beside its target.

Held-out rows and in-sample rows (what the shipped models are trained on) are two separate
tables, so an in-sample number is never read as an estimate of quality.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.evaluation.chat import ChatRow
from bot.evaluation.metrics import Confusion, Estimate, bootstrap, interval
from bot.scoring.embedded import CASCADE_NAME, FAST_NAME

COLUMNS = ("dataset", "rows judged", "tier", "n", "precision", "recall", "F1",
           "flagged per 1,000", "target", "met")  # fmt: skip
RESAMPLES = 1000
SEED = 0
_TIER_NAMES = {CASCADE_NAME: f"cascade ({CASCADE_NAME})", FAST_NAME: f"fast tier ({FAST_NAME})"}
_MEASURES: dict[str, Callable[[Confusion], float]] = {
    "precision": lambda c: c.precision,
    "recall": lambda c: c.recall,
    "F1": lambda c: c.f1,
    "false alarms": lambda c: c.false_alarms,
}
# Which measures each kind of row has: a group of negatives has no recall, and so on.
_SHOWN = {
    "verdict": ("precision", "recall", "F1", "false alarms"),
    "negatives": ("false alarms",),
    "positives": ("recall",),
}


def estimates(row: ChatRow) -> dict[str, Estimate]:
    """The row's measures with seeded bootstrap intervals (empty for a row with no messages)."""
    c = row.confusion
    if not c.total:
        return {}
    resampled = bootstrap(c, RESAMPLES, SEED)
    shown = [m for m in _SHOWN[row.kind] if m != "precision" or c.tp + c.fp]
    return {m: interval(c, resampled, _MEASURES[m]) for m in shown}


def _cell(estimate: Estimate | None, per_thousand: bool = False) -> str:
    if estimate is None:
        return ""
    if per_thousand:
        return f"{estimate.value:.0f} ({estimate.low:.0f}–{estimate.high:.0f})"
    return f"{estimate.value:.3f} ({estimate.low:.3f}–{estimate.high:.3f})"


def cells(row: ChatRow) -> list[str]:
    """One table line: each measure as "value (low–high)", and the target's verdict."""
    found = estimates(row)
    target, verdict = row.target, ""
    if target is not None and target.measure in found:
        verdict = target.verdict(found[target.measure])
    judged = f"{row.judged}; sample {row.sampled}" if row.sampled else row.judged
    return [
        row.dataset, judged, _TIER_NAMES.get(row.tier, row.tier), f"{row.confusion.total:,}",
        _cell(found.get("precision")), _cell(found.get("recall")), _cell(found.get("F1")),
        _cell(found.get("false alarms"), per_thousand=True),
        target.describe() if target else "", verdict,
    ]  # fmt: skip


def ordered(rows: Sequence[ChatRow]) -> list[ChatRow]:
    """Rows grouped by what they judge, in the order first seen, tiers side by side."""
    first: dict[str, int] = {}
    for row in rows:
        first.setdefault(row.key, len(first))
    return sorted(rows, key=lambda row: first[row.key])


def sections(rows: Sequence[ChatRow]) -> list[tuple[str, list[list[str]]]]:
    """The held-out table and the in-sample table, each a title and its lines (empty ones left
    out)."""
    held = [cells(r) for r in ordered(rows) if not r.in_sample]
    seen = [cells(r) for r in ordered(rows) if r.in_sample]
    titles = (
        "Chat evaluation, held out (never trained on)",
        "Chat evaluation, IN-SAMPLE (trained on, or being retrained on: not an estimate of "
        "quality; cross-validated numbers are in training/README.md)",
    )
    return [(title, lines) for title, lines in zip(titles, (held, seen), strict=True) if lines]


LEGEND = (
    "Each measure: value (bootstrap 95% interval: 1,000 resamples of the judged messages, seed 0). "
    "'flagged per 1,000': on civil or other rows that should not be flagged, false alarms; on "
    "verdict rows, false alarms per 1,000 negatives. 'met' is judged on the value."
)
