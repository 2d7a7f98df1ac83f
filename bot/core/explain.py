"""The words a judgement rests on, as the member wrote them, so that a moderator can check it and
the author can see what read as personal.

How it works: a rule cue is matched on normalised text (case-folded, evasions undone: see
``bot.core.text``); ``as_written`` finds the matched phrase again in the original message through
the normalisation's character alignment and returns that span with the author's own casing and
spelling ("Typical GP", "1d10t"). When only a trained model fired there is no phrase: a scorer
that can say which words moved its score implements ``Explainer``, and the engine asks it, only for
messages it actually flags.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol, runtime_checkable

from bot.core.language import quoted_spans
from bot.core.text import normalise, normalise_aligned

# Most words quoted back: enough to recognise the passage, short enough for a prompt.
MAX_WORDS_SHOWN = 3
_MAX_SPAN = 80


@runtime_checkable
class Explainer(Protocol):
    """A scorer that can also say which words of a text moved its ``attack`` score most."""

    def salient(self, text: str) -> tuple[str, ...]:
        """The spans of ``text`` (as written) that raised the score most, in text order; at most
        a few, and () when nothing raised it. Pure: the same text gives the same spans."""
        ...


@lru_cache(maxsize=1024)
def as_written(text: str, phrase: str) -> str:
    """The span of ``text`` that normalises to ``phrase`` (a cue matched on normalised text), in
    the author's spelling; ``phrase`` itself when it cannot be found (it then spanned quoted
    material the analysis had set aside). The first occurrence outside quotation wins."""
    if not phrase:
        return ""
    if text.isascii():
        lowered = text.lower()
        if lowered == normalise(text):  # the common case: offsets are the same
            at = _outside_quotes(lowered, phrase)
            return text[at : at + len(phrase)] if at >= 0 else phrase
    folded, starts, ends = normalise_aligned(text)
    at = _outside_quotes(folded, phrase)
    if at < 0:
        return phrase
    return text[starts[at] : ends[at + len(phrase) - 1]][:_MAX_SPAN]


def _outside_quotes(folded: str, phrase: str) -> int:
    """Where ``phrase`` first occurs in ``folded`` other than inside quotation; -1 if nowhere."""
    at = folded.find(phrase)
    if at < 0 or folded.find(phrase, at + 1) < 0:
        return at  # once (or never): nothing to choose between
    quotes = quoted_spans(folded)
    first = at
    while at >= 0:
        if not any(start <= at < end for start, end in quotes):
            return at
        at = folded.find(phrase, at + 1)
    return first


def quoted(words: tuple[str, ...]) -> str:
    """``"a", "b" and "c"``: spans as a member reads them quoted back; "" for none."""
    shown = [f'"{word}"' for word in words[:MAX_WORDS_SHOWN] if word]
    if len(shown) <= 1:
        return "".join(shown)
    return ", ".join(shown[:-1]) + " and " + shown[-1]
