"""Which partition of the event stream an event goes to, and the id it is published under.

How it works: a community's partition is the CRC-32 of its id (``discord:<guild id>``, UTF-8)
modulo the number of partitions: stable across processes, hosts and Python versions (unlike
``hash``), so every ingest sends a community's events to the same partition and one judge sees
all of them, in order. Edits and deletions do not name their community; like the one-process
runtime, which offers them to every engine, they go to every partition, and the engines that did
not see the message ignore them. An event's message id (JetStream's ``Nats-Msg-Id``) is the
journal's digest of its content, so an ingest that reads an event again publishes it once.
"""

from __future__ import annotations

import json
import zlib

from bot.core.events import Event, LongformOpened, MemberJoined, MessagePosted
from bot.storage import journal
from bot.storage.errors import StorageError


def partition_of(community: str, partitions: int) -> int:
    """The partition of ``community``: CRC-32 of its UTF-8 id, modulo ``partitions``."""
    return zlib.crc32(community.encode("utf-8")) % partitions


def partitions_for(event: Event, partitions: int) -> list[int]:
    """The partitions ``event`` is published to: its community's, or all (edits, deletions)."""
    if isinstance(event, MessagePosted | MemberJoined):
        return [partition_of(event.community, partitions)]
    if isinstance(event, LongformOpened):
        return [partition_of(event.conversation.community, partitions)]
    return list(range(partitions))


def subject(stream: str, partition: int) -> str:
    """The subject of ``partition``'s events in ``stream``."""
    return f"{stream}.p.{partition}"


def payload(event: Event) -> bytes:
    """The event as published: the journal's JSON encoding (scores are made by the judge)."""
    return json.dumps(journal.encode(event, None), ensure_ascii=False).encode("utf-8")


def message_id(event: Event, partition: int) -> str:
    """JetStream's de-duplication id of ``event`` on ``partition``: the same event, the same id."""
    digest = journal.digest(journal.encode(event, None))
    return f"{digest}:{partition}"


def decode(data: bytes) -> Event:
    """The event in a published payload; StorageError if it cannot be read."""
    entry, _ = journal.decode(json.loads(data))
    if isinstance(entry, journal.Tick):  # never published; a foreign message on our subject
        raise StorageError("a tick on the event stream")
    return entry
