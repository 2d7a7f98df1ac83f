"""The embedded scorer's tiers: texts per second of each, and how many texts reach the heavier one.

Run: .venv/bin/python benchmarks/tiers.py [--repeat 20] [--batch 32]

Texts: every message of the bundled conversations (bot/demo, professional chat written for the
project) and, when ../shared/data is present, the UCC validation comments (short news comments,
never trained on). The fast tier is the rules plus the linear attack model; the cascade adds the
sentence tier (all-MiniLM-L6-v2 and its head) for the texts the fast tier does not clear.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

from bot.scoring.embedded import EmbeddedScorer
from bot.scoring.select import sentence_model

ROOT = Path(__file__).resolve().parents[1]
UCC = ROOT.parent / "shared" / "data" / "ucc" / "val.csv"


def bundled() -> list[str]:
    texts = []
    for path in sorted((ROOT / "bot" / "demo").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            event = json.loads(line) if line.strip() else {}
            if event.get("type") == "message":
                texts.append(event["text"])
    return texts


def ucc() -> list[str]:
    if not UCC.is_file():
        return []
    with UCC.open(encoding="utf-8") as rows:
        return [row["comment"] for row in csv.DictReader(rows)]


def measure(name: str, texts: list[str], repeat: int, batch: int) -> None:
    fast = EmbeddedScorer(every_text=True)
    began = time.perf_counter()
    for _ in range(repeat):
        fast.score(texts)
    fast_rate = len(texts) * repeat / (time.perf_counter() - began)
    model = sentence_model("on")
    assert model is not None
    cascade = EmbeddedScorer(sentence=model)
    cascade.score(texts[:batch])  # warm up
    cascade.tiers.clear()
    began = time.perf_counter()
    for start in range(0, len(texts), batch):
        cascade.score(texts[start : start + batch])
    rate = len(texts) / (time.perf_counter() - began)
    reached = cascade.tiers["sentence model"] / cascade.tiers["texts"]
    print(f"{name}: {len(texts):,} texts; fast tier {fast_rate:,.0f} texts/s; cascade "
          f"{rate:,.0f} texts/s end to end; {reached:.0%} reach the sentence tier")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="passes over the texts (fast tier)")
    parser.add_argument("--batch", type=int, default=32, help="texts scored together")
    args = parser.parse_args()
    measure("bundled conversations", bundled(), args.repeat, args.batch)
    comments = ucc()
    if comments:
        measure("UCC val comments", comments, max(1, args.repeat // 10), args.batch)
    else:
        print(f"UCC comments not found at {UCC}: skipped")


if __name__ == "__main__":
    main()
