"""Migration scripts, one per revision; applied in order by ``bot.storage.store.upgrade``."""
