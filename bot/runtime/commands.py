"""The service's commands: run, check-config, reload, erase-member, feedback."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Annotated

import structlog
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bot import logs
from bot.config import Config, ConfigError, load_config
from bot.runtime.app import StartupError, build_service
from bot.runtime.checks import check
from bot.runtime.service import utc_now
from bot.storage.errors import StorageError
from bot.storage.store import Store

log = structlog.get_logger()

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="The service's TOML config.")]
# `run` writes its process id here and `reload` reads it, unless told another file.
DEFAULT_PID_FILE = Path("longform.pid")
PidOption = Annotated[
    Path,
    typer.Option(
        help="File holding the running service's process id (run writes it, reload reads it)."
    ),
]
PLATFORMS = ("discord", "telegram", "replay")
_err = Console(stderr=True)


def say_error(message: str, prefix: str = "") -> None:
    """Print ``message`` in red on stderr, exactly as written (no rich markup read from it)."""
    _err.print(f"[red]{escape(prefix)}[/red]{escape(message)}" if prefix else
               f"[red]{escape(message)}[/red]", highlight=False, soft_wrap=True)  # fmt: skip


def _config(path: Path) -> Config:
    try:
        return load_config(path)
    except ConfigError as error:
        say_error(str(error))
        raise typer.Exit(2) from error


RoleOption = Annotated[
    list[str] | None,
    typer.Option(
        "--role",
        help="With [distributed] enabled: run only this role (ingest, judge, execute); "
        "repeat for several. Default: the config's distributed.roles.",
    ),
]


def run(
    config_path: ConfigOption = Path("config.toml"),
    pid_file: PidOption = DEFAULT_PID_FILE,
    role: RoleOption = None,
) -> None:
    """Run the service: every enabled platform, the storage and the scheduler, until stopped."""
    config = _config(config_path)
    logs.configure(config.logging.level, config.logging.format)
    if role and not config.distributed.enabled:
        say_error("--role needs [distributed] enabled = true in the config (and a NATS server); "
                  "without it every role runs in this one process: drop --role", "cannot start: ")  # fmt: skip
        raise typer.Exit(2)
    if config.distributed.enabled:
        _run_distributed(config, role or [])
        return
    try:
        service = build_service(config, config_path)
    except StartupError as error:
        say_error(str(error), prefix="cannot start: ")
        raise typer.Exit(2) from error
    written = _write_pid(pid_file)
    try:
        asyncio.run(service.run())
    except StartupError as error:  # a platform refused us while connecting (intent, token)
        say_error(str(error), prefix="cannot start: ")
        raise typer.Exit(2) from error
    finally:
        if written and _read_pid(pid_file) == os.getpid():
            pid_file.unlink(missing_ok=True)


def _run_distributed(config: Config, roles: list[str]) -> None:
    """The roles apart (bot.distributed.app): events through NATS JetStream."""
    try:
        from bot.distributed import app as distributed
    except ImportError as error:
        say_error(f"[distributed] needs the NATS client ({error}): "
                  "pip install 'longform[distributed]'", "cannot start: ")  # fmt: skip
        raise typer.Exit(2) from error
    try:
        asyncio.run(distributed.serve(config, distributed.chosen_roles(config, roles)))
    except StartupError as error:
        say_error(str(error), prefix="cannot start: ")
        raise typer.Exit(2) from error


def _write_pid(pid_file: Path) -> bool:
    try:
        pid_file.write_text(str(os.getpid()))
    except OSError as error:
        log.warning("pid_file_not_written", pid_file=str(pid_file.resolve()), problem=str(error),
                    hint="`longform reload` cannot find this service; pass --pid-file with a "
                         "writable path, or send SIGHUP to the process yourself")  # fmt: skip
        return False
    log.info("pid_file_written", pid_file=str(pid_file.resolve()), pid=os.getpid(),
             hint=f"`longform reload --pid-file {pid_file}` reloads the policies")  # fmt: skip
    return True


def _read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return None


def check_config(config_path: ConfigOption = Path("config.toml")) -> None:
    """Validate the config, its policies, tokens and storage path, without connecting to anything:
    the same checks `run` makes before it starts."""
    config = _config(config_path)
    checked = check(config)
    if checked.problems:
        say_error("\n".join(checked.problems))
        raise typer.Exit(2)
    platforms = [*config.platforms, *(["replay"] if config.replay.enabled else [])]
    policies = ", ".join(f"{p.name} ({p.mode})" for p in checked.policies.values())
    Console().print("[green]OK[/green] " + escape(f"{config_path}: platforms {', '.join(platforms)}; "
                    f"storage {config.storage.url}; policies {policies}"), highlight=False)  # fmt: skip


def reload(pid_file: PidOption = DEFAULT_PID_FILE) -> None:
    """Ask the running service to reload its policies (SIGHUP); a bad policy is rejected."""
    where = pid_file.resolve()
    pid = _read_pid(pid_file)
    if pid is None:
        say_error(f"no running service found: no process id in {where} (`longform run` writes it "
                  "there when started in this directory; if it was started elsewhere or with "
                  "--pid-file, pass the same --pid-file here, or send SIGHUP to its process)")  # fmt: skip
        raise typer.Exit(1)
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError as error:
        say_error(f"no running service found: {where} names process {pid}, which is not running "
                  "(a service that was killed leaves its pid file behind); start it with "
                  "`longform run`")  # fmt: skip
        raise typer.Exit(1) from error
    Console().print(escape(f"asked process {pid} (from {where}) to reload; its log says whether "
                           "the policy was accepted"), highlight=False)  # fmt: skip


def _store(config: Config) -> Store:
    try:
        return Store.open(config.storage.url)
    except StorageError as error:
        say_error(str(error))
        raise typer.Exit(2) from error


def erase_member(
    platform: Annotated[str, typer.Argument(help="discord, telegram or replay")],
    member: Annotated[str, typer.Argument(help="The member's platform user id")],
    config_path: ConfigOption = Path("config.toml"),
) -> None:
    """Erase a member's stored data on their request (audit rows keep a pseudonym)."""
    if platform not in PLATFORMS:
        say_error(f"unknown platform {platform!r}: use one of {', '.join(PLATFORMS)}")
        raise typer.Exit(2)
    with _store(_config(config_path)) as store:
        done = store.erase_member(platform, member, now=utc_now())
    if not done.found:
        say_error(f"nothing is stored about member {member!r} on {platform}: nothing erased. "
                  "Check the id (the platform's numeric user id, not a display name)")  # fmt: skip
        raise typer.Exit(1)
    Console().print(escape(f"erased: {done.messages_deleted} messages, {done.prefs_deleted} "
                           f"preferences, {done.journal_rows_deleted} recent events; "
                           f"{done.audit_rows_pseudonymised} audit rows now name {done.marker}"),
                    highlight=False)  # fmt: skip


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
            table.add_row(escape(scope), escape(signal_name), str(helpful), str(wrong), precision)
    Console().print(table)
