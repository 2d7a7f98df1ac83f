"""Choosing a scorer: by name, with Detoxify's weights from files, batched ahead of the engine."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.replay.runner import replay
from bot.cli import app
from bot.core.engine import Engine
from bot.core.events import MessageDeleted, MessageEdited
from bot.core.settings import Policy
from bot.scoring.embedded import EmbeddedScorer
from bot.scoring.errors import ScorerLoadError
from bot.scoring.select import CombinedScorer, DetoxifyChoice, build_scorer, weights_in
from tests.builders import MIN, T0, message
from tests.tiny_detoxify import build_tiny_checkpoint

DEMO = Path(__file__).resolve().parents[1] / "bot" / "demo"
runner = CliRunner()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-detoxify"))


class _CountingScorer:
    """The embedded scorer, recording the size of every batch it is asked to score."""

    name = "counting"
    attributes = EmbeddedScorer.attributes

    def __init__(self) -> None:
        self.batches: list[int] = []

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        self.batches.append(len(texts))
        return EmbeddedScorer().score(texts)


def test_replay_scores_texts_in_batches_and_decides_the_same() -> None:
    events = [message(f"u{i}", "you clearly don't understand this", T0 + i * MIN,
                      reply_to_author="ana", id=f"b{i}") for i in range(10)]  # fmt: skip
    events += [MessageEdited("b1", T0 + 11 * MIN, "fine"), MessageDeleted("b2", T0 + 12 * MIN)]
    counting = _CountingScorer()
    batched = list(replay(Engine(Policy(), EmbeddedScorer()), events, counting, batch_size=4))
    inline = list(replay(Engine(Policy(), EmbeddedScorer()), events))
    assert counting.batches == [4, 4, 3]  # the deletion has no text to score
    assert batched == inline


def test_combined_scorer_keeps_the_higher_score_per_attribute() -> None:
    class Fixed:
        name, attributes = "fixed", ("insult", "obscene")

        def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
            return [{"insult": 0.5, "obscene": 0.9} for _ in texts]

    combined = CombinedScorer(EmbeddedScorer(), Fixed())
    calm, rude = combined.score(["thanks, good point", "you're an idiot"])
    assert calm["insult"] == 0.5
    assert calm["obscene"] == 0.9
    assert rude["insult"] > 0.5  # the rules' stronger reading wins
    assert combined.name == "embedded+fixed"
    assert set(combined.attributes) >= {"insult", "obscene", "toxicity"}


def test_detoxify_scorer_built_from_explicit_files(tiny: tuple[Path, Path]) -> None:
    checkpoint, config_dir = tiny
    scorer = build_scorer("detoxify", DetoxifyChoice(checkpoint=checkpoint, config_dir=config_dir))
    assert scorer.name == "embedded+minilm+detoxify-unbiased"
    (scores,) = scorer.score(["you are an idiot"])
    assert 0.0 <= scores["severe_toxicity"] <= 1.0


def test_model_dir_with_manifest_and_without(tmp_path: Path, tiny: tuple[Path, Path]) -> None:
    checkpoint, config_dir = tiny
    (tmp_path / "manifest.json").write_text(
        json.dumps({"checkpoint": str(checkpoint), "config_dir": str(config_dir)})
    )
    assert weights_in(tmp_path) == (checkpoint, config_dir)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ScorerLoadError, match="damaged"):
        weights_in(tmp_path)
    with pytest.raises(ScorerLoadError, match="models fetch"):
        weights_in(tmp_path / "missing")


def test_unknown_scorer_is_named() -> None:
    with pytest.raises(ScorerLoadError, match="choose one of embedded, detoxify"):
        build_scorer("perspective")


def test_replay_cli_with_detoxify(tiny: tuple[Path, Path]) -> None:
    checkpoint, config_dir = tiny
    result = runner.invoke(app, ["replay", str(DEMO / "02_debate_turns_personal.jsonl"), "--format",
                                 "jsonl", "--scorer", "detoxify", "--checkpoint", str(checkpoint),
                                 "--config-dir", str(config_dir)])  # fmt: skip
    assert result.exit_code == 0, result.output
    signals = {json.loads(line).get("signal") for line in result.stdout.splitlines()}
    assert "ad_hominem" in signals


def test_replay_cli_says_how_to_get_missing_weights(tmp_path: Path) -> None:
    result = runner.invoke(app, ["replay", str(DEMO / "02_debate_turns_personal.jsonl"),
                                 "--scorer", "detoxify", "--model-dir", str(tmp_path / "none")])  # fmt: skip
    assert result.exit_code == 2
    assert "longform models fetch" in result.output
