"""The chat evaluation: the engine's ad hominem verdicts on short, real chat, dataset by dataset.

How it works: conversations (Habernal's threads, Argotario's replies to their questions) go
through the real engine, as `longform replay` runs it. Single texts (OLID's tweets, the coded
Reddit comments, CAD's entries) are each judged as a reply to another member: the detector's score
against the policy's ``detect_at``, which is what the engine would detect. Each dataset gives rows
of three kinds: ``verdict`` (positives against negatives: precision, recall, F1, and false alarms
per 1,000 negatives), ``negatives`` (rows that should not be flagged: flagged per 1,000) and
``positives`` (rows that should be: recall). Rows the shipped models are trained on are marked
in-sample; their honest numbers come from the training scripts' cross-validation.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from bot.core.scoring import Scorer
from bot.core.settings import Policy
from bot.evaluation import datasets
from bot.evaluation.datasets import LabelledText, LabelledThreads
from bot.evaluation.evaluate import engine_row, reply_verdicts
from bot.evaluation.metrics import Confusion
from bot.evaluation.targets import TARGETS, Target

Kind = Literal["verdict", "negatives", "positives"]
T = TypeVar("T")

# What the shipped models are trained on, or are being retrained on (issue 12): Habernal's last
# messages, Argotario's replies and the civil Reddit rows. Numbers on these rows are in-sample.
TRAINED_ON = frozenset({"habernal-cmv", "argotario", "reddit-incivility civil"})


@dataclass(frozen=True, slots=True)
class ChatRow:
    """One tier's verdicts on one group of labelled rows of one dataset.

    ``key`` names the group for targets and in-sample marks (such as "olid civil"); ``judged``
    says in words which rows were judged; ``sampled`` says how they were drawn, when not all.
    """

    dataset: str
    key: str
    judged: str
    tier: str
    kind: Kind
    confusion: Confusion
    sampled: str = ""

    @property
    def in_sample(self) -> bool:
        """Whether the shipped models are (or are being) trained on these rows."""
        return self.key in TRAINED_ON

    @property
    def target(self) -> Target | None:
        """Issue 12's target for these rows, if it sets one."""
        return TARGETS.get(self.key)


@dataclass(frozen=True, slots=True)
class Sampling:
    """At most ``size`` labelled rows of each single-text dataset (0: all), drawn with ``seed``."""

    size: int = 0
    seed: int = 0

    def draw(self, items: Sequence[T]) -> tuple[list[T], str]:
        """The rows to judge and, when a sample, a note such as "2,000 of 11,771 (seed 0)"."""
        if not self.size or len(items) <= self.size:
            return list(items), ""
        chosen = sorted(random.Random(self.seed).sample(range(len(items)), self.size))
        return [items[i] for i in chosen], f"{self.size:,} of {len(items):,} (seed {self.seed})"


def _split(flags: Sequence[bool], labels: Sequence[bool | None]) -> Confusion:
    # Rows labelled None are outside this judgement.
    kept = [(f, y) for f, y in zip(flags, labels, strict=True) if y is not None]
    return Confusion.of([f for f, _ in kept], [y for _, y in kept])


def on_conversations(
    dataset: str, judged: str, data: LabelledThreads, policy: Policy, scorers: Sequence[Scorer]
) -> list[ChatRow]:
    """The engine's verdicts on the labelled messages of ``data`` (``judged`` says which, in
    words), once per scorer (tier)."""
    rows = []
    for scorer in scorers:
        found = engine_row(dataset, data, policy, scorer, scorer.name).confusion
        rows.append(ChatRow(dataset, dataset, judged, scorer.name, "verdict", found))
    return rows


def olid(
    items: Sequence[LabelledText], flags: Sequence[bool], tier: str, sampled: str
) -> list[ChatRow]:
    """OLID: addressed insults against civil and untargeted tweets, then each group alone."""

    def row(key: str, judged: str, kind: Kind, labels: list[bool | None]) -> ChatRow:
        return ChatRow("olid", f"olid {key}", judged, tier, kind, _split(flags, labels), sampled)

    lab = [item.labels for item in items]
    harmless = [x["civil"] or x["untargeted"] for x in lab]
    return [
        row("all", 'addressed insults (TIN-IND with "you") vs civil + untargeted', "verdict",
            [True if x["addressed"] else False if h else None for x, h in zip(lab, harmless, strict=True)]),
        row("civil", "civil tweets (NOT)", "negatives", [False if x["civil"] else None for x in lab]),
        row("untargeted", "untargeted swearing (UNT)", "negatives",
            [False if x["untargeted"] else None for x in lab]),
        row("addressed", 'insults at a person that address someone (TIN-IND, "you")', "positives",
            [True if x["addressed"] else None for x in lab]),
        row("unaddressed", "insults at a person, no second person (TIN-IND; mostly a third party)",
            "positives", [True if x["individual"] and not x["addressed"] else None for x in lab]),
    ]  # fmt: skip


def reddit(
    items: Sequence[LabelledText], flags: Sequence[bool], tier: str, sampled: str
) -> list[ChatRow]:
    """The coded Reddit comments: false alarms on the civil rows; the uncivil rows' flag rate."""
    civil = [False if not item.labels["uncivil"] else None for item in items]
    uncivil = [False if item.labels["uncivil"] else None for item in items]
    name = "reddit-incivility"
    return [
        ChatRow(name, f"{name} civil", "civil comments (0)", tier, "negatives",
                _split(flags, civil), sampled),
        ChatRow(name, f"{name} uncivil", "uncivil (1): broad incivility incl. friendly swearing; "
                "flag rate, NOT ad hominem labels", tier, "negatives", _split(flags, uncivil),
                sampled),
    ]  # fmt: skip


def cad(
    items: Sequence[LabelledText], flags: Sequence[bool], tier: str, sampled: str
) -> list[ChatRow]:
    """CAD: abuse aimed at a person against entries labelled Neutral only."""
    labels = [True if x.labels["person"] else False if x.labels["neutral"] else None for x in items]
    return [ChatRow("cad", "cad", "PersonDirectedAbuse vs Neutral-only", tier, "verdict",
                    _split(flags, labels), sampled)]  # fmt: skip


Grouper = Callable[[Sequence[LabelledText], Sequence[bool], str, str], list[ChatRow]]
# Single-text datasets: the loader, which rows are judged at all, and how they are grouped.
TEXT_SETS: dict[str, tuple[Callable[[Path], list[LabelledText]], Callable[[LabelledText], bool], Grouper]] = {
    "olid": (datasets.olid, lambda x: x.labels["civil"] or x.labels["untargeted"] or x.labels["individual"], olid),
    "reddit-incivility": (datasets.reddit_incivility, lambda x: True, reddit),
    "cad": (datasets.cad, lambda x: x.labels["person"] or x.labels["neutral"], cad),
}  # fmt: skip


def on_texts(
    name: str, data: Path, policy: Policy, scorers: Sequence[Scorer], sampling: Sampling
) -> list[ChatRow]:
    """Each tier's verdicts on the single-text dataset ``name``, every text judged as a reply."""
    load, judged, grouped = TEXT_SETS[name]
    items, sampled = sampling.draw([item for item in load(data) if judged(item)])
    texts = [item.text for item in items]
    detect_at = policy.for_channel("eval").ad_hominem.detect_at
    rows = []
    for scorer in scorers:
        rows += grouped(items, reply_verdicts(texts, scorer, detect_at), scorer.name, sampled)
    return rows
