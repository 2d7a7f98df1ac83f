"""A readable timeline of a replay: each message, and under it what Longform noticed and would do,
and, once an intervention's window has passed, what became of it (its outcomes)."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.text import Text

from adapters.replay.runner import Step, action_record
from bot.core.events import MemberJoined, MessageDeleted, MessageEdited, MessagePosted
from bot.core.explain import quoted
from bot.core.outcomes import OutcomeRecord

_PREVIEW = 140


def render(steps: Iterable[Step], console: Console) -> dict[str, int]:
    """Print the timeline; return counts of messages, detections, actions and outcomes."""
    counts = {"messages": 0, "detections": 0, "actions": 0, "outcomes": 0}
    place = None
    for step in steps:
        event = step.event
        if isinstance(event, MessagePosted):
            counts["messages"] += 1
            here = f"{event.community} / #{event.channel}" + (
                f" / {event.thread}" if event.thread else ""
            )
            if here != place:
                console.rule(Text(here), style="dim")
                place = here
            reply = f" → {event.reply_to_author}" if event.reply_to_author else ""
            line = Text(f"{event.at:%H:%M:%S} ", style="dim")
            line.append(f"{event.author}{reply}: ", style="bold")
            line.append(event.text[:_PREVIEW] + ("…" if len(event.text) > _PREVIEW else ""))
            console.print(line)
        elif isinstance(event, MessageEdited):
            console.print(Text(f"{event.at:%H:%M:%S} (message {event.id} edited)", style="dim"))
        elif isinstance(event, MessageDeleted):
            console.print(Text(f"{event.at:%H:%M:%S} (message {event.id} deleted)", style="dim"))
        elif isinstance(event, MemberJoined):
            console.print(Text(f"{event.at:%H:%M:%S} ({event.user} joined)", style="dim"))
        for detection in step.detections:
            counts["detections"] += 1
            target = f" on {detection.target}" if detection.target else ""
            words = f" [words: {quoted(detection.words)}]" if detection.words else ""
            console.print(
                Text(f"    ⚑ noticed {detection.signal}{target} ({detection.score:.2f}): "
                     f"{detection.explanation}{words}", style="yellow")
            )  # fmt: skip
        for action in step.actions:
            counts["actions"] += 1
            record = action_record(action)
            to = (
                f" → {record['to']}"
                if record["to"]
                else " → moderators"
                if record["action"] == "alert_moderators"
                else ""
            )
            console.print(
                Text(f"    ➜ would {record['action']}{to}: {record['text']}", style="cyan")
            )
        for outcome in step.outcomes:
            counts["outcomes"] += 1
            console.print(Text(f"    ◷ {outcome_line(outcome)}", style="magenta"))
    return counts


def outcome_line(outcome: OutcomeRecord) -> str:
    """One settled outcome in words: what, on which message, and its measures."""
    to = f" to {outcome.recipient}" if outcome.recipient and outcome.prompt else ""
    measures = ", ".join(f"{name} {value:g}" for name, value in outcome.measures)
    return (f"outcome of {outcome.action}{to} (message {outcome.message_id}, "
            f"settled {outcome.settled_at:%H:%M}): {measures or 'nothing measured'}")  # fmt: skip
