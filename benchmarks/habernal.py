"""Ad hominem on the last message of each ChangeMyView thread (Habernal et al., NAACL 2018).

Run: .venv/bin/python benchmarks/habernal.py [--policy professional]
Needs ../shared/data/habernal-cmv (not in this repository); says so and exits 0 when it is absent.

In-sample: the shipped attack model was trained on these very messages, so the numbers printed here
are optimistic. The honest, cross-validated numbers come from ``training/train_attack_model.py``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from adapters.replay.runner import load, replay
from bot.core.decisions import Signal
from bot.core.engine import Engine
from bot.core.events import MessagePosted
from bot.policy.loader import load_policy
from bot.scoring.attack_model import AttackModel
from bot.scoring.embedded import EmbeddedScorer

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "habernal-cmv"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--policy", default="professional")
    args = parser.parse_args()
    if not (DATA / "threads.jsonl").exists():
        print(f"skipped: {DATA} not found (the team's shared data folder, beside the project)")
        return
    labels: dict[str, bool] = json.loads((DATA / "labels.json").read_text())
    events, _ = load([DATA / "threads.jsonl"])
    began = time.perf_counter()
    flagged = {d.message_id for step in replay(Engine(load_policy(args.policy), EmbeddedScorer()), events)
               for d in step.detections if d.signal is Signal.AD_HOMINEM}  # fmt: skip
    seconds = time.perf_counter() - began
    tp = sum(1 for m, y in labels.items() if y and m in flagged)
    fp = sum(1 for m, y in labels.items() if not y and m in flagged)
    fn = sum(1 for m, y in labels.items() if y and m not in flagged)
    tn = len(labels) - tp - fp - fn
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    print(f"threads {len(labels)}  accuracy {(tp + tn) / len(labels):.3f}  precision {precision:.3f}  "
          f"recall {recall:.3f}  F1 {f1:.3f}  ({len(events) / seconds:,.0f} events/s; in-sample: "
          f"the attack model was trained on these messages)")  # fmt: skip
    texts = {e.id: e.text for e in events if isinstance(e, MessagePosted) and e.id in labels}
    model = AttackModel.load()
    scored = [(model.probability(texts[m]), y) for m, y in labels.items()]
    print(f"attack model AUC {_auc(scored):.3f} (in-sample; cross-validated: "
          f"training/train_attack_model.py --dry-run)")  # fmt: skip


def _auc(scored: list[tuple[float, bool]]) -> float:
    """Probability that a random attack scores above a random non-attack (ties count half)."""
    positives = sorted(s for s, y in scored if y)
    negatives = sorted(s for s, y in scored if not y)
    wins, below = 0.0, 0
    for score in positives:
        while below < len(negatives) and negatives[below] < score:
            below += 1
        ties = 0
        while below + ties < len(negatives) and negatives[below + ties] == score:
            ties += 1
        wins += below + ties / 2
    return wins / (len(positives) * len(negatives)) if positives and negatives else 0.0


if __name__ == "__main__":
    main()
