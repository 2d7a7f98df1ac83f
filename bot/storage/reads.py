"""Marking a transaction as a read, so that on SQLite it takes no writer's turn.

Why: every SQLite transaction of this process begins ``IMMEDIATE`` and takes the store's turn
(bot.storage.store), so that writers never meet in SQLite's busy wait; a read does not need
that, since in WAL mode readers see the last commit and never wait for a writer. The service's
look-up of an event batch's digests waited in line with the executor's writes before this
(transactions' begins waited ~1.5 ms on average, measured under a profiler). Pass ``READ_ONLY``
as ``Session.connection(execution_options=...)`` before the first statement. A write in such a
transaction would not fail but would skip the turn and could meet SQLite's busy wait again, so
only reads belong there. Other databases ignore it.
"""

from __future__ import annotations

from typing import Final

OPTION: Final = "longform_read_only"
READ_ONLY: Final = {OPTION: True}
