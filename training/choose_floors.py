"""Choose the ad hominem detector's model floors on honest, out-of-fold cascade scores.

Run from the repository root after ``train_sentence_head.py`` (whose out-of-fold scores of both
tiers it reads from ``training/.cache``)::

    .venv/bin/python training/choose_floors.py            # the table and the chosen pair
    .venv/bin/python training/choose_floors.py --seed 0   # the cache of another seed's run

How it works: every row's cascade probability is rebuilt from the two tiers' out-of-fold scores
and the calibration fitted on them (as ``train_sentence_head.py`` fits it), so no score comes
from a model that saw the row. For each pair of floors (``_MODEL_FLOOR`` and, under
``MODEL_MIN_WORDS`` words, ``_MODEL_SHORT_FLOOR`` in ``bot/core/ad_hominem.py``) the engine
replays Habernal's threads and Argotario's debates and judges the civil Reddit comments as
replies. The rule, stated before looking: the best mean F1 on Habernal and Argotario among the
pairs that flag at most ``--civil-limit`` of the civil Reddit comments. It prints the choice; the
floors are constants in the core, changed by hand with the table in training/README.md.
``--record`` writes the engine's numbers at the floors the core ships into the head file's
``cross_validation.engine`` (what ``tests/test_adapter.py`` reads), nothing else.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "training"))

from cascade import calibrated_cascade  # noqa: E402
from sources import everything  # noqa: E402
from train_attack_model import CACHE, DATA, Corpus, engine_checks  # noqa: E402

import bot.core.ad_hominem as ad_hominem  # noqa: E402
from bot.scoring.embedded import SENTENCE_FROM  # noqa: E402
from bot.scoring.sentence_model import WEIGHTS  # noqa: E402

HEAD = ROOT / "bot" / "scoring" / "weights" / WEIGHTS

GRID = ((0.45, 0.6), (0.5, 0.6), (0.5, 0.65), (0.55, 0.6), (0.55, 0.65), (0.55, 0.7),
        (0.6, 0.65), (0.6, 0.7), (0.65, 0.7), (0.65, 0.75), (0.65, 0.8), (0.7, 0.75),
        (0.7, 0.8), (0.75, 0.8))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--civil-limit", type=float, default=0.03)
    parser.add_argument("--record", action="store_true",
                        help="write the shipped floors' engine numbers into the head file")  # fmt: skip
    parser.add_argument(
        "--tier", choices=("cascade", "fast"), default="cascade",
        help="the scores judged: the cascade (the default scorer) or the fast tier alone",
    )  # fmt: skip
    args = parser.parse_args()
    path = CACHE / f"sentence-out-of-fold-seed{args.seed}.npy"
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run training/train_sentence_head.py first")
    ids, rows = everything(args.data)
    corpus = Corpus(rows)
    fast, sentence = np.load(path)
    if len(fast) != len(rows.y):
        raise SystemExit(f"{path} holds {len(fast)} rows, the sources {len(rows.y)}: retrain")
    _, cascade = calibrated_cascade(
        fast, sentence, corpus.lengths, rows.y, rows.weights, fast >= SENTENCE_FROM
    )
    if args.tier == "fast":
        # Without the sentence tier the fast tier gives no score under MODEL_MIN_WORDS words.
        words = np.array([len(text.split()) for text in rows.texts])
        cascade = np.where(words >= ad_hominem.MODEL_MIN_WORDS, fast, 0.0)
    shipped = (ad_hominem._MODEL_FLOOR, ad_hominem._MODEL_SHORT_FLOOR)
    results = []
    for floor, short in GRID:
        ad_hominem._MODEL_FLOOR, ad_hominem._MODEL_SHORT_FLOOR = floor, short  # type: ignore[misc]
        print(f"floors {floor} / {short}:", flush=True)
        checks = engine_checks(args.data, ids, rows, cascade)
        results.append((floor, short, checks))
    print("\n| floor | under 20 words | Habernal F1 | Argotario F1 | civil Reddit flagged |")
    print("|---|---|---|---|---|")
    for floor, short, checks in results:
        print(f"| {floor} | {short} | {checks['habernal']['f1']:.3f} | "
              f"{checks['argotario']['f1']:.3f} | {checks['reddit civil, flagged']:.1%} |")  # fmt: skip
    allowed = [r for r in results if r[2]["reddit civil, flagged"] <= args.civil_limit]
    if not allowed:
        raise SystemExit(f"no pair flags at most {args.civil_limit:.0%} of the civil comments")
    best = max(allowed, key=lambda r: r[2]["habernal"]["f1"] + r[2]["argotario"]["f1"])
    print(f"\nchosen by the rule: floor {best[0]}, under 20 words {best[1]}")
    if args.record and args.tier == "cascade":
        record(
            next(checks for floor, short, checks in results if (floor, short) == shipped), shipped
        )


def record(checks: dict[str, Any], floors: tuple[float, float]) -> None:
    """The engine's out-of-fold numbers at the shipped ``floors``, into the head file."""
    head = json.loads(HEAD.read_text(encoding="utf-8"))
    engine: dict[str, Any] = {
        k: v if isinstance(v, float) else {m: round(x, 4) for m, x in v.items()}
        for k, v in checks.items()
    }
    engine["floors"] = list(floors)
    head["cross_validation"]["engine"] = engine
    HEAD.write_text(json.dumps(head, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"recorded the engine's numbers at floors {floors} in {HEAD.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
