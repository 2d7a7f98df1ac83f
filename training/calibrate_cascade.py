"""Calibrate the cascade (the mean of the linear model and the sentence tier) for chat.

Run from the repository root, with the training and embedding extras installed, after
``train_attack_model.py`` (whose out-of-fold scores it reads from ``training/.cache``)::

    .venv/bin/python training/calibrate_cascade.py            # fit, report, write the calibration
    .venv/bin/python training/calibrate_cascade.py --dry-run  # fit and report only

How it works: the cascade's mean is recalibrated by three numbers (``Calibration``: a scale and a
shift of its log-odds, and a term per log-word, so that a probability means the same for a short
reply as for a long post), class-balanced, fitted on rows that **neither tier was fitted on**: the
linear model's out-of-fold probabilities (same folds as its training), and the shipped sentence
tier's probabilities on the sources it never saw (Argotario, the civil Reddit comments, and
``anchors_chat.jsonl``: the sentence tier was last trained on 2026-11-30, on Habernal and
``anchors.jsonl`` only). The sentence tier itself is not retrained here (see training/README.md).
The engine's verdicts with the calibrated cascade are then printed: on Argotario and the civil
Reddit comments they are honest (no score comes from a model fitted on the row), on Habernal the
sentence tier's scores are in-sample, and the line says so. Only the head file's ``calibration``
is rewritten; the adapter and the head's weights are left as they are.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "training"))

from cascade import calibrated_cascade  # noqa: E402
from sources import everything  # noqa: E402
from train_attack_model import (  # noqa: E402
    CACHE,
    Corpus,
    arguments,
    cross_validate,
    describe,
    engine_checks,
    report,
)

from bot.scoring.embedded import SENTENCE_FROM  # noqa: E402
from bot.scoring.sentence_model import (  # noqa: E402
    WEIGHTS,
    SentenceAttackModel,
)

OUT = ROOT / "bot" / "scoring" / "weights" / WEIGHTS
# Sources the shipped sentence tier was not trained on.
UNSEEN = ("argotario", "reddit", "chat-anchors")


def linear_out_of_fold(corpus: Corpus, folds: int, seed: int) -> np.ndarray:
    """The linear model's out-of-fold probabilities: train_attack_model.py's, or computed again."""
    path = CACHE / f"linear-out-of-fold-seed{seed}.npy"
    if path.is_file():
        found = np.load(path)[0]
        if len(found) == len(corpus.y):
            return found
    print("no cached out-of-fold scores for these rows: cross-validating the linear model")
    return cross_validate(corpus, folds, seed)[0]


def sentence_scores(texts: list[str]) -> np.ndarray:
    """The shipped sentence tier's probabilities (cached by content and the head's weights; the
    calibration written here does not change them)."""
    head = json.loads(OUT.read_text(encoding="utf-8"))
    weights = json.dumps([head["bias"], head["weights"], head.get("adapter")]).encode()
    digest = hashlib.sha256(weights + "\x00".join(texts).encode()).hexdigest()[:16]
    path = CACHE / f"shipped-sentence-{digest}.npy"
    if path.is_file():
        return np.load(path)
    found = np.array(SentenceAttackModel.load().probabilities(texts))
    CACHE.mkdir(exist_ok=True)
    np.save(path, found)
    return found


def main() -> None:
    args = arguments(__doc__.splitlines()[0], OUT)
    ids, rows = everything(args.data)
    describe(rows)
    corpus = Corpus(rows)
    fast = linear_out_of_fold(corpus, args.folds, args.seed)
    sentence = sentence_scores(rows.texts)
    reached = fast >= SENTENCE_FROM
    fit_on = reached & np.isin(rows.sources, UNSEEN)
    print(f"fitting on {int(fit_on.sum())} rows that reach the sentence tier and that neither "
          f"tier was fitted on ({int(rows.y[fit_on].sum())} attacks)")  # fmt: skip
    calibration, cascade = calibrated_cascade(
        fast, sentence, corpus.lengths, rows.y, rows.weights, fit_on
    )
    scale, shift, per_log_word = calibration.scale, calibration.shift, calibration.per_log_word
    print(f"calibration: scale {scale:.3f}, shift {shift:.3f}, per log-word {per_log_word:.3f}")
    print("calibrated cascade by source (Habernal and anchors: the sentence tier's scores are "
          "in-sample there):")  # fmt: skip
    report(rows, cascade, corpus.lengths)
    print("engine with the calibrated cascade (Habernal: in-sample for the sentence tier):")
    checks = engine_checks(args.data, ids, rows, cascade)
    if args.dry_run:
        return
    head = json.loads(OUT.read_text(encoding="utf-8"))
    head["calibration"] = {
        "scale": round(scale, 6),
        "shift": round(shift, 6),
        "per_log_word": round(per_log_word, 6),
        "fitted_on": f"{int(fit_on.sum())} rows of {', '.join(UNSEEN)} (training/calibrate_cascade.py)",
        "engine": {
            k: v if isinstance(v, float) else {m: round(x, 4) for m, x in v.items()}
            for k, v in checks.items()
        },
    }
    OUT.write_text(json.dumps(head, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote the calibration into {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
