"""Which judge owns which partition: PostgreSQL advisory locks on one held connection.

How it works: a judge holds one connection open for its whole life. On it, it takes a member
lock (one slot of ``(members key, n)``) so judges can count each other, and one lock per
partition it owns (``(partitions key, partition)``). ``pg_try_advisory_lock`` never waits: a
partition another judge holds is simply not taken. When a judge dies, even by SIGKILL, its
connection closes and PostgreSQL releases every lock at once: the others see the partitions free
at their next look and take them over. The keys are the CRC-32 of the stream's name (and of the
name with ``/judges``), masked to 31 bits so they read back unchanged from ``pg_locks``.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

from bot.storage.errors import StorageError

_MEMBER_SLOTS = 4096  # more judges than this on one stream is not a deployment we foresee


def _key(name: str) -> int:
    return zlib.crc32(name.encode("utf-8")) & 0x7FFFFFFF


class Ownership:
    """One judge's locks on ``stream``'s partitions (PostgreSQL only)."""

    def __init__(self, engine: Engine, stream: str) -> None:
        if engine.dialect.name != "postgresql":
            raise StorageError(
                f"storage.url: the distributed judge needs PostgreSQL (partition ownership uses "
                f"its advisory locks), not {engine.dialect.name}. Fix: point storage.url at "
                "postgresql+psycopg://..., or set [distributed] enabled = false"
            )
        # Its own engine without a pool: closing the connection must really end the session
        # (a pooled one would be kept open, and its locks with it).
        self._engine = create_engine(engine.url, poolclass=NullPool)
        self._partitions_key, self._members_key = _key(stream), _key(f"{stream}/judges")
        self._connection: Connection | None = None
        self._lock = asyncio.Lock()  # one statement at a time on the one connection
        self.slot: int | None = None
        self.owned: set[int] = set()

    async def join(self) -> int:
        """Open the connection and take a member slot; returns the slot."""

        def _join(connection: Connection) -> int:
            for slot in range(_MEMBER_SLOTS):
                if self._try(connection, self._members_key, slot):
                    return slot
            raise StorageError(f"more than {_MEMBER_SLOTS} judges on one stream")

        self._connection = await asyncio.to_thread(self._open)
        self.slot = await self._run(_join)
        return self.slot

    def _open(self) -> Connection:
        return self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")

    async def members(self) -> int:
        """How many judges hold a member slot now (this one included)."""
        return int(await self._run(lambda c: self._count(c, self._members_key)) or 1)

    async def holders(self) -> int:
        """How many partitions of the stream are owned by some judge now."""
        return int(await self._run(lambda c: self._count(c, self._partitions_key)) or 0)

    async def acquire(self, partition: int) -> bool:
        """Take ``partition`` if no judge holds it; True if this judge owns it now."""
        if partition in self.owned:
            return True
        taken = await self._run(lambda c: self._try(c, self._partitions_key, partition))
        if taken:
            self.owned.add(partition)
        return bool(taken)

    async def release(self, partition: int) -> None:
        """Give ``partition`` up (after its worker has stopped)."""
        if partition not in self.owned:
            return
        query = text("SELECT pg_advisory_unlock(:k, :p)")
        await self._run(lambda c: c.execute(query, {"k": self._partitions_key, "p": partition}))
        self.owned.discard(partition)

    async def still_owns(self, partition: int) -> bool:
        """Whether this judge's connection still holds ``partition`` (False if it was lost)."""
        query = text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = :k AND objid = :p AND objsubid = 2 AND pid = pg_backend_pid()"
        )
        try:
            found = await self._run(
                lambda c: c.execute(query, {"k": self._partitions_key, "p": partition}).scalar()
            )
        except Exception:  # the connection is gone, and with it the lock
            return False
        return bool(found)

    async def close(self) -> None:
        """Close the connection: every lock this judge held is released."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await asyncio.to_thread(connection.close)
        self._engine.dispose()
        self.owned.clear()

    async def _run(self, work: Callable[[Connection], Any]) -> Any:
        if self._connection is None:
            raise StorageError("the ownership connection is not open (call join first)")
        connection = self._connection
        async with self._lock:
            return await asyncio.to_thread(work, connection)

    @staticmethod
    def _try(connection: Connection, key: int, number: int) -> bool:
        query = text("SELECT pg_try_advisory_lock(:k, :n)")
        return bool(connection.execute(query, {"k": key, "n": number}).scalar())

    @staticmethod
    def _count(connection: Connection, key: int) -> int:
        query = text(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND classid = :k AND objsubid = 2"
        )
        return int(connection.execute(query, {"k": key}).scalar() or 0)
