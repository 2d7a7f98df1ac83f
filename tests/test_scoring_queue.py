"""Scoring off the event loop: texts that arrive together are scored together, in a thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from bot.runtime.scoring_queue import ScoringQueue
from tests.waiting import eventually


class _SlowScorer:
    """Records each batch and the thread it ran in; fails on the text "boom"."""

    name = "slow"
    attributes = ("insult",)

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.threads: set[int] = set()

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        self.batches.append(list(texts))
        self.threads.add(threading.get_ident())
        if "boom" in texts:
            raise RuntimeError("model crashed")
        return [{"insult": len(text) / 100} for text in texts]


async def test_texts_arriving_together_are_scored_in_one_batch_off_the_loop() -> None:
    scorer = _SlowScorer()
    queue = ScoringQueue(scorer, batch_size=8, wait=0.05)
    queue.start()
    try:
        texts = [f"text number {i}" for i in range(20)]
        results = await asyncio.gather(*(queue.score(text) for text in texts))
    finally:
        await queue.close()
    assert [r["insult"] for r in results] == [len(t) / 100 for t in texts]  # each its own
    assert [len(batch) for batch in scorer.batches] == [8, 8, 4]
    assert threading.get_ident() not in scorer.threads  # never on the event loop's thread


async def test_a_failing_batch_fails_its_texts_and_the_queue_goes_on() -> None:
    scorer = _SlowScorer()
    queue = ScoringQueue(scorer, batch_size=4, wait=0.02)
    queue.start()
    try:
        failed = await asyncio.gather(queue.score("boom"), queue.score("fine"),
                                      return_exceptions=True)  # fmt: skip
        assert all(isinstance(result, RuntimeError) for result in failed)
        assert (await queue.score("later"))["insult"] == 0.05
    finally:
        await queue.close()


async def test_the_embedded_scorer_is_called_inline_and_measured() -> None:
    seen: list[tuple[int, float]] = []
    from bot.scoring.embedded import EmbeddedScorer

    queue = ScoringQueue(
        EmbeddedScorer(), observe=lambda size, seconds: seen.append((size, seconds))
    )
    queue.start()  # nothing to start: inline
    scores = await queue.score("you are an idiot")
    await queue.close()
    assert scores["insult"] > 0.5
    assert [size for size, _ in seen] == [1]


async def test_closing_fails_texts_still_waiting() -> None:
    scorer = _SlowScorer()
    queue = ScoringQueue(scorer, batch_size=4, wait=10)  # the worker would wait long for company
    queue.start()
    queued = asyncio.ensure_future(queue.score("stuck"))
    await eventually(lambda: queue.depth == 0, within=5, what="the worker took the first text")
    second = asyncio.ensure_future(queue.score("also stuck"))
    await asyncio.sleep(0)  # one turn of the loop: the second text is queued (no timing guess)
    await queue.close()
    for waiting in (queued, second):
        with pytest.raises(RuntimeError, match="scoring stopped"):
            await asyncio.wait_for(waiting, 1)
