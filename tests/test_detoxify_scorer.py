"""DetoxifyScorer on a tiny random checkpoint: the real loading and scoring code, fully offline."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (optional: longform[detoxify])")
detoxify = pytest.importorskip(
    "detoxify", reason="detoxify is not installed (optional: longform[detoxify])"
)

from bot.scoring.detoxify_scorer import MAX_CHARS, DetoxifyScorer  # noqa: E402
from bot.scoring.errors import ScorerLoadError  # noqa: E402
from tests.tiny_detoxify import (  # noqa: E402
    ORIGINAL_CLASSES,
    UNBIASED_CLASSES,
    build_tiny_checkpoint,
)

FIX = "longform models fetch"
WORDS = ("you", "are", "an", "idiot", "great", "panel", "talk", "thanks", "the", "shit", "?!")

# 70 texts of 0 to 40 words: batches of 32 mix lengths, so most texts are padded.
TEXTS = [" ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range((i * 13) % 41)) for i in range(70)]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(checkpoint, config_dir) of the tiny unbiased-style checkpoint."""
    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-detoxify"))


@pytest.fixture(scope="module")
def scorer(tiny: tuple[Path, Path]) -> DetoxifyScorer:
    checkpoint, config_dir = tiny
    return DetoxifyScorer(checkpoint=checkpoint, config_dir=config_dir)


# --- loading -------------------------------------------------------------------------------------


def test_tiny_checkpoint_is_in_detoxify_format(tiny: tuple[Path, Path]) -> None:
    checkpoint, config_dir = tiny
    model = detoxify.Detoxify(checkpoint=str(checkpoint), huggingface_config_path=str(config_dir))
    assert list(model.predict(["you are great"])) == list(UNBIASED_CLASSES)


def test_loads_offline_and_lists_the_attributes(scorer: DetoxifyScorer) -> None:
    assert scorer.name == "detoxify-unbiased"
    assert scorer.attributes == (*UNBIASED_CLASSES, "profanity")


def test_original_class_names_are_renamed_as_detoxify_does(tmp_path: Path) -> None:
    checkpoint, config_dir = build_tiny_checkpoint(tmp_path, ORIGINAL_CLASSES)
    scorer = DetoxifyScorer("original", checkpoint, config_dir)
    assert scorer.name == "detoxify-original"
    assert scorer.attributes == (
        "toxicity",
        "severe_toxicity",
        "obscene",
        "threat",
        "insult",
        "identity_attack",
        "profanity",
    )
    assert set(scorer.score(["hi"])[0]) == set(scorer.attributes)


@pytest.mark.disable_socket
def test_checkpoint_naming_a_hub_model_loads_offline(tmp_path: Path) -> None:
    # Real Detoxify checkpoints name their base model by hub name ("roberta-base"); Detoxify 0.5.4
    # fetches its config even when given huggingface_config_path, and fails offline.
    checkpoint, config_dir = build_tiny_checkpoint(tmp_path, model_type="bert-base-uncased")
    scorer = DetoxifyScorer(checkpoint=checkpoint, config_dir=config_dir)
    assert len(scorer.score(["you are great"])) == 1


def test_config_json_without_labels_loads(tmp_path: Path, tiny: tuple[Path, Path]) -> None:
    # A stock hub config.json has no labels (2 by default); the checkpoint's 7 classes must win.
    checkpoint, config_dir = tiny
    stock = shutil.copytree(config_dir, tmp_path / "stock")
    config = json.loads((stock / "config.json").read_text())
    for key in ("id2label", "label2id", "num_labels"):
        config.pop(key, None)
    (stock / "config.json").write_text(json.dumps(config))
    scorer = DetoxifyScorer(checkpoint=checkpoint, config_dir=stock)
    assert scorer.attributes == (*UNBIASED_CLASSES, "profanity")
    reference = DetoxifyScorer(checkpoint=checkpoint, config_dir=config_dir)
    assert scorer.score(TEXTS[:5]) == reference.score(TEXTS[:5])


# --- scoring -------------------------------------------------------------------------------------


def test_one_complete_result_per_text_on_a_0_to_1_scale(scorer: DetoxifyScorer) -> None:
    results = scorer.score(TEXTS)
    assert len(results) == len(TEXTS)
    for result in results:
        assert tuple(result) == scorer.attributes
        assert all(type(value) is float and 0.0 <= value <= 1.0 for value in result.values())
        assert result["profanity"] == result["obscene"]


def test_batching_and_padding_do_not_change_scores(scorer: DetoxifyScorer) -> None:
    batched = scorer.score(TEXTS)
    alone = [scorer.score([text])[0] for text in TEXTS]
    for together, single in zip(batched, alone, strict=True):
        assert together == pytest.approx(single, abs=1e-5)
    # The comparison means something only if texts score clearly apart.
    toxicity = [result["toxicity"] for result in alone]
    assert max(toxicity) - min(toxicity) > 0.05


def test_batch_size_does_not_change_scores(tiny: tuple[Path, Path]) -> None:
    checkpoint, config_dir = tiny
    by_7 = DetoxifyScorer(checkpoint=checkpoint, config_dir=config_dir, batch_size=7)
    by_100 = DetoxifyScorer(checkpoint=checkpoint, config_dir=config_dir, batch_size=100)
    for small, large in zip(by_7.score(TEXTS), by_100.score(TEXTS), strict=True):
        assert small == pytest.approx(large, abs=1e-5)


def test_scores_are_deterministic(scorer: DetoxifyScorer, tmp_path: Path) -> None:
    assert scorer.score(TEXTS) == scorer.score(TEXTS)
    rebuilt = DetoxifyScorer(*(("unbiased", *build_tiny_checkpoint(tmp_path))))
    assert rebuilt.score(TEXTS[:10]) == scorer.score(TEXTS[:10])


def test_empty_input_gives_empty_output(scorer: DetoxifyScorer) -> None:
    assert scorer.score([]) == []


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("   \n\t ", id="whitespace"),
        # 100,000 characters, far beyond the 128 positions the tiny model has
        pytest.param("you are " * 12_500, id="100k-chars"),
        pytest.param("\u200b\u200c\u200d\ufeff\u2060", id="zero-width-only"),
        pytest.param("👩‍👩‍👧 🤬🤬 ﷽ 𝕪𝕠𝕦 are Z̷̢a̶l̴g̵o̸", id="emoji-and-combining"),
        # A lone surrogate: the Rust tokenizer raises TypeError on it unless cleaned first.
        pytest.param("half a pair \ud83d here", id="lone-surrogate"),
        pytest.param("nul\x00byte", id="nul"),
    ],
)
def test_odd_text_scores_without_crashing(scorer: DetoxifyScorer, text: str) -> None:
    results = scorer.score(["you are great", text, "thanks"])
    assert len(results) == 3
    assert all(0.0 <= value <= 1.0 for value in results[1].values())
    assert results[0] == pytest.approx(scorer.score(["you are great"])[0], abs=1e-5)


def test_long_text_is_scored_on_its_beginning(scorer: DetoxifyScorer) -> None:
    long = "you are " * 12_500
    assert len(long) > MAX_CHARS
    # Both run past the model's 128 positions, so both are cut to the same first tokens.
    assert scorer.score([long])[0] == pytest.approx(scorer.score([long[:1_000]])[0], abs=1e-6)


# --- load errors ---------------------------------------------------------------------------------


def test_missing_checkpoint_file_is_named(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    _, config_dir = tiny
    missing = tmp_path / "nowhere" / "toxic_debiased.ckpt"
    with pytest.raises(ScorerLoadError, match="does not exist") as error:
        DetoxifyScorer(checkpoint=missing, config_dir=config_dir)
    assert str(missing) in str(error.value)
    assert FIX in str(error.value)


def test_config_dir_without_checkpoint(tiny: tuple[Path, Path]) -> None:
    _, config_dir = tiny
    with pytest.raises(ScorerLoadError, match="without a checkpoint") as error:
        DetoxifyScorer(config_dir=config_dir)
    assert str(config_dir) in str(error.value)
    assert FIX in str(error.value)


def test_checkpoint_without_config_dir(tiny: tuple[Path, Path]) -> None:
    checkpoint, _ = tiny
    with pytest.raises(ScorerLoadError, match="without a config_dir") as error:
        DetoxifyScorer(checkpoint=checkpoint)
    assert str(checkpoint) in str(error.value)
    assert FIX in str(error.value)


def test_missing_config_dir_is_named(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    checkpoint, _ = tiny
    with pytest.raises(ScorerLoadError, match="does not exist") as error:
        DetoxifyScorer(checkpoint=checkpoint, config_dir=tmp_path / "no-config")
    assert str(tmp_path / "no-config") in str(error.value)


def test_config_dir_without_config_json(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    checkpoint, _ = tiny
    with pytest.raises(ScorerLoadError, match=r"has no config\.json") as error:
        DetoxifyScorer(checkpoint=checkpoint, config_dir=tmp_path)
    assert str(tmp_path) in str(error.value)


@pytest.mark.parametrize("damage", ["random bytes", "truncated"])
def test_corrupt_checkpoint_is_a_load_error(
    tiny: tuple[Path, Path], tmp_path: Path, damage: str
) -> None:
    checkpoint, config_dir = tiny
    corrupt = tmp_path / "corrupt.ckpt"
    if damage == "random bytes":
        corrupt.write_bytes(random.Random(0).randbytes(4096))
    else:  # an interrupted download
        data = checkpoint.read_bytes()
        corrupt.write_bytes(data[: len(data) // 2])
    with pytest.raises(ScorerLoadError, match="cannot read Detoxify checkpoint") as error:
        DetoxifyScorer(checkpoint=corrupt, config_dir=config_dir)
    assert str(corrupt) in str(error.value)
    assert FIX in str(error.value)
    assert error.value.__cause__ is not None


def test_torch_file_that_is_not_a_detoxify_checkpoint(
    tiny: tuple[Path, Path], tmp_path: Path
) -> None:
    _, config_dir = tiny
    plain = tmp_path / "state_dict.pt"
    torch.save({"weight": torch.zeros(2)}, plain)
    with pytest.raises(ScorerLoadError, match="is not a Detoxify checkpoint") as error:
        DetoxifyScorer(checkpoint=plain, config_dir=config_dir)
    assert str(plain) in str(error.value)


def test_config_dir_of_another_model_is_a_load_error(
    tiny: tuple[Path, Path], tmp_path: Path
) -> None:
    checkpoint, config_dir = tiny
    other = shutil.copytree(config_dir, tmp_path / "other")
    config = json.loads((other / "config.json").read_text())
    config["hidden_size"] = 32  # the checkpoint's weights no longer fit
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(ScorerLoadError, match="cannot build the Detoxify model") as error:
        DetoxifyScorer(checkpoint=checkpoint, config_dir=other)
    assert str(other) in str(error.value)


@pytest.mark.disable_socket
def test_download_without_internet_is_a_load_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An empty torch hub cache, so Detoxify must download, and no sockets to download with.
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(ScorerLoadError, match="give both a checkpoint and a config_dir") as error:
        DetoxifyScorer("unbiased")
    assert FIX in str(error.value)


def test_unknown_model_is_a_load_error() -> None:
    with pytest.raises(ScorerLoadError, match="original, unbiased, multilingual"):
        DetoxifyScorer("toxic-bert-large")


def test_batch_size_must_be_positive(tiny: tuple[Path, Path]) -> None:
    checkpoint, config_dir = tiny
    with pytest.raises(ValueError, match="batch_size"):
        DetoxifyScorer(checkpoint=checkpoint, config_dir=config_dir, batch_size=0)
