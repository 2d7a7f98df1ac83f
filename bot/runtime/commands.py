"""The service's commands: run, check-config, reload, erase-member, feedback."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot import logs
from bot.config import Config, ConfigError, load_config, tokens
from bot.policy.loader import PolicyError
from bot.runtime.app import StartupError, build_service, load_policies
from bot.runtime.service import utc_now
from bot.storage.errors import StorageError
from bot.storage.store import Store

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The service's TOML config.")]
PidOption = Annotated[
    Path | None, typer.Option(help="File holding the running service's process id.")
]
_err = Console(stderr=True)


def _config(path: Path) -> Config:
    try:
        return load_config(path)
    except ConfigError as error:
        _err.print(f"[red]{error}[/red]", highlight=False)
        raise typer.Exit(2) from error


def run(config_path: ConfigOption = Path("config.toml"), pid_file: PidOption = None) -> None:
    """Run the service: every enabled platform, the storage and the scheduler, until stopped."""
    config = _config(config_path)
    logs.configure(config.logging.level, config.logging.format)
    try:
        service = build_service(config, config_path)
    except StartupError as error:
        _err.print(f"[red]cannot start:[/red] {error}", highlight=False)
        raise typer.Exit(2) from error
    if pid_file is not None:
        pid_file.write_text(str(os.getpid()))
    try:
        asyncio.run(service.run())
    except StartupError as error:  # a platform refused us while connecting (intent, token)
        _err.print(f"[red]cannot start:[/red] {error}", highlight=False)
        raise typer.Exit(2) from error
    finally:
        if pid_file is not None:
            pid_file.unlink(missing_ok=True)


def check_config(config_path: ConfigOption = Path("config.toml")) -> None:
    """Validate the config, its policies and tokens, without connecting to anything."""
    config = _config(config_path)
    problems: list[str] = []
    try:
        policies = load_policies(config)
    except PolicyError as error:
        problems.append(str(error))
        policies = {}
    try:
        tokens(config)
    except ConfigError as error:
        problems.append(str(error))
    if problems:
        _err.print("[red]" + "\n".join(problems) + "[/red]", highlight=False)
        raise typer.Exit(2)
    console = Console()
    console.print(f"[green]OK[/green] {config_path}: platforms {', '.join(config.platforms) or 'none'}; "
                  f"storage {config.storage.url}; policies "
                  + ", ".join(f"{p.name} ({p.mode})" for p in policies.values()), highlight=False)  # fmt: skip


def reload(pid_file: PidOption = Path("longform.pid")) -> None:
    """Ask the running service to reload its policies (SIGHUP); a bad policy is rejected."""
    try:
        pid = int((pid_file or Path("longform.pid")).read_text())
        os.kill(pid, signal.SIGHUP)
    except (FileNotFoundError, ValueError, ProcessLookupError) as error:
        _err.print(f"[red]no running service found via {pid_file}: {error}[/red]; start it with "
                   "`longform run --pid-file ...`, or send SIGHUP to its process", highlight=False)  # fmt: skip
        raise typer.Exit(1) from error
    Console().print(f"asked process {pid} to reload; its log says whether the policy was accepted")


def _store(config: Config) -> Store:
    try:
        return Store.open(config.storage.url)
    except StorageError as error:
        _err.print(f"[red]{error}[/red]", highlight=False)
        raise typer.Exit(2) from error


def erase_member(
    platform: Annotated[str, typer.Argument(help="discord or telegram")],
    member: Annotated[str, typer.Argument(help="The member's platform user id")],
    config_path: ConfigOption = Path("config.toml"),
) -> None:
    """Erase a member's stored data on their request (audit rows keep a pseudonym)."""
    with _store(_config(config_path)) as store:
        done = store.erase_member(platform, member, now=utc_now())
    Console().print(f"erased: {done.messages_deleted} messages, {done.prefs_deleted} preferences; "
                    f"{done.audit_rows_pseudonymised} audit rows now name {done.marker}")  # fmt: skip


def feedback(config_path: ConfigOption = Path("config.toml")) -> None:
    """Moderators' verdicts per signal, per community and in all, and the precision they imply."""
    with _store(_config(config_path)) as store:
        scopes = [("all communities", store.feedback.feedback_counts())]
        scopes += [(c, store.feedback.feedback_counts(c)) for c in store.feedback.communities()]
    if not scopes[0][1]:
        Console().print("no feedback recorded yet")
        return
    table = Table("community", "signal", "helpful", "marked wrong", "precision seen by moderators")
    for scope, counts in scopes:
        for signal_name, (helpful, wrong) in sorted(counts.items()):
            judged = helpful + wrong
            precision = f"{helpful / judged:.2f}" if judged else ""
            table.add_row(scope, signal_name, str(helpful), str(wrong), precision)
    Console().print(table)
