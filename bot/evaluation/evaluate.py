"""Running Longform's judgement over labelled data and collecting the numbers.

How it works: conversations with labelled messages (Habernal's threads, our tricky cases) are
replayed through the real engine with a policy, exactly as `longform replay` would, and a labelled
message counts as flagged when the engine detected ad hominem on it; that gives accuracy,
precision, recall and F1. Separately, every scorer attribute is read as a plain score on the
labelled texts: its ROC AUC, and the F1 it would reach at its best threshold (the baseline a plain
toxicity score gets when tuned on the very data it is judged on). Single comments without a
conversation (UCC, Kaggle insults) are judged as replies to another member.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from adapters.replay.runner import replay
from bot.core.ad_hominem import AdHominemDetector
from bot.core.decisions import Signal
from bot.core.engine import Engine
from bot.core.events import MessagePosted
from bot.core.scoring import Scorer
from bot.core.settings import Policy
from bot.evaluation.datasets import LabelledText, LabelledThreads
from bot.evaluation.metrics import Confusion, best_threshold, roc_auc
from bot.scoring.embedded import is_fast

_DETECTOR = AdHominemDetector()
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


# Single scores compared with the engine, each at its best threshold: plain toxicity and
# profanity, and the trained attack model alone.
BASELINES = ("toxicity", "profanity", "attack")


@dataclass(frozen=True, slots=True)
class Row:
    """One judgement on one dataset: yes/no counts, and where the judgement is a score, its AUC.

    ``judged`` names what decided: the engine, the detector, or a single attribute; an attribute
    row carries the best ``threshold`` for it on this very data (a flattering baseline).
    """

    dataset: str
    tier: str
    judged: str
    count: int
    confusion: Confusion
    auc: float | None = None
    threshold: float | None = None
    rate: float | None = None  # messages per second, where measured
    heavier: float | None = None  # share of messages that reached the trained model

    @property
    def is_verdict(self) -> bool:
        """A yes/no judgement (the engine, the detector or a baseline), not just an AUC."""
        return self.threshold is None or self.judged.split(" ")[0] in BASELINES


def on_threads(
    dataset: str, data: LabelledThreads, policy: Policy, scorer: Scorer, tier: str
) -> list[Row]:
    """The engine's ad hominem verdicts on the labelled messages, and each attribute's AUC."""
    engine = engine_row(dataset, data, policy, scorer, tier)
    ids = list(data.labels)
    texts = {e.id: e.text for e in data.events if isinstance(e, MessagePosted)}
    labels = [data.labels[i] for i in ids]
    return [engine, *_attribute_rows(dataset, tier, scorer, [texts[i] for i in ids], labels)]


def engine_row(
    dataset: str, data: LabelledThreads, policy: Policy, scorer: Scorer, tier: str
) -> Row:
    """The engine's ad hominem verdicts on the labelled messages, replayed as `longform replay`
    would, with the speed and the share of messages that reached the heaviest trained tier."""
    began = time.perf_counter()
    tiers: Counter[str] | None = getattr(scorer, "tiers", None)
    before = Counter(tiers or {})
    # A heavier scorer scores ahead in batches, as the service and `longform replay` do.
    batched = None if is_fast(scorer) else scorer
    flagged = {
        detection.message_id
        for step in replay(Engine(policy, scorer), data.events, batched)
        for detection in step.detections
        if detection.signal is Signal.AD_HOMINEM
    }
    rate = len(data.events) / (time.perf_counter() - began)
    ids = list(data.labels)
    labels = [data.labels[i] for i in ids]
    heavier = None
    if tiers is not None:  # the share of messages that reached the heaviest trained tier used
        used = Counter(tiers)
        used.subtract(before)
        heaviest = used["sentence model"] or used["attack model"]
        heavier = heaviest / used["texts"] if used["texts"] else None
    return Row(dataset, tier, "ad hominem (engine)", len(ids),
               Confusion.of([i in flagged for i in ids], labels), rate=rate,
               heavier=heavier)  # fmt: skip


def reply_verdicts(texts: Sequence[str], scorer: Scorer, detect_at: float) -> list[bool]:
    """Whether the engine would detect ad hominem in each text posted as a reply to another
    member: the detector's score against the policy's ``detect_at``."""
    scored = scorer.score(texts)
    return [_judged_as_reply(t, s) >= detect_at for t, s in zip(texts, scored, strict=True)]


def on_texts(
    dataset: str, items: Sequence[LabelledText], label: str, scorer: Scorer, tier: str
) -> list[Row]:
    """The ad hominem detector's verdicts (each text judged as a reply) and attribute AUCs."""
    texts = [item.text for item in items]
    labels = [item.labels[label] for item in items]
    scored = scorer.score(texts)
    began = time.perf_counter()
    verdicts = [_judged_as_reply(text, scores) for text, scores in zip(texts, scored, strict=True)]
    rate = len(texts) / (time.perf_counter() - began) if texts else None
    detector = Row(dataset, tier, f"ad hominem (detector) vs {label}", len(items),
                   Confusion.of([v >= 0.5 for v in verdicts], labels), roc_auc(verdicts, labels),
                   rate=rate)  # fmt: skip
    return [detector, *_attribute_rows(dataset, tier, scorer, texts, labels, scored, label)]


def _judged_as_reply(text: str, scores: dict[str, float]) -> float:
    message = MessagePosted(id="x", at=_EPOCH, community="eval", channel="eval", author="a",
                            text=text, reply_to="y", reply_to_author="b")  # fmt: skip
    finding = _DETECTOR.judge(message, scores, "b")
    return finding.score if finding else 0.0


def _attribute_rows(
    dataset: str,
    tier: str,
    scorer: Scorer,
    texts: list[str],
    labels: list[bool],
    scored: list[dict[str, float]] | None = None,
    label: str = "",
) -> list[Row]:
    scored = scorer.score(texts) if scored is None else scored
    rows = []
    suffix = f" vs {label}" if label else ""
    for attribute in scorer.attributes:
        values = [scores.get(attribute, 0.0) for scores in scored]
        threshold, confusion = best_threshold(values, labels)
        rows.append(Row(dataset, tier, f"{attribute}{suffix}", len(texts), confusion,
                        roc_auc(values, labels), threshold))  # fmt: skip
    return rows
