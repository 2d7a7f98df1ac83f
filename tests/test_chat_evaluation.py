"""The chat evaluation: its loaders, intervals, rates, targets and tables, on data written here.

The files below copy the formats of ../shared/data exactly (tabs, quoting, no header where there
is none) with texts written for these tests; no test reads the shared data.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.evaluation import datasets
from bot.evaluation.chat import ChatRow, Sampling
from bot.evaluation.chat_table import cells, estimates, sections
from bot.evaluation.metrics import Confusion, Estimate, bootstrap, interval
from bot.evaluation.targets import TARGETS, Target

runner = CliRunner()


def _write_argotario(folder: Path) -> None:
    base = folder / "argotario"
    base.mkdir(parents=True)
    rows, labels = [], {}
    replies = [("No, you only say that because you are too lazy to read the study.", 1),
               ("Yes, because phones distract the whole class from the lesson.", 0),
               ("Imagine how the teacher would feel if everyone ignored her.", 0)]  # fmt: skip
    for i, (text, attack) in enumerate(replies):
        thread = f"arg{i:04d}"
        common = {"type": "message", "community": "argotario", "channel": f"c-{thread}",
                  "thread": thread}  # fmt: skip
        rows.append({**common, "id": f"{thread}-q", "ts": f"2025-04-01T0{2 * i}:00:00+00:00",
                     "author": f"{thread}-asker", "text": "Should phones be allowed in class?"})  # fmt: skip
        rows.append({**common, "id": f"{thread}-a", "ts": f"2025-04-01T0{2 * i}:02:00+00:00",
                     "author": f"{thread}-p{i}", "reply_to": f"{thread}-q", "text": text})  # fmt: skip
        labels[f"{thread}-a"] = attack
    (base / "replay.jsonl").write_text("\n".join(map(json.dumps, rows)) + "\n", encoding="utf-8")
    (base / "labels.json").write_text(json.dumps(labels), encoding="utf-8")


OLID = (
    "id\ttweet\tsubtask_a\tsubtask_b\tsubtask_c\n"
    "10001\t@USER Thanks, the match starts at eight tonight. URL\tNOT\tNULL\tNULL\n"
    '10002\t"@USER He said ""fine"" and left."\tNOT\tNULL\tNULL\n'
    "10003\t@USER damn this traffic is killing me\tOFF\tUNT\tNULL\n"
    "10004\t@USER @USER you are a clueless fool\tOFF\tTIN\tIND\n"
    "10005\t@USER That senator is a corrupt clown #politics\tOFF\tTIN\tIND\n"
    "10006\t@USER those people are all idiots\tOFF\tTIN\tGRP\n"
)
REDDIT = (
    "lol nice one,0\n"
    '"Well, that settles it, thanks for the link. ",0\n'
    '"holy shit, this is the best thread all week",1\n'
)
CAD_TRAIN = (
    "id\ttext\tlabels\n"
    "ab12cd-post\tGot the job today! [linebreak]  [linebreak] Thanks all.\tNeutral\n"
    'ef34gh\t"Quoted title" is what the article said.\tNeutral\n'
    "ij56kl\tYou are a pathetic excuse for a moderator.\tPersonDirectedAbuse\n"
)
CAD_DEV = (
    "id\ttext\tlabels\n"
    "mn78op\tThat whole group is vermin.\tIdentityDirectedAbuse,PersonDirectedAbuse\n"
    "qr90st\tThose fans are the worst.\tAffiliationDirectedAbuse\n"
    "uv12wx\t\tNeutral\n"
)


def _write_all(folder: Path) -> None:
    _write_argotario(folder)
    for name, files in {"olid": {"olid-training-v1.0.tsv": OLID},
                        "reddit-incivility": {"train.csv": REDDIT},
                        "cad": {"cad_v1_1_train.tsv": CAD_TRAIN, "cad_v1_1_dev.tsv": CAD_DEV}}.items():  # fmt: skip
        (folder / name).mkdir(parents=True)
        for file, content in files.items():
            (folder / name / file).write_text(content, encoding="utf-8")


def test_argotario_loads_replies_and_their_labels(tmp_path: Path) -> None:
    _write_argotario(tmp_path)
    data = datasets.argotario(tmp_path)
    assert len(data.events) == 6
    assert data.labels == {"arg0000-a": True, "arg0001-a": False, "arg0002-a": False}


def test_olid_reads_quoted_tweets_and_splits_insults_by_who_is_addressed(tmp_path: Path) -> None:
    _write_all(tmp_path)
    items = datasets.olid(tmp_path)
    assert len(items) == 6
    assert items[1].text == '@USER He said "fine" and left.'  # the file's CSV quoting undone
    assert [i.labels["civil"] for i in items] == [True, True, False, False, False, False]
    assert [i.labels["untargeted"] for i in items] == [False, False, True, False, False, False]
    assert [i.labels["individual"] for i in items] == [False, False, False, True, True, False]
    # the clown tweet opens with @USER but insults a third person: not addressed
    assert [i.labels["addressed"] for i in items] == [False, False, False, True, False, False]


@pytest.mark.parametrize(
    ("text", "addressed"),
    [("u r dumb", True), ("You're wrong", True), ("y'all are clowns", True),
     ("is yours the red one", True), ("@USER She is a fraud", False),
     ("the U.S. lost again", False), ("our youth deserve better", False)],
)  # fmt: skip
def test_addressing_someone_means_a_second_person_word(text: str, addressed: bool) -> None:
    assert datasets.addresses_someone(text) is addressed


def test_reddit_incivility_has_no_header_and_quoted_commas(tmp_path: Path) -> None:
    _write_all(tmp_path)
    items = datasets.reddit_incivility(tmp_path)
    assert [i.text for i in items] == ["lol nice one", "Well, that settles it, thanks for the link. ",
                                       "holy shit, this is the best thread all week"]  # fmt: skip
    assert [i.labels["uncivil"] for i in items] == [False, False, True]


def test_cad_joins_both_splits_keeps_quotes_and_restores_line_breaks(tmp_path: Path) -> None:
    _write_all(tmp_path)
    items = datasets.cad(tmp_path)
    assert len(items) == 5  # the entry with no text is left out
    assert items[0].text == "Got the job today! \n  \n Thanks all."
    assert items[1].text == '"Quoted title" is what the article said.'  # not CSV-quoted
    assert [i.labels["person"] for i in items] == [False, False, True, True, False]
    assert [i.labels["neutral"] for i in items] == [True, True, False, False, False]


@pytest.mark.parametrize(
    ("load", "needle"),
    [(datasets.argotario, "UKPLab/argotario"), (datasets.olid, "idontflow/OLID"),
     (datasets.reddit_incivility, "ercexpo/reddit_incivility"), (datasets.cad, "Zenodo record 4881008")],
)  # fmt: skip
def test_a_missing_dataset_says_where_to_get_it(load, needle: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(datasets.DataMissingError, match=needle) as raised:
        load(tmp_path)
    assert str(tmp_path) in str(raised.value)


def test_false_alarms_are_per_thousand_negatives() -> None:
    assert Confusion(tp=5, fp=3, fn=5, tn=97).false_alarms == 30.0  # 3 of 100 negatives
    assert Confusion(tp=4, fp=0, fn=1, tn=0).false_alarms == 0.0  # no negatives: nothing to rate


def _f1(confusion: Confusion) -> float:
    return confusion.f1


def test_bootstrap_interval_holds_the_estimate_narrows_with_n_and_repeats_with_its_seed() -> None:
    small = Confusion(tp=30, fp=10, fn=20, tn=140)
    large = Confusion(tp=300, fp=100, fn=200, tn=1400)  # the same shares, ten times the messages
    narrow = interval(large, bootstrap(large, seed=1), _f1)
    wide = interval(small, bootstrap(small, seed=1), _f1)
    assert wide.low < wide.value < wide.high
    assert narrow.low < narrow.value < narrow.high
    assert narrow.value == pytest.approx(wide.value)
    assert narrow.high - narrow.low < (wide.high - wide.low) / 2  # ~1/sqrt(10) as wide
    assert interval(small, bootstrap(small, seed=1), _f1) == wide
    assert interval(small, bootstrap(small, seed=2), _f1) != wide


def test_bootstrap_resamples_keep_the_count_and_the_shares_on_average() -> None:
    confusion = Confusion(tp=50, fp=25, fn=125, tn=800)
    resampled = bootstrap(confusion, resamples=400, seed=3)
    assert all(sample.total == 1000 for sample in resampled)
    mean_fp = sum(sample.fp for sample in resampled) / len(resampled)
    assert mean_fp == pytest.approx(25, abs=1.5)  # the binomial draw's mean is n * p
    assert min(s.fn for s in resampled) < 125 < max(s.fn for s in resampled)


def test_a_certain_rate_has_no_spread_and_an_empty_confusion_is_refused() -> None:
    clean = Confusion(tp=0, fp=0, fn=0, tn=500)
    assert interval(clean, bootstrap(clean), lambda c: c.false_alarms) == Estimate(0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="no judged messages"):
        bootstrap(Confusion(0, 0, 0, 0))


def test_targets_are_met_on_their_side_of_the_bound() -> None:
    civil = TARGETS["olid civil"]
    assert civil.describe() == "<= 30 per 1,000 (3%)"
    assert civil.verdict(Estimate(25.0, 20.0, 29.0)) == "met"
    assert civil.verdict(Estimate(30.0, 26.0, 34.0)) == "met (interval crosses)"  # the bound counts
    assert civil.verdict(Estimate(120.0, 113.0, 127.0)) == "not met"
    recall = Target("recall", 0.75, at_least=True)
    assert recall.describe() == "recall >= 75%"
    assert recall.verdict(Estimate(0.74, 0.70, 0.78)) == "not met (interval crosses)"
    assert recall.verdict(Estimate(0.80, 0.76, 0.84)) == "met"
    assert TARGETS["argotario"].describe() == "F1 >= 0.70"
    assert TARGETS["habernal-cmv"].bound == 0.82
    assert TARGETS["reddit-incivility civil"].bound == 20.0  # 2%
    assert TARGETS["olid untargeted"].bound == 100.0  # 10%


def test_a_row_shows_only_the_measures_its_labels_allow() -> None:
    civil = ChatRow("olid", "olid civil", "civil tweets (NOT)", "embedded", "negatives",
                    Confusion(0, 12, 0, 88))  # fmt: skip
    assert set(estimates(civil)) == {"false alarms"}
    line = cells(civil)
    assert line[7].startswith("120 (")
    assert line[8:] == ["<= 30 per 1,000 (3%)", "not met"]
    caught = ChatRow("olid", "olid addressed", "addressed", "embedded", "positives",
                     Confusion(8, 0, 2, 0))  # fmt: skip
    assert set(estimates(caught)) == {"recall"}
    silent = ChatRow(
        "cad", "cad", "abuse vs neutral", "embedded", "verdict", Confusion(0, 0, 5, 95)
    )
    assert "precision" not in estimates(silent)  # nothing flagged: no precision to speak of


def test_in_sample_rows_go_in_their_own_table() -> None:
    rows = [ChatRow("argotario", "argotario", "replies", "embedded", "verdict", Confusion(1, 1, 1, 7)),
            ChatRow("cad", "cad", "abuse vs neutral", "embedded", "verdict", Confusion(1, 1, 1, 7))]  # fmt: skip
    (held_title, held), (seen_title, seen) = sections(rows)
    assert "held out" in held_title
    assert "IN-SAMPLE" in seen_title
    assert [line[0] for line in held] == ["cad"]
    assert [line[0] for line in seen] == ["argotario"]


def test_a_sample_is_fixed_by_its_seed_and_says_so() -> None:
    items = list(range(100))
    first, note = Sampling(10, seed=4).draw(items)
    assert Sampling(10, seed=4).draw(items) == (first, note)
    assert Sampling(10, seed=5).draw(items)[0] != first
    assert note == "10 of 100 (seed 4)"
    assert Sampling(0).draw(items) == (items, "")  # 0: every row


def _cell_rows(output: str, dataset: str) -> list[list[str]]:
    return [[c.strip() for c in line.split("|")[1:-1]]
            for line in output.splitlines() if line.startswith(f"| {dataset} |")]  # fmt: skip


def test_evaluate_prints_the_chat_tables_for_the_chosen_datasets(tmp_path: Path) -> None:
    _write_all(tmp_path)
    result = runner.invoke(app, ["evaluate", "--data", str(tmp_path), "--sentence-tier", "off",
                                 "--datasets", "olid,cad,argotario,reddit-incivility",
                                 "--markdown"])  # fmt: skip
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.index("held out (never trained on)") < out.index("IN-SAMPLE")
    olid = _cell_rows(out, "olid")
    judged = {row[1]: row for row in olid}
    assert judged["civil tweets (NOT)"][3] == "2"
    assert judged["civil tweets (NOT)"][8] == "<= 30 per 1,000 (3%)"
    assert judged['insults at a person that address someone (TIN-IND, "you")'][3] == "1"
    assert "bundled tricky" not in out  # not chosen
    cad = _cell_rows(out, "cad")
    assert cad[0][3] == "4"  # two PersonDirectedAbuse, two Neutral-only
    reddit = _cell_rows(out, "reddit-incivility")
    assert any("NOT ad hominem labels" in row[1] for row in reddit)
    in_sample = out[out.index("IN-SAMPLE") :]
    assert "| argotario |" in in_sample
    assert "| reddit-incivility | civil comments (0)" in in_sample
    assert "evaluating on olid" in result.stderr  # progress, on stderr


def test_evaluate_refuses_an_unknown_dataset_name(tmp_path: Path) -> None:
    result = runner.invoke(app, ["evaluate", "--data", str(tmp_path), "--datasets", "olid,twitter"])
    assert result.exit_code == 2
    assert "unknown dataset twitter" in result.stderr
    assert "reddit-incivility" in result.stderr  # the choices are listed


def test_progress_counts_texts_in_chunks_and_never_prints_them() -> None:
    import io

    from rich.console import Console

    from bot.evaluation.progress import Progress, Reporting
    from bot.scoring.embedded import EmbeddedScorer

    out = io.StringIO()
    progress = Progress(Console(file=out, force_terminal=False, width=200), every_seconds=0.0)
    scorer = Reporting(EmbeddedScorer(), progress, chunk=2)
    texts = ["secret words one", "secret words two", "secret words three"]
    with progress.step("olid"):
        scored = scorer.score(texts)
    assert scored == EmbeddedScorer().score(texts)  # chunking changes nothing
    lines = out.getvalue().splitlines()
    assert lines[0] == "evaluating on olid…"
    assert [line.split("… ")[1].split(" texts")[0] for line in lines[1:]] == ["2", "3"]
    assert "secret" not in out.getvalue()
