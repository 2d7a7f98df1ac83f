"""When the executor tries a failed decision again: the platform's retry-after, its own backoff,
the attempt limit and expiry, each at its boundary, on a clock the test moves (no sleeping)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.core.decisions import Decision, Evidence, PostNotice, Signal
from bot.core.events import ConversationKey
from bot.runtime.app import Service, build_service
from bot.runtime.platform import ActionResult
from bot.storage.audit import Provenance
from bot.storage.schema import OutboxState, Outcome
from tests.runtime_support import QuietPlatform, service_config

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RETRY_SECONDS = 10.0  # the executor's own first backoff in these tests; it doubles per attempt
MAX_ATTEMPTS = 3


@dataclass
class _Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class _Scripted(QuietPlatform):
    """A platform that answers each attempt with the next scripted result (then: sent)."""

    script: list[ActionResult | Exception]
    attempts: int = 0
    seen: list[str] = field(default_factory=list)

    async def execute(self, decision: Decision, key: str) -> ActionResult:
        self.attempts += 1
        self.seen.append(key)
        answer = self.script.pop(0) if self.script else ActionResult.sent()
        if isinstance(answer, Exception):
            raise answer
        return answer


@dataclass
class _Setup:
    service: Service
    platform: _Scripted
    clock: _Clock
    key: str

    async def attempt(self) -> int:
        """Run whatever is due now; returns how many attempts were made."""
        return await self.service.executor.run_due()

    def state(self) -> tuple[OutboxState, int]:
        item = self.service.runtime.store.outbox.get(self.key)
        assert item is not None
        return item.state, item.attempts

    def next_attempt_at(self) -> datetime:
        item = self.service.runtime.store.outbox.get(self.key)
        assert item is not None
        return item.next_attempt_at


@pytest.fixture
async def make(tmp_path: Path) -> AsyncIterator[Callable[..., _Setup]]:
    made: list[_Setup] = []

    def _make(*script: ActionResult | Exception, expire_minutes: float = 60.0) -> _Setup:
        platform = _Scripted(list(script))
        config = service_config(
            tmp_path / str(len(made)),
            outbox={"retry_seconds": RETRY_SECONDS, "max_attempts": MAX_ATTEMPTS,
                    "expire_minutes": expire_minutes},
            replay={"enabled": False},
        )  # fmt: skip
        service = build_service(config, extra_adapters={"replay": platform})  # type: ignore[dict-item]
        clock = _Clock()
        service.runtime.clock = clock
        notice = PostNotice(ConversationKey("replay:c", "general"), "m1", T0, Signal.PILE_ON,
                            "many replies", Evidence(("m1",)), text="hi")  # fmt: skip
        (key,) = service.runtime.store.outbox.enqueue(
            [notice], now=T0, provenance=Provenance("replay", "strict", "v", "live"),
            ttl=timedelta(minutes=expire_minutes),
        )  # fmt: skip
        setup = _Setup(service, platform, clock, key)
        made.append(setup)
        return setup

    yield _make
    for setup in made:
        setup.service.runtime.store.close()


async def test_the_platforms_retry_after_sets_the_next_attempt_when_longer_than_backoff(
    make: Callable[..., _Setup],
) -> None:
    setup = make(ActionResult.failed("429", retry_after=120.0))
    assert await setup.attempt() == 1
    assert setup.next_attempt_at() == T0 + timedelta(seconds=120)
    setup.clock.advance(119)
    assert await setup.attempt() == 0, "retried before the platform's retry-after had passed"
    setup.clock.advance(1)
    assert await setup.attempt() == 1
    assert setup.state() == (OutboxState.DONE, 2)


async def test_the_executors_backoff_wins_over_a_shorter_retry_after(
    make: Callable[..., _Setup],
) -> None:
    setup = make(ActionResult.failed("429", retry_after=1.0))
    await setup.attempt()
    assert setup.next_attempt_at() == T0 + timedelta(seconds=RETRY_SECONDS)
    setup.clock.advance(RETRY_SECONDS - 0.001)
    assert await setup.attempt() == 0
    setup.clock.advance(0.001)
    assert await setup.attempt() == 1


async def test_the_backoff_doubles_with_each_attempt(make: Callable[..., _Setup]) -> None:
    setup = make(ActionResult.failed("503", retry_after=0.0), ActionResult.failed("503", 0.0))
    await setup.attempt()
    assert setup.next_attempt_at() == T0 + timedelta(seconds=RETRY_SECONDS)
    setup.clock.advance(RETRY_SECONDS)
    await setup.attempt()
    assert setup.next_attempt_at() == setup.clock.now + timedelta(seconds=2 * RETRY_SECONDS)


async def test_a_failure_without_retry_after_is_final_at_the_first_attempt(
    make: Callable[..., _Setup],
) -> None:
    setup = make(ActionResult.failed("403 Forbidden", retry_after=None))
    await setup.attempt()
    assert setup.state() == (OutboxState.FAILED, 1)
    item = setup.service.runtime.store.outbox.get(setup.key)
    assert item is not None
    assert (item.outcome, item.last_error) == (Outcome.FAILED, "403 Forbidden")


async def test_the_last_allowed_attempt_fails_for_good_and_the_one_before_does_not(
    make: Callable[..., _Setup],
) -> None:
    setup = make(*[ActionResult.failed("503", retry_after=0.0)] * MAX_ATTEMPTS)
    for attempt in range(1, MAX_ATTEMPTS):
        await setup.attempt()
        assert setup.state() == (OutboxState.PENDING, attempt)
        setup.clock.advance(60)
    await setup.attempt()
    assert setup.state() == (OutboxState.FAILED, MAX_ATTEMPTS)
    setup.clock.advance(60)
    assert await setup.attempt() == 0
    assert setup.platform.attempts == MAX_ATTEMPTS


async def test_an_adapter_that_raises_is_retried_after_the_backoff(
    make: Callable[..., _Setup],
) -> None:
    setup = make(RuntimeError("client bug"))
    await setup.attempt()
    assert setup.state() == (OutboxState.PENDING, 1)
    assert setup.next_attempt_at() == T0 + timedelta(seconds=RETRY_SECONDS)
    item = setup.service.runtime.store.outbox.get(setup.key)
    assert item is not None
    assert item.last_error == "RuntimeError: client bug"


async def test_a_retry_due_after_expiry_expires_instead_of_being_sent_late(
    make: Callable[..., _Setup],
) -> None:
    setup = make(ActionResult.failed("429", retry_after=300.0), expire_minutes=5.0)
    await setup.attempt()
    setup.clock.advance(300)  # the expiry moment itself: expired
    assert await setup.attempt() == 0
    assert setup.state()[0] is OutboxState.EXPIRED
    assert setup.platform.attempts == 1


async def test_a_retry_due_just_before_expiry_is_still_attempted(
    make: Callable[..., _Setup],
) -> None:
    setup = make(ActionResult.failed("429", retry_after=299.0), expire_minutes=5.0)
    await setup.attempt()
    setup.clock.advance(299)
    assert await setup.attempt() == 1
    assert setup.state() == (OutboxState.DONE, 2)
