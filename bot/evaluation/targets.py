"""The judgement targets of issue 12, and whether a measured estimate meets one.

A target is met when the point estimate is on its side of the bound; when the bootstrap interval
reaches across the bound, the verdict says so, because the data cannot yet tell met from not met.
Targets on in-sample rows are checked properly by cross-validation (training/README.md), not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.evaluation.metrics import Estimate

Measure = Literal["F1", "recall", "false alarms"]


@dataclass(frozen=True, slots=True)
class Target:
    """``measure`` at least (``at_least``) or at most ``bound``; false alarms count per 1,000."""

    measure: Measure
    bound: float
    at_least: bool

    def met(self, value: float) -> bool:
        """Whether ``value`` is on the right side of the bound (the bound itself counts)."""
        return value >= self.bound if self.at_least else value <= self.bound

    def describe(self) -> str:
        """The target in words, such as "F1 >= 0.70" or "<= 30 per 1,000 (3%)"."""
        sign = ">=" if self.at_least else "<="
        if self.measure == "false alarms":
            return f"{sign} {self.bound:,.0f} per 1,000 ({self.bound / 10:g}%)"
        if self.measure == "recall":
            return f"recall {sign} {self.bound:.0%}"
        return f"F1 {sign} {self.bound:.2f}"

    def verdict(self, estimate: Estimate) -> str:
        """ "met" or "not met" by the point estimate, noting an interval that crosses the bound."""
        said = "met" if self.met(estimate.value) else "not met"
        if self.met(estimate.low) != self.met(estimate.high):
            said += " (interval crosses)"
        return said


# Issue 12's targets, by dataset and rows judged (see bot.evaluation.chat for the keys).
TARGETS: dict[str, Target] = {
    "olid civil": Target("false alarms", 30.0, at_least=False),
    "olid untargeted": Target("false alarms", 100.0, at_least=False),
    "olid addressed": Target("recall", 0.75, at_least=True),
    "argotario": Target("F1", 0.70, at_least=True),
    "habernal-cmv": Target("F1", 0.82, at_least=True),
    "reddit-incivility civil": Target("false alarms", 20.0, at_least=False),
}
