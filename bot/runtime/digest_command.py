"""`longform digest`: the moderators' digest of the last 24 hours, now, printed or sent."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from bot.config import ConfigError, load_config
from bot.runtime.digest import digests
from bot.runtime.jobs import queue_digest
from bot.runtime.service import utc_now
from bot.storage.errors import StorageError
from bot.storage.store import Store

_err = Console(stderr=True)


def digest(
    config_path: Annotated[
        Path, typer.Option("--config", "-c", help="The service's TOML config.")
    ] = Path("config.toml"),
    community: Annotated[
        str, typer.Option(help="Only this community, as platform:id (e.g. discord:123)")
    ] = "",
    send: Annotated[
        bool,
        typer.Option(
            "--send", help="Have the running service post it to the moderators, instead of printing"
        ),
    ] = False,
) -> None:
    """Print the moderators' digest of the last 24 hours now (with --send, post it)."""
    try:
        config = load_config(config_path)
        store = Store.open(config.storage.url)
    except (ConfigError, StorageError) as error:
        _err.print(f"[red]{escape(str(error))}[/red]", highlight=False)
        raise typer.Exit(2) from error
    with store:
        if send:
            # The service owns the platform connections (a second Telegram poller would fight
            # it): the digest is queued as a job in the database the service reads.
            queue_digest(store, community)
            every = config.scheduler.tick_seconds
            Console().print(
                f"queued: the running service posts the digest{' of ' + community if community else 's'} "
                f"to the moderators within {every:g} s (or when it next starts)",
                highlight=False,
                markup=False,
            )
            return
        found = digests(config, store, utc_now(), community)
    out = Console()
    for each in found:
        out.print(each.text, highlight=False, markup=False)
        out.print()
