"""Alembic environment: migrate the connection handed over by ``bot.storage.store``.

Runs only inside ``alembic.command.upgrade`` with ``config.attributes["connection"]`` set; it
never reads an ini file or configures logging, so the host application's logging is left alone.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from bot.storage.schema import Base

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through bot.storage.store.upgrade, not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
