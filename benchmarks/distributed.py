"""Judges through NATS JetStream and PostgreSQL: events/s per judge, and with several judges.

Run: PYTHONPATH=. .venv/bin/python benchmarks/distributed.py [--events N] [--judges K ...]
     [--partitions P] [--batch B] [--postgres URL] [--nats URL]

For each K: a fresh PostgreSQL schema and JetStream stream; K judge processes
(`longform run --role judge`) are started and given time to share the partitions; then the
synthetic chat of tests/crash_support.py (the demo conversations, ~3% of messages lead to
actions, one community per thread) is published, and the clock runs until every partition's saved memory covers
its last event: published, judged, decisions in the outbox, memory saved. Nothing is
executed (no executor runs), so the number is the judges' rate. Prints events/s and the ingest's
publish rate. Needs a NATS server with JetStream and PostgreSQL (defaults: this machine's).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
import zlib
from pathlib import Path

import nats
from nats.js.errors import NotFoundError
from sqlalchemy import create_engine, make_url, text

from adapters.replay.reader import parse_line
from bot.config import DistributedConfig
from bot.distributed import partitioning
from bot.distributed.ingest import Publisher
from bot.distributed.stream import ensure_stream
from bot.storage.store import Store
from tests.crash_support import ROOT, synthetic_inbox
from tests.distributed_support import spread_inbox
from tests.test_distributed import _prefixed

POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _config(
    folder: Path, url: str, stream: str, nats_url: str, partitions: int, batch: int
) -> Path:
    path = folder / "config.toml"
    path.write_text(f"""policy = "strict"
mode = "live"
[storage]
url = "{url}"
[scoring]
sentence_tier = "off"
[outbox]
expire_minutes = 10000000
[scheduler]
tick_seconds = 3600
[logging]
level = "warning"
[distributed]
enabled = true
nats_url = "{nats_url}"
stream = "{stream}"
partitions = {partitions}
batch = {batch}
""")
    return path


def _count(database, query: str, **values: object) -> int:
    with database.connect() as connection:
        return int(connection.execute(text(query), values).scalar() or 0)


async def measure(args: argparse.Namespace, judges: int, lines: list[str]) -> dict[str, float]:
    schema, stream = f"bench_{uuid.uuid4().hex[:8]}", f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(args.postgres)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(args.postgres).update_query_dict({"options": f"-csearch_path={schema}"})
    url_text = url.render_as_string(hide_password=False)
    database = create_engine(url)
    Store.open(url_text).close()  # migrated once, before judges start (they would race to)
    folder = Path(tempfile.mkdtemp(prefix="longform-distributed-"))
    config = _config(folder, url_text, stream, args.nats, args.partitions, args.batch)
    events = [_prefixed(parse_line(line.encode())[0]) for line in lines]  # type: ignore[arg-type]
    processes = []
    connection = await nats.connect(args.nats)
    js = connection.jetstream()
    settings = DistributedConfig(enabled=True, nats_url=args.nats, stream=stream,
                                 partitions=args.partitions, batch=args.batch)  # fmt: skip
    try:
        await ensure_stream(js, settings)
        for n in range(judges):
            log = (folder / f"judge{n}.log").open("ab")
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "run", "--config", str(config), "--role", "judge"],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(ROOT)}))  # fmt: skip
        key = zlib.crc32(stream.encode()) & 0x7FFFFFFF
        held = ("SELECT count(*), count(DISTINCT pid) FROM pg_locks WHERE locktype = 'advisory'"
                " AND granted AND classid = :k AND objsubid = 2")  # fmt: skip
        while True:  # every partition owned, by every judge: then the clock starts
            with database.connect() as probe:
                owned, owners = probe.execute(text(held), {"k": key}).one()
            if owned == args.partitions and owners == judges:
                break
            await asyncio.sleep(0.2)  # a poll while the judges start (not part of the timing)
        publisher = Publisher(js, stream, args.partitions)
        began = time.perf_counter()
        for start in range(0, len(events), 200):
            await asyncio.gather(*(publisher.publish(e) for e in events[start : start + 200]))
        published = time.perf_counter() - began
        last = {}  # each partition's last stream sequence: judged when its memory covers it
        for partition in range(args.partitions):
            with contextlib.suppress(NotFoundError):
                found = await js.get_last_msg(stream, partitioning.subject(stream, partition))
                last[partition] = found.seq
        covered = text("SELECT partition, stream_seq FROM partition_state WHERE stream = :s")
        while True:
            with database.connect() as probe:
                done = dict(probe.execute(covered, {"s": stream}).all())
            if all(done.get(p, 0) >= seq for p, seq in last.items()):
                break
            await asyncio.sleep(0.05)  # a poll of the result, measured to its resolution
        judged = time.perf_counter() - began
        decided = _count(database, "SELECT count(*) FROM outbox")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(60)
        await js.delete_stream(stream)
        await connection.close()
        database.dispose()
        with admin.begin() as admin_connection:
            admin_connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
    return {"judges": judges, "events": len(events), "publish_per_s": len(events) / published,
            "judged_per_s": len(events) / judged, "seconds": judged, "decisions": decided}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=48, help="threads, one community each")
    parser.add_argument("--judges", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--postgres", default=POSTGRES)
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    args = parser.parse_args()
    lines = spread_inbox(synthetic_inbox(args.events, args.threads))
    for judges in args.judges:
        result = asyncio.run(measure(args, judges, lines))
        print(
            json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in result.items()}),
            flush=True,
        )


if __name__ == "__main__":
    main()
