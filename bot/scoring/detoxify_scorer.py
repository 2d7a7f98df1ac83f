"""Detoxify as a hostility scorer (the ``Scorer`` protocol of ``bot.core.scoring``).

Two ways to load it:

- ``checkpoint`` and ``config_dir`` both given: fully offline, from a Detoxify checkpoint file and a
  directory holding the Hugging Face config and tokenizer files of its base model.
- neither given: Detoxify downloads both (GitHub release and Hugging Face hub) on first use.

torch, transformers and detoxify are imported only when a scorer is built, so this module imports
on a machine without them.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.scoring.errors import ScorerLoadError

MODEL_TYPES = ("original", "unbiased", "multilingual", "original-small", "unbiased-small")

# Longer texts are cut before tokenising: the model reads at most 512 tokens anyway, and tokenising
# a 100,000-character message would only cost time.
MAX_CHARS = 5_000

# The most tokens any Detoxify model reads (all are BERT-sized encoders).
MAX_TOKENS = 512

# Detoxify's own renames (detoxify.detoxify.load_checkpoint), so that every model reports the same
# attribute names.
CLASS_RENAMES = {
    "toxic": "toxicity",
    "identity_hate": "identity_attack",
    "severe_toxic": "severe_toxicity",
}

# RoBERTa-style models number positions from padding_idx + 1: two position slots never hold tokens.
_POSITION_OFFSETS = {"roberta": 2, "xlm-roberta": 2, "camembert": 2}

_FIX = (
    "run `longform models fetch`, or set scoring.detoxify.checkpoint and "
    "scoring.detoxify.config_dir to local files"
)

_Loaded = tuple[Any, Any, list[str]]


class DetoxifyScorer:
    """Scores texts with a Detoxify model; see the module docstring for how it loads."""

    def __init__(
        self,
        model: str = "unbiased",
        checkpoint: Path | None = None,
        config_dir: Path | None = None,
        batch_size: int = 32,
        device: str = "cpu",
    ) -> None:
        """Load the model now. Raises ScorerLoadError, saying how to fix it, if it cannot."""
        if model not in MODEL_TYPES:
            raise ScorerLoadError(
                f"unknown Detoxify model {model!r}: choose one of {', '.join(MODEL_TYPES)}"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, not {batch_size}")
        self._name = f"detoxify-{model}"
        self._batch_size = batch_size
        self._model, self._tokenizer, self._classes = _load(model, checkpoint, config_dir, device)
        self._max_tokens = _token_limit(self._tokenizer, self._model.config)
        self._attributes = tuple(self._classes)
        if "obscene" in self._classes and "profanity" not in self._classes:
            self._attributes += ("profanity",)
        # The Rust tokenizer keeps padding/truncation settings as shared state: one batch at a time.
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """``detoxify-<model>``, e.g. ``detoxify-unbiased``."""
        return self._name

    @property
    def attributes(self) -> tuple[str, ...]:
        """Detoxify's class names (renamed as Detoxify does), plus ``profanity`` if ``obscene``."""
        return self._attributes

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """One dict per text, in order, with every attribute on a 0..1 scale.

        Texts are scored in batches of ``batch_size``; odd text (empty, huge, lone surrogates) is
        cleaned rather than raised on.
        """
        cleaned = [_clean(text) for text in texts]
        results: list[dict[str, float]] = []
        with self._lock:
            for start in range(0, len(cleaned), self._batch_size):
                results.extend(self._score_batch(cleaned[start : start + self._batch_size]))
        return results

    def _score_batch(self, texts: list[str]) -> list[dict[str, float]]:
        """Scores of one batch, one dict per text."""
        import torch

        with torch.inference_mode():
            inputs = self._tokenizer(
                texts,
                return_tensors="pt",
                padding=True,
                truncation=True,
                max_length=self._max_tokens,
            ).to(self._model.device)
            logits = self._model(**inputs).logits
            # Some checkpoints have more outputs than named classes (unbiased: identity subgroups).
            rows: list[list[float]] = (
                torch.sigmoid(logits[:, : len(self._classes)]).float().cpu().tolist()
            )
        return [self._named(row) for row in rows]

    def _named(self, row: list[float]) -> dict[str, float]:
        """``row`` as attribute -> score, with ``profanity`` mirroring ``obscene``."""
        scores = dict(zip(self._classes, row, strict=True))
        if "obscene" in scores:
            scores.setdefault("profanity", scores["obscene"])
        return scores


def _clean(text: str) -> str:
    """``text`` cut to MAX_CHARS and made valid UTF-8."""
    # A lone surrogate (a split UTF-16 pair from a client) makes the Rust tokenizer raise TypeError.
    return text[:MAX_CHARS].encode("utf-8", "replace").decode("utf-8")


def _token_limit(tokenizer: Any, config: Any) -> int:
    """The most tokens the model can read: a tokenizer saved without a limit must not overflow."""
    limit = min(int(tokenizer.model_max_length), MAX_TOKENS)
    positions = getattr(config, "max_position_embeddings", None)
    if isinstance(positions, int):
        offset = _POSITION_OFFSETS.get(str(getattr(config, "model_type", "")), 0)
        limit = min(limit, positions - offset)
    return limit


def _load(
    model_type: str, checkpoint: Path | None, config_dir: Path | None, device: str
) -> _Loaded:
    """(model, tokenizer, class names) from local files, or from Detoxify's downloads."""
    if checkpoint is None and config_dir is None:
        return _load_downloaded(model_type, device)
    checkpoint_path, config_path = _local_paths(checkpoint, config_dir)
    return _load_local(checkpoint_path, config_path, device)


def _local_paths(checkpoint: Path | None, config_dir: Path | None) -> tuple[Path, Path]:
    """Both paths, checked to exist; ScorerLoadError naming the missing one otherwise."""
    if checkpoint is None:
        raise ScorerLoadError(
            f"Detoxify config_dir {config_dir} was given without a checkpoint file: {_FIX}"
        )
    if config_dir is None:
        raise ScorerLoadError(
            f"Detoxify checkpoint {checkpoint} was given without a config_dir (the Hugging Face "
            f"config and tokenizer files of its base model): {_FIX}"
        )
    checkpoint, config_dir = Path(checkpoint), Path(config_dir)
    if not checkpoint.is_file():
        raise ScorerLoadError(f"Detoxify checkpoint {checkpoint} does not exist: {_FIX}")
    if not config_dir.is_dir():
        raise ScorerLoadError(f"Detoxify config_dir {config_dir} does not exist: {_FIX}")
    if not (config_dir / "config.json").is_file():
        raise ScorerLoadError(
            f"Detoxify config_dir {config_dir} has no config.json (it must hold the Hugging Face "
            f"config and tokenizer files of the checkpoint's base model): {_FIX}"
        )
    return checkpoint, config_dir


def _load_local(checkpoint: Path, config_dir: Path, device: str) -> _Loaded:
    """Build the model from local files only; never touches the network.

    This does what ``detoxify.Detoxify(checkpoint=..., huggingface_config_path=...)`` does, but
    reads the base model's config from ``config_dir`` instead of the hub name stored in the
    checkpoint (Detoxify 0.5.4 fetches e.g. ``roberta-base`` from the hub even then, and fails
    offline), and sets the number of labels from the checkpoint, so a stock config.json works.
    """
    # Before transformers is first imported: huggingface_hub reads these at import time.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise ScorerLoadError(
            f"Detoxify needs torch and transformers ({exc}): install the CPU build of torch, "
            "then `pip install 'longform[detoxify]'` (see README)"
        ) from exc
    try:
        # weights_only=False as Detoxify does: the checkpoint is a file the operator chose to trust.
        loaded = torch.load(checkpoint, map_location=device, weights_only=False)
    except Exception as exc:
        raise ScorerLoadError(
            f"cannot read Detoxify checkpoint {checkpoint} ({type(exc).__name__}: {exc}); it may "
            f"be truncated or not a checkpoint: {_FIX}"
        ) from exc
    arch, classes, state_dict = _checkpoint_parts(loaded, checkpoint)
    try:
        model_class = getattr(transformers, arch["model_name"])
        tokenizer_class = getattr(transformers, arch["tokenizer_name"])
        config = model_class.config_class.from_pretrained(
            config_dir, num_labels=arch["num_classes"], local_files_only=True
        )
        model = model_class.from_pretrained(
            pretrained_model_name_or_path=None,
            config=config,
            state_dict=state_dict,
            local_files_only=True,
        )
        tokenizer = tokenizer_class.from_pretrained(config_dir, local_files_only=True)
    except Exception as exc:
        raise ScorerLoadError(
            f"cannot build the Detoxify model from checkpoint {checkpoint} and config_dir "
            f"{config_dir} ({type(exc).__name__}: {exc}); config_dir must hold the Hugging Face "
            f"config and tokenizer files of {arch['model_type']!r}: {_FIX}"
        ) from exc
    model.to(device)
    model.eval()
    return model, tokenizer, classes


def _checkpoint_parts(loaded: object, checkpoint: Path) -> tuple[dict[str, Any], list[str], Any]:
    """(arch args, renamed class names, state dict) of a checkpoint; ScorerLoadError if absent."""
    not_a_checkpoint = ScorerLoadError(
        f"{checkpoint} is not a Detoxify checkpoint (it needs config.arch.args with model_type, "
        "model_name, tokenizer_name and num_classes, config.dataset.args.classes and state_dict): "
        f"{_FIX}"
    )
    try:
        config: Any = loaded
        arch = dict(config["config"]["arch"]["args"])
        names = [str(name) for name in config["config"]["dataset"]["args"]["classes"]]
        state_dict = config["state_dict"]
        arch["num_classes"] = int(arch["num_classes"])
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise not_a_checkpoint from exc
    if not all(
        isinstance(arch.get(key), str) for key in ("model_type", "model_name", "tokenizer_name")
    ):
        raise not_a_checkpoint
    classes = [CLASS_RENAMES.get(name, name) for name in names]
    if not 0 < len(classes) <= arch["num_classes"]:
        raise ScorerLoadError(
            f"Detoxify checkpoint {checkpoint} names {len(classes)} classes but its model has "
            f"{arch['num_classes']} outputs: {_FIX}"
        )
    return arch, classes, state_dict


def _load_downloaded(model_type: str, device: str) -> _Loaded:
    """Detoxify's own model, downloaded on first use (needs internet, then cached)."""
    try:
        import detoxify
    except ImportError as exc:
        raise ScorerLoadError(
            f"Detoxify is not installed ({exc}): install the CPU build of torch, then "
            "`pip install 'longform[detoxify]'` (see README)"
        ) from exc
    try:
        loaded = detoxify.Detoxify(model_type=model_type, device=device)
    except Exception as exc:
        raise ScorerLoadError(
            f"cannot download or load Detoxify model {model_type!r} ({type(exc).__name__}: {exc}). "
            f"On a machine without internet give both a checkpoint and a config_dir: {_FIX}"
        ) from exc
    loaded.model.eval()
    return loaded.model, loaded.tokenizer, list(loaded.class_names)
