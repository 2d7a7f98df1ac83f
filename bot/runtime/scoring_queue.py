"""Scoring texts off the event loop, in batches.

How it works: ``score(text)`` and ``score_many(texts)`` put texts on a queue and await their
results. A worker takes what is waiting (at most ``batch_size`` texts) as soon as a scoring slot is
free, and scores that batch in a thread, so a slow model never blocks the event loop and its cost
is shared by the texts that arrived while the previous batch was scored: under load, batches fill
by themselves, and an idle scorer takes a lone text at once (``wait``, 0 by default, makes the first
text of a batch wait that long for company instead). ``parallel`` batches may be scored at once: a
scorer whose heavy tier runs in other processes (``bot.scoring.sentence_process``) overlaps one
batch's fast tier here with another's sentence tier there. A scorer that is fast enough (the
embedded fast tier alone) is called inline for ``score`` and in one thread call for
``score_many``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence

from bot.core.scoring import Scorer, Scores
from bot.scoring.embedded import is_fast

Observe = Callable[[int, float], None]  # (batch size, seconds) for metrics
_Waiting = tuple[str, "asyncio.Future[Scores]"]


class ScoringQueue:
    """Batched, off-loop scoring around one scorer. Start with ``start()``, end with ``close()``."""

    def __init__(
        self,
        scorer: Scorer,
        batch_size: int = 32,
        wait: float = 0.0,
        inline: bool | None = None,
        observe: Observe | None = None,
        parallel: int = 1,
    ) -> None:
        if parallel < 1:
            raise ValueError(f"parallel must be at least 1, not {parallel}")
        self._scorer = scorer
        self._batch_size = batch_size
        self._wait = wait
        self._inline = is_fast(scorer) if inline is None else inline
        self._observe = observe
        self._queue: asyncio.Queue[_Waiting] = asyncio.Queue()
        self._slots = asyncio.Semaphore(parallel)
        self._scoring: set[asyncio.Task[None]] = set()
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
        return (await self.score_many([text]))[0]

    async def score_many(self, texts: Sequence[str]) -> list[Scores]:
        """The scorer's attributes for each of ``texts``, in order (raises if any failed)."""
        if not texts:
            return []
        if self._inline:
            began = time.perf_counter()
            rows: list[Scores] = list(await asyncio.to_thread(self._scorer.score, list(texts)))
            self._report(len(texts), time.perf_counter() - began)
            return rows
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[Scores]] = []
        for text in texts:
            future: asyncio.Future[Scores] = loop.create_future()
            futures.append(future)
            self._queue.put_nowait((text, future))
        return list(await asyncio.gather(*futures))

    async def close(self) -> None:
        """Stop the worker; texts still waiting get an error rather than hanging."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        for task in list(self._scoring):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        while not self._queue.empty():
            _, future = self._queue.get_nowait()
            if not future.done():
                future.set_exception(RuntimeError("scoring stopped"))

    async def _work(self) -> None:
        while True:
            await self._slots.acquire()
            batch: list[_Waiting] = []
            try:
                batch.append(await self._queue.get())
                await self._fill(batch)
            except asyncio.CancelledError:
                self._slots.release()
                _fail(batch, RuntimeError("scoring stopped"))  # nobody waits forever
                raise
            task = asyncio.create_task(self._score_batch(batch), name="longform-scoring-batch")
            self._scoring.add(task)
            task.add_done_callback(self._scored)

    def _scored(self, task: asyncio.Task[None]) -> None:
        self._scoring.discard(task)
        self._slots.release()

    async def _fill(self, batch: list[_Waiting]) -> None:
        """Add what is waiting to ``batch`` (up to the batch size); with a ``wait``, wait that
        long from now for more."""
        while len(batch) < self._batch_size and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        if self._wait <= 0:
            return
        deadline = asyncio.get_running_loop().time() + self._wait
        while len(batch) < self._batch_size:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0 or not await self._take(batch, remaining):
                break

    async def _take(self, batch: list[_Waiting], wait: float) -> bool:
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

    async def _score_batch(self, batch: list[_Waiting]) -> None:
        began = time.perf_counter()
        try:
            results = await asyncio.to_thread(self._scorer.score, [text for text, _ in batch])
        except asyncio.CancelledError:
            _fail(batch, RuntimeError("scoring stopped"))
            raise
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


def _fail(batch: list[_Waiting], error: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)
