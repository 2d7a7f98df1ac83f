"""The service end to end: events/s, latency and memory from a replay inbox to committed decisions.

Run: .venv/bin/python benchmarks/service.py [--events N] [--storage sqlite,postgres]
     [--sentence off,on] [--pg-url URL] [--memory N] [--snapshot-seconds S] [--snapshot-in-process]

Each case (storage x sentence tier) runs in a fresh subprocess (so its peak RSS is its own)
through the same code as `longform run` (``bot.runtime.app.build_service`` and ``Service.run``)
with the ``[replay]`` platform, on a generated inbox of chat (threads in several communities,
~5% hostile messages, varied texts so no cache flatters the numbers):

1. sustained: the whole inbox written before the start; events/s from the first event handed to
   the service to the last one's decisions committed (``on_event`` returning);
2. latency: a fresh database, the inbox written by a pacer at half the sustained rate for
   ``--latency-seconds``; for each message, from the moment its line was appended to the inbox
   to its decisions committed (so it includes the inbox's polling); p50, p99, max;
3. peak RSS of the service's process, and the largest of its children's (the sentence tier's
   worker, when it runs, and the forked children that write snapshots: their pages are mostly
   the service's own, shared, so that peak is about the service's size, not memory added).

``--memory N`` instead runs one long fast-tier SQLite case of N events and prints the service's
RSS every N/20 events: memory should stay flat; with ``--tracemalloc A,B`` it also prints what
Python allocated between events A and B and still holds at B (tracing slows the run 2-3x from A).
Numbers go in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CIVIL = [
    "I think the dosing guidance in {n} is outdated, see the trial data",
    "congrats on the paper {n}, well deserved!",
    "has anyone tried the new protocol on ward {n}?",
    "fair point, but the sample in cohort {n} is small",
    "thanks, that link about {n} was useful",
    "we ran into the same issue with build {n} last week",
    "could you share the slides from session {n}?",
    "I disagree, the evidence for {n} is weaker than you suggest",
    "lol same, my review of {n} took forever",
    "meeting moved to room {n}, see you there",
]
HOSTILE = [
    "you clearly don't understand how this works {n}, you idiot",
    "people like you are why this field is stuck {n}",
    "shut up, nobody asked for your stupid opinion on {n}",
    "you are a clueless fraud and everyone knows it {n}",
]
COMMUNITIES, CHANNELS, AUTHORS = 4, 50, 400
HOSTILE_SHARE = 0.05


# Event time between two messages of the generated chat: 20 messages a second over the four
# communities, a busy day. (Denser event time only makes the engine's windows hold more.)
SPACING = timedelta(milliseconds=50)


def chat(count: int, seed: int = 7, end: datetime | None = None) -> Iterator[dict[str, Any]]:
    """``count`` chat messages in time order (SPACING apart, the last at ``end``)."""
    rng = random.Random(seed)
    end = end or datetime.now(UTC)
    start = end - SPACING * count
    for i in range(count):
        hostile = rng.random() < HOSTILE_SHARE
        template = rng.choice(HOSTILE if hostile else CIVIL)
        community = rng.randrange(COMMUNITIES)
        yield {"type": "message", "ts": (start + SPACING * i).isoformat(),
               "id": f"m{i}", "community": f"bench-{community}",
               "channel": f"c{rng.randrange(CHANNELS)}", "author": f"u{rng.randrange(AUTHORS)}",
               "text": template.format(n=f"{rng.randrange(10**6)}-{i}")}  # fmt: skip


SNAPSHOT_SECONDS = [60.0]  # the engines' memory saved this often (--snapshot-seconds)
SNAPSHOT_IN_CHILD = [True]  # written by a forked child (--snapshot-in-process: by the service)


def config_text(folder: Path, url: str, sentence: str) -> str:
    return f"""
mode = "live"
[storage]
url = "{url}"
[replay]
enabled = true
inbox = "{folder / "inbox.jsonl"}"
actions = "{folder / "actions.jsonl"}"
[scoring]
sentence_tier = "{sentence}"
[outbox]
expire_minutes = 10000000
[scheduler]
tick_seconds = 3600
snapshot_seconds = {SNAPSHOT_SECONDS[0]}
snapshot_in_child = {str(SNAPSHOT_IN_CHILD[0]).lower()}
"""


def rss_mib() -> float:
    """The current resident memory of this process, MiB."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


TRACE: list[int] = []  # --tracemalloc A,B: trace from event A, compare at event B


def traced(done: int) -> None:
    """At event A start tracemalloc; at event B print what grew since A, by line and by stack."""
    if len(TRACE) == 2 and done == TRACE[0]:
        tracemalloc.start(6)
        TRACE.append(0)
        SNAPSHOTS.append(tracemalloc.take_snapshot())
    elif len(TRACE) == 3 and done == TRACE[1]:
        grown = tracemalloc.take_snapshot()
        tracemalloc.stop()
        for key in ("lineno", "traceback"):
            stats = grown.compare_to(SNAPSHOTS[0], key)
            total = sum(stat.size_diff for stat in stats) / 2**20
            print(f"== grown from event {TRACE[0]} to {TRACE[1]}, by {key}: {total:.1f} MiB traced")
            for stat in stats[: 20 if key == "lineno" else 6]:
                print(f"+{stat.size_diff / 2**20:7.2f} MiB  +{stat.count_diff:8} blocks  "
                      + "\n      ".join(stat.traceback.format()), flush=True)  # fmt: skip


SNAPSHOTS: list[Any] = []


class Watch:
    """Wraps the runtime's ``on_event``: when each event arrived and when it was committed."""

    def __init__(self, runtime: Any, every: int = 0) -> None:
        self.first: float | None = None
        self.last = 0.0
        self.done = 0
        self.committed: dict[str, float] = {}
        self.samples: list[tuple[int, float]] = []
        self._every = every
        inner = runtime.on_event

        async def on_event(event: Any) -> None:
            if self.first is None:
                self.first = time.perf_counter()
            await inner(event)
            self.last = time.perf_counter()
            self.done += 1
            if TRACE:
                traced(self.done)
            if self._every == 0:
                self.committed[event.id] = self.last
            elif self.done % self._every == 0:
                self.samples.append((self.done, rss_mib()))
                # As it goes: a long run cut short still says how far it got.
                print(json.dumps({"done": self.done, "rss_mib": round(self.samples[-1][1], 1),
                                  "seconds": round(self.last - self.first, 1)}), flush=True)  # fmt: skip

        runtime.on_event = on_event


async def serve(folder: Path, url: str, sentence: str, until: Any, every: int = 0) -> Watch:
    """Run the service on ``folder`` until ``until(watch)`` holds; the watch."""
    from bot.config import load_config
    from bot.runtime.app import build_service

    (folder / "config.toml").write_text(config_text(folder, url, sentence))
    service = build_service(load_config(folder / "config.toml"))
    watch = Watch(service.runtime, every)
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(stop))
    while not until(watch):
        if running.done():
            await running
            raise RuntimeError("the service stopped before the inbox was judged")
        await asyncio.sleep(0.05)  # a poll interval; the condition decides
    stop.set()
    await running
    return watch


def write_inbox(path: Path, records: Iterator[dict[str, Any]]) -> int:
    count = 0
    with path.open("w") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
            count += 1
    return count


async def paced(folder: Path, url: str, sentence: str, rate: float, seconds: float) -> list[float]:
    """Latencies (s) of messages appended to the inbox at ``rate`` per second."""
    inbox = folder / "inbox.jsonl"
    inbox.write_text("")
    written: dict[str, float] = {}
    total = int(rate * seconds)
    source = chat(total, seed=11)

    async def pace() -> None:
        began = time.perf_counter()
        sent = 0
        with inbox.open("a") as handle:
            while sent < total:
                due = min(total, int((time.perf_counter() - began) * rate) + 1)
                for _ in range(due - sent):
                    record = next(source)
                    record["ts"] = datetime.now(UTC).isoformat()
                    handle.write(json.dumps(record) + "\n")
                    handle.flush()
                    written[record["id"]] = time.perf_counter()
                sent = due
                await asyncio.sleep(0.005)  # the pacer's own tick

    pacer: asyncio.Task[None] | None = None

    def started(watch: Watch) -> bool:
        nonlocal pacer
        if pacer is None:
            pacer = asyncio.ensure_future(pace())
        return pacer.done() and watch.done >= total

    watch = await serve(folder, url, sentence, started)
    return sorted(watch.committed[key] - at for key, at in written.items())


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(share * len(values)))]


def one_case(
    storage: str, sentence: str, events: int, url: str, latency_s: float
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="longform-bench-") as temporary:
        folder = Path(temporary)
        db_url, drop = database(storage, url, folder, "a")
        try:
            write_inbox(folder / "inbox.jsonl", chat(events))
            watch = asyncio.run(serve(folder, db_url, sentence, lambda w: w.done >= events))
        finally:
            drop()
        assert watch.first is not None
        rate = events / (watch.last - watch.first)
        paced_folder = folder / "paced"
        paced_folder.mkdir()
        db_url, drop = database(storage, url, paced_folder, "b")
        try:
            latencies = asyncio.run(paced(paced_folder, db_url, sentence, rate / 2, latency_s))
        finally:
            drop()
    from bot.scoring.select import stop_sentence_processes

    stop_sentence_processes()
    return {"storage": storage, "sentence": sentence, "events": events, "events_per_s": rate,
            "paced_rate": rate / 2, "paced_events": len(latencies),
            "p50_ms": percentile(latencies, 0.5) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000, "max_ms": latencies[-1] * 1000,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "worker_peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}  # fmt: skip


def database(storage: str, url: str, folder: Path, tag: str) -> tuple[str, Any]:
    """A fresh database for one run and how to drop it."""
    if storage == "sqlite":
        return f"sqlite:///{folder / f'longform-{tag}.db'}", lambda: None
    import psycopg

    name = f"longform_bench_{os.getpid()}_{tag}"
    admin = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {name}")
        connection.execute(f"CREATE DATABASE {name}")

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    return url.rsplit("/", 1)[0] + "/" + name, drop


def memory_run(events: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="longform-bench-") as temporary:
        folder = Path(temporary)
        write_inbox(folder / "inbox.jsonl", chat(events))
        every = max(1, events // 20)
        watch = asyncio.run(serve(folder, f"sqlite:///{folder / 'longform.db'}", "off",
                                  lambda w: w.done >= events, every=every))  # fmt: skip
    assert watch.first is not None
    return {"events": events, "events_per_s": events / (watch.last - watch.first),
            "rss_mib": [(done, round(mib, 1)) for done, mib in watch.samples]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--storage", default="sqlite,postgres")
    parser.add_argument("--sentence", default="off,on")
    parser.add_argument("--sentence-events", type=int, default=0,
                        help="events for sentence-tier cases (default: --events)")  # fmt: skip
    parser.add_argument("--latency-seconds", type=float, default=15.0)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--memory", type=int, default=0, help="a long fast-tier run of N events")
    parser.add_argument("--snapshot-seconds", type=float, default=60.0,
                        help="[scheduler] snapshot_seconds (the memory run: 86400 for none)")  # fmt: skip
    parser.add_argument("--snapshot-in-process", action="store_true",
                        help="[scheduler] snapshot_in_child = false: judging waits for each save")  # fmt: skip
    parser.add_argument("--tracemalloc", metavar="A,B",
                        help="the memory run: trace Python's allocations from event A and print "
                             "what grew by event B, by line and by stack")  # fmt: skip
    parser.add_argument("--one", help=argparse.SUPPRESS)  # storage:sentence, in a subprocess
    args = parser.parse_args()
    SNAPSHOT_SECONDS[0] = args.snapshot_seconds
    SNAPSHOT_IN_CHILD[0] = not args.snapshot_in_process
    if args.tracemalloc:
        TRACE.extend(int(n) for n in args.tracemalloc.split(","))
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(30))  # warnings up
    if args.memory:
        print(json.dumps(memory_run(args.memory)))
        return
    if args.one:
        storage, sentence = args.one.split(":")
        events = args.sentence_events if sentence == "on" and args.sentence_events else args.events
        print(json.dumps(one_case(storage, sentence, events, args.pg_url, args.latency_seconds)))
        return
    for storage in args.storage.split(","):
        for sentence in args.sentence.split(","):
            command = [sys.executable, __file__, "--one", f"{storage}:{sentence}",
                       "--events", str(args.events), "--sentence-events", str(args.sentence_events),
                       "--latency-seconds", str(args.latency_seconds), "--pg-url", args.pg_url,
                       "--snapshot-seconds", str(args.snapshot_seconds),
                       *(["--snapshot-in-process"] if args.snapshot_in_process else [])]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
            if done.returncode != 0 or not lines:
                print(f"{storage} / sentence {sentence}: failed\n{done.stderr[-3000:]}")
                continue
            r = json.loads(lines[-1])
            print(f"{storage:8} sentence {sentence:3}  {r['events']:>8} events  "
                  f"{r['events_per_s']:8.0f} events/s  at {r['paced_rate']:.0f}/s: "
                  f"p50 {r['p50_ms']:.1f} ms  p99 {r['p99_ms']:.1f} ms  max {r['max_ms']:.0f} ms  "
                  f"peak RSS {r['peak_rss_mib']:.0f} MiB (worker {r['worker_peak_rss_mib']:.0f})",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
