"""``longform dashboard --config FILE``: the dashboard alone, against the service's database."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from bot import logs
from bot.config import ConfigError, load_config
from bot.policy.loader import PolicyError
from bot.runtime.checks import load_policies
from bot.storage.errors import StorageError
from bot.storage.store import Store

if TYPE_CHECKING:
    from bot.dashboard.server import DashboardServer

_err = Console(stderr=True)


def dashboard(
    config_path: Annotated[
        Path, typer.Option("--config", "-c", help="The service's TOML config.")
    ] = Path("config.toml"),
) -> None:
    """Serve the moderators' dashboard alone (the same database as `longform run`)."""
    try:
        config = load_config(config_path)
        policies = load_policies(config)
        store = Store.open(config.storage.url)
    except (ConfigError, PolicyError, StorageError) as error:
        _err.print(f"[red]{error}[/red]", highlight=False)
        raise typer.Exit(2) from error
    logs.configure(config.logging.level, config.logging.format)
    if not config.dashboard.enabled:
        store.close()
        _err.print(f"[red]{config_path}: dashboard.enabled is false; set [dashboard] enabled = "
                   "true to serve it[/red]", highlight=False)  # fmt: skip
        raise typer.Exit(2)
    try:
        server = load_server()(config, store, lambda: policies)
        asyncio.run(_serve(server))
    except (OSError, MissingExtraError) as error:
        _err.print(f"[red]cannot start:[/red] {error}", highlight=False)
        raise typer.Exit(2) from error
    finally:
        store.close()


def load_server() -> type[DashboardServer]:
    """The server class; its web libraries are an extra, imported only when asked for."""
    try:
        from bot.dashboard.server import DashboardServer
    except ImportError as error:
        raise MissingExtraError(
            f"the dashboard needs its web libraries ({error.name} is missing); install them "
            "with `pip install 'longform[dashboard]'`"
        ) from error
    return DashboardServer


class MissingExtraError(RuntimeError):
    """The dashboard's optional libraries are not installed; the message says how to."""


async def _serve(server: DashboardServer) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(number, stop.set)
    Console().print(f"Dashboard at {server.url} (sign in with /longform dashboard or /dashboard)")
    await server.serve_until(stop)
