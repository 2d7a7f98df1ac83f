"""kill -9 at several moments of a replay-platform run, each compared with the uninterrupted run.

Run: .venv/bin/python benchmarks/crash_recovery.py [--events 5000] [--threads 50]
     [--kills 3,8,15,25,40] [--snapshot-seconds 60] [--folder DIR]

The full-size run of issue 13: a synthetic community of ``--threads`` conversations (the bundled
demo conversations played again and again) with ``--events`` events in the replay inbox. First the
service serves it uninterrupted (a subprocess, stopped with SIGTERM once the inbox is judged and the
outbox empty); then, for each moment, a fresh service is killed with SIGKILL that many seconds after
it started, restarted, and served to the end. For each moment it prints how much of the inbox had
been judged at the kill, and how the decisions executed differ from the uninterrupted run's
(``missing``: made by the uninterrupted run and never executed; ``extra``: executed, but not made
by the uninterrupted run; ``twice``: one key executed twice). The target is 0, 0, 0 everywhere.
No tick falls during a run (``tick_seconds`` = 3600), so the uninterrupted run is a fixed function
of the inbox. tests/test_crash_recovery.py runs the same harness at a size CI can afford.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from tests.crash_support import Run, executed, interrupted, synthetic_inbox, uninterrupted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=50)
    parser.add_argument("--kills", default="3,8,15,25,40", help="seconds after start, commas")
    parser.add_argument("--snapshot-seconds", type=float, default=60.0)
    parser.add_argument("--folder", type=Path, default=None, help="keep the runs here")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="longform-crash-"))
    lines = synthetic_inbox(args.events, args.threads)
    settings = {"snapshot_seconds": args.snapshot_seconds}
    calm = Run(folder / "uninterrupted")
    calm.prepare(lines, **settings)
    started = time.monotonic()
    expected = executed(uninterrupted(calm, limit=3600))
    print(json.dumps({"run": "uninterrupted", "events": args.events, "threads": args.threads,
                      "decisions": len(expected),
                      "seconds": round(time.monotonic() - started, 1)}), flush=True)  # fmt: skip
    for moment in [float(value) for value in args.kills.split(",")]:
        run = Run(folder / f"kill-{moment:g}s")
        run.prepare(lines, **settings)
        at_kill: list[float] = []

        def due(
            run: Run, seconds: float, moment: float = moment, at_kill: list[float] = at_kill
        ) -> bool:
            if seconds < moment:
                return False
            at_kill.append(run.consumed())
            return True

        done = interrupted(run, [due], limit=3600)
        got = executed(done)
        twice = sum(count - 1 for count in Counter(a["key"] for a in done).values() if count > 1)
        print(json.dumps({"run": f"kill -9 at {moment:g} s", "judged_at_kill": round(at_kill[0], 3),
                          "decisions": len(got), "missing": len(expected - got),
                          "extra": len(got - expected), "twice": twice}), flush=True)  # fmt: skip
    print(f"runs kept in {folder}")


if __name__ == "__main__":
    main()
