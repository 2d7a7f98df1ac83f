"""Choosing a scorer by name, as the CLI and the config do.

``embedded`` (the default) needs nothing; its sentence tier needs the ``embedding`` extra and is
used when installed (``sentence_tier="auto"``), required (``"on"``) or left out (``"off"``).
``detoxify`` runs Detoxify beside the embedded rules: the rules still find the cues and targets,
Detoxify adds its attributes, and for each attribute the higher of the two counts. Detoxify's
weights come from a directory written by `longform models fetch`, from an explicit checkpoint and
config directory, or (on a machine with internet) from Detoxify's own download.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import structlog

from bot.core.explain import Explainer
from bot.core.scoring import Scorer
from bot.scoring.embedded import SENTENCE_FROM, EmbeddedScorer, SentenceTier
from bot.scoring.errors import ScorerLoadError
from bot.scoring.sentence_model import SentenceAttackModel
from bot.scoring.sentence_process import SentenceProcesses

SCORERS = ("embedded", "detoxify")
SENTENCE_TIERS = ("auto", "on", "off")
log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class DetoxifyChoice:
    """Where Detoxify's weights come from; all None means Detoxify's own download."""

    model: str = "unbiased"
    model_dir: Path | None = None
    checkpoint: Path | None = None
    config_dir: Path | None = None
    batch_size: int = 32
    device: str = "cpu"


class CombinedScorer:
    """Two scorers' attributes together; for an attribute both give, the higher score."""

    def __init__(self, first: Scorer, second: Scorer) -> None:
        self._first, self._second = first, second
        self.name = f"{first.name}+{second.name}"
        self.attributes = tuple(dict.fromkeys((*first.attributes, *second.attributes)))

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """One mapping per text, in order."""
        combined = []
        for mine, theirs in zip(self._first.score(texts), self._second.score(texts), strict=True):
            merged = dict(mine)
            for name, value in theirs.items():
                merged[name] = max(value, merged.get(name, 0.0))
            combined.append(merged)
        return combined

    def salient(self, text: str) -> tuple[str, ...]:
        """The first scorer's salient words (see ``bot.core.explain``); () if it has none."""
        return self._first.salient(text) if isinstance(self._first, Explainer) else ()


def build_scorer(
    name: str,
    detoxify: DetoxifyChoice | None = None,
    *,
    every_text: bool = False,
    sentence_tier: str = "auto",
    sentence_from: float = SENTENCE_FROM,
    sentence_processes: int = 0,
) -> Scorer:
    """The scorer called ``name``. Raises ScorerLoadError naming the problem and the fix.

    ``every_text``: the attack model scores short texts too (for evaluations; see EmbeddedScorer).
    ``sentence_tier``: auto (use the sentence tier where installed), on (require it) or off.
    ``sentence_from``: the fast tier's probability from which a text goes on to the sentence tier.
    ``sentence_processes``: run the sentence tier in that many worker processes (0: here).
    """
    sentence = sentence_model(sentence_tier, sentence_processes)
    if name == "embedded":
        return EmbeddedScorer(every_text=every_text, sentence=sentence, sentence_from=sentence_from)
    if name == "detoxify":
        from bot.scoring.detoxify_scorer import DetoxifyScorer

        choice = detoxify or DetoxifyChoice()
        checkpoint, config_dir = _weights(choice)
        return CombinedScorer(
            EmbeddedScorer(every_text=every_text, sentence=sentence, sentence_from=sentence_from),
            DetoxifyScorer(choice.model, checkpoint, config_dir, choice.batch_size, choice.device),
        )
    raise ScorerLoadError(f"unknown scorer {name!r}: choose one of {', '.join(SCORERS)}")


def sentence_model(tier: str, processes: int = 0) -> SentenceTier | None:
    """The sentence tier as ``tier`` asks, or None. "auto" without the extra logs how to add it.

    With ``processes``, the tier runs in that many worker processes (started and loaded here).
    """
    if tier not in SENTENCE_TIERS:
        raise ScorerLoadError(
            f"unknown sentence tier {tier!r}: choose one of {', '.join(SENTENCE_TIERS)}"
        )
    if tier == "off":
        return None
    try:
        return _sentence_processes(processes) if processes else _loaded_sentence_model()
    except ScorerLoadError as error:
        if tier == "on":
            raise
        log.warning(
            "sentence_tier_unavailable",
            problem=str(error),
            effect="ad hominem is judged by the fast tier alone, which misses more",
        )
        return None


# Started once per process and size, like the in-process model: tests and the CLI build many
# scorers, and each worker holds its own copy of the encoder.
_pools: dict[int, SentenceProcesses] = {}


def _sentence_processes(processes: int) -> SentenceProcesses:
    if processes not in _pools:
        workers = SentenceProcesses(processes)
        workers.start()
        _pools[processes] = workers
    return _pools[processes]


def stop_sentence_processes() -> None:
    """Stop the sentence tier's worker processes, if any run (the service's shutdown; they would
    otherwise stop at exit)."""
    while _pools:
        _, workers = _pools.popitem()
        workers.close()


@cache
def _loaded_sentence_model() -> SentenceAttackModel:
    # Loaded once per process: the encoder is ~90 MB and every scorer can share it.
    return SentenceAttackModel.load()


def _weights(choice: DetoxifyChoice) -> tuple[Path | None, Path | None]:
    if choice.model_dir is None:
        return choice.checkpoint, choice.config_dir
    return weights_in(choice.model_dir)


def weights_in(model_dir: Path) -> tuple[Path, Path]:
    """The checkpoint file and config directory in a directory written by `longform models fetch`."""
    if not model_dir.is_dir():
        raise ScorerLoadError(
            f"Detoxify model directory {model_dir} does not exist: run `longform models fetch "
            f"--dest {model_dir}` on a machine with internet, then copy the directory here"
        )
    manifest = model_dir / "manifest.json"
    if manifest.is_file():
        try:
            listed = json.loads(manifest.read_text(encoding="utf-8"))
            return model_dir / listed["checkpoint"], model_dir / listed["config_dir"]
        except (ValueError, KeyError, TypeError) as error:
            raise ScorerLoadError(
                f"{manifest} is damaged ({error}): fetch the model again with `longform models fetch`"
            ) from error
    checkpoints = sorted(model_dir.glob("*.ckpt"))
    if len(checkpoints) != 1:
        raise ScorerLoadError(
            f"{model_dir} holds {len(checkpoints)} .ckpt files and no manifest.json: "
            "fetch the model with `longform models fetch`, or name the checkpoint explicitly"
        )
    return checkpoints[0], model_dir
