"""Rephrasing help: how often a claim is found beside the personal words, and whether it, alone,
no longer reads as an attack.

Run: .venv/bin/python benchmarks/rephrase.py [--policy professional]
Sources: the bundled demo conversations (bot/demo/0*.jsonl), the tests' tricky attacks
(bot/demo/tricky_positives.jsonl) and Habernal's ChangeMyView threads (../shared/data/habernal-cmv,
skipped with a note when absent). Every message the engine flags as ad hominem is split by
``bot.core.rephrase.split_claim`` on its cue spans (``Detection.words``); the claim alone is then
judged by the same detector and scorer (the embedded scorer's fast tier: the shipped attack model
with the language cues, no sentence tier) against the policy's ``ad_hominem.detect_at``, and while it
still reads as an attack the words that do may be set aside too (``--rounds``; the engine ships
one: ``Engine.claim_check``, what the engine itself does); when the first claim fails, the strict
claim (only the clauses that do not address the person) is judged instead. "claim found" is the
first split; "shown" is the claim that passes, what members see.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, replace
from pathlib import Path

from adapters.replay.runner import load, replay
from bot.core.decisions import Signal
from bot.core.engine import Engine
from bot.core.events import MessageEdited, MessagePosted
from bot.core.rephrase import MAX_ROUNDS
from bot.policy.loader import load_policy
from bot.scoring.embedded import EmbeddedScorer

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "bot" / "demo"
HABERNAL = ROOT.parent / "shared" / "data" / "habernal-cmv" / "threads.jsonl"


@dataclass
class _Counts:
    flagged: int = 0
    with_words: int = 0
    claim: int = 0
    first_passes: int = 0
    under: int = 0


def measure(paths: list[Path], policy: str, rounds: int = MAX_ROUNDS) -> _Counts:
    """Counts for the messages flagged as ad hominem in ``paths``."""
    settings = load_policy(policy)
    scorer = EmbeddedScorer()
    events, _ = load(paths)
    texts = {e.id: e for e in events if isinstance(e, MessagePosted)}
    for event in events:
        if isinstance(event, MessageEdited) and event.id in texts:
            texts[event.id] = replace(texts[event.id], text=event.text)
    counts = _Counts()
    judge = Engine(settings, scorer)  # a second engine, only for its claim check
    for step in replay(Engine(settings, scorer), events):
        for detection in step.detections:
            if detection.signal is not Signal.AD_HOMINEM or detection.message_id not in texts:
                continue
            counts.flagged += 1
            counts.with_words += bool(detection.words)
            original = texts[detection.message_id]
            check = judge.claim_check(original, original.text, detection.words, rounds=rounds)
            counts.claim += check.found is not None
            counts.first_passes += check.found is not None and check.shown == check.found
            counts.under += check.shown is not None
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--policy", default="professional")
    parser.add_argument(
        "--rounds",
        type=int,
        default=MAX_ROUNDS,
        help="splits tried (the engine ships MAX_ROUNDS; more was tried)",
    )
    args = parser.parse_args()
    sources = [("bundled demo conversations", sorted(DEMO.glob("0*.jsonl"))),
               ("tricky attacks (tests)", [DEMO / "tricky_positives.jsonl"])]  # fmt: skip
    if HABERNAL.exists():
        sources.append(("Habernal ChangeMyView threads", [HABERNAL]))
    else:
        print(f"note: {HABERNAL} not found (the team's shared data); Habernal's row is skipped")
    print(
        "| source | flagged as ad hominem | with cue words | claim found | first claim passes alone "
        "| passes alone (first or strict) | shown in the prompt |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, paths in sources:
        c = measure(paths, args.policy, args.rounds)
        share = f"{c.claim / c.flagged:.0%}" if c.flagged else "-"
        first = f"{c.first_passes / c.claim:.0%}" if c.claim else "-"
        under = f"{c.under / c.claim:.0%}" if c.claim else "-"
        print(f"| {name} | {c.flagged} | {c.with_words} | {c.claim} ({share}) "
              f"| {c.first_passes} of {c.claim} ({first}) | {c.under} of {c.claim} ({under}) "
              f"| {c.under} ({c.under / c.flagged:.0%}) |" if c.flagged else f"| {name} | 0 | - | - | - | - | - |")  # fmt: skip


if __name__ == "__main__":
    main()
