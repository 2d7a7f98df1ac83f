"""The sentence tier's adapter: low-rank updates folded into the encoder's weights at load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.core import ad_hominem

torch = pytest.importorskip("torch", reason="the embedding extra (torch) is not installed")

from bot.scoring.adapter import ADAPTED, merge_adapter, module_name, save_adapter  # noqa: E402
from bot.scoring.sentence_model import (  # noqa: E402
    WEIGHTS,
    SentenceAttackModel,
    SentenceEncoder,
    SentenceHead,
    shipped_head_path,
)


class _Tiny(torch.nn.Module):
    """Named like a BERT encoder's layer, small enough to check the arithmetic by hand."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = torch.nn.Module()
        layer = torch.nn.Module()
        layer.output = torch.nn.Module()
        layer.output.dense = torch.nn.Linear(3, 2)
        self.encoder.layer = torch.nn.ModuleList([layer])


def test_merging_adds_scale_times_b_a_to_the_weight(tmp_path: Path) -> None:
    model = _Tiny()
    before = model.encoder.layer[0].output.dense.weight.detach().clone()
    a = torch.tensor([[1.0, 0.0, 2.0]])  # rank 1
    b = torch.tensor([[0.5], [-1.0]])
    name = module_name(0, "output.dense")
    save_adapter(tmp_path / "adapter.safetensors", {name: (a, b)}, scale=2.0)
    assert merge_adapter(model, tmp_path / "adapter.safetensors") == 1
    after = model.encoder.layer[0].output.dense.weight.detach()
    assert torch.allclose(after - before, 2.0 * b @ a)


def test_an_adapter_for_another_shape_or_layer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "adapter.safetensors"
    save_adapter(path, {module_name(0, "output.dense"): (torch.ones(1, 4), torch.ones(2, 1))}, 1.0)
    with pytest.raises(ValueError, match=r"expects \(2, 3\)"):
        merge_adapter(_Tiny(), path)
    save_adapter(path, {module_name(7, "output.dense"): (torch.ones(1, 3), torch.ones(2, 1))}, 1.0)
    with pytest.raises(ValueError, match="not a layer of this encoder"):
        merge_adapter(_Tiny(), path)


def test_a_file_that_is_not_an_adapter_is_refused(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    path = tmp_path / "other.safetensors"
    save_file({"x": torch.zeros(2)}, str(path))
    with pytest.raises(ValueError, match="no scale"):
        merge_adapter(_Tiny(), path)
    path.write_bytes(b"\x00" * 64)  # cut short or overwritten
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        merge_adapter(_Tiny(), path)


def test_a_broken_shipped_adapter_stops_the_tier_with_the_fix(tmp_path: Path) -> None:
    from bot.scoring.errors import ScorerLoadError

    broken = tmp_path / "adapter.safetensors"
    broken.write_bytes(b"not a tensor file")
    with pytest.raises(ScorerLoadError, match=r"retrain it with training/train_sentence_head\.py"):
        SentenceEncoder(adapter=broken)


def test_the_shipped_adapter_is_small_and_covers_the_top_layers() -> None:
    head = SentenceHead.load()
    assert head.adapter is not None
    assert head.adapter.stat().st_size < 1_000_000  # low-rank factors, not a copy of the model
    from safetensors import safe_open

    with safe_open(str(head.adapter), framework="pt") as found:
        names = {key.rsplit(".", 1)[0] for key in found.keys()}  # noqa: SIM118
    assert names == {module_name(layer, part) for layer in (4, 5) for part in ADAPTED}


def test_a_head_whose_adapter_is_missing_names_it(tmp_path: Path) -> None:
    shipped = json.loads(shipped_head_path().read_text())
    shipped["adapter"] = "gone.safetensors"
    (tmp_path / WEIGHTS).write_text(json.dumps(shipped))
    with pytest.raises(ValueError, match=r"gone\.safetensors is missing"):
        SentenceHead.load(tmp_path / WEIGHTS)


def test_the_shipped_tier_records_cross_validated_numbers_over_their_floors() -> None:
    # Written by training/train_sentence_head.py (the tiers, out of fold) and
    # training/choose_floors.py --record (the engine at the shipped floors): weights retrained
    # worse should not ship unnoticed. The cascade alone must hold Habernal's F1 >= 0.80; the
    # engine's is lower since the chat rules (the model alone needs "you" or a mention, and four
    # words: training/README.md, "Choosing the floors"), and must not fall further unnoticed.
    measured = json.loads(shipped_head_path().read_text())["cross_validation"]
    assert measured["folds"] >= 5
    assert measured["cascade"]["habernal"]["f1"] >= 0.80
    engine = measured["engine"]
    assert engine["floors"] == [ad_hominem._MODEL_FLOOR, ad_hominem._MODEL_SHORT_FLOOR]
    assert engine["habernal"]["f1"] >= 0.78
    assert engine["habernal"]["precision"] >= 0.85  # not bought with alarms
    assert engine["reddit civil, flagged"] <= 0.03


def test_the_runtime_encodes_with_the_adapter_folded_in() -> None:
    # The head was trained on the tuned encoder's embeddings: loading it over the plain encoder
    # would score quietly, and wrongly.
    text = ["Says the guy whose whole career is overfitting leaderboards."]
    tuned = SentenceAttackModel.load()._encoder.encode(text)[0]
    plain = SentenceEncoder(SentenceHead.load().max_tokens).encode(text)[0]
    assert max(abs(a - b) for a, b in zip(tuned, plain, strict=True)) > 0.01
