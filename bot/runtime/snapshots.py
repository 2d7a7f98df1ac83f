"""The engines' memory as JSON text, written by a forked copy of this process where it can be.

Why a child: a snapshot of 100,000 remembered messages takes more than a second to write, and the
engines must not change while they are read, so judging used to wait for all of it. A forked
child sees the engines exactly as they were at the fork (the kernel copies a page only when one
side writes to it), so the engines' lock is held for the fork alone; the child writes the text
to a pipe and exits, and this process never holds the snapshot as Python objects (its resident
memory stays level; the child's pages are its own, and freed when it exits). This is how Redis
saves in the background.

The child runs only the engines' pure encoding (bot.core.snapshot) and ``os.write``: no logging,
no database, no event loop, nothing that could wait on a lock another thread held at the fork.
Where ``os.fork`` does not exist (Windows) or fails (no memory or process left: logged), or with
``[scheduler] snapshot_in_child = false``, the text is written here instead, under the lock.

The pipe carries, per engine, its key as a JSON string and its snapshot's JSON text, each on a
line of its own (JSON text written by ``json`` never holds a raw newline); a failure in the child
is a last line starting with ``!``.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import select
import signal
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import chain

import structlog

from bot.core.engine import Engine
from bot.core.snapshot import SnapshotError
from bot.storage.encoded import EncodedJSON

log = structlog.get_logger(__name__)

# A child that has written nothing for this long is stuck: it is killed and the save reported.
CHILD_SILENCE_S = 300.0
_READ = 1 << 20


def can_fork() -> bool:
    """Whether this platform can write snapshots in a child process."""
    return hasattr(os, "fork")


def blob_pieces(engine: Engine, position: int) -> Iterator[str]:
    """The stored form of one engine's memory: the journal position it covers, and the engine."""
    return chain((f'{{"journal_seq": {position}, "engine": ',), engine.snapshot_json(), ("}",))


@dataclass
class Pending:
    """Snapshots on their way: ``collect`` waits for them and gives each engine's text."""

    texts: dict[str, EncodedJSON] | None = None  # already written (made in this process)
    pid: int = 0  # else the child writing them,
    pipe: int = -1  # and the end of the pipe they come through

    def collect(self, silence_s: float = CHILD_SILENCE_S) -> dict[str, EncodedJSON]:
        """Each engine's snapshot text; raises SnapshotError if the child failed or went silent."""
        if self.texts is not None:
            return self.texts
        try:
            received = _read_all(self.pipe, self.pid, silence_s)
        finally:
            os.close(self.pipe)
            status = _reap(self.pid)
        return _parse(received, status)


def start(engines: Mapping[str, Engine], position: int, *, in_child: bool) -> Pending:
    """Begin writing every engine's snapshot; call under the engines' lock, which may be released
    as soon as this returns."""
    if not (in_child and can_fork()):
        return _here(engines, position)
    read_end, write_end = os.pipe()
    try:
        with warnings.catch_warnings():
            # Python 3.12 warns about forking with threads running: this child touches nothing
            # that another thread could have held locked at the fork (see the module docstring).
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
    except OSError as error:  # no memory or processes left for a child: this time, here
        os.close(read_end)
        os.close(write_end)
        log.warning("snapshot_fork_failed", problem=str(error),
                    hint="the snapshot is written in the service this time (judging waits for "
                         "it); check the host's memory and process limits")  # fmt: skip
        return _here(engines, position)
    if pid == 0:  # the child: never returns
        os.close(read_end)
        _write_in_child(engines, position, write_end)
    os.close(write_end)
    return Pending(pid=pid, pipe=read_end)


def _here(engines: Mapping[str, Engine], position: int) -> Pending:
    return Pending(texts={key: EncodedJSON("".join(blob_pieces(engine, position)))
                          for key, engine in engines.items()})  # fmt: skip


def _write_in_child(engines: Mapping[str, Engine], position: int, pipe: int) -> None:
    code = 0
    try:
        gc.disable()  # a collection would only touch (and so copy) every page of the parent's
        for sig in (signal.SIGINT, signal.SIGTERM):  # not the parent's handlers: just stop
            signal.signal(sig, signal.SIG_DFL)
        with contextlib.suppress(ValueError, OSError):
            signal.set_wakeup_fd(-1)  # the parent's event loop listens there, not this child
        with os.fdopen(pipe, "wb", buffering=_READ) as out:
            try:
                for key, engine in engines.items():
                    out.write(json.dumps(key).encode() + b"\n")
                    for piece in blob_pieces(engine, position):
                        out.write(piece.encode())
                    out.write(b"\n")
            except Exception as error:  # reported through the pipe; the parent logs it
                out.write(f"\n!{type(error).__name__}: {error}".encode(errors="replace"))
                code = 1
    except BaseException:  # the pipe itself failed (the parent died): nothing left to tell
        code = 2
    finally:
        os._exit(code)


def _read_all(pipe: int, pid: int, silence_s: float) -> bytearray:
    received = bytearray()
    while True:
        ready, _, _ = select.select([pipe], [], [], silence_s)
        if not ready:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            raise SnapshotError(
                f"the snapshot process {pid} wrote nothing for {silence_s:.0f} s and was stopped; "
                "the previous snapshot stays, and the journal still covers everything after it"
            )
        piece = os.read(pipe, _READ)
        if not piece:
            return received
        received += piece


def _reap(pid: int) -> int:
    """The child's exit status (it has closed the pipe or been killed: it is ending)."""
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def _parse(received: bytearray, status: int) -> dict[str, EncodedJSON]:
    view = memoryview(received)
    lines: list[memoryview] = []
    start = 0
    while (end := received.find(b"\n", start)) != -1:
        lines.append(view[start:end])
        start = end + 1
    lines.append(view[start:])
    if lines and bytes(lines[-1][:1]) == b"!":
        raise SnapshotError(f"the snapshot process failed: {str(lines[-1][1:], 'utf-8')}")
    if status != 0 or len(lines) % 2 != 1 or len(lines[-1]):
        raise SnapshotError(
            f"the snapshot process ended with status {status} after {len(received)} bytes; "
            "the previous snapshot stays, and the journal still covers everything after it"
        )
    texts: dict[str, EncodedJSON] = {}
    for index in range(0, len(lines) - 1, 2):
        key = json.loads(str(lines[index], "utf-8"))
        texts[key] = EncodedJSON(str(lines[index + 1], "utf-8"))
    del lines, view
    return texts
