"""Mutation testing with mutmut, one package group at a time, and a report of the survivors.

    python scripts/mutation.py                       # every group, every mutant (`make mutation`)
    python scripts/mutation.py core --sample 40      # a seeded sample of one group's mutants
    python scripts/mutation.py --changed-since REF --sample 20 --max-seconds 900   # CI

Each group mutates its own modules and runs only its own test files: mutmut works in
``.mutation/<group>/`` (links to the sources, the tests and a pyproject whose ``[tool.mutmut]`` is the
group's), records which of those tests call each mutated function, and runs only those tests, fastest
first, stopping at the first failure. The report (``.mutation/report.md``, and printed) lists each
survivor with its file, line, the mutation as a diff and the tests that ran; survivors named in
``tests/mutation_equivalent.txt`` are counted as equivalent, not as misses.

The score of a group is killed / (mutants tried - equivalent); a mutant no selected test reaches
counts as a survivor. ``--fail-under`` makes the exit status fail when a group scores lower.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutation"
EQUIVALENT = ROOT / "tests" / "mutation_equivalent.txt"
KILLED = {1, 3, 24, -24, 36, 152, 255, 37}  # test failure, pytest error, timeout, type check
SURVIVED = {0, 5, 33}  # tests passed, or no selected test reaches the function


@dataclass(frozen=True)
class Group:
    """Modules mutated together, the tests that judge them, and the score they must reach."""

    name: str
    mutate: tuple[str, ...]
    tests: tuple[str, ...]
    target: float


# The tests each group runs: those that exercise its modules directly (for the core, its pure tests:
# the runtime tests that also reach it would make every core survivor cost minutes). The crash
# recovery tests are left out: they run the service in subprocesses on wall-clock deadlines, which a
# mutant's timeout turns into noise, and what they check has in-process tests here.
GROUPS = (
    Group(
        "core",
        ("bot/core/*",),
        ("tests/test_engine.py", "tests/test_ad_hominem.py", "tests/test_thresholds.py",
         "tests/test_detection_pairs.py", "tests/test_policy.py", "tests/test_golden_replays.py",
         "tests/test_snapshot.py", "tests/test_forecast.py", "tests/test_explanations.py",
         "tests/test_mutation_kills_core.py", "tests/test_holdback.py", "tests/test_outcomes.py",
         "tests/test_rephrase.py", "tests/test_requests.py", "tests/test_core_boundaries.py",
         "tests/test_core_contracts2.py", "tests/test_core_contracts3.py",
         "tests/test_core_contracts4.py", "tests/test_absent_insult.py",
         "tests/test_addressed_insults.py"),
        0.90,
    ),
    Group(
        "storage",
        ("bot/storage/*",),
        ("tests/test_storage.py", "tests/test_executor_retry.py", "tests/test_jobs.py",
         "tests/test_storage_boundaries.py", "tests/test_journal_and_erasure.py",
         "tests/test_signin_storage.py", "tests/test_storage_contracts2.py"),
        0.80,
    ),
    Group(
        "runtime",
        ("bot/runtime/*",),
        ("tests/test_runtime.py", "tests/test_executor_retry.py", "tests/test_jobs.py",
         "tests/test_scoring_queue.py", "tests/test_service_cli.py",
         "tests/test_logs_and_metrics.py", "tests/test_pipeline.py", "tests/test_intake.py",
         "tests/test_control.py", "tests/test_digest.py", "tests/test_journal_positions.py",
         "tests/test_runtime_follow_ups.py", "tests/test_gateway_adapter.py",
         "tests/test_gateway_types.py", "tests/test_outcome_report.py", "tests/test_runtime_contracts.py",
         "tests/test_undo.py",
         "tests/test_runtime_contracts2.py", "tests/test_runtime_contracts3.py",
         "tests/test_runtime_contracts4.py", "tests/test_runtime_contracts5.py",
         "tests/test_batched_writes.py", "tests/test_replay_inbox.py"),
        0.80,
    ),
    Group(
        "adapters",
        ("adapters/discord/gateway.py", "adapters/discord/buttons.py",
         "adapters/telegram/gateway.py", "adapters/telegram/buttons.py"),
        ("tests/test_discord_execute.py", "tests/test_telegram_execute.py",
         "tests/test_discord_adapter.py", "tests/test_telegram_adapter.py"),
        0.80,
    ),
)  # fmt: skip


@dataclass
class Result:
    group: Group
    counts: dict[str, int] = field(default_factory=dict)
    survivors: list[dict[str, object]] = field(default_factory=list)
    sampled: bool = False
    seconds: float = 0.0

    @property
    def score(self) -> float | None:
        judged = self.counts.get("killed", 0) + self.counts.get("survived", 0)
        return None if judged == 0 else self.counts.get("killed", 0) / judged


def _toml_list(values: tuple[str, ...] | list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def prepare(group: Group) -> Path:
    """The group's work directory: links to the checkout, and its own mutmut configuration."""
    where = WORK / group.name
    where.mkdir(parents=True, exist_ok=True)
    for name in ("bot", "adapters", "tests", "policies"):
        link = where / name
        if not link.is_symlink():
            link.symlink_to(ROOT / name)
    pyproject = (ROOT / "pyproject.toml").read_text()
    pyproject = re.sub(r"\n\[tool\.mutmut\]\n.*?(?=\n\[|\Z)", "\n", pyproject, flags=re.S)
    pyproject += (
        "\n[tool.mutmut]\n"
        'source_paths = ["bot/", "adapters/"]\n'
        f"only_mutate = {_toml_list(group.mutate)}\n"
        'do_not_mutate = ["bot/storage/migrations/*"]\n'
        'also_copy = ["policies/"]\n'
        f"pytest_add_cli_args_test_selection = {_toml_list(group.tests)}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider"]\n'
    )
    target = where / "pyproject.toml"
    if not target.exists() or target.read_text() != pyproject:
        target.write_text(pyproject)
    return where


HANG_SECONDS = 150  # a mutant whose tests run longer than this has hung them: it is killed


def _end_hung_mutants(parent: int, limit: float) -> None:
    """Kill mutmut's per-mutant children (titled ``mutmut: <name>``) older than ``limit`` s.

    A mutant that makes a test await something forever uses no CPU, so mutmut's own limit (CPU
    time) never fires and the run would wait for ever. The killed child counts as killed: the
    tests noticed that something never happened.
    """
    listing = subprocess.run(["ps", "-eo", "pid=,ppid=,etimes=,args="], capture_output=True,
                             text=True, check=False).stdout  # fmt: skip
    for line in listing.splitlines():
        pid, ppid, seconds, *title = line.split()
        if int(ppid) == parent and title[:1] == ["mutmut:"] and int(seconds) > limit:
            print(f"   {title[1] if len(title) > 1 else pid}: hung for {seconds} s, killed")
            os.kill(int(pid), 9)


def _mutmut(where: Path, args: list[str], workers: int, seconds: float | None) -> int:
    env = {**os.environ, "PYTHONPATH": str(where / "mutants")}
    command = [sys.executable, "-m", "mutmut", *args]
    if args[0] == "run":
        command[4:4] = ["--max-children", str(workers)]
    deadline = None if seconds is None else time.monotonic() + seconds
    with subprocess.Popen(command, cwd=where, env=env) as running:
        while running.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                running.kill()
                running.wait()
                print(f"   mutmut stopped after {seconds:.0f} s; the report covers what finished")
                return 124
            _end_hung_mutants(running.pid, HANG_SECONDS)
            time.sleep(5)  # how often to look for hung mutants, not a synchronisation
        return running.returncode


def generate(where: Path, workers: int) -> None:
    """Write the mutants (mutmut's own generator) without running anything."""
    code = (
        "import sys; sys.argv=['mutmut'];"
        "from mutmut.utils.file_utils import copy_src_dir, copy_also_copy_files;"
        "from mutmut.__main__ import create_mutants;"
        "import os; os.makedirs('mutants', exist_ok=True);"
        f"copy_src_dir(); copy_also_copy_files(); create_mutants({workers})"
    )
    subprocess.run([sys.executable, "-c", code], cwd=where, check=True, stdout=subprocess.DEVNULL)


def mutant_names(where: Path, group: Group) -> list[str]:
    names: list[str] = []
    for meta in sorted((where / "mutants").rglob("*.py.meta")):
        source = meta.relative_to(where / "mutants").as_posix()[: -len(".meta")]
        if any(fnmatch(source, pattern) for pattern in group.mutate):
            names.extend(json.loads(meta.read_text())["exit_code_by_key"])
    return sorted(names)


def equivalents() -> dict[str, str]:
    """Mutant name -> the one-line reason it cannot change behaviour."""
    found: dict[str, str] = {}
    if EQUIVALENT.exists():
        for line in EQUIVALENT.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                name, _, reason = line.partition(" ")
                found[name] = reason.strip()
    return found


def _function_node(source: Path, mangled: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    tail = mangled.rpartition(".")[2]
    if "ǁ" in tail:
        _, cls, func = tail.split("ǁ")
    else:
        cls, func = None, tail[2:]
    tree = ast.parse(source.read_text())
    scopes: list[ast.AST] = [tree]
    if cls is not None:
        scopes = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == cls]
    for scope in scopes:
        for node in ast.iter_child_nodes(scope):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == func:
                return node
    return None


def describe(where: Path, source: str, name: str) -> tuple[int, str]:
    """The line a mutant changes, and the change as a short diff."""
    sys.path.insert(0, str(where))
    cwd = Path.cwd()
    os.chdir(where)
    try:
        from mutmut.mutation.diff_apply import get_diff_for_mutant

        diff = get_diff_for_mutant(name, path=source)
    finally:
        os.chdir(cwd)
        sys.path.remove(str(where))
    lines = [ln for ln in diff.splitlines() if ln[:1] in "+-" and ln[:3] not in ("+++", "---")]
    node = _function_node(ROOT / source, name.partition("__mutmut_")[0])
    line = node.lineno if node else 0
    removed = next((ln[1:] for ln in lines if ln.startswith("-")), None)
    if node is not None and removed is not None:
        body = (ROOT / source).read_text().splitlines()
        end = node.end_lineno or len(body)
        for number in range(node.lineno, end + 1):
            if body[number - 1].strip() == removed.strip():
                line = number
                break
    return line, "\n".join(lines)


def collect(where: Path, group: Group, tried: set[str] | None) -> Result:
    result = Result(group, {"killed": 0, "survived": 0, "equivalent": 0, "not_run": 0})
    stats_path = where / "mutants" / "mutmut-stats.json"
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    tests_by_function = stats.get("tests_by_mangled_function_name", {})
    known = equivalents()
    for meta in sorted((where / "mutants").rglob("*.py.meta")):
        source = meta.relative_to(where / "mutants").as_posix()[: -len(".meta")]
        if not any(fnmatch(source, pattern) for pattern in group.mutate):
            continue
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if tried is not None and name not in tried:
                continue
            if code is None:
                result.counts["not_run"] += 1
            elif name in known:
                result.counts["equivalent"] += 1
            elif code in KILLED:
                result.counts["killed"] += 1
            elif code in SURVIVED:
                result.counts["survived"] += 1
                line, diff = describe(where, source, name)
                tests = sorted(tests_by_function.get(name.partition("__mutmut_")[0], []))
                result.survivors.append({"name": name, "file": source, "line": line,
                                         "diff": diff, "tests": tests, "code": code})  # fmt: skip
            else:
                result.counts["killed"] += 1  # segfault or suspicious: the tests noticed
    return result


def changed_groups(since: str) -> list[Group]:
    """Groups whose modules or tests differ from ``since`` (committed or not)."""
    out = subprocess.run(["git", "diff", "--name-only", since, "--"], cwd=ROOT,
                         capture_output=True, text=True, check=False).stdout.split()  # fmt: skip
    return [g for g in GROUPS if any(fnmatch(f, p) for f in out for p in g.mutate + g.tests)]


def report(results: list[Result], seed: int | None) -> str:
    day = datetime.now(UTC).date().isoformat()
    lines = [f"# Mutation testing report ({day})", ""]
    lines.append("| group | killed | survived | equivalent | not run | score | target | run |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for r in results:
        score = "n/a" if r.score is None else f"{r.score:.1%}"
        how = (
            f"sample (seed {seed})"
            if r.sampled
            else "full"
            if not r.counts["not_run"]
            else "partial"
        )
        c = r.counts
        lines.append(f"| {r.group.name} | {c['killed']} | {c['survived']} | {c['equivalent']} | "
                     f"{c['not_run']} | {score} | {r.group.target:.0%} | {how}, "
                     f"{r.seconds / 60:.0f} min |")  # fmt: skip
    for r in results:
        if not r.survivors:
            continue
        lines += ["", f"## Survivors in {r.group.name}", ""]
        for s in sorted(r.survivors, key=lambda s: (str(s["file"]), int(str(s["line"])))):
            why = "no selected test reaches it" if s["code"] in (5, 33) else "tests passed"
            tests = s["tests"] or ["(none)"]
            assert isinstance(tests, list)
            lines += [f"### {s['file']}:{s['line']} `{s['name']}` ({why})", "", "```diff",
                      str(s["diff"]), "```",
                      f"Tests that ran ({len(tests)}): " + ", ".join(tests[:12])
                      + (" ..." if len(tests) > 12 else ""), ""]  # fmt: skip
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("groups", nargs="*", help=f"of {[g.name for g in GROUPS]}; default all")
    parser.add_argument("--sample", type=int, help="run this many mutants per group, seeded")
    parser.add_argument("--seed", type=int, default=18, help="the sample's seed (default 18)")
    parser.add_argument("--workers", type=int, default=2, help="mutants at once (default 2)")
    parser.add_argument("--max-seconds", type=float, help="time budget for all groups together")
    parser.add_argument("--changed-since", help="only the groups a change since REF touched")
    parser.add_argument("--fail-under", type=float, help="fail if a group scores lower (0..1)")
    parser.add_argument("--report-only", action="store_true", help="report the last run")
    args = parser.parse_args()
    chosen = [g for g in GROUPS if not args.groups or g.name in args.groups]
    if unknown := set(args.groups) - {g.name for g in GROUPS}:
        parser.error(f"unknown group(s) {sorted(unknown)}; choose from {[g.name for g in GROUPS]}")
    if args.changed_since:
        chosen = [g for g in chosen if g in changed_groups(args.changed_since)]
        if not chosen:
            print(f"mutation: no mutated package or its tests changed since {args.changed_since}")
            return 0
    results = []
    deadline = None if args.max_seconds is None else time.monotonic() + args.max_seconds
    for group in chosen:
        started = time.monotonic()
        left = None if deadline is None else deadline - started
        if left is not None and left < 60:
            print(f"== mutation: {group.name} skipped, the time budget is spent")
            continue
        where = prepare(group)
        tried: set[str] | None = None
        if not args.report_only:
            print(f"== mutation: {group.name} ({', '.join(group.mutate)})", flush=True)
            generate(where, args.workers)
            names = mutant_names(where, group)
            if args.sample is not None and args.sample < len(names):
                names = sorted(random.Random(args.seed).sample(names, args.sample))
                tried = set(names)
            _mutmut(where, ["run", *(names if tried else [])], args.workers, left)
        result = collect(where, group, tried)
        result.sampled, result.seconds = tried is not None, time.monotonic() - started
        results.append(result)
    text = report(results, args.seed if args.sample else None)
    WORK.mkdir(exist_ok=True)
    (WORK / "report.md").write_text(text)
    print(text)
    if args.fail_under is not None:
        low = [r for r in results if r.score is not None and r.score < args.fail_under]
        for r in low:
            print(f"mutation: {r.group.name} scored {r.score:.1%}, under {args.fail_under:.0%}; "
                  "kill the survivors listed above, or mark an equivalent one in "
                  "tests/mutation_equivalent.txt with its reason")  # fmt: skip
        return 1 if low else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
