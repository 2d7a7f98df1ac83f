"""Classification metrics for judging Longform's judgement, in plain Python.

``roc_auc`` is the probability that a random positive scores above a random negative (ties count
half), computed from ranks; ``best_threshold`` finds the threshold a baseline would need to do its
best, which is how plain toxicity scores are compared fairly with the engine. ``bootstrap`` gives a
seeded percentile interval for any measure of a confusion: resampling n judged messages with
replacement only redraws how many fall in each of the four cells (a multinomial draw), so it
redraws the counts, never the scoring, and costs little even for tens of thousands of messages.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Confusion:
    """Counts of a yes/no judgement against labels."""

    tp: int
    fp: int
    fn: int
    tn: int

    @classmethod
    def of(cls, predicted: Sequence[bool], labels: Sequence[bool]) -> Confusion:
        """The counts for paired predictions and labels."""
        if len(predicted) != len(labels):
            raise ValueError(f"{len(predicted)} predictions for {len(labels)} labels")
        pairs = list(zip(predicted, labels, strict=True))
        return cls(
            tp=sum(1 for p, y in pairs if p and y),
            fp=sum(1 for p, y in pairs if p and not y),
            fn=sum(1 for p, y in pairs if not p and y),
            tn=sum(1 for p, y in pairs if not p and not y),
        )

    @property
    def total(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def accuracy(self) -> float:
        return (self.tp + self.tn) / self.total if self.total else 0.0

    @property
    def false_alarms(self) -> float:
        """Flagged messages per 1,000 of those labelled negative (civil)."""
        negatives = self.fp + self.tn
        return 1000 * self.fp / negatives if negatives else 0.0


@dataclass(frozen=True, slots=True)
class Estimate:
    """A measure and its bootstrap interval (``low`` to ``high``)."""

    value: float
    low: float
    high: float


def bootstrap(confusion: Confusion, resamples: int = 1000, seed: int = 0) -> list[Confusion]:
    """``resamples`` bootstrap resamples of the judged messages behind ``confusion``.

    Each draws ``confusion.total`` messages with replacement; the same ``seed`` gives the same
    resamples. Raises ValueError on an empty confusion.
    """
    if not confusion.total:
        raise ValueError("no judged messages to resample")
    rng = random.Random(seed)
    return [_resampled(confusion, rng) for _ in range(resamples)]


def interval(
    confusion: Confusion,
    resampled: Sequence[Confusion],
    measure: Callable[[Confusion], float],
    level: float = 0.95,
) -> Estimate:
    """``measure`` of ``confusion``, with the percentile interval at ``level`` of its values on
    ``resampled`` (from ``bootstrap``)."""
    values = sorted(measure(sample) for sample in resampled)
    tail = (1 - level) / 2
    low = values[math.floor(tail * (len(values) - 1))]
    high = values[math.ceil((1 - tail) * (len(values) - 1))]
    return Estimate(measure(confusion), low, high)


def _resampled(confusion: Confusion, rng: random.Random) -> Confusion:
    # A multinomial draw over the four cells, as a chain of binomials on what is left.
    left, share_left = confusion.total, 1.0
    counts = []
    for cell in (confusion.tp, confusion.fp, confusion.fn):
        share = cell / confusion.total
        drawn = _binomial(rng, left, min(1.0, share / share_left) if share_left > 0 else 0.0)
        counts.append(drawn)
        left, share_left = left - drawn, share_left - share
    return Confusion(counts[0], counts[1], counts[2], left)


def _binomial(rng: random.Random, n: int, p: float) -> int:
    """An exact Binomial(n, p) draw, counting geometric gaps between successes: the cost grows
    with n * min(p, 1 - p), not with n (random.binomialvariate is Python 3.12+)."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if p > 0.5:
        return n - _binomial(rng, n, 1.0 - p)
    log_q = math.log1p(-p)
    successes, position = 0, 0
    while True:
        # failures before the next success: floor(log U / log(1 - p)), U in (0, 1]
        position += int(math.log(1.0 - rng.random()) / log_q) + 1
        if position > n:
            return successes
        successes += 1


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """Area under the ROC curve, or None when only one class is present."""
    positives = sum(1 for label in labels if label)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    start = 0
    while start < len(order):  # equal scores share the mean of their ranks
        end = start
        while end + 1 < len(order) and scores[order[end + 1]] == scores[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        start = end + 1
    rank_sum = sum(rank for rank, label in zip(ranks, labels, strict=True) if label)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def best_threshold(scores: Sequence[float], labels: Sequence[bool]) -> tuple[float, Confusion]:
    """The threshold (predict yes when score >= it) with the highest F1, and its counts."""
    positives = sum(1 for label in labels if label)
    negatives = len(labels) - positives
    best = (float("inf"), Confusion(0, 0, positives, negatives))
    tp = fp = 0
    ranked = sorted(zip(scores, labels, strict=True), key=lambda pair: -pair[0])
    for index, (score, label) in enumerate(ranked):
        tp, fp = tp + bool(label), fp + (not label)
        if index + 1 < len(ranked) and ranked[index + 1][0] == score:
            continue  # a threshold cannot split equal scores
        confusion = Confusion(tp, fp, positives - tp, negatives - fp)
        if confusion.f1 > best[1].f1:
            best = (score, confusion)
    return best
