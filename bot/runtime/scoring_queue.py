"""Scoring texts off the event loop, in batches.

How it works: ``score(text)`` puts the text on a queue and awaits its result. One worker task takes
the first waiting text, waits up to ``wait`` for more (at most ``batch_size``), and scores the batch
in a thread, so a slow model (Detoxify) never blocks the event loop and its cost is shared across
texts that arrive together. A scorer that is fast enough (the embedded fast tier alone) is called
inline.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

from bot.core.scoring import Scorer, Scores
from bot.scoring.embedded import is_fast

Observe = Callable[[int, float], None]  # (batch size, seconds) for metrics


class ScoringQueue:
    """Batched, off-loop scoring around one scorer. Start with ``start()``, end with ``close()``."""

    def __init__(
        self,
        scorer: Scorer,
        batch_size: int = 32,
        wait: float = 0.02,
        inline: bool | None = None,
        observe: Observe | None = None,
    ) -> None:
        self._scorer = scorer
        self._batch_size = batch_size
        self._wait = wait
        self._inline = is_fast(scorer) if inline is None else inline
        self._observe = observe
        self._queue: asyncio.Queue[tuple[str, asyncio.Future[Scores]]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    @property
    def depth(self) -> int:
        """Texts waiting to be scored."""
        return self._queue.qsize()

    def start(self) -> None:
        """Start the worker task (in the running loop)."""
        if not self._inline and self._worker is None:
            self._worker = asyncio.create_task(self._work(), name="longform-scoring")

    async def score(self, text: str) -> Scores:
        """The scorer's attributes for ``text``."""
        if self._inline:
            began = time.perf_counter()
            (scores,) = self._scorer.score([text])
            self._report(1, time.perf_counter() - began)
            return scores
        future: asyncio.Future[Scores] = asyncio.get_running_loop().create_future()
        await self._queue.put((text, future))
        return await future

    async def close(self) -> None:
        """Stop the worker; texts still waiting get an error rather than hanging."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        while not self._queue.empty():
            _, future = self._queue.get_nowait()
            if not future.done():
                future.set_exception(RuntimeError("scoring stopped"))

    async def _work(self) -> None:
        while True:
            batch = [await self._queue.get()]
            try:
                deadline = asyncio.get_running_loop().time() + self._wait
                while len(batch) < self._batch_size:
                    remaining = deadline - asyncio.get_running_loop().time()
                    if remaining <= 0 or not await self._take(batch, remaining):
                        break
                await self._score_batch(batch)
            except asyncio.CancelledError:
                _fail(batch, RuntimeError("scoring stopped"))  # nobody waits forever
                raise

    async def _take(self, batch: list[tuple[str, asyncio.Future[Scores]]], wait: float) -> bool:
        """Add the next waiting text to ``batch`` if one comes within ``wait`` seconds.

        Not ``wait_for(queue.get())``: cancelled at the wrong moment, it drops a text it already
        took, and whoever waits for that text's scores would wait forever.
        """
        getter = asyncio.ensure_future(self._queue.get())
        try:
            await asyncio.wait({getter}, timeout=wait)
        finally:
            if getter.done() and not getter.cancelled():
                batch.append(getter.result())
            else:
                getter.cancel()
        return getter.done() and not getter.cancelled()

    async def _score_batch(self, batch: list[tuple[str, asyncio.Future[Scores]]]) -> None:
        began = time.perf_counter()
        try:
            results = await asyncio.to_thread(self._scorer.score, [text for text, _ in batch])
        except Exception as error:  # a scorer failure fails these texts, not the worker
            _fail(batch, error)
            return
        self._report(len(batch), time.perf_counter() - began)
        for (_, future), scores in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(scores)

    def _report(self, size: int, seconds: float) -> None:
        if self._observe is not None:
            self._observe(size, seconds)


def _fail(batch: list[tuple[str, asyncio.Future[Scores]]], error: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)
