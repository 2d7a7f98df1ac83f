"""`longform outcomes`: does each intervention help? Treated against control, from the store."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from bot.config import ConfigError, load_config
from bot.runtime.outcome_report import compare, write
from bot.storage.errors import StorageError
from bot.storage.store import Store

_err = Console(stderr=True)
FORMATS = ("text", "jsonl", "markdown")


def outcomes(
    config_path: Annotated[
        Path, typer.Option("--config", "-c", help="The service's TOML config.")
    ] = Path("config.toml"),
    community: Annotated[
        str, typer.Option(help="Only this community, as platform:id (e.g. discord:123)")
    ] = "",
    since: Annotated[
        str, typer.Option(help="Only interventions decided on or after this date (YYYY-MM-DD)")
    ] = "",
    output_format: Annotated[
        str, typer.Option("--format", help="text, jsonl or markdown.")
    ] = "text",
) -> None:
    """Per signal and action: outcomes when sent against the control group, with 95% intervals."""
    if output_format not in FORMATS:
        _err.print(
            f"[red]--format must be one of {', '.join(FORMATS)}, not {escape(output_format)!r}[/red]"
        )
        raise typer.Exit(2)
    try:
        start = datetime.fromisoformat(since).replace(tzinfo=UTC) if since else None
    except ValueError as error:
        _err.print(
            f"[red]--since {escape(since)!r} is not a date: use YYYY-MM-DD, e.g. 2026-12-01[/red]"
        )
        raise typer.Exit(2) from error
    try:
        config = load_config(config_path)
        store = Store.open(config.storage.url)
    except (ConfigError, StorageError) as error:
        _err.print(f"[red]{escape(str(error))}[/red]", highlight=False)
        raise typer.Exit(2) from error
    with store:
        stored = store.outcomes.read(community or None, start)
        alerts = store.outcomes.alerts(community or None, start)
    write(compare(stored), alerts, output_format, sys.stdout)
