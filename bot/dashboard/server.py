"""Serving the dashboard with uvicorn: inside ``longform run`` (a task on its event loop) or alone.

uvicorn's access log is off: it would write each URL, and a sign-in URL carries its token. Its
signal handlers are off too when it runs inside the service, which handles SIGTERM itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator, Mapping

import structlog
import uvicorn

from bot.config import Config
from bot.core.settings import Policy
from bot.dashboard.app import create_app
from bot.dashboard.context import Clock, Site, utc_now
from bot.storage.store import Store

log = structlog.get_logger()


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: whoever runs it (the service, the command) handles
    SIGTERM and SIGINT and stops it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class DashboardServer:
    """One uvicorn server for the dashboard; ``start`` returns once it listens."""

    def __init__(
        self,
        config: Config,
        store: Store,
        policies: Callable[[], Mapping[str, Policy]],
        clock: Clock = utc_now,
    ) -> None:
        self.site = Site(config, store, policies, clock)
        section = config.dashboard
        self._server = _Server(
            uvicorn.Config(
                create_app(self.site),
                host=section.listen,
                port=section.port,
                access_log=False,
                log_config=None,
                lifespan="off",
                server_header=False,
            )
        )
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        """Where sign-in links point."""
        return self.site.config.dashboard.base_url

    async def start(self) -> None:
        """Listen; raises OSError naming the address if it is taken."""
        self._task = asyncio.create_task(self._serve(), name="longform-dashboard")
        while not self._server.started:
            if self._task.done():
                self._task.result()
                section = self.site.config.dashboard
                raise OSError(f"dashboard.port: cannot listen on {section.listen}:{section.port}; "
                              "choose a free port in [dashboard]")  # fmt: skip
            await asyncio.sleep(0.01)
        log.info("dashboard_started", url=self.url)

    async def _serve(self) -> None:
        # uvicorn calls sys.exit when it cannot bind, and a SystemExit leaving a task stops the
        # whole event loop (asyncio re-raises it): it ends here, and start() says what happened.
        with contextlib.suppress(SystemExit):
            await self._server.serve()

    async def stop(self) -> None:
        """Stop listening and finish open requests."""
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, SystemExit):
            await self._task
        self._task = None

    async def serve_until(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set (the standalone command)."""
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()
