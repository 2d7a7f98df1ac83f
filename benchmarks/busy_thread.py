"""Prompts per 1,000 civil messages in a busy thread: many members asking one person questions.

Run: .venv/bin/python benchmarks/busy_thread.py [--messages N] [--policy professional]
One member (``host``) gives a talk; a few hundred others reply to her with ordinary questions and
thanks, every one mentioning her, a message every few seconds for hours. Nothing here is hostile,
so every private prompt and every pile-on counted is a false alarm. (Issue 13: such a run once sent
thousands of "you are the Nth person replying" prompts.)
"""

from __future__ import annotations

import argparse
import random
from collections import Counter
from datetime import UTC, datetime, timedelta

from bot.core.decisions import PromptMember
from bot.core.engine import Engine
from bot.core.events import MessagePosted
from bot.policy.loader import load_policy
from bot.scoring.embedded import EmbeddedScorer

QUESTIONS = [
    "@host what dose did you start at in cohort {n}?",
    "@host does this apply to children too, or only adults over {n}?",
    "@host thanks for the talk! Which guideline is table {n} from?",
    "@host how long was follow-up for site {n}?",
    "@host did you see the same effect in older patients at clinic {n}?",
    "@host could you share the slides from session {n}?",
    "@host is there a preprint for trial {n} yet?",
    "@host how did you handle dropouts in arm {n}?",
    "@host great session. What would you change for ward {n}?",
    "@host sorry if I missed it, what was the sample size in study {n}?",
    "@host would this work in a rural practice like ours (region {n})?",
    "@host interesting. How did patients feel about the change at practice {n}?",
]


def events(count: int, members: int, seed: int = 1) -> list[MessagePosted]:
    """The host's opening post, then ``count`` questions from ``members`` different people."""
    rng = random.Random(seed)
    start = datetime(2026, 5, 4, 18, 0, tzinfo=UTC)
    opening = MessagePosted(id="q0", at=start, community="c", channel="talks", thread="ama",
                            author="host", text="Ask me anything about the antibiotics audit.")  # fmt: skip
    out = [opening]
    at = start
    for i in range(1, count + 1):
        at += timedelta(seconds=rng.uniform(2, 12))
        text = rng.choice(QUESTIONS).format(n=rng.randrange(1, 500))
        out.append(MessagePosted(id=f"q{i}", at=at, community="c", channel="talks", thread="ama",
                                 author=f"member{rng.randrange(members)}", text=text,
                                 reply_to="q0", reply_to_author="host", mentions=("host",)))  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--members", type=int, default=300)
    parser.add_argument("--policy", default="professional")
    args = parser.parse_args()
    engine = Engine(load_policy(args.policy), EmbeddedScorer())
    prompts: Counter[str] = Counter()
    detections: Counter[str] = Counter()
    for event in events(args.messages, args.members):
        decided = engine.feed(event)
        detections.update(str(d.signal) for d in decided.detections)
        prompts.update(str(a.kind) for a in decided.actions if isinstance(a, PromptMember))
    per_1000 = 1000 * sum(prompts.values()) / args.messages
    print(f"{args.messages:,} civil messages from {args.members} members to one person "
          f"({args.policy}): {sum(prompts.values()):,} private prompts = {per_1000:.1f} per 1,000 "
          f"messages {dict(prompts)}; detections {dict(detections)}")  # fmt: skip


if __name__ == "__main__":
    main()
