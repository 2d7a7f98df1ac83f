"""The evaluation suite behind `longform evaluate`: every dataset present, as one table."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bot.core.scoring import Scorer
from bot.core.settings import Policy
from bot.evaluation import datasets
from bot.evaluation.datasets import LabelledThreads
from bot.evaluation.evaluate import Row, on_texts, on_threads
from bot.scoring.embedded import CASCADE_NAME, EmbeddedScorer, is_fast


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


def run(
    policy: Policy, scorer: Scorer, data: Path, insults: Path | None, console: Console
) -> list[Row]:
    """Every dataset that is present, evaluated; a line for each that is skipped, saying why."""
    if not is_fast(scorer):  # the fast tier alone is cheaper to rerun than to remember
        scorer = Remembered(scorer)
    rows: list[Row] = []
    steps: list[tuple[str, Callable[[], list[Row]]]] = [
        ("bundled tricky cases",
         lambda: _engine_rows("bundled tricky cases", datasets.tricky_cases(), policy, scorer)),
        ("habernal-cmv",
         lambda: _engine_rows("habernal-cmv last messages", datasets.habernal(data), policy, scorer)),
        ("ucc", lambda: _ucc(data, scorer)),
        ("kaggle insults",
         lambda: on_texts("kaggle insults test", datasets.kaggle_insults(insults), "insult", scorer, scorer.name)),
    ]  # fmt: skip
    for name, step in steps:
        try:
            with console.status(f"evaluating on {name}…"):
                rows.extend(step())
        except datasets.DataMissingError as missing:
            console.print(f"[yellow]skipped {name}:[/yellow] {missing}", highlight=False)
    return rows


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


def show(rows: list[Row], console: Console, as_markdown: bool) -> None:
    """Two tables: yes/no verdicts (with baselines), and each score's ROC AUC."""
    verdicts = [_verdict_cells(row) for row in rows if row.is_verdict]
    attributes, grid = _auc_grid(rows)
    auc_columns = ["data", *attributes]
    if as_markdown:
        console.print(f"Measured {header()}.\n", highlight=False)
        for columns, lines in ((VERDICT_COLUMNS, verdicts), (auc_columns, grid)):
            console.print("| " + " | ".join(columns) + " |", highlight=False)
            console.print("|" + "---|" * len(columns), highlight=False)
            for line in lines:
                console.print("| " + " | ".join(line) + " |", highlight=False, soft_wrap=True)
            console.print()
        return
    console.print(f"[bold]Longform evaluation[/bold] — {header()}", highlight=False)
    table = Table(*VERDICT_COLUMNS, title="Ad hominem: verdicts", title_justify="left")
    for line in verdicts:
        table.add_row(*line)
    console.print(table)
    table = Table(*auc_columns, title="ROC AUC of each score", title_justify="left")
    for line in grid:
        table.add_row(*line)
    console.print(table)
