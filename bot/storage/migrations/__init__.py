"""Alembic migrations of the durable store, run by ``Store.open`` (no alembic.ini needed)."""
