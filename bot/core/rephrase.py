"""Rephrasing help for the author of a personal attack: the claim, shown on its own.

How it works: the message is cut into sentences, and each sentence into clauses at commas, colons,
semicolons, dashes and the joints "but", "because", "since", "so" and "yet" (the places where
a point and a jab about the person usually meet). A clause holding one of the cue spans (the words
that read as personal, ``Detection.words``) is personal; the clauses left, in the author's own
spelling, are the claim. A leading joint word ("but the data shows ...") and the punctuation
around the claim are trimmed, and non-adjacent pieces are joined with " … ", so the claim only
ever holds the author's words, in order. A claim needs at least ``MIN_CLAIM_WORDS`` words and none
of the cue spans; otherwise there is no claim and the prompt only names the personal words.

A claim is shown only if, judged alone, it no longer reads as an attack (``claim_alone``). Setting
aside, in further rounds, the words that still read as personal was tried and is off
(``MAX_ROUNDS`` 1): each round is one more chance for the detector to miss a jab, and a missed jab
was then offered as "your point" (benchmarks/README.md, rephrasing). What is tried instead, when the
first claim still reads as personal, is the strict claim: the clauses that do not address the
person at all ("you", "you're", "yourself"; "your" unless an idea follows: "your argument"). A
point that stands on its own is about the idea, so a clause that speaks to the person is not needed
for it, and a jab the detector would miss ("I've read more papers than you have") still speaks to
the person, so it is never offered as the point.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.core.lexicon import IDEA_NOUNS

MIN_CLAIM_WORDS = 4
MAX_ROUNDS = 1  # splits tried before giving up on a claim that still reads as personal
MAX_CLAIM_CHARS = 280
_MIN_PIECE_WORDS = 3
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_CLAUSE = re.compile(r"\s*[,;:()\u2013\u2014]\s*|\s+-{1,2}\s+|\s+(?=(?:but|because|since|so|yet)\b)",
                     re.IGNORECASE)  # fmt: skip
_JOINT = re.compile(r"^(?:but|because|since|so|yet|and)\b[\s,]*", re.IGNORECASE)
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
_EDGE = " \t\n,;:.-\u2013\u2014\"'()"
# Speaking to the person: "you" in any form, and "your" unless an idea follows ("your argument").
_ADDRESS = re.compile(
    r"\b(?:you(?:['\u2019](?:re|ve|d|ll))?|youre|yourself|yourselves|yours|ur|u)\b"
    rf"|\byour\b(?!\s+(?:{'|'.join(IDEA_NOUNS)})\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Rephrasing:
    """What the prompt can show: the personal words as written, and the claim alone or None."""

    personal: tuple[str, ...]
    claim: str | None


# What still reads as personal in a text judged alone: its words, or None when it passes.
Judge = Callable[[str], tuple[str, ...] | None]


@dataclass(frozen=True, slots=True)
class ClaimCheck:
    """The first claim split off (``found``) and the one that passes alone (``shown``, or None)."""

    found: str | None
    shown: str | None


def claim_alone(
    text: str, words: tuple[str, ...], judge: Judge, rounds: int = MAX_ROUNDS
) -> ClaimCheck:
    """Split the claim off ``text`` and judge it alone; while it still reads as personal, set the
    words that do aside too, up to ``rounds`` splits. Pure: ``judge`` is the engine's detector."""
    found: str | None = None
    current, personal = text, words
    for _ in range(rounds):
        claim = split_claim(current, personal).claim
        if claim is None:
            break
        found = found or claim
        still = judge(claim)
        if still is None:
            return ClaimCheck(found, claim)
        if not still:  # flagged, but no words to set aside: nothing more to try
            break
        current, personal = claim, still
    if found is not None:  # the strict claim: only the clauses that do not address the person
        strict = split_claim(text, words, impersonal=True).claim
        if strict is not None and strict != found and judge(strict) is None:
            return ClaimCheck(found, strict)
    return ClaimCheck(found, None)


def split_claim(text: str, words: tuple[str, ...], impersonal: bool = False) -> Rephrasing:
    """The claim left in ``text`` once the clauses holding ``words`` (cue spans) are set aside,
    and with ``impersonal`` every clause that addresses the person too.

    Guarantees: the claim is made of ``text``'s own words in their order (pieces that were not
    adjacent are joined with " … "); it contains no cue span; None when no cue span is found in
    ``text`` or fewer than MIN_CLAIM_WORDS words remain.
    """
    spans = tuple(word for word in words if word)
    folded = text.casefold()
    cues = [(at, at + len(span)) for span in spans if (at := folded.find(span.casefold())) >= 0]
    if not cues:
        return Rephrasing(spans, None)
    kept: list[tuple[int, int]] = []
    for start, end in _clauses(text):
        if any(start < cue_end and cue_start < end for cue_start, cue_end in cues):
            continue
        if impersonal and _ADDRESS.search(text, start, end):
            continue
        kept.append((start, end))
    return Rephrasing(spans, _claim(text, kept, spans))


def _clauses(text: str) -> list[tuple[int, int]]:
    """(start, end) of every clause of ``text``, sentences first, then their clauses."""
    found: list[tuple[int, int]] = []
    for s_start, s_end in _pieces(_SENTENCE, text, 0, len(text)):
        found.extend(_pieces(_CLAUSE, text, s_start, s_end))
    return found


def _pieces(pattern: re.Pattern[str], text: str, start: int, end: int) -> list[tuple[int, int]]:
    pieces, at = [], start
    for match in pattern.finditer(text, start, end):
        if match.start() > at:
            pieces.append((at, match.start()))
        at = max(at, match.end())
    if at < end:
        pieces.append((at, end))
    return pieces


def _claim(text: str, kept: list[tuple[int, int]], spans: tuple[str, ...]) -> str | None:
    """The kept clauses as one quotation: runs of adjacent clauses keep the text between them."""
    runs: list[list[int]] = []
    for start, end in kept:
        if runs and not _WORD.search(text, runs[-1][1], start):  # nothing but punctuation between
            runs[-1][1] = end
        else:
            runs.append([start, end])
    parts = [_trimmed(text[start:end]) for start, end in runs]
    # A stray word or two between jabs ("..., so stop.") is no point of its own.
    claim = " \u2026 ".join(part for part in parts if len(_WORD.findall(part)) >= _MIN_PIECE_WORDS)
    if len(_WORD.findall(claim)) < MIN_CLAIM_WORDS:
        return None
    if any(span.casefold() in claim.casefold() for span in spans):
        return None
    if len(claim) > MAX_CLAIM_CHARS:
        claim = claim[:MAX_CLAIM_CHARS].rsplit(" ", 1)[0] + " \u2026"
    return claim


def _trimmed(piece: str) -> str:
    piece = piece.strip(_EDGE)
    piece = _JOINT.sub("", piece).strip(_EDGE)
    return piece
