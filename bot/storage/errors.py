"""The one error the storage layer raises for problems a caller can act on."""

from __future__ import annotations


class StorageError(RuntimeError):
    """The database cannot be used as asked; the message names the database and the fix."""
