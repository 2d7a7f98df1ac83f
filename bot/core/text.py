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
_LEET_HINT = re.compile(r"[a-z][013457@$]|[013457$][a-z]")
_SPELLED_HINT = re.compile(r"\b[a-z][ .\-_*][a-z][ .\-_*][a-z]\b")
_REPEATS = re.compile(r"([a-z])\1{2,}")  # shrink to two: lexicon words match any run length
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
    folded = _REPEATS.sub(r"\1\1", folded)
    if _SPELLED_HINT.search(folded):
        folded = _SPELLED_OUT.sub(_join_spelled, folded)
    return folded
