"""Opening the durable store: engine, migrations to head, and the repositories over it.

How it works: :meth:`Store.open` turns a URL (or a bare file path, meaning SQLite) into an
engine, migrates the database to the newest revision this code knows, and hands out small
repositories (``audit``, ``outbox``, ``states``, ``prefs``, ``messages``, ``feedback``, ``outcomes``,
``journal``, ``signins``, ``partitions``). The API
is synchronous and thread-safe: the runtime calls it through ``asyncio.to_thread``. Every method
is one transaction; :meth:`Store.batch` groups the service's writes for a batch of events into
one. On SQLite the file runs in WAL mode with foreign keys on, and every
transaction starts with ``BEGIN IMMEDIATE``, so concurrent writers queue (for up to 30 s) instead
of failing half-way; on PostgreSQL, row locks (``SKIP LOCKED`` for claims) do that job. Within one
process, SQLite's transactions also queue on a lock of the engine's own (``_Serialised``), handed
on the moment a transaction ends: SQLite's own busy wait polls with sleeps of up to 100 ms, which
made a thread that found the database busy wait far longer than the transaction before it. The
scheduler's job store (``Store.jobs_engine``) reads without that lock: it runs on the event loop.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.engine import Connection
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import StaticPool

from bot.storage import privacy, reads
from bot.storage.audit import AuditLog, guard_audit
from bot.storage.batch import Batch
from bot.storage.encoded import serialise
from bot.storage.errors import StorageError
from bot.storage.journal import Journal
from bot.storage.outbox import DEFAULT_TTL, Outbox
from bot.storage.outcomes import OutcomeLog
from bot.storage.partitions import PartitionStates
from bot.storage.records import EngineStates, FeedbackLog, MemberPrefs, MessageLog
from bot.storage.signin import SignIns

MIGRATIONS = Path(__file__).with_name("migrations")
_FORMS = "sqlite:///path/to/longform.db, a file path, or postgresql+psycopg://user@host:5432/db"
_BUSY_TIMEOUT_S = 30


class Store:
    """The durable store. Open with :meth:`open`; close with :meth:`close` or a ``with`` block."""

    def __init__(self, engine: Engine, *, erase_salt: bytes | None = None) -> None:
        self.engine = engine
        self._erase_salt = erase_salt
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        guard_audit(engine)
        self.audit = AuditLog(self._sessions)
        self.outbox = Outbox(self._sessions)
        self.states = EngineStates(self._sessions)
        self.prefs = MemberPrefs(self._sessions)
        self.messages = MessageLog(self._sessions)
        self.feedback = FeedbackLog(self._sessions)
        self.journal = Journal(self._sessions)
        self.signins = SignIns(self._sessions)
        self.outcomes = OutcomeLog(self._sessions)  # what became of each intervention
        self.partitions = PartitionStates(self._sessions)  # the distributed judges' memory
        self.sessions = self._sessions  # read-only queries (the dashboard's pages)
        self._jobs_engine: Engine | None = None

    @property
    def jobs_engine(self) -> Engine:
        """The engine for the scheduler's job store (APScheduler's, on the event loop).

        On a SQLite file, an engine of its own whose transactions begin deferred: its reads (the
        scheduler looks for due jobs at every wake-up, on the event loop) never wait for the
        service's writers (WAL readers do not), and its writes are single statements, which
        SQLite's busy wait covers. Elsewhere, the store's engine.
        """
        if self._jobs_engine is None:
            self._jobs_engine = _jobs_engine(self.engine)
        return self._jobs_engine

    @classmethod
    def open(cls, url: str, *, erase_salt: bytes | None = None) -> Store:
        """Open (creating if need be) the database at ``url`` and migrate it to head.

        ``url`` is an SQLAlchemy URL or a file path (SQLite; missing directories are created).
        ``erase_salt`` keys the markers that replace erased members (see ``privacy.py``).
        Raises :class:`StorageError`, naming the URL and the fix, if the database cannot be
        opened or is at a schema revision newer than this code.
        """
        engine = create(url)
        try:
            upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, erase_salt=erase_salt)

    @contextmanager
    def batch(self, ttl: timedelta = DEFAULT_TTL) -> Iterator[Batch]:
        """One transaction for many writes (``bot.storage.batch``): committed when the block
        ends, rolled back if it raises. ``ttl``: the outbox's expiry for what it enqueues."""
        with self._sessions.begin() as session:
            batch = Batch(session, ttl)
            yield batch
            batch.flush()

    @property
    def url(self) -> str:
        """The database URL with any password hidden."""
        return _shown(self.engine.url)

    def revision(self) -> str | None:
        """The schema revision the database is at."""
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def erase_member(self, platform: str, member: str, *, now: datetime) -> privacy.Erasure:
        """Erase ``member``: their prefs and logged messages go; elsewhere a marker replaces them."""
        with self._sessions.begin() as session:
            return privacy.erase_member(session, platform, member, self._erase_salt, now=now)

    def purge(
        self, now: datetime, retention_days: int, *, audit_retention_days: int | None = None
    ) -> privacy.Purge:
        """Apply retention: old message text to NULL, old finished outbox items and (if asked)
        old audit rows deleted. See ``privacy.py``."""
        with self._sessions.begin() as session:
            return privacy.purge(session, now, retention_days, audit_retention_days)

    def close(self) -> None:
        """Release every connection; the store cannot be used afterwards."""
        if self._jobs_engine is not None and self._jobs_engine is not self.engine:
            self._jobs_engine.dispose()
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite ``url`` (None for another database, or SQLite in memory).

    Raises :class:`StorageError` if ``url`` is not a URL this store can read.
    """
    parsed = _parse(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:"):
        return None
    return Path(database).expanduser()


def create(url: str) -> Engine:
    """An engine for ``url`` set up as the module docstring says; nothing is connected yet."""
    parsed = _parse(url)
    try:
        if parsed.get_backend_name() != "sqlite":
            return create_engine(parsed, pool_pre_ping=True, json_serializer=serialise)
        return _sqlite_engine(parsed)
    except NoSuchModuleError as error:
        raise StorageError(
            f"cannot open the database {_shown(parsed)}: no driver for {parsed.drivername!r}. "
            f"Fix: use one of {_FORMS} (PostgreSQL needs `pip install 'psycopg[binary]'`)."
        ) from error


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision`` (all in one transaction).

    Raises :class:`StorageError` if the database cannot be reached or is at a revision this code
    does not know (written by a newer Longform).
    """
    try:
        with engine.begin() as connection:
            _check_known(connection, engine.url)
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except StorageError:
        raise
    except (SQLAlchemyError, OSError) as error:
        raise StorageError(_cannot_open(engine.url, error)) from error


def _check_known(connection: Connection, url: URL) -> None:
    current = MigrationContext.configure(connection).get_current_revision()
    if current is None:
        return
    try:
        ScriptDirectory(str(MIGRATIONS)).get_revision(current)
    except CommandError as error:
        raise StorageError(
            f"the database {_shown(url)} is at schema revision {current!r}, which this Longform "
            "does not know: a newer version wrote it. Fix: upgrade Longform, or open another "
            "database."
        ) from error


def _parse(url: str) -> URL:
    if "://" not in url:
        return URL.create("sqlite", database=str(Path(url).expanduser().resolve()))
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise StorageError(
            f"cannot open the database {url!r}: not a URL. Fix: use {_FORMS}."
        ) from error
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_engine(url: URL) -> Engine:
    database = url.database or ""
    memory = database in ("", ":memory:") or database.startswith("file::memory:")
    options: dict[str, Any] = {
        "connect_args": {"check_same_thread": False, "timeout": _BUSY_TIMEOUT_S,
                         "factory": _Serialised},
    }  # fmt: skip
    if memory:
        options["poolclass"] = StaticPool  # one shared connection, or each gets an empty database
    else:
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StorageError(_cannot_open(url, error)) from error
    engine = create_engine(url, json_serializer=serialise, **options)
    turn = threading.Lock()  # whose transaction it is, in this process (``_Serialised``)
    _TURNS[engine] = turn

    def connect(dbapi_connection: Any, record: object) -> None:
        dbapi_connection.turn = turn
        (_sqlite_connect if not memory else _sqlite_connect_memory)(dbapi_connection, record)

    event.listen(engine, "connect", connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _jobs_engine(engine: Engine) -> Engine:
    turn = _TURNS.get(engine)
    if turn is None or isinstance(engine.pool, StaticPool):
        return engine  # not a SQLite file (an in-memory database is its one connection)
    jobs = create_engine(engine.url, connect_args={"check_same_thread": False,
                                                   "timeout": _BUSY_TIMEOUT_S,
                                                   "factory": _Serialised})  # fmt: skip

    def connect(dbapi_connection: Any, record: object) -> None:
        dbapi_connection.turn = turn
        _sqlite_connect(dbapi_connection, record)

    event.listen(jobs, "connect", connect)
    event.listen(jobs, "before_cursor_execute", _turn_to_write)
    return jobs


def _turn_to_write(connection: Connection, _cursor: Any, statement: str, *_args: Any) -> None:
    # The job store's transactions begin deferred (reads take no turn); a statement that writes
    # takes the store's turn first, and keeps it to the transaction's end, so that it never
    # meets another writer of this process in SQLite's own busy wait (10 ms an insert, measured,
    # when the executor scheduled a slow mode's lift while the judge wrote).
    dbapi_connection = connection.connection.dbapi_connection
    reads = statement.lstrip()[:6].upper() in ("SELECT", "PRAGMA")
    if isinstance(dbapi_connection, _Serialised) and not reads:
        dbapi_connection.take_turn()


# Each SQLite file engine's turn (``_Serialised``), for the job store's engine to share.
_TURNS: weakref.WeakKeyDictionary[Engine, threading.Lock] = weakref.WeakKeyDictionary()


class _Serialised(sqlite3.Connection):
    """A SQLite connection whose transactions take turns on the engine's lock (``turn``, set
    when it connects): taken by ``begin`` before ``BEGIN IMMEDIATE``, given back when the
    transaction commits or rolls back (or the connection closes). For up to the busy timeout,
    like SQLite's own wait; past it, the same error SQLite gives."""

    turn: threading.Lock | None = None
    _holds = False

    def take_turn(self) -> None:
        if self.turn is None or self._holds:
            return
        if not self.turn.acquire(timeout=_BUSY_TIMEOUT_S):
            raise sqlite3.OperationalError("database is locked (by this process)")
        self._holds = True

    def give_turn(self) -> None:
        if self._holds and self.turn is not None:
            self._holds = False
            self.turn.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            if not self.in_transaction:
                self.give_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.give_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.give_turn()


def _sqlite_connect(dbapi_connection: Any, _record: object) -> None:
    _sqlite_connect_memory(dbapi_connection, _record)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode, NORMAL still never corrupts the database; a power cut (not a process crash)
    # may lose the last commits. FULL would fsync on every message logged.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_connect_memory(dbapi_connection: Any, _record: object) -> None:
    # Take transaction control from the sqlite3 module: it would BEGIN lazily, and deferred.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    if connection.get_execution_options().get(reads.OPTION):
        connection.exec_driver_sql("BEGIN")  # deferred: a read takes no turn (bot.storage.reads)
        return
    dbapi_connection = connection.connection.dbapi_connection
    serialised = dbapi_connection if isinstance(dbapi_connection, _Serialised) else None
    if serialised is not None:
        serialised.take_turn()
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        if serialised is not None:
            serialised.give_turn()
        raise


def _cannot_open(url: URL, error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error
    if url.get_backend_name() == "sqlite":
        fix = "check that the directory is writable and the file, if any, is a SQLite database"
    else:
        fix = "check that the server is running and the URL's host, port, user and database"
    return f"cannot open the database {_shown(url)}: {cause}. Fix: {fix}; URL forms: {_FORMS}."


def _shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)
