"""Tuning all-MiniLM-L6-v2's top layers with low-rank (LoRA) updates, for the sentence tier.

Training only (``train_sentence_head.py`` uses it). The bottom layers stay frozen, so their output
is computed once per run (``bottom_states``) and every epoch runs only the top layers: about 40 s
an epoch over Habernal's messages on two cores. What ships is the low-rank factors
(``bot/scoring/adapter.py`` folds them into the encoder at load) and the head.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from bot.scoring.adapter import ADAPTED, module_name

# The top two of six layers are tuned: the only depth tried (rank and rates likewise, one setting).
FROZEN_LAYERS = 4
RANK = 8
ALPHA = 16.0
SCALE = ALPHA / RANK  # how much of ``B @ A`` is added to a weight, as in LoRA
EPOCHS = 3
BATCH = 16
ADAPTER_RATE, HEAD_RATE = 3e-4, 1e-3


class LowRank(nn.Module):
    """A frozen linear layer plus a trainable low-rank update, ``scale * B @ A``."""

    def __init__(self, base: nn.Linear) -> None:
        super().__init__()
        self.base = base
        self.scale = SCALE
        self.a = nn.Parameter(torch.randn(RANK, base.in_features) / math.sqrt(base.in_features))
        self.b = nn.Parameter(torch.zeros(base.out_features, RANK))  # starts as the plain layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.a.T @ self.b.T) * self.scale


def _additive_mask(mask: torch.Tensor) -> torch.Tensor:
    return (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min


def _run(layers: Sequence[nn.Module], states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    additive = _additive_mask(mask)
    for layer in layers:
        out = layer(states, attention_mask=additive)
        states = out[0] if isinstance(out, tuple) else out
    return states


def bottom_states(model: nn.Module, tokenizer: object, texts: Sequence[str], max_tokens: int,
                  ) -> list[torch.Tensor]:  # fmt: skip
    """Each text's token states after the frozen layers, unpadded."""
    began = time.perf_counter()
    found: list[torch.Tensor] = [torch.empty(0)] * len(texts)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    with torch.inference_mode():
        for start in range(0, len(order), 32):
            part = order[start : start + 32]
            batch = tokenizer(  # type: ignore[operator]
                [texts[i] for i in part], padding=True, truncation=True, max_length=max_tokens,
                return_tensors="pt",
            )  # fmt: skip
            embedded = model.embeddings(  # type: ignore[operator]
                input_ids=batch["input_ids"], token_type_ids=batch["token_type_ids"]
            )
            layers = model.encoder.layer[:FROZEN_LAYERS]  # type: ignore[index]
            states = _run(layers, embedded, batch["attention_mask"])
            for row, i in enumerate(part):
                length = int(batch["attention_mask"][row].sum())
                found[i] = states[row, :length].clone()
    print(f"frozen layers run over {len(texts)} texts in {time.perf_counter() - began:.0f} s")
    return found


class TunedTop(nn.Module):
    """The encoder's top layers with low-rank updates, mean pooling and the logistic head."""

    def __init__(self, model: nn.Module, bias: float, weights: Sequence[float]) -> None:
        super().__init__()
        self.layers = copy.deepcopy(nn.ModuleList(model.encoder.layer[FROZEN_LAYERS:]))  # type: ignore[index]
        for parameter in self.layers.parameters():
            parameter.requires_grad_(False)
        for layer in self.layers:
            for part in ADAPTED:
                parent_name, _, child = part.rpartition(".")
                parent = layer.get_submodule(parent_name)
                setattr(parent, child, LowRank(getattr(parent, child)))
        self.head = nn.Linear(len(weights), 1)
        with torch.no_grad():
            self.head.weight.copy_(torch.tensor([list(weights)], dtype=torch.float32))
            self.head.bias.fill_(bias)

    def embed(self, states: Sequence[torch.Tensor]) -> torch.Tensor:
        """Normalised mean-pooled embeddings, as ``SentenceEncoder`` computes them."""
        longest = max(s.shape[0] for s in states)
        padded = torch.zeros(len(states), longest, states[0].shape[1])
        mask = torch.zeros(len(states), longest)
        for row, found in enumerate(states):
            padded[row, : found.shape[0]] = found
            mask[row, : found.shape[0]] = 1.0
        out = _run(self.layers, padded, mask)
        weights = mask.unsqueeze(-1)
        pooled = (out * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        return nn.functional.normalize(pooled, dim=1)

    def logits(self, states: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.head(self.embed(states)).squeeze(1)

    def factors(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """``{encoder module name: (A, B)}`` for ``bot.scoring.adapter.save_adapter``."""
        found = {}
        for offset, layer in enumerate(self.layers):
            for part in ADAPTED:
                low_rank = layer.get_submodule(part)
                name = module_name(FROZEN_LAYERS + offset, part)
                found[name] = (low_rank.a, low_rank.b)
        return found


def train(model: nn.Module, states: Sequence[torch.Tensor], y: np.ndarray, weight: np.ndarray,
          start: tuple[float, Sequence[float]], seed: int) -> TunedTop:  # fmt: skip
    """Tune the top layers and the head (started from ``start``: a head fitted on the frozen
    encoder's embeddings) on ``states`` with labels ``y`` and sample weights ``weight``."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    tuned = TunedTop(model, *start)
    adapters = [p for name, p in tuned.layers.named_parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(
        [{"params": adapters, "lr": ADAPTER_RATE},
         {"params": tuned.head.parameters(), "lr": HEAD_RATE}],
        weight_decay=0.01,
    )  # fmt: skip
    lengths = np.array([s.shape[0] for s in states])
    tuned.train()
    for epoch in range(1, EPOCHS + 1):
        began, total = time.perf_counter(), 0.0
        # Batches of similar lengths (little padding), in random order, a little jitter per epoch.
        order = np.argsort(lengths + rng.uniform(0, 30, len(lengths)))
        batches = [order[i : i + BATCH] for i in range(0, len(order), BATCH)]
        rng.shuffle(batches)  # type: ignore[arg-type]
        for batch in batches:
            logits = tuned.logits([states[i] for i in batch])
            target = torch.tensor(y[batch], dtype=torch.float32)
            w = torch.tensor(weight[batch], dtype=torch.float32)
            losses = nn.functional.binary_cross_entropy_with_logits(
                logits, target, reduction="none"
            )
            loss = (losses * w).sum() / w.sum()
            optimiser.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]
            optimiser.step()
            total += float(loss.detach()) * len(batch)
        print(f"  epoch {epoch}: loss {total / len(order):.3f} "
              f"({time.perf_counter() - began:.0f} s)", flush=True)  # fmt: skip
    return tuned.eval()


def probabilities(tuned: TunedTop, states: Sequence[torch.Tensor]) -> np.ndarray:
    """P(attack) for each of ``states``, in order."""
    found = np.zeros(len(states))
    order = sorted(range(len(states)), key=lambda i: states[i].shape[0])
    with torch.inference_mode():
        for start in range(0, len(order), 32):
            part = order[start : start + 32]
            found[part] = torch.sigmoid(tuned.logits([states[i] for i in part])).numpy()
    return found
