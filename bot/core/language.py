"""Reading a message for attacks on the person, warmth and disagreement.

How it works: the text is normalised (``bot.core.text``), then quoted material is set aside: lines
starting with ">" (a quoted earlier message) and short spans in quotation marks ("a parent called me
a 'quack'"). What remains is searched with phrase patterns, each belonging to one category of attack
on the person: name-calling, competence, credentials, motives, character, "people like you",
sarcasm aimed at the person, dismissal of the person, threats. Almost every pattern needs the person
to be *addressed* ("you're", "your", "you people"), so insults about a third party, a case, or oneself
do not count. A match preceded by a negation ("I'm not saying you're stupid") is dropped, and one in
reported speech ("he called me an idiot", "she said I was clueless") is discounted. Critique of an
idea ("your argument is flawed") is not an attack: "your" followed by an idea noun never matches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import NamedTuple

from bot.core import lexicon, patterns
from bot.core.text import normalise


# Cue, Analysis and TurnMarkers are named tuples rather than frozen dataclasses: just as
# immutable, read the same way and printed the same, and made in a third of the time (a frozen
# dataclass sets each field through object.__setattr__; every message makes one of each).
class Cue(NamedTuple):
    """One sign of an attack on the person: its category, weight (0..1) and the matched phrase."""

    category: str
    weight: float
    phrase: str


class Analysis(NamedTuple):
    """What the language analysis found in one message."""

    cues: tuple[Cue, ...]
    addressed: bool
    untargeted_insults: int
    negated_attacks: int
    profanity: bool
    threat: bool
    identity_attack: bool
    warmth: float
    disagreement: float
    mentioned_handles: tuple[str, ...]
    concedes: bool = False  # "you're right", "I stand corrected": the reply yields the point
    # An insult about someone not addressed ("he's an idiot", "the minister is a moron"): the
    # phrase, or "" for none. Not an attack on a participant; a policy may alert moderators.
    absent_insult: str = ""

    @property
    def attack_score(self) -> float:
        """Combined weight of the attack cues: 1 - prod(1 - w), so two cues outweigh one."""
        remaining = 1.0
        for cue in self.cues:
            remaining *= 1.0 - cue.weight
        return 1.0 - remaining

    @property
    def strongest(self) -> Cue | None:
        """The heaviest cue, the one an explanation names."""
        return max(self.cues, key=lambda cue: cue.weight, default=None)


def _squeeze(word: str) -> str:
    """``word`` with every run of a letter shrunk to one, to compare stretched spellings."""
    return _RUNS.sub("", word)


# Each character that the same character follows: deleting them all leaves one of every run, as
# ``(.)\1+`` -> ``\1`` does, but with a constant replacement (no template expanded per match).
_RUNS = re.compile(r"(.)(?=\1)")
_TOKEN = re.compile(r"[a-z][a-z'\-]*|\+1|<3")


class _WordList:
    """Whole words and phrases, matched on squeezed text so that stretched spellings count."""

    def __init__(self, entries: Iterable[str]) -> None:
        squeezed = {_squeeze(entry) for entry in entries}
        self.words = frozenset(entry for entry in squeezed if " " not in entry)
        # Phrases filed under their first word: only those whose first word occurs are searched.
        self.phrases: dict[str, tuple[str, ...]] = {}
        for phrase in sorted(entry for entry in squeezed if " " in entry):
            first = phrase.split(" ", 1)[0]
            self.phrases[first] = (*self.phrases.get(first, ()), phrase)
        self.phrase_starts = frozenset(self.phrases)

    def count(self, tokens: Sequence[str], token_set: frozenset[str], squeezed_text: str) -> int:
        """How many of the entries occur: each word token once per use, each phrase once."""
        hits = 0
        if not self.words.isdisjoint(token_set):
            hits = sum(1 for token in tokens if token in self.words)
        for first in self.phrase_starts.intersection(token_set):
            hits += sum(1 for phrase in self.phrases[first] if phrase in squeezed_text)
        return hits


class _WordLists:
    """Several word lists counted in one pass over a message's words: ``counts`` gives, in the
    lists' order, what each list's ``count`` would (most words are in none of them, so one set
    test a word replaces one a word and list)."""

    def __init__(self, *lists: _WordList) -> None:
        self._size = len(lists)
        owners: dict[str, list[int]] = {}
        phrases: dict[str, list[tuple[int, str]]] = {}
        for index, word_list in enumerate(lists):
            for word in word_list.words:
                owners.setdefault(word, []).append(index)
            for first, filed in word_list.phrases.items():
                phrases.setdefault(first, []).extend((index, phrase) for phrase in filed)
        self._owners = {word: tuple(found) for word, found in owners.items()}
        self._words = frozenset(self._owners)
        self._phrases = {first: tuple(filed) for first, filed in phrases.items()}
        self._phrase_starts = frozenset(self._phrases)

    def counts(
        self, tokens: Sequence[str], token_set: frozenset[str], squeezed_text: str
    ) -> list[int]:
        """How many entries of each list occur: each word token once per use, each phrase once."""
        hits = [0] * self._size
        if not self._words.isdisjoint(token_set):
            owners = self._owners
            for token in tokens:
                for index in owners.get(token, ()):
                    hits[index] += 1
        for first in self._phrase_starts.intersection(token_set):
            for index, phrase in self._phrases[first]:
                if phrase in squeezed_text:
                    hits[index] += 1
        return hits


_COMPETENCE_ADJECTIVES = frozenset(
    _squeeze(word) for word in {
     "stupid", "dumb", "ignorant", "clueless", "incompetent", "idiotic", "moronic", "brainless",
     "thick", "dense", "dim", "illiterate", "uneducated", "unqualified", "gullible", "obtuse",
     "inept", "out of your depth", "senile", "retarded"}
)  # fmt: skip

_ATTACKS = tuple(
    (category, weight, frozenset(triggers.split()), re.compile(pattern))
    for category, weight, triggers, pattern in patterns.ATTACKS
)
# Trigger word -> indexes of the patterns it can start, so a message runs only the patterns its
# words could match (most messages run none).
_ATTACKS_BY_TRIGGER: dict[str, tuple[int, ...]] = {}
for _index, (_category, _weight, _triggers, _pattern) in enumerate(_ATTACKS):
    for _trigger in _triggers:
        _ATTACKS_BY_TRIGGER[_trigger] = (*_ATTACKS_BY_TRIGGER.get(_trigger, ()), _index)
_ALL_TRIGGERS = frozenset(_ATTACKS_BY_TRIGGER)


def _opens_with(pattern: str, opening: str) -> bool:
    """Whether ``pattern`` is ``opening`` followed by more of a sequence: no alternation at its
    top level and no quantifier on the opening's last item, so that wherever the pattern
    matches, the opening alone matches at the same place."""
    if not pattern.startswith(opening):
        return False
    rest = pattern[len(opening) :]
    if rest[:1] in ("?", "*", "+", "{"):
        return False
    depth, at, in_class = 0, 0, False
    while at < len(rest):
        char = rest[at]
        if char == "\\":
            at += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
            at += 1 if rest[at + 1 : at + 2] == "^" else 0
            at += 1 if rest[at + 1 : at + 2] == "]" else 0  # a "]" first is a literal
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                return False
        elif char == "|" and depth == 0:
            return False
        at += 1
    return depth == 0


_OPENINGS = tuple(re.compile(opening) for opening in patterns.OPENINGS)
# Per attack pattern, the longest opening it begins with (an index into _OPENINGS), or None.
_OPENING_OF = tuple(
    max(
        (i for i, opening in enumerate(patterns.OPENINGS) if _opens_with(pattern, opening)),
        key=lambda i: len(patterns.OPENINGS[i]),
        default=None,
    )
    for _, _, _, pattern in patterns.ATTACKS
)
_IDENTITY = re.compile(patterns.IDENTITY_ATTACK)
_ABSENT = tuple(re.compile(pattern) for pattern in patterns.ABSENT_INSULTS)
_ABSENT_TRIGGERS = frozenset(patterns.ABSENT_INSULT_TRIGGERS.split())
_IDENTITY_TRIGGERS = _WordList(lexicon.IDENTITY_GROUPS)
_INSULTS = _WordList(lexicon.NAME_NOUNS + lexicon.PERSON_ADJECTIVES)
_PROFANITY = _WordList(lexicon.PROFANITY)
_WARM = _WordList(lexicon.WARM_WORDS)
_CONCESSIONS = _WordList(lexicon.CONCESSIONS)
_DISAGREE = _WordList(lexicon.DISAGREE_WORDS)
_ANALYSED = _WordLists(_INSULTS, _PROFANITY, _WARM, _DISAGREE, _CONCESSIONS)
_WARM_EMOJI = ("🎉", "👏", "❤", "🙌", "🥳")

_QUOTED_LINE = re.compile(r"^\s*(?:>|&gt;).*$", re.MULTILINE)
_QUOTED_SPAN = re.compile(
    r"\"[^\"\n]{1,300}\"|(?:(?<=[\s(\[:])|^)'(?:[^'\n]|'(?=[a-z])){1,80}'(?=[\s.,!?;:)\]]|$)"
)
_NEGATION_BEFORE = re.compile(
    # "Nobody asked you" and "no one cares what you think" dismiss; they deny nothing.
    r"\b(?:not|never|(?:no\s+one|nobody)(?!\s+(?:here\s+)?(?:cares|asked|likes|respects|wants|takes|"
    r"gives))|isn't|wasn't|aren't|don't|doesn't|didn't|won't|wouldn't|"
    r"without|hardly|nor)\b[^.!?]{0,24}$"
)
_REPORTED_BEFORE = re.compile(
    r"\b(?:called|calls|call|calling|labelled|labeled|branded|accused|said|says|told|tells|telling|"
    r"tell|asked|asking|thinks|"
    r"thought|claimed|claims|wrote|writes|heard|being\s+called|get\s+called|got\s+called)\s+"
    r"(?:that\s+)?(?:me|us|him|her|them|i|we|he|she|they|my|our|his|their|people|someone)\b"
    r"[^.!?]{0,30}$"
    # "someone said only an idiot would...": the words right after a verb of saying are reported
    r"|\b(?:said|says|wrote|writes|claimed|claims|shouted|yelled|tweeted|posted|told\s+\w+)\s*"
    r"(?:that\s*)?[:,]?\s*[\"']?\s*$"
)
_SELF_SUBJECT = re.compile(r"\b(?:i|i'm|im|me|myself|we|we're)\b[^.!?,]{0,12}$")
_ADDRESSED = frozenset({"you", "your", "yours", "you're", "youre", "yourself", "u", "ur", "ya",
                        "y'all", "yall", "you've", "you'd", "you'll"})  # fmt: skip
_MENTION = re.compile(r"@([\w.\-]{2,32})")
_IDEA_NOUN_AFTER_YOUR = re.compile(r"\byour\s+" + patterns.any_of(lexicon.IDEA_NOUNS) + r"\s*$")


def strip_quoted(text: str) -> str:
    """``text`` (normalised) without quoted lines or quoted spans, which report others' words."""
    if ">" in text or "&gt;" in text:  # some platforms' exports escape the quote mark
        text = _QUOTED_LINE.sub(" ", text)
    if '"' in text or "'" in text:
        text = _QUOTED_SPAN.sub(" ", text)
    return text


def quoted_spans(text: str) -> list[tuple[int, int]]:
    """Where ``text`` (normalised) quotes: the (start, end) of each quoted line and span."""
    spans = (
        [match.span() for match in _QUOTED_LINE.finditer(text)]
        if ">" in text or "&gt;" in text
        else []
    )
    if '"' in text or "'" in text:
        spans.extend(match.span() for match in _QUOTED_SPAN.finditer(text))
    return spans


def _cue_from(category: str, weight: float, match: re.Match[str], before: str) -> Cue | None:
    if match.groupdict().get("neg") or _NEGATION_BEFORE.search(before):
        return _NEGATED
    if _IDEA_NOUN_AFTER_YOUR.search(before):
        return None
    adjective = match.groupdict().get("adj")
    if category == "character" and adjective and _squeeze(adjective) in _COMPETENCE_ADJECTIVES:
        category = "competence"
    if _REPORTED_BEFORE.search(before) or (category != "threat" and _SELF_SUBJECT.search(before)):
        weight *= 0.1  # reported speech or self-talk: recorded, too weak to act on
    return Cue(category, weight, match.group(0).strip()[:80])


def _cues(text: str, tokens: frozenset[str]) -> tuple[tuple[Cue, ...], int]:
    """The attack cues, strongest first, and how many attack phrases were negated."""
    present = _ALL_TRIGGERS.intersection(tokens)
    if not present:
        return (), 0
    best: dict[str, Cue] = {}
    negated = 0
    opened: dict[int, int] = {}  # opening -> where it first matches in ``text``, -1 nowhere
    for category, weight, pattern, opening in _attacks_for(present):
        start = 0
        if opening is not None:
            start = opened.get(opening, -2)
            if start == -2:
                found = _OPENINGS[opening].search(text)
                start = opened[opening] = found.start() if found else -1
            if start < 0:
                continue  # the pattern cannot match where its opening does not
        for match in pattern.finditer(text, start):
            cue = _cue_from(
                category, weight, match, text[max(0, match.start() - 60) : match.start()]
            )
            if cue is _NEGATED:
                negated += 1
            # One cue per category: three insults in a row are one kind of attack, not three.
            elif cue is not None and cue.weight > best.get(cue.category, _NO_CUE).weight:
                best[cue.category] = cue
    return tuple(sorted(best.values(), key=lambda cue: -cue.weight)), negated


# Few sets of trigger words recur (most are "you" with a word or two), so each set's patterns are
# looked up once; bounded, as the sets a stream of messages could bring are not.
@lru_cache(maxsize=1024)
def _attacks_for(
    present: frozenset[str],
) -> tuple[tuple[str, float, re.Pattern[str], int | None], ...]:
    """The attack patterns that the trigger words ``present`` can start, in ``ATTACKS`` order,
    each with its category, weight and opening (``_OPENING_OF``)."""
    indexes = sorted({index for trigger in present for index in _ATTACKS_BY_TRIGGER[trigger]})
    return tuple((*_ATTACKS[i][:2], _ATTACKS[i][3], _OPENING_OF[i]) for i in indexes)


_NO_CUE = Cue("", 0.0, "")
# An attack phrase that is denied ("you're not stupid"): no cue, but counted.
_NEGATED = Cue("negated", 0.0, "")


def _denied_insults(squeezed: str) -> int:
    """Insulting words that a negation just before denies ("I'm not calling you an idiot")."""
    return sum(
        1
        for word in _TOKEN.finditer(squeezed)
        if word.group(0) in _INSULTS.words
        and _NEGATION_BEFORE.search(squeezed[max(0, word.start() - 40) : word.start()])
    )


def _absent_insult(
    text: str, tokens: frozenset[str], squeezed: frozenset[str], insulting: bool
) -> str:
    """The first insult in ``text`` about someone not addressed, neither denied nor reported.
    ``insulting``: an insulting word is among the ``squeezed`` words (plurals are checked here)."""
    if _ABSENT_TRIGGERS.isdisjoint(tokens):
        return ""
    if not insulting and not any(w[-1] == "s" and w[:-1] in _INSULTS.words for w in squeezed):
        return ""
    for pattern in _ABSENT:
        for match in pattern.finditer(text):
            before = text[max(0, match.start() - 60) : match.start()]
            if match.groupdict().get("neg") or _NEGATION_BEFORE.search(before):
                continue
            if _REPORTED_BEFORE.search(before):
                continue
            return match.group(0).strip()[:80]
    return ""


class _Words(NamedTuple):
    """A message's own words, tokenised plain and squeezed: what ``analyse`` and ``turn_markers``
    both read, prepared once (the forecast asks for the markers right after the analysis). A
    named tuple: made once a message, and that is cheaper than a frozen dataclass."""

    normalised: str
    own_words: str
    token_list: tuple[str, ...]
    tokens: frozenset[str]
    squeezed: str
    squeezed_tokens: tuple[str, ...]
    squeezed_set: frozenset[str]


# Small on purpose: it only has to bridge ``analyse`` and ``turn_markers`` for the message being
# judged (both keep their own larger caches); 4,096 of these cost ~12 MiB and a little speed.
@lru_cache(maxsize=256)
def _words(text: str) -> _Words:
    normalised = normalise(text)
    own_words = strip_quoted(normalised)
    token_list = tuple(_TOKEN.findall(own_words))
    squeezed = _squeeze(own_words)
    squeezed_tokens = tuple(_TOKEN.findall(squeezed))
    return _Words(
        normalised, own_words, token_list, frozenset(token_list), squeezed, squeezed_tokens,
        frozenset(squeezed_tokens),
    )  # fmt: skip


@lru_cache(maxsize=4096)
def analyse(text: str) -> Analysis:
    """Analyse one message. Pure and cached: the same text always gives the same analysis."""
    words = _words(text)
    normalised, own_words, tokens = words.normalised, words.own_words, words.tokens
    squeezed, squeezed_tokens, squeezed_set = (
        words.squeezed,
        words.squeezed_tokens,
        words.squeezed_set,
    )
    cues, negated = _cues(own_words, tokens)
    insulting = not _INSULTS.words.isdisjoint(squeezed_set)
    if not cues and insulting:
        negated += _denied_insults(squeezed)
    absent = _absent_insult(own_words, tokens, squeezed_set, insulting)
    identity = not _IDENTITY_TRIGGERS.words.isdisjoint(tokens) and bool(_IDENTITY.search(own_words))
    warm_marks = own_words.count("!!")
    if not own_words.isascii():
        warm_marks += sum(own_words.count(mark) for mark in _WARM_EMOJI)
    insults, profane, warm, disagree, concessions = _ANALYSED.counts(
        squeezed_tokens, squeezed_set, squeezed
    )
    return Analysis(
        cues=cues,
        addressed=not _ADDRESSED.isdisjoint(tokens),
        untargeted_insults=insults,
        negated_attacks=negated,
        profanity=profane > 0,
        threat=any(cue.category == "threat" and cue.weight >= 0.5 for cue in cues),
        identity_attack=identity,
        warmth=min(1.0, 0.5 * (warm + warm_marks)),
        disagreement=min(1.0, 0.4 * disagree),
        mentioned_handles=tuple(dict.fromkeys(_MENTION.findall(normalised)))
        if "@" in normalised
        else (),
        concedes=concessions > 0,
        absent_insult=absent,
    )


class TurnMarkers(NamedTuple):
    """Politeness and framing markers of one message (its own words, quotation set aside).

    The strategies of Danescu-Niculescu-Mizil et al. (2013) that Zhang et al. (2018) found before
    conversations go awry: direct questions and second-person openings on one side, greetings,
    gratitude, please, apologies and hedges on the other.
    """

    question: bool
    direct_question: bool
    second_person: bool
    you_start: bool
    i_start: bool
    direct_start: bool
    hedge: bool
    gratitude: bool
    greeting: bool
    please: bool
    apology: bool
    factuality: bool

    @property
    def polite(self) -> bool:
        """Any of the markers of politeness: hedge, gratitude, greeting, please or apology."""
        return self.hedge or self.gratitude or self.greeting or self.please or self.apology


_HEDGES = _WordList(lexicon.HEDGES)
_GRATITUDE = _WordList(lexicon.GRATITUDE)
_PLEASE = _WordList(lexicon.PLEASE)
_APOLOGY = _WordList(lexicon.APOLOGY)
_FACTUALITY = _WordList(lexicon.FACTUALITY)
_MARKED = _WordLists(_HEDGES, _GRATITUDE, _PLEASE, _APOLOGY, _FACTUALITY)
_GREETINGS = frozenset(lexicon.GREETINGS)
_DIRECT_STARTS = frozenset(lexicon.DIRECT_STARTS)
_FIRST_PERSON_STARTS = frozenset(lexicon.FIRST_PERSON_STARTS)
_QUESTION_SENTENCE = re.compile(r"[^.!?\n]*\?")


@lru_cache(maxsize=4096)
def turn_markers(text: str) -> TurnMarkers:
    """The politeness and framing markers of one message. Pure and cached."""
    words = _words(text)
    own_words, tokens = words.own_words, words.token_list
    first = tokens[0] if tokens else ""
    # Word lists match squeezed spellings ("thaanks"), as in ``analyse``.
    hedge, gratitude, please, apology, factuality = _MARKED.counts(
        words.squeezed_tokens, words.squeezed_set, words.squeezed
    )
    question = "?" in own_words
    direct_question = question and any(
        not _ADDRESSED.isdisjoint(_TOKEN.findall(sentence))
        for sentence in _QUESTION_SENTENCE.findall(own_words)
    )
    return TurnMarkers(
        question=question,
        direct_question=direct_question,
        second_person=not _ADDRESSED.isdisjoint(tokens),
        you_start=first in _ADDRESSED,
        i_start=first in _FIRST_PERSON_STARTS,
        direct_start=first in _DIRECT_STARTS,
        hedge=hedge > 0,
        gratitude=gratitude > 0,
        greeting=first in _GREETINGS,
        please=please > 0,
        apology=apology > 0,
        factuality=factuality > 0,
    )
