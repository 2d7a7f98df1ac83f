"""Train the attack model (``bot/scoring/attack_model.py``) and measure it honestly.

Run from the repository root, with scikit-learn installed for training only
(``.venv/bin/pip install scikit-learn``)::

    .venv/bin/python training/train_attack_model.py            # cross-validate, then write weights
    .venv/bin/python training/train_attack_model.py --dry-run  # cross-validate only

Reads ``../shared/data/habernal-cmv`` (Habernal et al., NAACL 2018; Apache-2.0): the last message of
each ChangeMyView thread, true when moderators removed it as a personal attack, false when it won a
delta. Adds ``training/anchors.jsonl``, short counter-examples written for this project (friendly
swearing, self-deprecation, reported and negated insults, clinical vocabulary, congratulations,
sharp critique of ideas, and plain attacks), so that the model does not learn "short and
personal means attack" from a forum where short replies are mostly removed ones.

How it works: stratified k-fold cross-validation over threads (one labelled message each). In every
fold a logistic regression is fitted on the training part, pruned to the strongest n-grams, and
calibrated (Platt) on an inner cross-validation of that part only; the held-out part is then scored
with the runtime code itself (``AttackModel.logit``), so what is measured is what ships. Printed:
precision, recall, F1 (probability >= 0.5) and AUC per fold and their mean, then the end-to-end F1
of the engine (professional policy) when each last message carries its out-of-fold probability.
Finally the model is fitted on everything and written, calibrated with the out-of-fold scores.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction import DictVectorizer  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score  # type: ignore[import-untyped]
from sklearn.model_selection import StratifiedKFold  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.scoring.attack_model import FORMAT, AttackModel, Features, features  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "habernal-cmv"
ANCHORS = ROOT / "training" / "anchors.jsonl"
OUT = ROOT / "bot" / "scoring" / "weights" / "attack_linear.json"

# Forum artefacts that give the label away and mean nothing elsewhere: "[removed]" is the body
# Reddit shows once moderators removed a comment, and delta-winning comments talk about deltas.
_ARTIFACTS = re.compile(r"\[(?:removed|deleted)\]|!?\bdeltas?\b|[∆Δ]|&#8710;", re.IGNORECASE)

C = 16.0  # inverse regularisation; 4..64 measured within 0.01 F1 of each other
MAX_NGRAMS = 12_000  # pruned by |weight|: keeps the weights file small and loading fast
ANCHOR_WEIGHT = 2.0  # the anchors together weigh twice their number of Habernal messages
INNER_FOLDS = 3
_Fitter = Callable[[Sequence[Features], np.ndarray, np.ndarray], AttackModel]


def clean(text: str) -> str:
    """``text`` without the forum artefacts that would leak the label."""
    return _ARTIFACTS.sub(" ", text)


def load_habernal(data: Path) -> tuple[list[str], list[str], np.ndarray]:
    """Ids, texts and labels of the labelled last messages, in a fixed order."""
    labels: dict[str, bool] = json.loads((data / "labels.json").read_text())
    texts: dict[str, str] = {}
    with (data / "threads.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            event = json.loads(line)
            if event.get("id") in labels:
                texts[event["id"]] = event["text"]
    ids = sorted(labels)
    return ids, [texts[i] for i in ids], np.array([labels[i] for i in ids], dtype=int)


def load_anchors(path: Path) -> tuple[list[str], np.ndarray]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [row["text"] for row in rows], np.array([row["attack"] for row in rows], dtype=int)


def _as_dict(found: Features) -> dict[str, float]:
    value = 1.0 / np.sqrt(len(found.ngrams))
    row = dict.fromkeys(found.ngrams, value)
    row.update({f"\x00{name}": v for name, v in found.dense.items()})  # \x00: never an n-gram
    return row


def fit(rows: Sequence[Features], y: np.ndarray, weight: np.ndarray) -> AttackModel:
    """An uncalibrated model: logistic regression, then the strongest MAX_NGRAMS n-grams kept."""
    vectoriser = DictVectorizer()
    matrix = vectoriser.fit_transform([_as_dict(row) for row in rows])
    regression = LogisticRegression(C=C, max_iter=5000).fit(matrix, y, sample_weight=weight)
    names, coefs = vectoriser.get_feature_names_out(), regression.coef_[0]
    dense = {n[1:]: float(c) for n, c in zip(names, coefs, strict=True) if n.startswith("\x00")}
    grams = [(n, float(c)) for n, c in zip(names, coefs, strict=True) if not n.startswith("\x00")]
    grams.sort(key=lambda item: -abs(item[1]))
    return AttackModel(float(regression.intercept_[0]), dense, dict(grams[:MAX_NGRAMS]))


def calibrated(model: AttackModel, scale: float, shift: float, digits: int = 4) -> AttackModel:
    """``model`` with Platt scaling folded into its weights (rounded, as written to disk)."""
    raw = model.to_dict()
    return AttackModel(
        round(scale * raw["bias"] + shift, digits),
        {k: round(scale * v, digits) for k, v in raw["dense"].items()},
        {k: round(scale * v, digits) for k, v in raw["ngrams"].items() if round(scale * v, digits)},
    )


def platt(logits: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Scale and shift that turn held-out logits into calibrated log-odds."""
    regression = LogisticRegression(C=1e6, max_iter=1000).fit(logits[:, None], y)
    return float(regression.coef_[0, 0]), float(regression.intercept_[0])


def logits(model: AttackModel, texts: Sequence[str]) -> np.ndarray:
    """The runtime's own log-odds; -inf for a text with no words of its own."""
    return np.array([(lambda z: -np.inf if z is None else z)(model.logit(t)) for t in texts])


class Corpus:
    """Habernal's labelled messages plus the anchors, featurised once."""

    def __init__(self, texts: list[str], y: np.ndarray, anchors: list[str], anchor_y: np.ndarray):
        self.texts = [clean(t) for t in texts]
        self.y = y
        self.rows = [features(t) for t in self.texts]
        self.has_words = np.array([row is not None for row in self.rows])
        self.anchor_rows = [r for r in (features(t) for t in anchors) if r is not None]
        self.anchor_y = anchor_y
        share = {c: float(np.mean(anchor_y == c)) for c in (0, 1)}  # each class weighs half
        self.anchor_weight = np.array([ANCHOR_WEIGHT / (2 * share[int(c)]) for c in anchor_y])

    def fit(self, index: np.ndarray) -> AttackModel:
        """An uncalibrated model on the Habernal messages at ``index`` (with words) + anchors."""
        index = index[self.has_words[index]]
        rows = [row for row in (self.rows[i] for i in index) if row is not None] + self.anchor_rows
        y = np.concatenate([self.y[index], self.anchor_y])
        weight = np.concatenate([np.ones(len(index)), self.anchor_weight])
        return fit(rows, y, weight)

    def out_of_fold(self, index: np.ndarray, folds: int, seed: int) -> np.ndarray:
        """Uncalibrated held-out logits for ``index``, by ``folds``-fold CV within it."""
        z = np.full(len(index), -np.inf)
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
        for train, test in splitter.split(index, self.y[index]):
            model = self.fit(index[train])
            z[test] = logits(model, [self.texts[i] for i in index[test]])
        return z

    def fit_calibrated(self, index: np.ndarray, seed: int) -> AttackModel:
        z = self.out_of_fold(index, INNER_FOLDS, seed)
        finite = np.isfinite(z)
        return calibrated(self.fit(index), *platt(z[finite], self.y[index][finite]))


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    precision, recall, f1, _ = precision_recall_fscore_support(
        y, p >= 0.5, average="binary", zero_division=0.0
    )
    return {"precision": precision, "recall": recall, "f1": f1, "auc": roc_auc_score(y, p)}


def cross_validate(corpus: Corpus, folds: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-fold metrics printed; returns out-of-fold calibrated probabilities and raw logits."""
    probability, raw = np.zeros(len(corpus.y)), np.full(len(corpus.y), -np.inf)
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    everyone = np.arange(len(corpus.y))
    table = []
    for number, (train, test) in enumerate(splitter.split(everyone, corpus.y), start=1):
        began = time.perf_counter()
        model = corpus.fit_calibrated(train, seed)
        texts = [corpus.texts[i] for i in test]
        probability[test] = [model.probability(t) for t in texts]
        raw[test] = logits(corpus.fit(train), texts)
        table.append(metrics(corpus.y[test], probability[test]))
        row = "  ".join(f"{k} {v:.3f}" for k, v in table[-1].items())
        print(f"fold {number}: {row}  ({time.perf_counter() - began:.0f} s)", flush=True)
    mean = {k: float(np.mean([row[k] for row in table])) for k in table[0]}
    spread = {k: float(np.std([row[k] for row in table])) for k in table[0]}
    print("mean:   " + "  ".join(f"{k} {mean[k]:.3f}±{spread[k]:.3f}" for k in mean))
    pooled = metrics(corpus.y, probability)
    print("pooled: " + "  ".join(f"{k} {v:.3f}" for k, v in pooled.items()))
    words = corpus.has_words
    texted = metrics(corpus.y[words], probability[words])
    print(f"pooled over the {int(words.sum())} messages with words: "
          + "  ".join(f"{k} {v:.3f}" for k, v in texted.items()))  # fmt: skip
    return probability, raw


def engine_f1(
    data: Path, ids: list[str], y: np.ndarray, probability: np.ndarray
) -> dict[str, float]:
    """End-to-end: the engine (professional policy) with each last message's out-of-fold score."""
    from adapters.replay.runner import load, replay
    from bot.core.decisions import Signal
    from bot.core.engine import Engine
    from bot.core.events import MessagePosted
    from bot.policy.loader import load_policy
    from bot.scoring.embedded import EmbeddedScorer

    by_id = dict(zip(ids, probability, strict=True))
    events, _ = load([data / "threads.jsonl"])
    posted = [e for e in events if isinstance(e, MessagePosted)]
    held_out = {e.text: float(by_id[e.id]) for e in posted if e.id in by_id}

    class OutOfFold(EmbeddedScorer):
        def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
            rows = super().score(texts)
            for row, text in zip(rows, texts, strict=True):
                row["attack"] = held_out.get(text, 0.0)
            return rows

    engine = Engine(load_policy("professional"), OutOfFold(AttackModel(0.0, {}, {})))
    flagged = {d.message_id for step in replay(engine, events) for d in step.detections
               if d.signal is Signal.AD_HOMINEM}  # fmt: skip
    predicted = np.array([i in flagged for i in ids])
    p, r, f, _ = precision_recall_fscore_support(y, predicted, average="binary", zero_division=0.0)
    return {"precision": float(p), "recall": float(r), "f1": float(f)}


def write(model: AttackModel, path: Path, summary: dict[str, Any]) -> None:
    raw = model.to_dict()
    payload = {
        "format": FORMAT,
        "about": "Longform attack model; see training/README.md. Trained on Habernal et al. "
        "(NAACL 2018) ChangeMyView last messages (Apache-2.0) and training/anchors.jsonl.",
        "cross_validation": summary,
        "bias": raw["bias"],
        "dense": raw["dense"],
        "ngrams": dict(sorted(raw["ngrams"].items())),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n")
    print(f"wrote {path.relative_to(ROOT)}: {model.size} n-grams, {path.stat().st_size:,} bytes")


def arguments(description: str, out: Path) -> argparse.Namespace:
    """The options both training scripts take: data, folds, seed, where to write, dry run."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=out)
    parser.add_argument("--dry-run", action="store_true", help="cross-validate, write nothing")
    return parser.parse_args()


def main() -> None:
    args = arguments(__doc__.splitlines()[0], OUT)
    ids, texts, y = load_habernal(args.data)
    corpus = Corpus(texts, y, *load_anchors(ANCHORS))
    print(f"{len(y)} last messages ({int(y.sum())} attacks; {int((~corpus.has_words).sum())} with "
          f"no words once artefacts are removed), {len(corpus.anchor_y)} anchors")  # fmt: skip
    probability, raw = cross_validate(corpus, args.folds, args.seed)
    end_to_end = engine_f1(args.data, ids, y, probability)
    print("engine, professional policy, out-of-fold scores: "
          + "  ".join(f"{k} {v:.3f}" for k, v in end_to_end.items()))  # fmt: skip
    if args.dry_run:
        return
    finite = np.isfinite(raw)
    model = calibrated(corpus.fit(np.arange(len(y))), *platt(raw[finite], y[finite]))
    summary = {"folds": args.folds, "seed": args.seed, **metrics(y, probability)}
    write(
        model, args.out, {k: round(v, 4) if isinstance(v, float) else v for k, v in summary.items()}
    )


if __name__ == "__main__":
    main()
