"""The real NATS server and PostgreSQL for the distributed tests: fixtures that skip, with the
reason printed, when either is not there."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from tests.postgres_support import EXAMPLE_URL, POSTGRES_ENV, fresh_schema

NATS_URL = "nats://127.0.0.1:4222"


def _nats_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 4222), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def nats_url() -> str:
    """The NATS server at 127.0.0.1:4222 (skipped, saying why, when none answers)."""
    if not _nats_answers():
        pytest.skip("no NATS server answers at 127.0.0.1:4222: start `nats-server -js` to run")
    return NATS_URL


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL schema (skipped, saying why, when LONGFORM_TEST_POSTGRES_URL is unset)."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(
            f"the distributed path needs PostgreSQL: set {POSTGRES_ENV}, e.g. {EXAMPLE_URL}"
        )
    with fresh_schema(base, "longform_dist") as url:
        yield url


@pytest_asyncio.fixture
async def stream_name(nats_url: str) -> AsyncIterator[str]:
    """A stream name no other test uses; the stream is deleted afterwards."""
    import nats

    name = f"lftest_{uuid.uuid4().hex[:10]}"
    yield name
    connection = await nats.connect(nats_url)
    with contextlib.suppress(Exception):  # never created: nothing to delete
        await connection.jetstream().delete_stream(name)
    await connection.close()


def spread_inbox(lines: list[str]) -> list[str]:
    """``lines`` (tests/crash_support.synthetic_inbox) with each thread in a community of its own
    (``c<thread>``), so that the threads spread over the partitions; joins, which name no thread,
    are left out."""
    import json

    out = []
    for line in lines:
        record = json.loads(line)
        if record.get("type") == "join":
            continue
        if "channel" in record:
            record["community"] = "c" + record["channel"].rsplit("-t", 1)[1]
        out.append(json.dumps(record) + "\n")
    return out
