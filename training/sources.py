"""The labelled texts both trained tiers learn from, with their groups and weights.

Every source's licence allows training shipped weights on it:

- Habernal et al. (NAACL 2018), ChangeMyView last messages (Apache-2.0): removed as a personal
  attack, or won a delta. Forum artefacts that give the label away are removed (``clean``).
- Argotario (Habernal et al., EMNLP 2017 demos; CC0): short debate replies written to commit a
  fallacy; positive when the intended fallacy is ad hominem. Grouped by the debate question, so a
  question's replies never sit on both sides of a fold.
- Reddit incivility (Davidson, Sun and Wojcieszak, ALW 2020; BSD 3-Clause, notice below): only the
  comments human coders judged civil, as negatives. Their uncivil rows are not ad hominem labels
  (profanity and friendly swearing count as uncivil there), so they are not used.
- ``anchors.jsonl`` and ``anchors_chat.jsonl``: short messages written for this project.

Reddit incivility data: Copyright (c) 2020, Sam Davidson. All rights reserved. Redistribution and
use in source and binary forms, with or without modification, are permitted under the BSD 3-Clause
licence (``../shared/data/reddit-incivility/LICENSE``); the weights trained on it carry this notice.

Weights: each Habernal message weighs 1; Argotario's ad hominem replies weigh ARGOTARIO_POSITIVE
(80 of 669 rows, against 646 of 1,292 on Habernal); the civil Reddit comments weigh REDDIT_CIVIL
each (3,578 rows, so that everyday chat teaches without drowning the attacks); the anchors together
weigh ANCHOR_WEIGHT times their number, half per class.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
ANCHORS = (ROOT / "training" / "anchors.jsonl", ROOT / "training" / "anchors_chat.jsonl")

ARGOTARIO_POSITIVE = 3.0
REDDIT_CIVIL = 0.3
ANCHOR_WEIGHT = 2.0

# Forum artefacts that give the label away and mean nothing elsewhere: "[removed]" is the body
# Reddit shows once moderators removed a comment, and delta-winning comments talk about deltas.
_ARTIFACTS = re.compile(r"\[(?:removed|deleted)\]|!?\bdeltas?\b|[∆Δ]|&#8710;", re.IGNORECASE)


def clean(text: str) -> str:
    """``text`` without the forum artefacts that would leak the label."""
    return _ARTIFACTS.sub(" ", text)


@dataclass
class Labelled:
    """Texts with labels, fold groups, source names and sample weights, row for row."""

    texts: list[str]
    y: np.ndarray
    groups: np.ndarray
    sources: np.ndarray
    weights: np.ndarray

    def __len__(self) -> int:
        return len(self.texts)

    def where(self, source: str) -> np.ndarray:
        """Row indexes of one source."""
        return np.flatnonzero(self.sources == source)


def _part(texts: list[str], y: list[int], groups: list[str], source: str,
          weights: list[float]) -> Labelled:  # fmt: skip
    return Labelled(texts, np.array(y, dtype=int), np.array(groups), np.array([source] * len(y)),
                    np.array(weights, dtype=float))  # fmt: skip


def habernal(data: Path = DATA) -> tuple[list[str], Labelled]:
    """Ids and rows of Habernal's labelled last messages, in a fixed order."""
    folder = data / "habernal-cmv"
    labels: dict[str, bool] = json.loads((folder / "labels.json").read_text())
    texts: dict[str, str] = {}
    with (folder / "threads.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            event = json.loads(line)
            if event.get("id") in labels:
                texts[event["id"]] = event["text"]
    ids = sorted(labels)
    rows = _part([clean(texts[i]) for i in ids], [int(labels[i]) for i in ids],
                 [f"habernal:{i}" for i in ids], "habernal", [1.0] * len(ids))  # fmt: skip
    return ids, rows


def argotario(data: Path = DATA) -> Labelled:
    """Argotario's replies, positive when written as ad hominem; grouped by the question."""
    rows = [json.loads(line) for line in (data / "argotario" / "arguments-en-even.jsonl").open()]
    y = [int(row["intended_fallacy"] == "Ad Hominem") for row in rows]
    return _part([row["text"] for row in rows], y, [f"argotario:{row['topic']}" for row in rows],
                 "argotario", [ARGOTARIO_POSITIVE if label else 1.0 for label in y])  # fmt: skip


def reddit_civil(data: Path = DATA) -> Labelled:
    """The Reddit comments coded civil, as negatives."""
    with (data / "reddit-incivility" / "train.csv").open(encoding="utf-8", newline="") as file:
        texts = [text for text, label in csv.reader(file) if label.strip() == "0"]
    return _part(texts, [0] * len(texts), [f"reddit:{i}" for i in range(len(texts))], "reddit",
                 [REDDIT_CIVIL] * len(texts))  # fmt: skip


def anchors(paths: tuple[Path, ...] = ANCHORS) -> Labelled:
    """The project's own short messages; together they weigh ANCHOR_WEIGHT x their number. Rows
    of ``anchors_chat.jsonl`` (written 2026-12-02, after the sentence tier was last trained) are
    the source ``chat-anchors``, the others ``anchors``."""
    rows = [(path, json.loads(line)) for path in paths for line in path.read_text().splitlines()
            if line]  # fmt: skip
    y = np.array([int(row["attack"]) for _, row in rows])
    share = {c: float(np.mean(y == c)) for c in (0, 1)}
    weights = [ANCHOR_WEIGHT / (2 * share[int(c)]) for c in y]
    found = _part([row["text"] for _, row in rows], list(y),
                  [f"anchor:{i}" for i in range(len(rows))], "anchors", weights)  # fmt: skip
    found.sources = np.array(["chat-anchors" if path.name == "anchors_chat.jsonl" else "anchors"
                              for path, _ in rows])  # fmt: skip
    return found


def concat(*parts: Labelled) -> Labelled:
    """The parts one after another."""
    return Labelled(
        [text for part in parts for text in part.texts],
        np.concatenate([part.y for part in parts]),
        np.concatenate([part.groups for part in parts]),
        np.concatenate([part.sources for part in parts]),
        np.concatenate([part.weights for part in parts]),
    )


def everything(data: Path = DATA) -> tuple[list[str], Labelled]:
    """Habernal's ids, and every source's rows: Habernal first, in the order of those ids."""
    ids, first = habernal(data)
    return ids, concat(first, argotario(data), reddit_civil(data), anchors())
