"""Connecting to NATS and keeping the event stream: errors that say what to fix.

How it works: :func:`connect` reaches the server once (no endless reconnect loop at start-up:
a wrong URL must stop the process with the URL and the fix); :func:`ensure_stream` creates the
stream if missing (file storage, kept ``retain_hours``, de-duplicating within ``dedupe_minutes``)
and refuses one made with another number of partitions, since every community would then move to
another partition than its memory's.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import urlsplit

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from bot.config import DistributedConfig
from bot.distributed.partitioning import subject

CONNECT_TIMEOUT_S = 5.0
_PARTITIONS_KEY = "longform_partitions"


class DistributedError(RuntimeError):
    """NATS cannot be used as configured; the message names the setting and the fix."""


async def connect(url: str, name: str = "longform") -> Client:
    """A connection to the NATS server(s) at ``url``; DistributedError if none answers.

    The first attempt does not retry (a wrong URL must stop start-up, not loop); once connected,
    the client reconnects for as long as it takes, and publishing waits meanwhile."""
    servers = [part.strip() for part in url.split(",") if part.strip()]
    problems = [problem for problem in [await _probe(server) for server in servers] if problem]
    if len(problems) == len(servers):
        raise DistributedError(
            f"distributed.nats_url: no NATS server answers at {url} ({'; '.join(problems)}). "
            "Fix: start one with JetStream on (`nats-server -js`), or point nats_url at it, "
            "or set [distributed] enabled = false to run everything in one process"
        )
    return await nats.connect(servers=servers, name=name, connect_timeout=CONNECT_TIMEOUT_S,
                              max_reconnect_attempts=-1, reconnect_time_wait=0.5)  # fmt: skip


async def _probe(server: str) -> str:
    """Why ``server`` cannot be reached ("" if it can): nats-py's own first connect retries
    without end, so the address is tried once here first."""
    parsed = urlsplit(server if "://" in server else f"nats://{server}")
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            _, writer = await asyncio.open_connection(parsed.hostname, parsed.port or 4222)
    except (OSError, TimeoutError, ValueError) as error:
        return f"{type(error).__name__}: {error}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return ""


def stream_config(settings: DistributedConfig) -> StreamConfig:
    """The stream ``settings`` describe."""
    return StreamConfig(
        name=settings.stream,
        description=f"Longform events in {settings.partitions} partitions",
        subjects=[subject(settings.stream, 0).rsplit(".", 1)[0] + ".*"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=settings.retain_hours * 3600,
        duplicate_window=settings.dedupe_minutes * 60,
        metadata={_PARTITIONS_KEY: str(settings.partitions)},
    )


async def ensure_stream(js: JetStreamContext, settings: DistributedConfig) -> None:
    """Create the stream if missing; DistributedError if it exists with other partitions."""
    wanted = stream_config(settings)
    try:
        info = await js.stream_info(settings.stream)
    except NotFoundError:
        await _create(js, wanted)
        return
    except Exception as error:  # JetStream off on the server, or no permission
        raise _unusable(settings, error) from error
    found = (info.config.metadata or {}).get(_PARTITIONS_KEY) or _described(info.config.description)
    if found is not None and found != str(settings.partitions):
        raise DistributedError(
            f"distributed.partitions: the stream {settings.stream!r} was made with {found} "
            f"partitions, not {settings.partitions}; set partitions = {found}, or choose a new "
            "stream name (the judges' memory is kept per partition)"
        )


def _described(description: str | None) -> str | None:
    """The partitions a stream's description names (servers before 2.10 keep no metadata)."""
    words = (description or "").split()
    return words[3] if words[:3] == ["Longform", "events", "in"] and len(words) > 3 else None


async def _create(js: JetStreamContext, wanted: StreamConfig) -> None:
    try:
        await js.add_stream(wanted)
    except Exception as error:
        raise DistributedError(
            f"distributed.stream: cannot create the JetStream stream {wanted.name!r}: {error}. "
            "Fix: run nats-server with JetStream on (-js), with room for file storage"
        ) from error


def _unusable(settings: DistributedConfig, error: Any) -> DistributedError:
    return DistributedError(
        f"distributed.nats_url: the server at {settings.nats_url} does not offer JetStream "
        f"({error}). Fix: start nats-server with -js"
    )
