"""Train the attack model (``bot/scoring/attack_model.py``) and measure it honestly.

Run from the repository root, with the ``training`` extra installed::

    .venv/bin/python training/train_attack_model.py            # cross-validate, then write weights
    .venv/bin/python training/train_attack_model.py --dry-run  # cross-validate only

Reads the sources in ``training/sources.py`` (Habernal's ChangeMyView last messages, Argotario's
debate replies, the civil Reddit incivility comments, and the project's anchors; each licence
allows training), from ``../shared/data``.

How it works: stratified k-fold cross-validation over groups (a Habernal thread, an Argotario
question, a single comment or anchor). In every fold a logistic regression is fitted on the
training part, pruned to the strongest n-grams, and calibrated on an inner cross-validation of that
part only; the held-out part is then scored with the runtime code itself (``AttackModel.logit``),
so what is measured is what ships. Calibration is class-balanced (each class weighs half, as on
Habernal) and knows the message's length, so that a probability means the same for a five-word
reply as for a long post. Printed: precision, recall, F1 (probability >= 0.5) and AUC per fold,
per source, and calibration by length; then the engine's verdicts (professional policy) when each
message carries its out-of-fold probability. Finally the model is fitted on everything and written.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction import DictVectorizer  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.metrics import precision_recall_fscore_support, roc_auc_score  # type: ignore[import-untyped]
from sklearn.model_selection import StratifiedGroupKFold  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "training"))

from sources import DATA, Labelled, everything  # noqa: E402

from bot.scoring.attack_model import FORMAT, AttackModel, Features, features  # noqa: E402
from bot.scoring.attack_model import log_words as runtime_log_words  # noqa: E402

OUT = ROOT / "bot" / "scoring" / "weights" / "attack_linear.json"
CACHE = ROOT / "training" / ".cache"
C = 16.0  # inverse regularisation; 4..64 measured within 0.01 F1 of each other (Habernal alone)
MAX_NGRAMS = 12_000  # pruned by |weight|: keeps the weights file small and loading fast
INNER_FOLDS = 3
# Words-per-message bins for the calibration report (upper bounds).
LENGTH_BINS = (5, 12, 30, 80, 10**9)
ABOUT = (
    "Trained on Habernal et al. (NAACL 2018) ChangeMyView last messages (Apache-2.0), Argotario "
    "(CC0), the civil comments of Davidson, Sun and Wojcieszak's Reddit incivility data (BSD "
    "3-Clause; Copyright (c) 2020, Sam Davidson. All rights reserved) and training/anchors*.jsonl; "
    "see training/README.md."
)


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


def balanced(y: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``weight`` rescaled so that each class weighs half: probabilities read as on Habernal,
    where attacks and civil replies are equally common, whatever the mix of sources."""
    out = weight.astype(float).copy()
    for label in (0, 1):
        chosen = y == label
        if chosen.any():
            out[chosen] *= 0.5 * weight.sum() / weight[chosen].sum()
    return out


def log_words(texts: Sequence[str]) -> np.ndarray:
    """log(1 + words) of each text, exactly as the runtime counts them for calibration."""
    return np.array([runtime_log_words(text) for text in texts])


def platt(logits: np.ndarray, lengths: np.ndarray, y: np.ndarray,
          weight: np.ndarray) -> tuple[float, float, float]:  # fmt: skip
    """Scale, shift and length term that turn held-out logits into calibrated log-odds,
    class-balanced. The length term lets a short reply's score mean what a long post's does."""
    finite = np.isfinite(logits)
    x = np.column_stack([logits[finite], lengths[finite]])
    regression = LogisticRegression(C=1e6, max_iter=1000).fit(
        x, y[finite], sample_weight=balanced(y[finite], weight[finite])
    )
    scale, per_length = map(float, regression.coef_[0])
    return scale, float(regression.intercept_[0]), per_length


def calibrated(model: AttackModel, scale: float, shift: float, per_length: float,
               digits: int = 4) -> AttackModel:  # fmt: skip
    """``model`` with the calibration folded into its weights (rounded, as written to disk): the
    length term joins the weight of the ``length`` feature, which is log(1 + words) / 5."""
    raw = model.to_dict()
    dense = {k: scale * v for k, v in raw["dense"].items()}
    dense["length"] = dense.get("length", 0.0) + 5.0 * per_length
    return AttackModel(
        round(scale * raw["bias"] + shift, digits),
        {k: round(v, digits) for k, v in dense.items()},
        {k: round(scale * v, digits) for k, v in raw["ngrams"].items() if round(scale * v, digits)},
    )


def logits(model: AttackModel, texts: Sequence[str]) -> np.ndarray:
    """The runtime's own log-odds; -inf for a text with no words of its own."""
    return np.array([(lambda z: -np.inf if z is None else z)(model.logit(t)) for t in texts])


def folds(
    rows: Labelled, index: np.ndarray, count: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds of ``index`` that keep each group (a thread, a question) on one side."""
    splitter = StratifiedGroupKFold(count, shuffle=True, random_state=seed)
    return [
        (index[a], index[b]) for a, b in splitter.split(index, rows.y[index], rows.groups[index])
    ]


class Corpus:
    """Every source's rows, featurised once."""

    def __init__(self, rows: Labelled) -> None:
        self.rows = rows
        self.texts = rows.texts
        self.y = rows.y
        self.features = [features(t) for t in self.texts]
        self.has_words = np.array([f is not None for f in self.features])
        self.lengths = log_words(self.texts)

    def fit(self, index: np.ndarray) -> AttackModel:
        """An uncalibrated model on the rows at ``index`` that have words."""
        index = index[self.has_words[index]]
        chosen = [self.features[i] for i in index]
        return fit([f for f in chosen if f is not None], self.y[index], self.rows.weights[index])

    def out_of_fold(self, index: np.ndarray, count: int, seed: int) -> np.ndarray:
        """Uncalibrated held-out logits for ``index``, by ``count``-fold CV within it."""
        z = np.full(len(self.y), -np.inf)
        for train, test in folds(self.rows, index, count, seed):
            z[test] = logits(self.fit(train), [self.texts[i] for i in test])
        return z[index]

    def calibration(self, index: np.ndarray, z: np.ndarray) -> tuple[float, float, float]:
        return platt(z, self.lengths[index], self.y[index], self.rows.weights[index])

    def fit_calibrated(self, index: np.ndarray, seed: int) -> AttackModel:
        z = self.out_of_fold(index, INNER_FOLDS, seed)
        return calibrated(self.fit(index), *self.calibration(index, z))


def metrics(y: np.ndarray, p: np.ndarray, weight: np.ndarray | None = None) -> dict[str, float]:
    """Precision, recall, F1 at 0.5 and AUC; for a source with one class, the flag rate."""
    if len(set(y.tolist())) < 2:
        return {"flagged": float(np.mean(p >= 0.5))}
    precision, recall, f1, _ = precision_recall_fscore_support(
        y, p >= 0.5, average="binary", zero_division=0.0
    )
    return {"precision": precision, "recall": recall, "f1": f1, "auc": roc_auc_score(y, p)}


def show(label: str, values: dict[str, float]) -> None:
    print(f"{label}: " + "  ".join(f"{k} {v:.3f}" for k, v in values.items()), flush=True)


def report(rows: Labelled, probability: np.ndarray, lengths: np.ndarray) -> dict[str, Any]:
    """Out-of-fold metrics per source, and calibration by length (class-balanced)."""
    found: dict[str, Any] = {}
    for source in dict.fromkeys(rows.sources.tolist()):
        at = rows.where(source)
        found[source] = metrics(rows.y[at], probability[at])
        show(f"  {source} ({len(at)})", found[source])
    weight = balanced(rows.y, rows.weights)
    words = np.expm1(lengths)
    lower = 0
    print("  calibration by length (balanced): words  mean p  attack share  n")
    for upper in LENGTH_BINS:
        at = (words > lower) & (words <= upper)
        if at.any():
            mean = float(np.average(probability[at], weights=weight[at]))
            share = float(np.average(rows.y[at], weights=weight[at]))
            print(
                f"    {lower + 1}-{upper if upper < 10**9 else 'more'}:  {mean:.3f}  {share:.3f}  {int(at.sum())}"
            )
        lower = upper
    return found


def cross_validate(corpus: Corpus, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-fold metrics printed; returns out-of-fold calibrated probabilities and raw logits."""
    probability, raw = np.zeros(len(corpus.y)), np.full(len(corpus.y), -np.inf)
    everyone = np.arange(len(corpus.y))
    for number, (train, test) in enumerate(folds(corpus.rows, everyone, count, seed), start=1):
        began = time.perf_counter()
        model = corpus.fit_calibrated(train, seed)
        texts = [corpus.texts[i] for i in test]
        probability[test] = [model.probability(t) for t in texts]
        raw[test] = logits(corpus.fit(train), texts)
        show(
            f"fold {number} ({time.perf_counter() - began:.0f} s)",
            metrics(corpus.y[test], probability[test]),
        )
    show("pooled", metrics(corpus.y, probability))
    report(corpus.rows, probability, corpus.lengths)
    return probability, raw


def _verdict_scorer(by_text: dict[str, float]) -> Any:
    """The embedded scorer with each text's ``attack`` taken from ``by_text`` (0 elsewhere)."""
    from bot.scoring.embedded import EmbeddedScorer

    class OutOfFold(EmbeddedScorer):
        def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
            rows = super().score(texts)
            for row, text in zip(rows, texts, strict=True):
                row["attack"] = by_text.get(text, 0.0)
            return rows

    return OutOfFold(AttackModel(0.0, {}, {}))


def _engine_flags(path: Path, labels: dict[str, bool], by_id: dict[str, float]) -> dict[str, float]:
    """Replay ``path`` through the engine (professional policy) with the given attack scores."""
    from adapters.replay.runner import load, replay
    from bot.core.decisions import Signal
    from bot.core.engine import Engine
    from bot.core.events import MessagePosted
    from bot.policy.loader import load_policy

    events, _ = load([path])
    by_text = {
        e.text: by_id[e.id] for e in events if isinstance(e, MessagePosted) and e.id in by_id
    }
    engine = Engine(load_policy("professional"), _verdict_scorer(by_text))
    flagged = {d.message_id for step in replay(engine, events) for d in step.detections
               if d.signal is Signal.AD_HOMINEM}  # fmt: skip
    ids = sorted(labels)
    y = np.array([labels[i] for i in ids])
    predicted = np.array([i in flagged for i in ids])
    p, r, f, _ = precision_recall_fscore_support(y, predicted, average="binary", zero_division=0.0)
    return {"precision": float(p), "recall": float(r), "f1": float(f)}


def _replies_flagged(texts: Sequence[str], scores: Sequence[float]) -> float:
    """The share of ``texts``, each judged as a reply to another member, that the engine's
    detector flags at the professional policy's threshold."""
    from datetime import UTC, datetime

    from bot.core.ad_hominem import AdHominemDetector
    from bot.core.events import MessagePosted
    from bot.policy.loader import load_policy

    threshold = load_policy("professional").settings.ad_hominem.detect_at
    scorer, detector = _verdict_scorer(dict(zip(texts, scores, strict=True))), AdHominemDetector()
    at = datetime(2026, 1, 1, tzinfo=UTC)
    flagged = 0
    for text, found in zip(texts, scorer.score(list(texts)), strict=True):
        message = MessagePosted(id="x", at=at, community="c", channel="c", author="a", text=text,
                                reply_to="y", reply_to_author="b")  # fmt: skip
        finding = detector.judge(message, found, "b")
        flagged += finding is not None and finding.score >= threshold
    return flagged / max(len(texts), 1)


def engine_checks(
    data: Path, ids: list[str], rows: Labelled, probability: np.ndarray
) -> dict[str, Any]:
    """The engine's verdicts with out-of-fold scores: Habernal and Argotario replayed as
    conversations, the civil Reddit comments judged as replies (the share flagged)."""
    found: dict[str, Any] = {}
    habernal = dict(zip(ids, probability[: len(ids)], strict=True))
    labels = {
        k: bool(v)
        for k, v in json.loads((data / "habernal-cmv" / "labels.json").read_text()).items()
    }
    found["habernal"] = _engine_flags(data / "habernal-cmv" / "threads.jsonl", labels, habernal)
    at = rows.where("argotario")
    argotario_labels = {
        k: bool(v) for k, v in json.loads((data / "argotario" / "labels.json").read_text()).items()
    }
    by_text = {rows.texts[i]: float(probability[i]) for i in at}
    from adapters.replay.runner import load
    from bot.core.events import MessagePosted

    events, _ = load([data / "argotario" / "replay.jsonl"])
    by_id = {e.id: by_text.get(e.text, 0.0) for e in events
             if isinstance(e, MessagePosted) and e.id in argotario_labels}  # fmt: skip
    found["argotario"] = _engine_flags(data / "argotario" / "replay.jsonl", argotario_labels, by_id)
    reddit = rows.where("reddit")
    found["reddit civil, flagged"] = _replies_flagged(
        [rows.texts[i] for i in reddit], probability[reddit]
    )
    for name, values in found.items():
        if isinstance(values, dict):
            show(f"engine, {name}", values)
        else:
            print(f"engine, {name}: {values:.4f}")
    return found


def rounded(value: Any) -> Any:
    """``value`` with its floats rounded to four places, for the weights files."""
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return round(float(value), 4) if isinstance(value, float | np.floating) else value


def write(model: AttackModel, path: Path, summary: dict[str, Any]) -> None:
    raw = model.to_dict()
    payload = {
        "format": FORMAT,
        "about": f"Longform attack model. {ABOUT}",
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


def describe(rows: Labelled) -> None:
    for source in dict.fromkeys(rows.sources.tolist()):
        at = rows.where(source)
        print(
            f"{source}: {len(at)} rows, {int(rows.y[at].sum())} attacks, weight {rows.weights[at].sum():.0f}"
        )


def main() -> None:
    args = arguments(__doc__.splitlines()[0], OUT)
    ids, rows = everything(args.data)
    describe(rows)
    corpus = Corpus(rows)
    probability, raw = cross_validate(corpus, args.folds, args.seed)
    CACHE.mkdir(exist_ok=True)  # for later analysis, and for the sentence tier's cascade
    np.save(CACHE / f"linear-out-of-fold-seed{args.seed}.npy", np.vstack([probability, raw]))
    checks = engine_checks(args.data, ids, rows, probability)
    if args.dry_run:
        return
    everyone = np.arange(len(rows))
    model = calibrated(corpus.fit(everyone), *corpus.calibration(everyone, raw))
    summary = {
        "folds": args.folds,
        "seed": args.seed,
        **metrics(rows.y, probability),
        "engine": checks,
    }
    write(model, args.out, rounded(summary))


if __name__ == "__main__":
    main()
