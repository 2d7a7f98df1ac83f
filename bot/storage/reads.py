"""Marking a transaction as a read, so that on SQLite it takes no writer's turn.

Why: every SQLite transaction of this process begins ``IMMEDIATE`` and takes the store's turn
(bot.storage.store), so that writers never meet in SQLite's busy wait; a read does not need
that, since in WAL mode readers see the last commit and never wait for a writer. The service's
look-up of an event batch's digests waited for the executor's writes before this (~1.5 ms a
batch, measured). Pass ``READ_ONLY`` as ``Session.connection(execution_options=...)`` before
the first statement; a write in such a transaction would fail (SQLite: "database is locked"
or an upgrade refused), so only reads belong there. Other databases ignore it.
"""

from __future__ import annotations

from typing import Final

OPTION: Final = "longform_read_only"
READ_ONLY: Final = {OPTION: True}
