"""The sentence tier in worker processes: the encoder runs beside the service, not in it.

How it works: :class:`SentenceProcesses` stands in for a ``SentenceAttackModel`` inside the
embedded scorer (same ``probabilities`` and ``calibration``). Each worker process (started with
``spawn``: a fork of a threaded service is unsafe) loads the encoder once; ``probabilities`` sends
it a batch and waits in the calling thread (the scoring queue's, never the event loop), so the
encoder's CPU time and memory are the worker's and the service's interpreter stays free to read
events and commit. The head's calibration is read here from its small JSON file (no torch needed).
Each worker runs torch on ``threads`` threads (1 by default: measured on 2 busy cores, torch's
default of one thread per core made the encoder 3 to 4 times slower, by oversubscription; more
cores are better used by more processes). A load error in a worker is reported at start, with the fix; a worker that dies later fails the
batches in hand with an error that says so, and the pool is started again for the next batch.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from bot.scoring.errors import ScorerLoadError
from bot.scoring.sentence_model import Calibration, SentenceAttackModel, SentenceHead

_START_TIMEOUT_S = 300  # loading torch and the encoder on a busy machine takes a while

# In a worker: the model it loaded, or why it could not.
_model: SentenceAttackModel | None = None
_problem: str | None = None


def _load(threads: int) -> None:
    global _model, _problem
    try:
        if threads:
            import torch

            torch.set_num_threads(threads)
        _model = SentenceAttackModel.load()
    except ScorerLoadError as error:
        _problem = str(error)


def _ready() -> str | None:
    return _problem


def _probabilities(texts: list[str]) -> list[float]:
    if _model is None:
        raise ScorerLoadError(_problem or "the sentence tier did not load in its process")
    return _model.probabilities(texts)


class SentenceProcessError(RuntimeError):
    """A sentence-tier worker process stopped while it had texts to score."""


class SentenceProcesses:
    """``processes`` workers running the sentence tier. ``start`` before use; ``close`` after."""

    def __init__(self, processes: int = 1, threads: int = 1) -> None:
        if processes < 1:
            raise ValueError(f"processes must be at least 1, not {processes}")
        self.processes, self._threads = processes, threads
        try:
            self._head = SentenceHead.load()
        except (OSError, ValueError, KeyError) as error:
            raise ScorerLoadError(
                f"the sentence tier's head did not load ({error}): reinstall Longform"
            ) from error
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    @property
    def calibration(self) -> Calibration:
        """How the cascade's mean is recalibrated (see ``Calibration``)."""
        return self._head.calibration

    def start(self) -> None:
        """Start the workers and wait until each has loaded the encoder.

        Raises ScorerLoadError with the worker's reason (and its fix) if the encoder cannot load.
        """
        pool = self._started()
        # One readiness call per worker: the pool starts them all, each runs its initializer.
        problems = [pool.submit(_ready) for _ in range(self.processes)]
        for problem in problems:
            found = problem.result(timeout=_START_TIMEOUT_S)
            if found is not None:
                self.close()
                raise ScorerLoadError(found)

    def probabilities(self, texts: Sequence[str]) -> list[float]:
        """One probability per text, in order, computed in a worker process."""
        if not texts:
            return []
        pool = self._started()
        try:
            return pool.submit(_probabilities, list(texts)).result()
        except BrokenProcessPool as error:
            with self._lock:
                if self._pool is pool:  # the next batch gets fresh workers
                    self._pool = None
            raise SentenceProcessError(
                f"a sentence-tier worker process stopped ({error}); its {len(texts)} texts are "
                "judged without their scores, and the next batch starts a new worker. If it "
                "keeps happening, look for the kernel's out-of-memory killer, or set [scoring] "
                "sentence_processes = 0 to run the tier in the service's process"
            ) from error

    def close(self) -> None:
        """Stop the workers (they finish the batch in hand first)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def _started(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self.processes, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_load, initargs=(self._threads,),
                )  # fmt: skip
            return self._pool
