"""The ingest role: platform events published to the stream, each partition in arrival order.

How it works: the adapters hand events to :meth:`Publisher.publish` (an ``EventSink``) as they
would to the one-process runtime. Each event is cleaned as the runtime cleans it (valid UTF-8,
cut to the runtime's limit), then published to its partition's subject with its content digest as
``Nats-Msg-Id``; the sink returns once JetStream has stored it, so an adapter that saves its own
position (the replay inbox) saves it only past stored events. If NATS is away, publishing is
retried until it is back: intake slows down, nothing is dropped.
"""

from __future__ import annotations

import asyncio

import structlog
from nats.errors import Error as NatsError
from nats.js import JetStreamContext

from bot.core.events import Event
from bot.distributed import partitioning
from bot.runtime.gateway import CommunityRef
from bot.runtime.metrics import Metrics
from bot.runtime.service import _community_of, _sanitised

log = structlog.get_logger()
_RETRY_S = (0.1, 0.5, 1.0, 2.0, 5.0)  # waits between attempts while NATS is away; then 5 s


class Publisher:
    """Publishes events to ``stream``'s partitions; its ``publish`` is the adapters' sink."""

    def __init__(
        self, js: JetStreamContext, stream: str, partitions: int, metrics: Metrics | None = None
    ) -> None:
        self._js, self._stream, self._partitions = js, stream, partitions
        self._metrics = metrics
        self.published = 0  # events stored (a repeat JetStream recognised counts too)
        self.duplicates = 0  # of which JetStream had already stored

    async def publish(self, event: Event) -> None:
        """Store ``event`` in its partition(s); returns once JetStream holds it."""
        if self._metrics is not None:
            platform = CommunityRef.of(_community_of(event) or "").platform
            self._metrics.events.labels(platform or "any", type(event).__name__).inc()
        event = _sanitised(event)
        data = partitioning.payload(event)
        for partition in partitioning.partitions_for(event, self._partitions):
            await self._publish_one(event, partition, data)
        self.published += 1

    async def _publish_one(self, event: Event, partition: int, data: bytes) -> None:
        subject = partitioning.subject(self._stream, partition)
        headers = {"Nats-Msg-Id": partitioning.message_id(event, partition)}
        attempt = 0
        while True:
            try:
                ack = await self._js.publish(subject, data, stream=self._stream, headers=headers)
            except (NatsError, TimeoutError) as error:
                wait = _RETRY_S[min(attempt, len(_RETRY_S) - 1)]
                attempt += 1
                log.warning("event_not_published", partition=partition, attempt=attempt,
                            problem=f"{type(error).__name__}: {error}", retry_in_s=wait,
                            hint="NATS is unreachable or slow; intake waits, nothing is "
                                 "dropped")  # fmt: skip
                await asyncio.sleep(wait)  # a back-off between retries, not a synchronisation
                continue
            if ack.duplicate:
                self.duplicates += 1
            return
