"""Train the sentence tier (``bot/scoring/sentence_model.py``): adapter, head and calibration.

Run from the repository root, with the training and embedding extras installed::

    .venv/bin/python training/train_sentence_head.py            # cross-validate, then write
    .venv/bin/python training/train_sentence_head.py --dry-run  # cross-validate only

Same data and folds as ``train_attack_model.py`` (``training/sources.py``: Habernal, Argotario,
the civil Reddit comments and the anchors). Each text is read as at run time (its own words:
quotation set aside). In each fold a logistic head is first fitted on the frozen encoder's
embeddings (cached in ``training/.cache``, ignored by git), then the encoder's top two layers are
tuned with it by low-rank updates (``training/tuning.py``) on the training part, and the held-out
part is scored. The linear attack model's out-of-fold probabilities come from the same folds, and
the cascade is applied exactly as ``EmbeddedScorer`` applies it; its mean is then calibrated
(class-balanced, with a length term, fitted on the out-of-fold cascade) so that a probability
means the same for a short reply as for a long post. The printed engine numbers are what ships,
measured on messages no model saw (the three calibration numbers are fitted on those same
out-of-fold scores). Finally adapter and head are trained on everything, loaded back from a
scratch folder with the runtime's own code, checked to give the same scores, and only then copied
over the shipped files. About 30 minutes on two cores.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "training"))

from cascade import calibrated_cascade  # noqa: E402
from sources import everything  # noqa: E402
from train_attack_model import (  # noqa: E402
    ABOUT,
    Corpus,
    arguments,
    cross_validate,
    describe,
    engine_checks,
    folds,
    report,
    rounded,
)
from tuning import SCALE, bottom_states, probabilities, train  # noqa: E402

from bot.scoring.adapter import save_adapter  # noqa: E402
from bot.scoring.embedded import SENTENCE_FROM  # noqa: E402
from bot.scoring.sentence_model import (  # noqa: E402
    FORMAT,
    WEIGHTS,
    SentenceAttackModel,
    SentenceEncoder,
    sentence_input,
)

OUT = ROOT / "bot" / "scoring" / "weights" / WEIGHTS
ADAPTER = "attack_minilm_adapter.safetensors"  # written beside the head
CACHE = ROOT / "training" / ".cache"
C = 1.0  # the starting head; 0.5..8 measured within 0.01 F1 of each other (frozen encoder)
MAX_TOKENS = 256  # the encoder's own limit (sentence_bert_config.json)


def embed(texts: list[str], name: str) -> np.ndarray:
    """Embeddings of ``texts`` with the runtime encoder, cached by content."""
    digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]
    path = CACHE / f"{name}-{digest}.npy"
    if path.is_file():
        return np.load(path)
    began = time.perf_counter()
    encoder = SentenceEncoder(MAX_TOKENS)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # little padding
    vectors = np.zeros((len(texts), 384))
    for i in range(0, len(order), 64):
        part = order[i : i + 64]
        vectors[part] = encoder.encode([texts[j] for j in part])
    print(f"embedded {len(texts)} {name} texts in {time.perf_counter() - began:.0f} s", flush=True)
    CACHE.mkdir(exist_ok=True)
    np.save(path, vectors)
    return vectors


def start_head(vectors: np.ndarray, y: np.ndarray, weight: np.ndarray) -> tuple[float, list[float]]:
    """Bias and weights of a logistic head on the frozen encoder's embeddings: where tuning starts."""
    regression = LogisticRegression(C=C, max_iter=5000).fit(vectors, y, sample_weight=weight)
    return float(regression.intercept_[0]), list(map(float, regression.coef_[0]))


def encoder_parts() -> tuple[Any, Any]:
    """The packaged encoder's model and tokenizer, as the runtime loads them (no adapter)."""
    encoder = SentenceEncoder(MAX_TOKENS)
    return encoder._model, encoder._tokenizer


def check_runtime(head_path: Path, texts: list[str], expected: np.ndarray) -> float:
    """The written files, loaded by the runtime, must score as training did. Returns the largest
    difference; exits if it is not negligible (the two code paths would disagree)."""
    found = np.array(SentenceAttackModel.load(head_path=head_path).probabilities(texts))
    worst = float(np.max(np.abs(found - expected)))
    print(f"runtime check: {len(texts)} texts, largest difference {worst:.2e}")
    if worst > 1e-3:
        raise SystemExit("the runtime scores differ from training's: do not ship these weights")
    return worst


def main() -> None:
    args = arguments(__doc__.splitlines()[0], OUT)
    ids, rows = everything(args.data)
    describe(rows)
    corpus = Corpus(rows)
    y, weight = rows.y, rows.weights
    own = [sentence_input(t) for t in rows.texts]
    vectors = embed(own, "all-sources")
    model, tokenizer = encoder_parts()
    states = bottom_states(model, tokenizer, own, MAX_TOKENS)

    def tuned_on(index: np.ndarray, seed: int) -> Any:
        index = index[corpus.has_words[index]]
        start = start_head(vectors[index], y[index], weight[index])
        return train(model, [states[i] for i in index], y[index], weight[index], start, seed)

    print("linear attack model, out of fold:", flush=True)
    fast, _ = cross_validate(corpus, args.folds, args.seed)
    sentence = np.zeros(len(y))
    everyone = np.arange(len(y))
    for number, (train_part, test) in enumerate(folds(rows, everyone, args.folds, args.seed), 1):
        print(f"sentence tier, fold {number}:", flush=True)
        tuned = tuned_on(train_part, args.seed)
        sentence[test] = probabilities(tuned, [states[i] for i in test])
    sentence[~corpus.has_words] = 0.0
    CACHE.mkdir(exist_ok=True)
    np.save(CACHE / f"sentence-out-of-fold-seed{args.seed}.npy", np.vstack([fast, sentence]))
    reached = fast >= SENTENCE_FROM
    # The mean of two probabilities is no longer calibrated: a last, class-balanced Platt step
    # with a length term (fitted on these out-of-fold means) makes it so, for texts that reach
    # the sentence tier; the others keep the linear model's own calibrated probability.
    calibration, cascade = calibrated_cascade(fast, sentence, corpus.lengths, y, weight, reached)
    scale, shift, per_length = calibration.scale, calibration.shift, calibration.per_log_word
    print(f"cascade calibration: scale {scale:.3f} shift {shift:.3f} per log-word {per_length:.3f}")
    summary: dict[str, Any] = {}
    for name, p in (("sentence tier alone", sentence), ("cascade", cascade)):
        print(f"{name}, out of fold:")
        summary[name] = report(rows, p, corpus.lengths)
    print(
        f"{reached.mean():.0%} of the texts reach the sentence tier (fast probability >= {SENTENCE_FROM})"
    )
    summary["engine"] = engine_checks(args.data, ids, rows, cascade)
    if args.dry_run:
        return
    print("sentence tier, on everything:", flush=True)
    tuned = tuned_on(everyone, args.seed)
    payload = {
        "format": FORMAT,
        "about": "Longform sentence tier: a logistic head over all-MiniLM-L6-v2 embeddings, the "
        "encoder's top two layers tuned by the low-rank adapter in the file named below, and the "
        "cascade's calibration. " + ABOUT,
        "cross_validation": rounded({"folds": args.folds, "seed": args.seed,
                                     "reached": float(reached.mean()), **summary}),
        "max_tokens": MAX_TOKENS,
        "adapter": ADAPTER,
        "calibration": {"scale": round(scale, 6), "shift": round(shift, 6),
                        "per_log_word": round(per_length, 6)},
        "bias": round(float(tuned.head.bias.detach()[0]), 6),
        "weights": [round(float(w), 6) for w in tuned.head.weight.detach()[0]],
    }  # fmt: skip
    sample = np.arange(0, len(y), 40)
    sample_texts = [rows.texts[i] for i in sample]
    # Written beside each other in a scratch folder first: only files the runtime reads back as
    # training scored them replace the shipped ones.
    with tempfile.TemporaryDirectory() as scratch:
        head_path = Path(scratch) / args.out.name
        save_adapter(Path(scratch) / ADAPTER, tuned.factors(), SCALE)
        head_path.write_text(json.dumps(payload, separators=(",", ":")) + "\n")
        check_runtime(head_path, sample_texts, probabilities(tuned, [states[i] for i in sample]))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        for name in (args.out.name, ADAPTER):
            shutil.copyfile(Path(scratch) / name, args.out.parent / name)
    for path in (args.out, args.out.parent / ADAPTER):
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
