"""What must hold before the service starts: one list of checks, run by `check-config` and `run`.

So the two never disagree: a config `check-config` calls OK is one `run` starts with, and the
reverse. Nothing here connects to anything; every problem names the key and the fix.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bot.config import Config, ConfigError, Platform, tokens
from bot.core.settings import Policy
from bot.policy.loader import PolicyError, load_policy
from bot.storage.errors import StorageError
from bot.storage.store import sqlite_path


@dataclass
class Checked:
    """The outcome of the checks: what start-up needs, and every problem found."""

    policies: dict[str, Policy] = field(default_factory=dict)
    tokens: dict[Platform, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def load_policies(config: Config) -> dict[str, Policy]:
    """Every policy the config names ("" is the top-level one); PolicyError lists problems."""
    names = {"": config.policy} | {c.policy: c.policy for c in config.communities if c.policy}
    return {key: load_policy(name) for key, name in names.items()}


def check(
    config: Config, environ: Mapping[str, str] = os.environ, served: Iterable[str] = ()
) -> Checked:
    """Run every check on ``config``; ``served``: platforms a caller adds itself (tests)."""
    checked = Checked()
    try:
        checked.policies = load_policies(config)
    except PolicyError as error:
        checked.problems.append(str(error))
    try:
        checked.tokens = tokens(config, environ)
    except ConfigError as error:
        checked.problems.append(str(error))
    if not config.platforms and not config.replay.enabled and not list(served):
        checked.problems.append(
            "no platform is enabled: set enabled = true in [discord], [telegram], [matrix] or [replay] "
            "(Discord, Telegram and Matrix also need their token's environment variable)"
        )
    checked.problems.extend(_storage_problems(config.storage.url))
    return checked


def _storage_problems(url: str) -> list[str]:
    try:
        path = sqlite_path(url)
    except StorageError as error:
        return [f"storage.url: {error}"]
    if path is None:
        return []  # a server database: reached only when the service starts
    folder = path.parent
    if not folder.is_dir():
        return [
            f"storage.url: the directory {folder} of the SQLite database does not exist; create "
            f"it (mkdir -p {folder}) or point url at an existing directory"
        ]
    if not os.access(folder, os.W_OK):
        return [
            f"storage.url: the directory {folder} of the SQLite database is not writable by this "
            "user; fix its permissions or choose another directory"
        ]
    return []
