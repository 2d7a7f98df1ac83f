"""The sentence tier's adapter: low-rank weight changes to the encoder's top layers.

``training/train_sentence_head.py`` tunes all-MiniLM-L6-v2's top layers for attack detection with
low-rank (LoRA) updates and saves only those updates: for each adapted linear layer two small
matrices ``A`` (rank x in) and ``B`` (out x rank), about 440 KB in all instead of the encoder's
90 MB. At load they are folded into the encoder's weights once (``W += scale * B @ A``), so
inference costs exactly what the plain encoder costs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# The linear layers of a BERT layer that the adapter changes, by their names inside the layer.
ADAPTED = (
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
)


def module_name(layer: int, part: str) -> str:
    """The encoder module that an adapter entry changes, e.g. ``encoder.layer.5.output.dense``."""
    return f"encoder.layer.{layer}.{part}"


def save_adapter(path: Path, factors: dict[str, tuple[Any, Any]], scale: float) -> None:
    """Write ``{module name: (A, B)}`` (torch tensors) and the scale to a safetensors file."""
    from safetensors.torch import save_file

    tensors = {}
    for name, (a, b) in sorted(factors.items()):
        tensors[f"{name}.A"] = a.detach().float().contiguous()
        tensors[f"{name}.B"] = b.detach().float().contiguous()
    save_file(tensors, str(path), metadata={"scale": json.dumps(scale)})


def merge_adapter(model: Any, path: Path) -> int:
    """Fold the adapter at ``path`` into ``model`` (a transformers BertModel), in place.

    Returns how many layers changed. Raises ValueError when the file does not fit the model.
    """
    import torch
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as found:
            metadata = found.metadata() or {}
            tensors = {key: found.get_tensor(key) for key in found.keys()}  # noqa: SIM118
    except SafetensorError as error:
        raise ValueError(f"{path.name} is not a readable safetensors file ({error})") from error
    if "scale" not in metadata:
        raise ValueError(f"{path.name} has no scale: not a Longform adapter")
    scale = float(json.loads(metadata["scale"]))
    modules = dict(model.named_modules())
    names = sorted({key.rsplit(".", 1)[0] for key in tensors})
    with torch.no_grad():
        for name in names:
            module = modules.get(name)
            a, b = tensors.get(f"{name}.A"), tensors.get(f"{name}.B")
            if module is None or a is None or b is None:
                raise ValueError(f"{path.name}: {name} is not a layer of this encoder")
            delta = scale * (b @ a)
            if delta.shape != module.weight.shape:
                raise ValueError(
                    f"{path.name}: {name} expects {tuple(module.weight.shape)}, "
                    f"the adapter gives {tuple(delta.shape)}"
                )
            module.weight += delta.to(module.weight.dtype)
    return len(names)
