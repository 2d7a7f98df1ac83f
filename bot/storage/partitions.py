"""The distributed judges' memory: one snapshot per partition, fenced by an epoch.

How it works: a judge that takes a partition over calls :meth:`PartitionStates.claim`, which
raises the partition's epoch by one and returns the memory saved last (and the stream sequence it
covers). Every later :meth:`~PartitionStates.save` names that epoch and changes nothing if the
epoch moved on: a judge that lost its partition (paused, cut off) cannot overwrite what its
successor saved, and learns that it must stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session, sessionmaker

from bot.storage.schema import PartitionStateRow


@dataclass(frozen=True, slots=True)
class Claimed:
    """A partition just taken over: the new epoch, and the memory saved before (or none)."""

    epoch: int
    stream_seq: int
    blob: Any


_SAVE = (
    update(PartitionStateRow)
    .where(
        PartitionStateRow.stream == bindparam("row_stream"),
        PartitionStateRow.partition == bindparam("row_partition"),
        PartitionStateRow.epoch == bindparam("row_epoch"),
    )
    .values({name: bindparam(name) for name in ("stream_seq", "blob", "saved_at")})
)


class PartitionStates:
    """Per-partition snapshots of the engines' memory, with takeover epochs."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def claim(self, stream: str, partition: int, *, now: datetime) -> Claimed:
        """Take ``partition`` of ``stream`` over: a new epoch; what the last owner saved."""
        with self._sessions.begin() as session:
            row = session.get(PartitionStateRow, (stream, partition), with_for_update=True)
            if row is None:
                row = PartitionStateRow(stream=stream, partition=partition, epoch=0,
                                        stream_seq=0, saved_at=now, blob={})  # fmt: skip
                session.add(row)
            row.epoch += 1
            return Claimed(row.epoch, row.stream_seq, row.blob)

    def save(
        self, stream: str, partition: int, epoch: int, stream_seq: int, blob: Any, *, now: datetime
    ) -> bool:
        """Save the memory covering the stream up to ``stream_seq``; False (nothing saved) if
        another judge has claimed the partition since ``epoch``."""
        # Bound at execution, not built into the statement (see EngineStates.save: the statement
        # cache would keep the first snapshot alive).
        values = {"row_stream": stream, "row_partition": partition, "row_epoch": epoch,
                  "stream_seq": stream_seq, "blob": blob, "saved_at": now}  # fmt: skip
        with self._sessions.begin() as session:
            done = session.connection().execute(_SAVE, values)
            return bool(done.rowcount)

    def forget(self, stream: str) -> int:
        """Drop every snapshot of ``stream`` (its stream was deleted); returns how many."""
        with self._sessions.begin() as session:
            rows = session.query(PartitionStateRow).filter_by(stream=stream)
            return rows.delete()
