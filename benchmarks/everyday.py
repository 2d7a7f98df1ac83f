"""Everyday chat and the tricky cases, judged as replies: what reaches prompt level, what is missed.

Run: .venv/bin/python benchmarks/everyday.py [--sentence-tier on|off]

Habernal's forum has no banter, so a model trained on it can mistake short, friendly, second-person
replies for attacks. This judges each text below as a reply to someone, with the ad hominem
detector and the embedded scorer (with or without its sentence tier), and lists every not-attack
that scores at least 0.5 (prompt level, near the professional policy's 0.6) and every attack that
does not. Texts: the everyday replies and unit cases of the tests (none is in
training/anchors.jsonl), the bundled tricky negatives and positives, and the banter below, written
for this benchmark only.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bot.core.ad_hominem import AdHominemDetector
from bot.scoring.embedded import EmbeddedScorer
from bot.scoring.select import sentence_model
from tests.builders import message
from tests.test_attack_model import ATTACKS, CLINICAL, CRITIQUE, EVERYDAY, REPORTED, SWEARING
from tests.test_sentence_model import HELD_OUT_EVERYDAY

ROOT = Path(__file__).resolve().parents[1]
PROMPT_LEVEL = 0.5

# Friendly banter and praise in the second person: the hardest everyday replies for these models.
BANTER = [
    "Lol you beat me to it.",
    "Stop being so modest, your results are great.",
    "You absolute madman, you actually reran all 40 models overnight?",
    "Show-off. That talk was brilliant.",
    "You're never going to let me forget that typo, are you?",
    "Ha, you and your spreadsheets.",
    "Okay nerd, explain the Bayesian version then :)",
    "You're too kind, it was mostly Priya's work.",
    "Damn, you're fast. I only just opened the file.",
    "You sly dog, you had the answer all along.",
    "Trust you to find the one paper that disagrees, haha.",
    "You're hopeless at naming variables but the code works.",
    "Classic you, replying at 3am.",
    "Careful, you'll make the rest of us look lazy.",
    "You genius, that fixed the memory leak.",
    "Wow you really went down the rabbit hole on this one.",
]


def _expected(name: str) -> list[str]:
    path = ROOT / "bot" / "demo" / f"{name}.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [row["text"] for row in rows if "expect" in row]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentence-tier", choices=("on", "off"), default="on")
    args = parser.parse_args()
    scorer = EmbeddedScorer(sentence=sentence_model(args.sentence_tier))
    detector = AdHominemDetector()

    def judged(texts: list[str]) -> list[tuple[str, float]]:
        found = []
        for text, scores in zip(texts, scorer.score(texts), strict=True):
            finding = detector.judge(message("b", text, reply_to_author="a"), scores, "a")
            found.append((text, 0.0 if finding is None else finding.score))
        return found

    print(f"scorer: {scorer.name}")
    negatives = {
        "everyday replies (tests)": EVERYDAY + HELD_OUT_EVERYDAY,
        "critique, reported, swearing, clinical (tests)": CRITIQUE + REPORTED + SWEARING + CLINICAL,
        "banter (this benchmark)": BANTER,
        "tricky negatives (bot/demo)": _expected("tricky_negatives"),
    }
    for name, texts in negatives.items():
        flagged = [(t, s) for t, s in judged(texts) if s >= PROMPT_LEVEL]
        print(f"{name}: {len(flagged)} of {len(texts)} reach prompt level")
        for text, score in flagged:
            print(f"    {score:.2f}  {text}")
    positives = {
        "attacks (tests)": ATTACKS,
        "tricky positives (bot/demo)": _expected("tricky_positives"),
    }
    for name, texts in positives.items():
        missed = [(t, s) for t, s in judged(texts) if s < PROMPT_LEVEL]
        print(f"{name}: {len(texts) - len(missed)} of {len(texts)} caught")
        for text, score in missed:
            print(f"    missed {score:.2f}  {text}")


if __name__ == "__main__":
    main()
