"""Assembling and running the service: `longform run --config FILE`.

Start-up order: validate the config and read the tokens (a problem stops start-up with the setting
and the fix), load every policy, open the storage (migrating it), load the scorer, restore the
engines' memory and recover the outbox, start the scheduler and the executor, then connect the
platforms. Shutdown runs the other way and saves the engines' memory. SIGHUP reloads the policies:
a bad new policy is rejected with its errors and the old one stays in force.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib
import os
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.config import Config
from bot.runtime import jobs
from bot.runtime.checks import check
from bot.runtime.control import Control
from bot.runtime.executor import Executor
from bot.runtime.metrics import Metrics
from bot.runtime.platform import PlatformAdapter
from bot.runtime.reload import reload_policies
from bot.runtime.service import Runtime
from bot.scoring.errors import ScorerLoadError
from bot.scoring.select import DetoxifyChoice, build_scorer, stop_sentence_processes
from bot.storage.errors import StorageError
from bot.storage.store import Store

log = structlog.get_logger()
AdapterFactory = Callable[[str, Config, str], PlatformAdapter]
_JOBS_GRACE_S = 30.0  # how long a shutdown waits for a running job (a snapshot, a digest)
# How long a thread may hold the interpreter before another that waits gets it (Python's default
# is 5 ms). Judging and scoring run in worker threads; the event loop, which reads the platforms
# and hands back every judged event, needs the interpreter for a moment at each step, and with
# the default waited up to 5 ms each time (p99 at half the sustained rate ~1.7x higher, measured).
_SWITCH_INTERVAL_S = 0.0005
# The garbage collector's youngest generation is collected after this many new container objects
# while serving (Python's default: 700). Judging makes and drops many short-lived objects that no
# cycle holds; a pass every 700 was ~20% of the engine's time (benchmarks/throughput.py
# --gc-threshold: 8,208-8,269 msg/s at 700, 10,173 at 50,000; the service +4-8% on SQLite, its
# peak RSS +6-12 MiB: benchmarks/README.md, "Fourth pass").
_YOUNG_GC_THRESHOLD = 50_000


class StartupError(RuntimeError):
    """The service cannot start; the message names the setting and the fix."""


# Each platform's adapter module, imported only when the platform is enabled: a Telegram-only
# install need not have discord.py, and the reverse.
ADAPTER_MODULES = {
    "discord": "adapters.discord.app",
    "telegram": "adapters.telegram.app",
    "matrix": "adapters.matrix.app",
}
_EXTRA = {"discord": "discord", "telegram": "telegram", "matrix": "matrix"}


def _make_adapter(platform: str, config: Config, token: str) -> PlatformAdapter:
    try:
        module = importlib.import_module(ADAPTER_MODULES[platform])
    except ImportError as error:
        raise StartupError(
            f"{platform}.enabled: the {platform} adapter cannot be loaded ({error}); install it "
            f"with `pip install 'longform[{_EXTRA[platform]}]'`"
        ) from error
    adapter: PlatformAdapter = module.make_adapter(config, token)
    return adapter


@dataclass
class Service:
    """The assembled service; ``run`` serves until stopped."""

    runtime: Runtime
    executor: Executor
    scheduler: AsyncIOScheduler
    config_path: Path | None = None
    dashboard: Any = None  # a bot.dashboard.server.DashboardServer, when enabled

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Serve until ``stop`` is set (or SIGTERM/SIGINT), then shut down cleanly."""
        stop = stop or asyncio.Event()
        # From the very start: a SIGTERM while the service is still starting (replaying its
        # journal, connecting) must stop it cleanly too, not kill it mid-way.
        self._handle_signals(stop)
        runtime = self.runtime
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(_SWITCH_INTERVAL_S)
        thresholds = gc.get_threshold()
        gc.set_threshold(_YOUNG_GC_THRESHOLD, *thresholds[1:])
        await runtime.open()
        _freeze_startup_objects()
        jobs.bind(runtime)
        scheduler = self.scheduler
        running = jobs.Running(scheduler)
        scheduler.start()
        self.executor.start()
        started: list[PlatformAdapter] = []
        dashboard = None
        try:
            if self.dashboard is not None:
                try:
                    await self.dashboard.start()
                except OSError as error:
                    raise StartupError(str(error)) from error
                dashboard = self.dashboard
            for adapter in runtime.adapters.values():
                await adapter.start(runtime.on_event, Control(runtime))
                started.append(adapter)
                log.info("platform_connected", platform=adapter.platform)
            log.info("service_started", platforms=list(runtime.adapters), mode=runtime.config.mode,
                     scorer=runtime.scorer.name)  # fmt: skip
            await stop.wait()
        finally:
            log.info("service_stopping")
            scheduler.pause()  # no job starts now; those running finish before what they use closes
            await running.settle(_JOBS_GRACE_S)
            await self.executor.stop()  # first, so no action is in flight on a closing client
            if dashboard is not None:
                await dashboard.stop()
            for adapter in reversed(started):
                with contextlib.suppress(Exception):
                    await adapter.stop()
            await runtime.close()
            scheduler.shutdown(wait=False)
            self._release_signals()
            jobs.bind(None)
            runtime.metrics.close()
            runtime.store.close()
            stop_sentence_processes()  # after the runtime: it scored until its queue was empty
            gc.unfreeze()
            gc.set_threshold(*thresholds)
            sys.setswitchinterval(switch_interval)

    def reload(self) -> list[str]:
        """Reload the policies from the config; returns the problems (none: reloaded)."""
        return reload_policies(self.runtime)

    def _release_signals(self) -> None:
        # Give SIGTERM, SIGINT and SIGHUP back, so that whoever runs us can stop us again.
        loop = asyncio.get_running_loop()
        for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(number)

    def _handle_signals(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
            loop.add_signal_handler(signal.SIGTERM, stop.set)
            loop.add_signal_handler(signal.SIGINT, stop.set)
            loop.add_signal_handler(signal.SIGHUP, self.reload)


def _freeze_startup_objects() -> None:
    """Leave what start-up made (modules, config, the engines' restored memory) out of the
    garbage collector's full passes from now on: each pass walks every tracked object, and with
    them it paused the whole process for 100 to 470 ms every few seconds (measured at 20,000
    events: a full pass 290-470 ms, 75-85 ms with them frozen). Frozen objects are still freed
    when their last reference goes; garbage is collected first, so none is frozen, and
    ``Service.run`` unfreezes them when it stops."""
    gc.collect()
    gc.freeze()


def _dashboard(runtime: Runtime) -> Any:
    """The moderators' dashboard, in this process and on this store, if the config enables it.

    Built here, before the event loop serves anything: importing the web and plotting libraries
    takes seconds on a busy machine. ``Service.run`` starts it."""
    if not runtime.config.dashboard.enabled:
        return None
    from bot.dashboard.cli import MissingExtraError, load_server

    try:
        return load_server()(runtime.config, runtime.store, lambda: runtime.policies,
                             runtime.clock)  # fmt: skip
    except MissingExtraError as error:
        raise StartupError(str(error)) from error


def build_service(
    config: Config,
    config_path: Path | None = None,
    environ: Mapping[str, str] = os.environ,
    extra_adapters: Mapping[str, PlatformAdapter] | None = None,
    factories: Mapping[str, AdapterFactory] | None = None,
) -> Service:
    """Everything the service needs, checked before anything connects (the checks
    ``longform check-config`` runs: ``bot.runtime.checks``)."""
    checked = check(config, environ, served=extra_adapters or ())
    if checked.problems:
        raise StartupError("\n".join(checked.problems))
    found_tokens, policies = checked.tokens, checked.policies
    try:
        choice = DetoxifyChoice(**config.scoring.detoxify.model_dump())
        scorer = build_scorer(
            config.scoring.backend,
            choice,
            sentence_tier=config.scoring.sentence_tier,
            sentence_from=config.scoring.sentence_from,
            sentence_processes=config.scoring.sentence_processes,
        )
        store = Store.open(config.storage.url)
    except (ScorerLoadError, StorageError) as error:
        raise StartupError(str(error)) from error
    made = factories or {}
    adapters: dict[str, PlatformAdapter] = {}
    for platform in config.platforms:
        factory = made.get(platform, _make_adapter)
        adapters[platform] = factory(platform, config, found_tokens[platform])
    if config.replay.enabled:
        from adapters.replay.live import FilePlatform

        replay = config.replay
        adapters["replay"] = FilePlatform(
            replay.inbox, replay.actions, replay.action_delay_ms / 1000
        )
    adapters.update(extra_adapters or {})
    metrics = Metrics()
    if config.metrics.enabled:
        metrics.serve(config.metrics.host, config.metrics.port)
    runtime = Runtime(config, policies, scorer, store, adapters, metrics=metrics,
                      config_path=config_path)  # fmt: skip
    # The scheduler and the executor's hooks into it are made here, once: nothing is patched
    # into the runtime or the executor when the service starts.
    scheduler = jobs.scheduler_for(runtime)
    executor = Executor(runtime, jobs.lift_scheduler(scheduler),
                        jobs.reminder_scheduler(scheduler, config.scheduler.longform_days))  # fmt: skip
    return Service(runtime, executor, scheduler, config_path, _dashboard(runtime))
