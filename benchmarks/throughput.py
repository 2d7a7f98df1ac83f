"""Engine throughput, per-event latency and memory on a long synthetic replay (embedded scorer).

Run: .venv/bin/python benchmarks/throughput.py [--messages N] [--no-forecast] [--gc-threshold N]
Prints wall-clock msg/s and CPU msg/s (this process's CPU time only: steadier than the wall clock
when other work shares the cores, though a shared core's caches still slow it).
(The --shards mode went with bot/shards.py: several cores are several judges now, measured by
benchmarks/distributed.py through NATS JetStream and PostgreSQL.)
Texts are varied (templates with unique tails) so the analysis cache does not flatter the numbers.
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import time
import tracemalloc
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.core.engine import Engine
from bot.core.events import MessagePosted
from bot.core.settings import Policy
from bot.scoring.embedded import EmbeddedScorer

TEMPLATES = [
    "I think the dosing guidance in {n} is outdated, see the trial data",
    "you clearly don't understand how this works {n}",
    "congrats on the paper {n}, well deserved!",
    "that claim is simply wrong, the effect size in {n} is tiny",
    "has anyone tried the new protocol on ward {n}?",
    "people like you are why this field is stuck {n}",
    "holy shit, the results from site {n} are amazing",
    "fair point, but the sample in cohort {n} is small",
]


def events(count: int, seed: int = 1) -> list[MessagePosted]:
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    out = []
    for i in range(count):
        thread = f"t{i // 40}"
        author = f"u{rng.randrange(400)}"
        text = rng.choice(TEMPLATES).format(n=f"{i}-{rng.randrange(10**6)}")
        out.append(MessagePosted(id=f"m{i}", at=start + timedelta(seconds=2 * i), community="c",
                                 channel=f"ch{i % 20}", thread=thread, author=author, text=text,
                                 reply_to=f"m{i - 1}" if i % 40 else None))  # fmt: skip
    return out


def shifted(done: int, count: int) -> list[MessagePosted]:
    """``count`` synthetic messages following the ``done`` already sent, with unique ids."""
    chunk = events(count, seed=done)
    return [MessagePosted(**{**{f: getattr(e, f) for f in e.__slots__}, "id": f"{done}-{e.id}",
                             "at": e.at + timedelta(seconds=2 * done)}) for e in chunk]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--trace-memory", action="store_true", help="tracemalloc (slows ~3x)")
    parser.add_argument("--no-forecast", action="store_true", help="switch the forecast off")
    parser.add_argument(
        "--gc-threshold",
        type=int,
        default=0,
        help="the garbage collector's first threshold (Python's default 700; 0 leaves it): "
        "`longform run` sets 50000 while it serves (bot/runtime/app.py)",
    )
    args = parser.parse_args()
    if args.gc_threshold:
        gc.set_threshold(args.gc_threshold, *gc.get_threshold()[1:])
    policy = Policy()
    if args.no_forecast:
        off = replace(policy.settings.forecast, enabled=False)
        policy = replace(policy, settings=replace(policy.settings, forecast=off))
    engine = Engine(policy, EmbeddedScorer())
    batch = 50_000
    if args.trace_memory:
        tracemalloc.start()
    done, elapsed, cpu, latencies = 0, 0.0, 0.0, []
    while done < args.messages:
        chunk = shifted(done, min(batch, args.messages - done))
        began, began_cpu = time.perf_counter(), time.process_time()
        for index, event in enumerate(chunk):
            if index % 1000 == 0:
                t = time.perf_counter()
                engine.feed(event)
                latencies.append(time.perf_counter() - t)
            else:
                engine.feed(event)
        elapsed += time.perf_counter() - began
        cpu += time.process_time() - began_cpu
        done += len(chunk)
        traced = tracemalloc.get_traced_memory()[0] / 2**20 if args.trace_memory else 0.0
        peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{done:>9,} messages  {done / elapsed:>8,.0f} msg/s  {done / cpu:>8,.0f} CPU msg/s  "
            f"peak RSS {peak_rss:6.1f} MiB  "
            f"traced {traced:5.1f} MiB  {engine.size}"
        )
    latencies.sort()
    print(
        f"latency p50 {latencies[len(latencies) // 2] * 1e6:.0f} us, p99 {latencies[int(len(latencies) * 0.99)] * 1e6:.0f} us"
    )


if __name__ == "__main__":
    main()
