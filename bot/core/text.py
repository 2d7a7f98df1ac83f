"""Normalising text before judging it, so evasions read as what they are.

How it works: Unicode compatibility folding (NFKC) turns full-width and styled letters into plain
ones; invisible format characters (zero-width spaces and joiners, soft hyphens) are removed; Cyrillic
and Greek look-alikes become Latin; text is case-folded; digits and symbols inside a word become the
letters they imitate ("1d10t" -> "idiot"); runs of three or more of a letter shrink to two
("stuuupid" -> "stuupid"; lexicon words tolerate any run length); and letters spelled out one by one ("i d i o t", "i.d.i.o.t") are joined.
Curly quotes become straight ones so that quotation can be recognised.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

_INVISIBLE = dict.fromkeys(
    (0x00AD, 0x034F, 0x061C, 0x180E, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0x2061,
     0x2062, 0x2063, 0x2064, 0xFEFF),
    None,
)  # fmt: skip

_HOMOGLYPHS = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
        "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d",
        "ɡ": "g", "һ": "h", "ԛ": "q", "ԝ": "w",
        # Greek
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
        "τ": "t", "υ": "u", "χ": "x", "ς": "s",
        # Quotes and dashes
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"', "\u2033": '"',
        "\u2013": "-", "\u2014": "-",
    }
)  # fmt: skip

_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a",
                       "$": "s"})  # fmt: skip

# A word mixing letters with leet symbols, e.g. "1d10t", "st@pid", "m0r0n" (not "2024", not "@ana").
_LEET_WORD = re.compile(r"(?<![\w@$])(?=[\w@$]*[a-z])(?=[\w@$]*[013457@$])[\w@$]{3,}")
# Only ever searched for (is there any?), so written to open on a character class, which the
# regex engine skips to directly: "[a-z][013457@$]|[013457$][a-z]" and
# "\b[a-z][ .\-_*][a-z][ .\-_*][a-z]\b" find the same texts, trying every position.
_LEET_HINT = re.compile(r"[013457@$](?:(?<=[a-z].)|(?<!@)(?=[a-z]))")
_SPELLED_HINT = re.compile(r"[ .\-_*](?<=\b[a-z][ .\-_*])[a-z][ .\-_*][a-z]\b")
_REPEATS = re.compile(r"([a-z])\1{2,}")  # shrink to two: lexicon words match any run length
# The same shrinking as a deletion: each letter that two more of itself follow (a run of n keeps
# its last two), with a constant replacement, so no template is expanded per match.
_REPEATED = re.compile(r"([a-z])(?=\1\1)")
_SPELLED_OUT = re.compile(r"\b(?:[a-z][ .\-_*]){2,}[a-z]\b")
_SPELLED_SEPARATORS = re.compile(r"[ .\-_*]")


def _unleet(match: re.Match[str]) -> str:
    word = match.group(0)
    if word.startswith("@"):  # a mention, not a disguised word
        return word
    return word.translate(_LEET)


def _join_spelled(match: re.Match[str]) -> str:
    return _SPELLED_SEPARATORS.sub("", match.group(0))


@lru_cache(maxsize=4096)
def normalise(text: str) -> str:
    """Plain, case-folded text with evasions undone. Idempotent: normalise(normalise(t)) == same."""
    if text.isascii():  # the common case: no invisible characters or look-alikes to undo
        folded = text.lower()
    else:
        folded = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
        folded = folded.translate(_HOMOGLYPHS).casefold()
    if _LEET_HINT.search(folded):
        folded = _LEET_WORD.sub(_unleet, folded)
    folded = _REPEATED.sub("", folded)
    if _SPELLED_HINT.search(folded):
        folded = _SPELLED_OUT.sub(_join_spelled, folded)
    return folded


def normalise_aligned(text: str) -> tuple[str, tuple[int, ...], tuple[int, ...]]:
    """``normalise(text)`` with, for each of its characters, where it came from in ``text``.

    Returns the normalised text and two tuples as long as it: the start and end offset in
    ``text`` of the characters each normalised character was made from. The steps are those of
    ``normalise``; NFKC is applied a character at a time here, which for rare combining sequences
    can differ from ``normalise``: callers compare and fall back.
    """
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for index, char in enumerate(text):
        if char.isascii():
            piece = char.lower()
        else:
            piece = unicodedata.normalize("NFKC", char).translate(_INVISIBLE)
            piece = piece.translate(_HOMOGLYPHS).casefold()
        for folded in piece:
            chars.append(folded)
            starts.append(index)
            ends.append(index + 1)
    folded = "".join(chars)
    if _LEET_HINT.search(folded):
        folded = _LEET_WORD.sub(_unleet, folded)  # one character for one: offsets stay
    kept, folded = _kept_after(folded, _REPEATS, lambda match: (0, 1), ends)
    starts, ends = [starts[i] for i in kept], [ends[i] for i in kept]
    if _SPELLED_HINT.search(folded):
        kept, folded = _kept_after(folded, _SPELLED_OUT, _letters_of, ends)
        starts, ends = [starts[i] for i in kept], [ends[i] for i in kept]
    return folded, tuple(starts), tuple(ends)


def _letters_of(match: re.Match[str]) -> tuple[int, ...]:
    return tuple(i for i, char in enumerate(match.group(0)) if not _SPELLED_SEPARATORS.match(char))


def _kept_after(
    folded: str,
    pattern: re.Pattern[str],
    keep: Callable[[re.Match[str]], tuple[int, ...]],
    ends: list[int],
) -> tuple[list[int], str]:
    """The positions of ``folded`` that survive replacing each match of ``pattern`` by the
    characters at ``keep(match)`` (relative to the match), and the resulting text. The last kept
    character of a match takes over the match's end in ``ends`` (a shrunk run covers the run)."""
    kept: list[int] = []
    at = 0
    for match in pattern.finditer(folded):
        kept.extend(range(at, match.start()))
        chosen = [match.start() + offset for offset in keep(match)]
        kept.extend(chosen)
        if chosen:
            ends[chosen[-1]] = ends[match.end() - 1]
        at = match.end()
    kept.extend(range(at, len(folded)))
    return kept, "".join(folded[i] for i in kept)
