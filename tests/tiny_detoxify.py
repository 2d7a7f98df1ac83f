"""A tiny, randomly initialised Detoxify checkpoint, built offline, for tests.

The scores it gives are meaningless but deterministic, and it runs through the real loading and
prediction code (transformers' BERT, its tokenizer, Detoxify's checkpoint format) in milliseconds.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
import transformers

# The classes of Detoxify's "unbiased" checkpoint (already in Detoxify's normalised names).
UNBIASED_CLASSES = (
    "toxicity",
    "severe_toxicity",
    "obscene",
    "identity_attack",
    "insult",
    "threat",
    "sexual_explicit",
)

# The classes of Detoxify's "original" checkpoint (Jigsaw's names, which Detoxify renames).
ORIGINAL_CLASSES = ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")

# Positions the model can read: far fewer than a long message has tokens, so scorers must truncate.
MAX_POSITIONS = 128

# The tiny model's shape; benchmarks/detoxify_speed.py passes a full-size one instead.
TINY_SHAPE = {
    "hidden_size": 16,
    "num_hidden_layers": 1,
    "num_attention_heads": 2,
    "intermediate_size": 32,
    "max_position_embeddings": MAX_POSITIONS,
}

_SPECIAL = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789.,!?'-"
_WORDS = ("the", "you", "are", "an", "idiot", "great", "panel", "talk", "shit", "thanks")


def build_tiny_checkpoint(
    directory: Path,
    classes: Sequence[str] = UNBIASED_CLASSES,
    *,
    seed: int = 0,
    model_type: str | None = None,
    shape: Mapping[str, int] = TINY_SHAPE,
    vocab: Path | None = None,
) -> tuple[Path, Path]:
    """Write a Detoxify checkpoint and its config directory under ``directory``.

    Returns ``(checkpoint, config_dir)``, loadable offline with
    ``detoxify.Detoxify(checkpoint=..., huggingface_config_path=...)``. The same ``seed`` gives the
    same weights. ``model_type`` is what the checkpoint names as its base model; by default the
    config directory, as Detoxify loads that name too.
    """
    config_dir = directory / "config"
    config_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer(config_dir, vocab)
    config = transformers.BertConfig(
        vocab_size=len(tokenizer),
        **shape,
        id2label=dict(enumerate(classes)),
        # Wide initial weights, so that different texts get clearly different scores.
        initializer_range=0.5,
    )
    with torch.random.fork_rng(devices=[]):  # leave the caller's random state alone
        torch.manual_seed(seed)
        model = transformers.BertForSequenceClassification(config)
    # Weights travel in the checkpoint; the directory needs only the config and the tokenizer.
    config.save_pretrained(config_dir)
    tokenizer.save_pretrained(config_dir)
    checkpoint = directory / "tiny-detoxify.ckpt"
    arch = {
        "model_type": model_type or str(config_dir),
        "model_name": "BertForSequenceClassification",
        "tokenizer_name": "BertTokenizer",
        "num_classes": len(classes),
    }
    torch.save(
        {
            "config": {"arch": {"args": arch}, "dataset": {"args": {"classes": list(classes)}}},
            "state_dict": model.state_dict(),
        },
        checkpoint,
    )
    return checkpoint, config_dir


def _tokenizer(config_dir: Path, vocab: Path | None) -> transformers.BertTokenizer:
    """A WordPiece tokenizer over ``vocab``, or a tiny vocabulary: letters, digits, some words and
    pieces."""
    vocab_file = config_dir / "vocab.txt"
    if vocab is not None:
        shutil.copyfile(vocab, vocab_file)
    else:
        words = [*_SPECIAL, *_CHARS, *(f"##{char}" for char in _CHARS), *_WORDS]
        vocab_file.write_text("\n".join(words) + "\n", encoding="utf-8")
    # No model_max_length: like some hub tokenizers, it leaves the length limit to the scorer.
    return transformers.BertTokenizer(vocab_file=str(vocab_file))
