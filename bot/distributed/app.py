"""Running the roles this process is given: `longform run` with [distributed] enabled.

Start-up order: the same checks as the one-process service (tokens only when this process talks
to a platform), the storage, the scorer (judges only), then NATS and the stream (an unreachable
server stops start-up with the URL and the fix), then the roles: judge, execute (outbox recovery
for its platforms, the scheduler's digest, purge and slow-mode lifts, the executor), and last the
platform connections, whose events go to the stream (ingest) or nowhere (execute alone). Shutdown
runs the other way: a judge hands its partitions back with their memory saved.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from nats.aio.client import Client

from bot.config import Config, Role
from bot.core.events import Event, LongformOpened
from bot.distributed.ingest import Publisher
from bot.distributed.judge import Judge
from bot.distributed.ownership import Ownership
from bot.distributed.stream import DistributedError, connect, ensure_stream
from bot.policy.loader import PolicyError
from bot.runtime import jobs
from bot.runtime.app import StartupError, _make_adapter
from bot.runtime.checks import check, load_policies
from bot.runtime.control import Control
from bot.runtime.executor import Executor
from bot.runtime.metrics import Metrics
from bot.runtime.platform import PlatformAdapter
from bot.runtime.service import Runtime
from bot.scoring.errors import ScorerLoadError
from bot.scoring.select import DetoxifyChoice, build_scorer
from bot.storage.errors import StorageError
from bot.storage.store import Store

log = structlog.get_logger()
ROLES: tuple[Role, ...] = ("ingest", "judge", "execute")


class _NoScorer:
    """The scorer of a process that judges nothing (ingest, execute): never asked to score."""

    name = "none"
    attributes: tuple[str, ...] = ()

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        return [{} for _ in texts]


@dataclass
class Distributed:
    """This process's roles around one runtime (storage, policies, adapters, metrics)."""

    runtime: Runtime
    roles: frozenset[Role]
    judge: Judge | None = None
    publisher: Publisher | None = None
    executor: Executor | None = None
    _nats: Client | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Serve until ``stop`` is set (or SIGTERM/SIGINT), then shut down cleanly."""
        stop = stop or asyncio.Event()
        _handle_signals(stop)
        runtime, settings = self.runtime, self.runtime.config.distributed
        self._nats = await connect(
            settings.nats_url, name=f"longform-{'-'.join(sorted(self.roles))}"
        )
        js = self._nats.jetstream()
        started: list[PlatformAdapter] = []
        scheduler: Any = None
        judge_stop = asyncio.Event()
        try:
            await ensure_stream(js, settings)
            if "judge" in self.roles:
                ownership = Ownership(runtime.store.engine, settings.stream)
                self.judge = Judge(runtime, js, settings, ownership)
                self._tasks.append(asyncio.create_task(self.judge.run(judge_stop), name="judge"))
            if "execute" in self.roles:
                scheduler = await self._start_executor()
            publisher = Publisher(js, settings.stream, settings.partitions, runtime.metrics)
            self.publisher = publisher
            sink = publisher.publish if "ingest" in self.roles else results_only(publisher)
            for adapter in runtime.adapters.values():
                await _start_adapter(adapter, sink, Control(runtime), "ingest" in self.roles)
                started.append(adapter)
                log.info("platform_connected", platform=adapter.platform)
            log.info("roles_started", roles=sorted(self.roles), stream=settings.stream,
                     partitions=settings.partitions, platforms=list(runtime.adapters))  # fmt: skip
            await stop.wait()
        finally:
            log.info("roles_stopping")
            for adapter in reversed(started):
                with contextlib.suppress(Exception):
                    await adapter.stop()
            if self.executor is not None:
                await self.executor.stop()
            judge_stop.set()
            for task in self._tasks:
                with contextlib.suppress(Exception):
                    await task
            if scheduler is not None:
                scheduler.shutdown(wait=False)
                jobs.bind(None)
            with contextlib.suppress(Exception):
                await self._nats.drain()
            runtime.metrics.close()
            runtime.store.close()

    async def _start_executor(self) -> Any:
        runtime, settings = self.runtime, self.runtime.config.distributed
        platforms: tuple[str, ...] = settings.execute_platforms or tuple(runtime.adapters)
        recovered = await asyncio.to_thread(
            runtime.store.outbox.recover, runtime.clock(), platforms
        )
        if recovered.requeued or recovered.expired:
            log.info("outbox_recovered", requeued=recovered.requeued, expired=recovered.expired)
        jobs.bind(runtime)
        scheduler = jobs.scheduler_for(runtime)
        for engine_job in ("tick", "save_memory"):  # the judges tick and save their own engines
            scheduler.remove_job(engine_job)
        executor = self.executor = Executor(runtime, platforms=tuple(platforms))
        executor.schedule_lift = jobs.lift_scheduler(scheduler)
        executor.schedule_reminder = jobs.reminder_scheduler(
            scheduler, runtime.config.scheduler.longform_days
        )
        scheduler.start()
        executor.start()
        return scheduler


def results_only(publisher: Publisher) -> Callable[[Event], Awaitable[None]]:
    """The sink of a process that executes but does not ingest: the platform's events are the
    ingest's to publish, but what execution learns (a long-form space's place: LongformOpened)
    is published from here, so that the judges' outcomes can count who moved there."""

    async def sink(event: Event) -> None:
        if isinstance(event, LongformOpened):
            await publisher.publish(event)

    return sink


async def _start_adapter(
    adapter: PlatformAdapter, sink: object, control: Control, ingest: bool
) -> None:
    from adapters.replay.live import FilePlatform

    if isinstance(adapter, FilePlatform) and not ingest:
        adapter.open_actions()  # execute only: another process reads the inbox
        return
    await adapter.start(sink, control)  # type: ignore[arg-type]


def _handle_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)


def chosen_roles(config: Config, override: Collection[str] = ()) -> frozenset[Role]:
    """The roles to run: ``--role`` values if given, else the config's; StartupError if unknown."""
    wanted = list(override) or list(config.distributed.roles)
    unknown = sorted(set(wanted) - set(ROLES))
    if unknown:
        raise StartupError(f"--role: unknown role {', '.join(unknown)}; use {', '.join(ROLES)}")
    return frozenset(role for role in ROLES if role in wanted)


def build(
    config: Config, roles: frozenset[Role], environ: Mapping[str, str] = os.environ
) -> Distributed:
    """Everything ``roles`` need, checked before anything connects."""
    platform_roles = bool({"ingest", "execute"} & roles)
    if platform_roles:
        checked = check(config, environ)
        if checked.problems:
            raise StartupError("\n".join(checked.problems))
        policies, found = checked.policies, checked.tokens
    else:
        try:
            policies, found = load_policies(config), {}
        except PolicyError as error:
            raise StartupError(str(error)) from error
    _refuse_split_polling(config, roles)
    try:
        scorer = _scorer(config) if "judge" in roles else _NoScorer()
        store = Store.open(config.storage.url)
    except (ScorerLoadError, StorageError) as error:
        raise StartupError(str(error)) from error
    if "judge" in roles and store.engine.dialect.name != "postgresql":
        store.close()
        raise StartupError(
            "storage.url: a distributed judge needs PostgreSQL (its partitions' memory and "
            "ownership live there), not SQLite. Fix: storage.url = "
            '"postgresql+psycopg://user@host:5432/db", or [distributed] enabled = false'
        )
    adapters: dict[str, PlatformAdapter] = {}
    if platform_roles:
        for platform in config.platforms:
            adapters[platform] = _make_adapter(platform, config, found[platform])
        if config.replay.enabled:
            from adapters.replay.live import FilePlatform

            replay = config.replay
            adapters["replay"] = FilePlatform(
                replay.inbox, replay.actions, replay.action_delay_ms / 1000
            )
    metrics = Metrics()
    if config.metrics.enabled:
        metrics.serve(config.metrics.host, config.metrics.port)
    runtime = Runtime(config, policies, scorer, store, adapters, metrics=metrics)  # type: ignore[arg-type]
    return Distributed(runtime, roles)


def _scorer(config: Config) -> object:
    choice = DetoxifyChoice(**config.scoring.detoxify.model_dump())
    return build_scorer(config.scoring.backend, choice, sentence_tier=config.scoring.sentence_tier,
                        sentence_from=config.scoring.sentence_from)  # fmt: skip


def _refuse_split_polling(config: Config, roles: frozenset[Role]) -> None:
    """Telegram hands each update to one long poll: an executor polling too would steal them."""
    if (
        config.telegram.enabled
        and config.telegram.updates == "polling"
        and ("execute" in roles and "ingest" not in roles)
    ):
        raise StartupError(
            "telegram.updates: with long polling, Telegram's executor must run in the process "
            'that ingests (roles = ["ingest", "execute"]), or use updates = "webhook"'
        )


async def serve(config: Config, roles: frozenset[Role]) -> None:
    """Build and run ``roles``; DistributedError and StartupError say what to fix."""
    try:
        distributed = build(config, roles)
    except StorageError as error:
        raise StartupError(str(error)) from error
    try:
        await distributed.run()
    except DistributedError as error:
        raise StartupError(str(error)) from error
