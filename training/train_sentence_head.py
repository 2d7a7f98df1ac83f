"""Train the sentence tier (``bot/scoring/sentence_model.py``): adapter and head, and measure the cascade.

Run from the repository root, with the training and embedding extras installed::

    .venv/bin/python training/train_sentence_head.py            # cross-validate, then write
    .venv/bin/python training/train_sentence_head.py --dry-run  # cross-validate only

Same data and folds as ``train_attack_model.py`` (Habernal's ChangeMyView last messages,
Apache-2.0, plus ``training/anchors.jsonl``). Each text is read as at run time (its own words:
quotation set aside). In each fold a logistic head is first fitted on the frozen encoder's
embeddings (cached in ``training/.cache``, ignored by git), then the encoder's top two layers are
tuned with it by low-rank updates (``training/tuning.py``) on the training part and the anchors,
and the held-out part is scored. The linear attack model's out-of-fold probabilities come from the
same folds, and the cascade is applied exactly as ``EmbeddedScorer`` applies it, so the printed
engine F1 is what ships, measured on messages no model saw. Finally adapter and head are trained on
everything, loaded back from a scratch folder with the runtime's own code, checked to give the
same scores, and only then copied over the shipped files.
About 15 minutes on two cores.
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
from tuning import SCALE, bottom_states, probabilities, train  # noqa: E402

from bot.scoring.adapter import save_adapter  # noqa: E402
from bot.scoring.embedded import SENTENCE_FROM, combine  # noqa: E402
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
    ids, texts, y = load_habernal(args.data)
    anchor_texts, anchor_y = load_anchors(ANCHORS)
    corpus = Corpus(texts, y, anchor_texts, anchor_y)
    own = [sentence_input(t) for t in corpus.texts]
    anchor_own = [sentence_input(t) for t in anchor_texts]
    vectors, anchor_vectors = embed(own, "habernal"), embed(anchor_own, "anchors")
    share = {c: float(np.mean(anchor_y == c)) for c in (0, 1)}
    anchor_weight = np.array([ANCHOR_WEIGHT / (2 * share[int(c)]) for c in anchor_y])
    model, tokenizer = encoder_parts()
    states = bottom_states(model, tokenizer, own + anchor_own, MAX_TOKENS)
    anchors = np.arange(len(y), len(y) + len(anchor_y))  # where the anchors sit in ``states``

    def tuned_on(index: np.ndarray, seed: int) -> Any:
        index = index[corpus.has_words[index]]
        start = start_head(np.vstack([vectors[index], anchor_vectors]),
                           np.concatenate([y[index], anchor_y]),
                           np.concatenate([np.ones(len(index)), anchor_weight]))  # fmt: skip
        rows = np.concatenate([index, anchors])
        return train(model, [states[i] for i in rows], np.concatenate([y[index], anchor_y]),
                     np.concatenate([np.ones(len(index)), anchor_weight]), start, seed)  # fmt: skip

    print("linear attack model, out of fold:", flush=True)
    fast, _ = cross_validate(corpus, args.folds, args.seed)
    sentence = np.zeros(len(y))
    splitter = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed)
    for number, (train_part, test) in enumerate(splitter.split(np.arange(len(y)), y), start=1):
        print(f"sentence tier, fold {number}:", flush=True)
        tuned = tuned_on(train_part, args.seed)
        sentence[test] = probabilities(tuned, [states[i] for i in test])
    sentence[~corpus.has_words] = 0.0
    CACHE.mkdir(exist_ok=True)
    np.save(CACHE / f"sentence-out-of-fold-seed{args.seed}.npy", sentence)  # for later analysis
    cascade = np.array(
        [combine(f, s if f >= SENTENCE_FROM else None) for f, s in zip(fast, sentence, strict=True)]
    )
    reached = float(np.mean(fast >= SENTENCE_FROM))
    summary: dict[str, dict[str, float]] = {}
    for name, p in (("sentence tier alone", sentence), ("cascade", cascade)):
        summary[name] = metrics(y, p)
        print(f"{name}: " + "  ".join(f"{k} {v:.3f}" for k, v in summary[name].items()))
    print(f"{reached:.0%} of the last messages reach the sentence tier "
          f"(fast probability >= {SENTENCE_FROM})")  # fmt: skip
    summary["engine"] = engine_f1(args.data, ids, y, cascade)
    print("engine, professional policy, out-of-fold cascade: "
          + "  ".join(f"{k} {v:.3f}" for k, v in summary["engine"].items()))  # fmt: skip
    if args.dry_run:
        return
    print("sentence tier, on everything:", flush=True)
    tuned = tuned_on(np.arange(len(y)), args.seed)
    payload = {
        "format": FORMAT,
        "about": "Longform sentence tier: a logistic head over all-MiniLM-L6-v2 embeddings, the "
        "encoder's top two layers tuned by the low-rank adapter in the file named below; see "
        "training/README.md. Trained on Habernal et al. (NAACL 2018) ChangeMyView last messages "
        "(Apache-2.0) and training/anchors.jsonl.",
        "cross_validation": {
            "folds": args.folds, "seed": args.seed, "reached": round(reached, 4),
            **{k: {m: round(float(v), 4) for m, v in row.items()} for k, row in summary.items()},
        },
        "max_tokens": MAX_TOKENS,
        "adapter": ADAPTER,
        "bias": round(float(tuned.head.bias.detach()[0]), 6),
        "weights": [round(float(w), 6) for w in tuned.head.weight.detach()[0]],
    }  # fmt: skip
    sample = np.concatenate([np.arange(0, len(y), 40), anchors[::20]])
    sample_texts = [(corpus.texts + anchor_texts)[i] for i in sample]
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
