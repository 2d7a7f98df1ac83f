"""What Longform writes on Discord: pure text helpers (no client, no I/O).

The core writes member and channel ids into its texts ("Hi 1300…, 3 people have replied…");
``humanize`` swaps them for display names and channel links, so nobody is pinged by a notice.
Every helper keeps within Discord's limits (2,000 characters a message, 100 a thread name).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

MESSAGE_LIMIT = 2000
TITLE_LIMIT = 100
SNOWFLAKE = re.compile(r"(?<![\d<@#&:/])\d{15,21}(?![\d>])")
_WEB = "https://discord.com/channels"

NOTE_NOTICE = (
    "Longform has a private note for one of the members here. If it is for you, the button below "
    "shows it to you alone; nobody else can see it."
)
CONSENT_OFFER = (
    "This conversation might go further with more room. Would one of you like to continue it in "
    "a long-form space, where each person can set out their claim and evidence at their own pace?"
)
FOOTER = "Longform never removes anything; moderators decide."


def ids_in(text: str) -> list[int]:
    """The snowflakes written in ``text``, once each, in order."""
    return [int(found) for found in dict.fromkeys(SNOWFLAKE.findall(text))]


def humanize(text: str, names: Mapping[int, str]) -> str:
    """``text`` with each known id replaced by its name (a display name or a ``<#channel>``)."""
    return SNOWFLAKE.sub(lambda match: names.get(int(match.group()), match.group()), text)


def clip(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def chunks(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """``text`` split at line ends into messages of at most ``limit`` characters."""
    parts: list[str] = []
    current = ""
    for line in text.splitlines():
        while len(line) > limit:
            parts, current = [*parts, current] if current else parts, ""
            parts.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            candidate = line
        current = candidate
    return [*parts, current] if current else parts or [""]


def link(guild: int, channel: int | str, message: int | str | None = None) -> str:
    """A jump link to a channel, thread or message."""
    return f"{_WEB}/{guild}/{channel}" + ("" if message is None else f"/{message}")


def evidence_links(guild: int, place: str, message_ids: Sequence[str], limit: int = 8) -> str:
    """Numbered links to the evidence messages ("[1](…) [2](…) and 3 more"); "" if none."""
    shown = [f"[{n}]({link(guild, place, m)})" for n, m in enumerate(message_ids[:limit], 1)]
    more = len(message_ids) - limit
    return " ".join(shown) + (f" and {more} more" if more > 0 else "")


def quote(text: str, limit: int = 280) -> str:
    """``text`` as a Markdown block quote, cut to ``limit`` characters."""
    lines = clip(" ".join(text.split()), limit) or "(no text)"
    return f"> {lines}"


def alert_content(summary: str, place_link: str, evidence: str, mode: str) -> str:
    """A moderators' alert: what was noticed, where, the evidence, and what the buttons do."""
    lines = [f"**Longform alert** ({mode} mode) in {place_link}", summary]
    if evidence:
        lines.append(f"Evidence: {evidence}")
    return clip("\n".join(lines))


def downgraded_content(action: str, place_link: str, problem: str, summary: str) -> str:
    """The alert sent instead of an action Longform could not do (``problem`` says why)."""
    return clip(
        f"**Longform could not {action}** in {place_link}: {problem}. Fix that, or act by hand."
        f"\n{summary}"
    )


def starter_content(
    intro: str,
    template: Sequence[str],
    quotes: Iterable[tuple[str, str]],
    origin: str,
    mentions: Sequence[str],
) -> str:
    """The first message of a long-form post: the invitation, the template, the key messages
    (quoted, with links), where it came from, and the participants, each mentioned once."""
    sections = "\n".join(f"**{heading}**: …" for heading in template)
    quoted = "\n".join(f"{quote(text)}\n<{url}>" for text, url in quotes)
    parts = [intro, sections, origin_line(origin)]
    if quoted:
        parts.append(f"**Key messages**\n{quoted}")
    if mentions:
        parts.append(
            f"{', '.join(mentions)}: you were part of the original discussion and are welcome to "
            "continue it here, whenever suits you."
        )
    return clip("\n\n".join(part for part in parts if part))


def origin_line(url: str) -> str:
    """The line of a long-form post that links the conversation it came from."""
    return f"**Where this started**: {url}"


def title(template: str, place_id: str, place_name: str) -> str:
    """A post title from the decision's title, with the thread's id replaced by its name."""
    named = template.replace(place_id, place_name) if place_id else template
    return clip(named, TITLE_LIMIT) or "Long form"


def explanation(reason: str, evidence: str, scores: Sequence[tuple[str, float]]) -> str:
    """The ephemeral answer to "Why am I seeing this?"."""
    parts = [reason]
    if evidence:
        parts.append(f"Messages considered: {evidence}.")
    if scores:
        parts.append("Scores: " + ", ".join(f"{n} {v:.2f}" for n, v in scores[:3]) + ".")
    parts.append(FOOTER)
    return clip(" ".join(parts))


def dashboard_link(url: str, communities: int) -> str:
    """The private answer to ``/longform dashboard`` (the angle brackets stop a link preview)."""
    scope = "this server" if communities == 1 else f"the {communities} servers you moderate"
    return (f"Your sign-in link to Longform's dashboard for {scope}: <{url}>\n"
            "It works once, for 10 minutes. Do not share it: it signs in as you.")  # fmt: skip
