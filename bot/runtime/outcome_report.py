"""The outcomes report: does an intervention help, treated against control, with intervals.

How it works: stored outcomes (``bot.storage.outcomes``) are grouped by signal and action; within a
group, each outcome is compared between the interventions that were sent (treated) and those the
experiment held back or shadow mode kept (control). A rate's difference gets Newcombe's hybrid
score interval built from the two Wilson intervals (method 10 of Newcombe 1998); a mean's gets a
percentile bootstrap (2,000 resamples of each arm, fixed seed, so the report is reproducible).
Both are 95% intervals. Below ``MIN_PER_ARM`` values in either arm the report says "not enough
data yet" instead of a difference; an interval that includes 0 is "no clear difference".
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from statistics import fmean, median
from typing import Any, TextIO

from bot.core.outcomes import RATES
from bot.storage.outcomes import AlertOutcome, StoredOutcome

MIN_PER_ARM = 20
Z95 = 1.959964
BOOTSTRAP_REPS = 2_000
BOOTSTRAP_SEED = 17
NOT_ENOUGH = "not enough data yet"


@dataclass(frozen=True, slots=True)
class Comparison:
    """One outcome of one signal and action, treated against control."""

    signal: str
    action: str
    outcome: str
    statistic: str  # "rate" or "mean"
    n_treated: int
    n_control: int
    treated: float | None
    control: float | None
    difference: float | None
    low: float | None
    high: float | None
    interval: str  # "Newcombe (Wilson)" or "bootstrap"
    verdict: str


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval of a proportion; (0, 1) for no data."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(k1: int, n1: int, k0: int, n0: int) -> tuple[float, float, float]:
    """p1 - p0 and Newcombe's hybrid score 95% interval of it (both n must be positive)."""
    p1, p0 = k1 / n1, k0 / n0
    l1, u1 = wilson(k1, n1)
    l0, u0 = wilson(k0, n0)
    d = p1 - p0
    return (
        d,
        d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2),
        d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2),
    )


def bootstrap(treated: Sequence[float], control: Sequence[float]) -> tuple[float, float, float]:
    """mean(treated) - mean(control) and its 95% percentile-bootstrap interval (seeded)."""
    rng = random.Random(BOOTSTRAP_SEED)
    d = fmean(treated) - fmean(control)
    diffs = sorted(
        fmean(rng.choices(treated, k=len(treated))) - fmean(rng.choices(control, k=len(control)))
        for _ in range(BOOTSTRAP_REPS)
    )
    return d, diffs[int(0.025 * BOOTSTRAP_REPS)], diffs[int(0.975 * BOOTSTRAP_REPS) - 1]


def compare(outcomes: Iterable[StoredOutcome]) -> list[Comparison]:
    """Every (signal, action, outcome) comparison, in a stable order."""
    groups: dict[tuple[str, str], list[StoredOutcome]] = {}
    for item in outcomes:
        if item.arm != "excluded":
            groups.setdefault((item.signal, item.action), []).append(item)
    found: list[Comparison] = []
    for (signal, action), items in sorted(groups.items()):
        names = sorted({name for item in items for name in item.measures})
        for name in names:
            treated = [i.measures[name] for i in items if i.arm == "treated" and name in i.measures]
            control = [i.measures[name] for i in items if i.arm == "control" and name in i.measures]
            found.append(_comparison(signal, action, name, treated, control))
    return found


def _comparison(
    signal: str, action: str, name: str, treated: list[float], control: list[float]
) -> Comparison:
    rate = name in RATES
    statistic, interval = ("rate", "Newcombe (Wilson)") if rate else ("mean", "bootstrap")
    t_value = fmean(treated) if treated else None
    c_value = fmean(control) if control else None
    base = (signal, action, name, statistic, len(treated), len(control), t_value, c_value)
    if len(treated) < MIN_PER_ARM or len(control) < MIN_PER_ARM:
        why = NOT_ENOUGH + ("" if control else " (no control group: [experiment] holdback is 0?)")
        return Comparison(*base, None, None, None, interval, why)
    if rate:
        k1, k0 = round(sum(treated)), round(sum(control))
        d, low, high = newcombe(k1, len(treated), k0, len(control))
    else:
        d, low, high = bootstrap(treated, control)
    verdict = "no clear difference" if low <= 0 <= high else ("higher" if low > 0 else "lower")
    return Comparison(*base, d, low, high, interval, verdict + " when sent")


def alert_lines(alerts: Sequence[AlertOutcome]) -> list[dict[str, Any]]:
    """Per signal: alerts sent, how many got a verdict, median minutes to it, share helpful."""
    by_signal: dict[str, list[AlertOutcome]] = {}
    for alert in alerts:
        by_signal.setdefault(alert.signal, []).append(alert)
    lines = []
    for signal, items in sorted(by_signal.items()):
        judged = [a for a in items if a.verdict is not None]
        helpful = sum(a.verdict == "helpful" for a in judged)
        low, high = wilson(helpful, len(judged))
        minutes = [a.minutes_to_verdict for a in judged if a.minutes_to_verdict is not None]
        acked = [a.minutes_to_ack for a in items if a.minutes_to_ack is not None]
        lines.append({"type": "alerts", "signal": signal, "sent": len(items), "acknowledged": len(acked),
                      "median_minutes_to_ack": round(median(acked), 1) if acked else None,
                      "judged": len(judged),
                      "median_minutes_to_verdict": round(median(minutes), 1) if minutes else None,
                      "helpful_rate": round(helpful / len(judged), 3) if judged else None,
                      "helpful_low": round(low, 3), "helpful_high": round(high, 3)})  # fmt: skip
    return lines


def summary_line(outcomes: Sequence[StoredOutcome]) -> str:
    """One line for the daily digest: how many interventions were measured, in which arm."""
    treated = sum(o.arm == "treated" for o in outcomes)
    control = sum(o.arm == "control" for o in outcomes)
    if not treated and not control:
        return "Outcomes: none measured yet."
    found = [
        c
        for c in compare(outcomes)
        if c.difference is not None and c.verdict != "no clear difference when sent"
    ]
    told = (
        f"; {len(found)} clear difference(s), see `longform outcomes`"
        if found
        else "; `longform outcomes` has the comparison"
    )
    return f"Outcomes: {treated} sent and {control} in the control group measured so far{told}."


def write(
    comparisons: Sequence[Comparison], alerts: Sequence[AlertOutcome], fmt: str, out: TextIO
) -> None:
    """Write the report as ``text``, ``markdown`` or ``jsonl``."""
    if fmt == "jsonl":
        for comparison in comparisons:
            out.write(json.dumps({"type": "comparison", **_rounded(asdict(comparison))}) + "\n")
        for line in alert_lines(alerts):
            out.write(json.dumps(line) + "\n")
        return
    markdown = fmt == "markdown"
    head = (
        "signal",
        "action",
        "outcome",
        "n sent",
        "n control",
        "sent",
        "control",
        "difference (95%)",
        "reading",
    )
    if markdown:
        out.write("| " + " | ".join(head) + " |\n|" + "---|" * len(head) + "\n")
    else:
        out.write(
            f"Rates use Newcombe's interval (Wilson), means a bootstrap; at least {MIN_PER_ARM} per arm.\n"
        )
    for c in comparisons:
        cells = (c.signal, c.action, f"{c.outcome} ({c.statistic})", str(c.n_treated), str(c.n_control),
                 _num(c.treated), _num(c.control), _interval(c), c.verdict)  # fmt: skip
        out.write(("| " + " | ".join(cells) + " |" if markdown else "  ".join(cells)) + "\n")
    if not comparisons:
        out.write("No outcomes stored yet.\n")
    for line in alert_lines(alerts):
        out.write(f"{'- ' if markdown else ''}Alerts ({line['signal']}): {line['sent']} sent, "
                  f"{line['acknowledged']} acknowledged (median {line['median_minutes_to_ack']} min), {line['judged']} "
                  f"judged, median {line['median_minutes_to_verdict']} min to a verdict, "
                  f"helpful {line['helpful_rate']} ({line['helpful_low']} to {line['helpful_high']}, Wilson)\n")  # fmt: skip


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _interval(c: Comparison) -> str:
    if c.difference is None or c.low is None or c.high is None:
        return "-"
    return f"{c.difference:+.3f} ({c.low:+.3f} to {c.high:+.3f}, {c.interval})"


def _rounded(values: dict[str, Any]) -> dict[str, Any]:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in values.items()}
