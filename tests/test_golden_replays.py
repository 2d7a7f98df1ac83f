"""Golden replays: the bundled conversations through the default preset, compared with stored output.

Each golden file is replay's own output followed by one summary line the test adds (events read,
detections, actions), so a conversation where nothing fires still has a golden file that says how
much was read: an empty file could not tell "nothing fired" from "nothing was replayed".

Regenerate after an intended change with `LONGFORM_REGENERATE_GOLDEN=1 pytest tests/test_golden_replays.py`,
then review the diff of tests/golden/ before committing.
"""

import io
import json
import os
from pathlib import Path

import pytest

from adapters.replay.runner import load, replay, write_jsonl
from bot.core.engine import Engine
from bot.policy.loader import load_policy
from bot.scoring.embedded import EmbeddedScorer

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
CONVERSATIONS = sorted((ROOT / "bot" / "demo").glob("0*.jsonl"))


def _replayed(path: Path) -> str:
    events, _ = load([path])
    out = io.StringIO()
    write_jsonl(replay(Engine(load_policy("professional"), EmbeddedScorer()), events), out)
    kinds = [json.loads(line)["type"] for line in out.getvalue().splitlines()]
    summary = {"type": "summary", "events": len(events), "detections": kinds.count("detection"),
               "actions": kinds.count("action")}  # fmt: skip
    return out.getvalue() + json.dumps(summary) + "\n"


@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=lambda p: p.stem)
def test_replay_matches_golden(conversation: Path) -> None:
    golden = GOLDEN / f"{conversation.stem}.jsonl"
    actual = _replayed(conversation)
    if os.environ.get("LONGFORM_REGENERATE_GOLDEN"):
        golden.write_text(actual, encoding="utf-8")
    assert golden.exists(), f"{golden} missing: regenerate with LONGFORM_REGENERATE_GOLDEN=1"
    stored = golden.read_text(encoding="utf-8")
    assert stored.strip(), f"{golden} is empty: regenerate with LONGFORM_REGENERATE_GOLDEN=1"
    assert actual == stored
