"""Classification metrics for judging Longform's judgement, in plain Python.

``roc_auc`` is the probability that a random positive scores above a random negative (ties count
half), computed from ranks; ``best_threshold`` finds the threshold a baseline would need to do its
best, which is how plain toxicity scores are compared fairly with the engine.
"""

from __future__ import annotations

from collections.abc import Sequence
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
