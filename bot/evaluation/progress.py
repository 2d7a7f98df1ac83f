"""Progress of a long evaluation, on stderr: how many texts are scored, never what they say.

On a terminal, a live status line; elsewhere (a pipe, a log file), a plain line every
``every_seconds``. A scorer wrapped in ``Reporting`` scores in chunks and counts them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console
from rich.status import Status

from bot.core.scoring import Scorer


class Progress:
    """Counts texts scored in the current step and shows the count and the rate."""

    def __init__(self, console: Console, every_seconds: float = 15.0) -> None:
        self._console = console
        self._every = every_seconds
        self._status: Status | None = None
        self._step = ""
        self._done = 0
        self._began = self._shown = time.monotonic()

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Show progress for the step ``name`` (a dataset) while inside this block."""
        self._step, self._done = name, 0
        self._began = self._shown = time.monotonic()
        if self._console.is_terminal:
            with self._console.status(f"evaluating on {name}…") as status:
                self._status = status
                yield
            self._status = None
        else:
            self._console.print(f"evaluating on {name}…", highlight=False)
            yield

    def advance(self, count: int) -> None:
        """``count`` more texts scored in this step."""
        self._done += count
        now = time.monotonic()
        rate = self._done / max(now - self._began, 1e-9)
        said = f"evaluating on {self._step}… {self._done:,} texts scored ({rate:,.0f} texts/s)"
        if self._status is not None:
            self._status.update(said)
        elif now - self._shown >= self._every:
            self._shown = now
            self._console.print(said, highlight=False)


class Reporting:
    """``scorer``, scoring in chunks of ``chunk`` texts and counting each chunk in ``progress``."""

    def __init__(self, scorer: Scorer, progress: Progress, chunk: int = 128) -> None:
        self._scorer = scorer
        self._progress = progress
        self._chunk = chunk
        self.name = scorer.name
        self.attributes = scorer.attributes
        self.tiers = getattr(scorer, "tiers", None)

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """One mapping per text, in order, as the wrapped scorer gives them."""
        scored: list[dict[str, float]] = []
        for start in range(0, len(texts), self._chunk):
            chunk = texts[start : start + self._chunk]
            scored += self._scorer.score(chunk)
            self._progress.advance(len(chunk))
        return scored
