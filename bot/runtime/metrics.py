"""Prometheus metrics: events in, decisions by kind, outcomes, scoring latency, queue depth.

Each Runtime gets its own registry, so tests (and two runtimes in one process) never collide.
"""

from __future__ import annotations

from collections.abc import Callable
from threading import Thread
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


class Metrics:
    """The service's counters; ``serve`` exposes them over HTTP when the config enables it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.events = Counter("longform_events", "Events received", ["platform", "kind"],
                              registry=self.registry)  # fmt: skip
        self.decisions = Counter("longform_decisions", "Decisions made", ["kind", "signal"],
                                 registry=self.registry)  # fmt: skip
        self.outcomes = Counter("longform_outcomes", "Outcomes of decisions", ["kind", "outcome"],
                                registry=self.registry)  # fmt: skip
        self.too_old = Counter("longform_events_too_old",
                               "Events older than the outbox's expiry: judged, never acted on",
                               registry=self.registry)  # fmt: skip
        self.scoring = Histogram("longform_scoring_seconds", "Time to score one batch",
                                 registry=self.registry)  # fmt: skip
        self.batch = Histogram("longform_scoring_batch_size", "Texts per scored batch",
                               buckets=(1, 2, 4, 8, 16, 32, 64, 128), registry=self.registry)  # fmt: skip
        self.outbox_depth = Gauge("longform_outbox_pending", "Decisions waiting to be executed",
                                  registry=self.registry)  # fmt: skip
        self.scoring_depth = Gauge("longform_scoring_queue", "Texts waiting to be scored",
                                   registry=self.registry)  # fmt: skip
        self.event_backlog = Gauge("longform_event_backlog", "Events waiting to be judged",
                                   registry=self.registry)  # fmt: skip
        self.snapshot_pause = Histogram(
            "longform_snapshot_pause_seconds",
            "How long judging waited for a save of the engines' memory (the fork, or the whole "
            "snapshot where it is written in the service)",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.snapshot = Histogram("longform_snapshot_seconds",
                                  "Time to write and store the engines' memory",
                                  buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30), registry=self.registry)  # fmt: skip
        self.snapshot_bytes = Gauge("longform_snapshot_bytes",
                                    "Size of the engines' memory last saved (JSON)",
                                    registry=self.registry)  # fmt: skip

    def watch(self, events: Callable[[], int], scoring: Callable[[], int],
              outbox: Callable[[], int]) -> None:  # fmt: skip
        """Read the queue depths when scraped (the outbox's from the database)."""
        self.event_backlog.set_function(events)
        self.scoring_depth.set_function(scoring)
        self.outbox_depth.set_function(outbox)

    def observe_scoring(self, size: int, seconds: float) -> None:
        """One scored batch."""
        self.scoring.observe(seconds)
        self.batch.observe(size)

    def serve(self, host: str, port: int) -> None:
        """Expose /metrics on ``host:port`` (a daemon thread) until ``close``."""
        self._serving: tuple[Any, Thread] | None = start_http_server(
            port, addr=host, registry=self.registry
        )

    def close(self) -> None:
        """Stop serving /metrics, if it was served."""
        serving = getattr(self, "_serving", None)
        if serving is not None:
            server, thread = serving
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
            self._serving = None
