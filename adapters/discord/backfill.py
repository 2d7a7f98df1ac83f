"""``longform backfill --discord CHANNEL_ID --since DATE``: try a policy on a community's history.

How it works: a REST-only discord.py client (no gateway) logs in with the config's token, reads the
channel's messages since the date (oldest first), and those of its threads or forum posts (active
and archived), translates them as the live adapter does, and replays them in time order through an
engine with the chosen policy, as if live. Nothing is posted, stored or sent: it prints what
Longform would have noticed and done, with a link to each message.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import discord
import typer
from discord import DiscordException
from rich.console import Console

from adapters.discord import texts, translate
from adapters.discord.app import point_at_api, restore_endpoints
from adapters.discord.calls import Place
from adapters.discord.community import Community, communities
from bot.config import Config, ConfigError, load_config
from bot.core.decisions import (
    UNDO_WORDS,
    Decision,
    Detection,
    LiftSlowMode,
    SetSlowMode,
    UndoActions,
)
from bot.core.engine import Engine
from bot.core.events import MessagePosted
from bot.core.scoring import Scorer
from bot.core.settings import Policy
from bot.policy.loader import PolicyError, load_policy
from bot.scoring.errors import ScorerLoadError
from bot.scoring.select import DetoxifyChoice, build_scorer

REST_TIMEOUT = 30.0  # seconds for one page of history


class BackfillError(RuntimeError):
    """Backfill cannot run; the message says why and what to fix."""


@dataclass
class Report:
    """What a backfill read and what the policy would have done."""

    messages: int = 0
    detections: list[Detection] = field(default_factory=list)
    actions: list[Decision] = field(default_factory=list)

    def summary(self) -> str:
        """One line: messages read, things noticed, actions by kind."""
        kinds = Counter(type(action).__name__ for action in self.actions)
        done = ", ".join(f"{name} {count}" for name, count in sorted(kinds.items())) or "none"
        return (f"{self.messages} messages, {len(self.detections)} noticed, "
                f"{len(self.actions)} actions ({done}).")  # fmt: skip


def parse_since(value: str) -> datetime:
    """``YYYY-MM-DD`` or ISO 8601 as an aware datetime (UTC unless it says otherwise)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise BackfillError(f"--since: {value!r} is not a date like 2026-03-01") from error
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def read_history(
    client: discord.Client, channel_id: int, since: datetime, known: dict[int, Community]
) -> tuple[int, list[MessagePosted]]:
    """The channel's guild id, and every member message in the channel and its threads since
    ``since``, oldest first."""
    channel = await asyncio.wait_for(client.fetch_channel(channel_id), REST_TIMEOUT)
    guild = getattr(channel, "guild", None)
    if guild is None:
        raise BackfillError(f"--discord: {channel_id} is not a channel of a server")
    known.setdefault(guild.id, Community(guild.id))
    events: list[MessagePosted] = []
    for place in await _places(channel):
        events.extend(await _read(place, since, known))
    return guild.id, sorted(events, key=lambda event: event.at)


async def _read(place: Place, since: datetime, known: dict[int, Community]) -> list[MessagePosted]:
    """The member messages of one channel or thread since ``since`` (each page under a timeout)."""
    pages = place.history(limit=None, after=since, oldest_first=True)
    found: list[MessagePosted] = []
    while True:
        try:
            message = await asyncio.wait_for(anext(pages), REST_TIMEOUT)
        except StopAsyncIteration:
            return found
        event = translate.message_posted(message, known)
        if event is not None:
            found.append(event)


async def _places(channel: object) -> list[Place]:
    """The channel itself (unless a forum) and its active and archived public threads."""
    if isinstance(channel, discord.Thread):
        return [channel]
    if not isinstance(channel, discord.TextChannel | discord.ForumChannel):
        raise BackfillError("--discord: give a text channel, forum channel, thread or forum post")
    active = await asyncio.wait_for(channel.guild.active_threads(), REST_TIMEOUT)
    threads = {t.id: t for t in active if t.parent_id == channel.id}
    try:
        async for thread in channel.archived_threads(limit=None):
            threads.setdefault(thread.id, thread)
    except discord.Forbidden:
        pass  # archived threads need Read Message History; the rest is still worth replaying
    own: list[Place] = [channel] if isinstance(channel, discord.TextChannel) else []
    return own + sorted(threads.values(), key=lambda t: t.id)


def replay(events: list[MessagePosted], policy: Policy, scorer: Scorer) -> Report:
    """Feed ``events`` to a fresh engine in order, ticking its clock before each and once after."""
    engine = Engine(policy, scorer)
    report = Report(messages=len(events))
    for event in events:
        report.actions.extend(engine.tick(event.at).actions)
        decided = engine.feed(event)
        report.detections.extend(decided.detections)
        report.actions.extend(decided.actions)
    if events:
        report.actions.extend(engine.tick(events[-1].at + timedelta(days=1)).actions)
    return report


def render(report: Report, guild_id: int, console: Console) -> None:
    """Print each detection with its message link, then what would have been done."""
    for detection in report.detections:
        place = detection.conversation.place
        url = texts.link(guild_id, place, detection.message_id)
        console.print(f"{detection.at:%Y-%m-%d %H:%M} [bold]{detection.signal}[/bold] "
                      f"({detection.score:.2f}): {detection.explanation}\n  {url}", highlight=False)  # fmt: skip
    for action in report.actions:
        console.print(f"  would {type(action).__name__}: {_what(action)}", highlight=False)
    console.print(f"[bold]{report.summary()}[/bold]")


def _what(action: Decision) -> str:
    if isinstance(action, SetSlowMode):
        return f"{action.seconds} s per message in {action.conversation.place}"
    if isinstance(action, LiftSlowMode):
        return f"lift slow mode in {action.conversation.place}"
    if isinstance(action, UndoActions):
        return f"{UNDO_WORDS} ({action.conversation.place})"
    return texts.clip(action.text, 300)


async def run(config: Config, token: str, channel_id: int, since: datetime, policy: Policy,
              scorer: Scorer) -> tuple[Report, int]:  # fmt: skip
    """Read the history and replay it: the report and the guild id (for links)."""
    saved = point_at_api(config.discord.api_url) if config.discord.api_url else None
    client = discord.Client(intents=discord.Intents.none())
    try:
        await client.login(token)
        # The channel was named on purpose: read it even where the config watches others.
        known = {g: replace(c, channels=frozenset()) for g, c in communities(config).items()}
        guild_id, events = await read_history(client, channel_id, since, known)
        return replay(events, policy, scorer), guild_id
    finally:
        await client.close()
        if saved is not None:
            restore_endpoints(saved)


def backfill(
    discord: Annotated[str, typer.Option("--discord", help="Channel, forum or thread id.")],
    since: Annotated[str, typer.Option(help="Read from this date (YYYY-MM-DD, UTC).")],
    config: Annotated[
        Path, typer.Option("--config", "-c", help="The service's config (token).")
    ] = Path("config.toml"),
    policy: Annotated[
        str, typer.Option(help="Policy file or preset (default: the config's).")
    ] = "",
) -> None:
    """Replay a Discord channel's history through a policy: what Longform would have done."""
    err = Console(stderr=True)
    try:
        loaded = load_config(config)
        token = _token(loaded)
        chosen = load_policy(policy or loaded.policy)
        detoxify = DetoxifyChoice(**loaded.scoring.detoxify.model_dump())
        scorer = build_scorer(
            loaded.scoring.backend,
            detoxify,
            sentence_tier=loaded.scoring.sentence_tier,
            sentence_from=loaded.scoring.sentence_from,
        )
        if not discord.isdigit():
            raise BackfillError(f"--discord: {discord!r} is not a channel id")
        start = parse_since(since)
        report, guild = asyncio.run(run(loaded, token, int(discord), start, chosen, scorer))
    except (ConfigError, PolicyError, ScorerLoadError, BackfillError) as error:
        err.print(f"[red]{error}[/red]", highlight=False)
        raise typer.Exit(2) from error
    except (DiscordException, OSError, TimeoutError) as error:  # bad token, no such channel...
        err.print(f"[red]Discord: {error}[/red]", highlight=False)
        raise typer.Exit(1) from error
    render(report, guild, Console())


def _token(config: Config) -> str:
    variable = config.discord.token_env
    token = os.environ.get(variable, "").strip()
    if not token:
        raise BackfillError(f"discord.token_env: export {variable}=<your Discord bot token>")
    return token
