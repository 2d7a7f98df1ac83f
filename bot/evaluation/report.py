"""The evaluation suite behind `longform evaluate`: every dataset present, as one table."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bot.core.scoring import Scorer
from bot.core.settings import Policy
from bot.evaluation import chat, chat_table, datasets
from bot.evaluation.chat import ChatRow, Sampling
from bot.evaluation.datasets import LabelledThreads
from bot.evaluation.evaluate import Row, on_texts, on_threads
from bot.evaluation.progress import Progress, Reporting
from bot.scoring.embedded import CASCADE_NAME, FAST_NAME, EmbeddedScorer, is_fast


class RulesOnly:
    """A scorer without the trained model's ``attack``: the rules tier alone, for comparison."""

    def __init__(self, scorer: Scorer) -> None:
        self._scorer = scorer
        self.name = f"{scorer.name} rules only"
        self.attributes = tuple(a for a in scorer.attributes if a != "attack")

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        return [{k: v for k, v in s.items() if k != "attack"} for s in self._scorer.score(texts)]


class Remembered:
    """``scorer`` with its scores kept by text, so that a dataset judged against several labels
    (or its attributes after the engine) is scored once: the sentence tier is not free."""

    def __init__(self, scorer: Scorer) -> None:
        self._scorer = scorer
        self._seen: dict[str, dict[str, float]] = {}
        self.name = scorer.name
        self.attributes = scorer.attributes
        self.tiers = getattr(scorer, "tiers", None)

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        new = list(dict.fromkeys(t for t in texts if t not in self._seen))
        if new:
            self._seen.update(zip(new, self._scorer.score(new), strict=True))
        return [dict(self._seen[t]) for t in texts]


def _engine_rows(name: str, data: LabelledThreads, policy: Policy, scorer: Scorer) -> list[Row]:
    rows = on_threads(name, data, policy, scorer, scorer.name)
    # Each tier alone: the fast tier without the sentence tier, and the rules without either.
    fast: Scorer = scorer
    if scorer.name == CASCADE_NAME:
        fast = EmbeddedScorer()
        rows += [row for row in on_threads(name, data, policy, fast, fast.name)
                 if row.threshold is None]  # fmt: skip
    if "attack" in scorer.attributes:
        alone = RulesOnly(fast)
        rows += [row for row in on_threads(name, data, policy, alone, alone.name)
                 if row.threshold is None]  # fmt: skip
    return rows


# What `--datasets` accepts, in the order they run.
DATASETS = ("tricky", "habernal-cmv", "ucc", "insults", "argotario", "olid", "reddit-incivility",
            "cad")  # fmt: skip


@dataclass(frozen=True, slots=True)
class Results:
    """The classic rows (verdicts, baselines, AUCs) and the chat evaluation's rows."""

    rows: list[Row] = field(default_factory=list)
    chat: list[ChatRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Choice:
    """Which datasets to evaluate on (None: all present) and how to sample the single-text ones."""

    datasets: frozenset[str] | None = None
    sampling: Sampling = field(default_factory=Sampling)


def tiers(scorer: Scorer) -> list[Scorer]:
    """The scorer, and the fast tier alone beside it when the scorer is heavier."""
    return [scorer] if is_fast(scorer) else [scorer, EmbeddedScorer()]


def run(
    policy: Policy,
    scorer: Scorer,
    data: Path,
    insults: Path | None,
    console: Console,
    choice: Choice | None = None,
) -> Results:
    """Every chosen dataset that is present, evaluated; a line for each that is skipped, saying
    why. Progress goes to ``console`` (stderr): counts of texts, never their words."""
    choice = choice or Choice()
    progress = Progress(console)
    if not is_fast(scorer):  # the fast tier alone is cheaper to rerun than to remember
        scorer = Reporting(Remembered(scorer), progress)
    results = Results()
    for name, step in _steps(policy, scorer, data, insults, choice.sampling).items():
        if choice.datasets is not None and name not in choice.datasets:
            continue
        try:
            with progress.step(name):
                rows, found = step()
        except datasets.DataMissingError as missing:
            console.print(f"[yellow]skipped {name}:[/yellow] {missing}", highlight=False)
            continue
        results.rows.extend(rows)
        results.chat.extend(found)
    return results


Step = Callable[[], tuple[list[Row], list[ChatRow]]]


def _steps(
    policy: Policy, scorer: Scorer, data: Path, insults: Path | None, sampling: Sampling
) -> dict[str, Step]:
    def habernal() -> tuple[list[Row], list[ChatRow]]:
        rows = _engine_rows("habernal-cmv last messages", datasets.habernal(data), policy, scorer)
        # The chat rows reuse the engine's verdicts just made, tier by tier.
        names = {scorer.name, FAST_NAME}
        found = [ChatRow("habernal-cmv", "habernal-cmv", "last messages (removed as ad hominem vs "
                         "won a delta)", row.tier, "verdict", row.confusion)
                 for row in rows if row.judged == "ad hominem (engine)" and row.tier in names]  # fmt: skip
        return rows, found

    def text_set(name: str) -> Step:
        return lambda: ([], chat.on_texts(name, data, policy, tiers(scorer), sampling))

    return {
        "tricky": lambda: (_engine_rows("bundled tricky cases", datasets.tricky_cases(), policy, scorer), []),
        "habernal-cmv": habernal,
        "ucc": lambda: (_ucc(data, scorer), []),
        "insults": lambda: (on_texts("kaggle insults test", datasets.kaggle_insults(insults), "insult", scorer, scorer.name), []),
        "argotario": lambda: ([], chat.on_conversations("argotario", "replies (meant as ad hominem vs other fallacies or none)", datasets.argotario(data), policy, tiers(scorer))),
        **{name: text_set(name) for name in chat.TEXT_SETS},
    }  # fmt: skip


def _ucc(data: Path, scorer: Scorer) -> list[Row]:
    items = datasets.ucc(data)
    rows: list[Row] = []
    for label in ("hostile", "antagonize", "condescending", "dismissive", "sarcastic"):
        rows.extend(on_texts("ucc val", items, label, scorer, scorer.name))
    return rows


def header() -> str:
    """Date, machine and Python, written above every results table."""
    return (f"{datetime.now(UTC):%Y-%m-%d}, {platform.machine()} {os.cpu_count()} cores, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}")  # fmt: skip


def _verdict_cells(row: Row) -> list[str]:
    c = row.confusion
    judged = row.judged
    if row.threshold is not None:
        judged = f"baseline: {row.judged.split(' ')[0]} >= {row.threshold:.2f} (best)"
    return [
        row.dataset, row.tier, judged, f"{row.count:,}", f"{c.accuracy:.3f}",
        f"{c.precision:.3f}", f"{c.recall:.3f}", f"{c.f1:.3f}",
        f"{row.auc:.3f}" if row.auc is not None else "",
        f"{row.rate:,.0f}" if row.rate else "",
        f"{row.heavier:.0%}" if row.heavier is not None else "",
    ]  # fmt: skip


VERDICT_COLUMNS = ("dataset", "tier", "judged by", "n", "accuracy", "precision", "recall", "F1",
                   "ROC AUC", "msg/s", "to model")  # fmt: skip


def _auc_grid(rows: list[Row]) -> tuple[list[str], list[list[str]]]:
    """ROC AUC of each attribute (columns) on each dataset and label (rows)."""
    attributes = list(
        dict.fromkeys(r.judged.split(" ")[0] for r in rows if r.threshold is not None)
    )
    grid: dict[str, dict[str, str]] = {}
    for row in rows:
        if row.threshold is None or row.auc is None:
            continue
        attribute, _, against = row.judged.partition(" ")
        line = grid.setdefault(f"{row.dataset} {against}".strip(), {})
        line[attribute] = f"{row.auc:.3f}"
    return attributes, [
        [name, *(cells.get(a, "") for a in attributes)] for name, cells in grid.items()
    ]


def show(results: Results, console: Console, as_markdown: bool) -> None:
    """The classic tables (yes/no verdicts with baselines, each score's ROC AUC), then the chat
    evaluation's held-out and in-sample tables; each only where it has rows."""
    rows = results.rows
    verdicts = [_verdict_cells(row) for row in rows if row.is_verdict]
    attributes, grid = _auc_grid(rows)
    tables: list[tuple[str, Sequence[str], list[list[str]]]] = [
        ("Ad hominem: verdicts", VERDICT_COLUMNS, verdicts),
        ("ROC AUC of each score", ["data", *attributes], grid),
        *((title, chat_table.COLUMNS, lines) for title, lines in chat_table.sections(results.chat)),
    ]
    tables = [table for table in tables if table[2]]
    if as_markdown:
        console.print(f"Measured {header()}.\n", highlight=False, soft_wrap=True)
        for title, columns, lines in tables:
            if columns is chat_table.COLUMNS:
                console.print(f"**{title}**\n", highlight=False, soft_wrap=True)
            console.print("| " + " | ".join(columns) + " |", highlight=False, soft_wrap=True)
            console.print("|" + "---|" * len(columns), highlight=False)
            for line in lines:
                console.print("| " + " | ".join(line) + " |", highlight=False, soft_wrap=True)
            console.print()
    else:
        console.print(f"[bold]Longform evaluation[/bold] — {header()}", highlight=False)
        for title, columns, lines in tables:
            table = Table(*columns, title=title, title_justify="left")
            for line in lines:
                table.add_row(*line)
            console.print(table)
    if results.chat:
        console.print(chat_table.LEGEND, highlight=False, soft_wrap=True)
