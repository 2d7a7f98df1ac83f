"""The attack model: a small trained linear model of how likely a message attacks the person.

How it works: the message is normalised and its quoted material set aside exactly as the language
analysis does (``bot.core.text``, ``bot.core.language``). Its own words give word unigrams and
bigrams (present or not; each weighted 1/sqrt(number of distinct n-grams), so long and short
messages weigh alike) and a few dense features: length, how much of it is second person, whether it
quotes, whether it links, and the rule analysis (attack cues, profanity, insulting words). A logistic
regression over these, already calibrated, gives the probability. It runs in pure Python: one
regular expression, a set of n-grams and dictionary look-ups, a few microseconds a message.

Provenance: trained by ``training/train_attack_model.py`` on the last messages of the ChangeMyView
threads of Habernal et al. (NAACL 2018; Apache-2.0) and on a few hundred short counter-examples
written for this project; see ``training/README.md`` for how well it does and how to retrain. The
probability is calibrated on that data, where half the messages are attacks: it says how strongly
the wording resembles a removed personal attack, not how often attacks happen in a community.

Use::

    model = AttackModel.load()
    model.probability("Did you even read the paper?")   # 0..1
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from bot.core.explain import MAX_WORDS_SHOWN
from bot.core.language import analyse, strip_quoted
from bot.core.text import normalise

FORMAT = 1
WEIGHTS = "attack_linear.json"

_TOKEN = re.compile(r"[a-z][a-z']*|[?!]")
_SECOND_PERSON = frozenset({"you", "your", "yours", "you're", "youre", "yourself", "u", "ur",
                            "you've", "you'd", "you'll", "yall", "y'all"})  # fmt: skip
_START = "<s>"
_WORD = re.compile(r"\S+")
_TRIM = ".,;:!?()[]{}\"'*_~"
# Words of a quoted-back span are normalised one at a time: uncached, so they do not push the
# messages' own texts out of normalise's cache.
_normalise = normalise.__wrapped__
# Digits or symbols that may stand for letters, or a letter run that normalising shrinks.
_NEEDS_NORMALISING = re.compile(r"[0-9@$]|([a-z])\1\1")
_NOT_SHOWN = frozenset(
    [
        "<s>",
        "?",
        "!",
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "nor",
        "so",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "into",
        "onto",
        "about",
        "as",
        "than",
        "then",
        "that",
        "this",
        "these",
        "those",
        "it",
        "it's",
        "its",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "having",
        "will",
        "would",
        "can",
        "could",
        "should",
        "shall",
        "may",
        "might",
        "must",
        "not",
        "no",
        "i",
        "me",
        "my",
        "we",
        "us",
        "our",
        "he",
        "him",
        "his",
        "she",
        "her",
        "they",
        "them",
        "their",
        "there",
        "here",
        "what",
        "which",
        "who",
        "whom",
        "how",
        "when",
        "where",
        "why",
        "all",
        "any",
        "some",
        "if",
        "just",
        "very",
        "too",
        "also",
    ]
)


# Where a single quote may open a quoted span for ``strip_quoted`` (after a space, bracket or colon).
_QUOTE_OPENERS = (" '", "\n'", "\t'", "\r'", "\x0b'", "\x0c'", "('", "['", ":'")
DENSE = ("length", "second_person", "quotes", "link", "rule_attack", "profanity", "insulting_words")


@dataclass(frozen=True, slots=True)
class Features:
    """What the model reads in one message: its n-grams and its dense features."""

    ngrams: frozenset[str]
    dense: dict[str, float]


def features(text: str) -> Features | None:
    """The features of ``text``, or None when it has no words of its own (all quoted, or empty).

    Training reads this; inference computes the same numbers without building the object.
    """
    read = _read(text)
    if read is None:
        return None
    grams, dense = read
    return Features(frozenset(grams), dict(zip(DENSE, dense, strict=True)))


def log_words(text: str) -> float:
    """log(1 + the number of words) of ``text``'s own words, as the model counts them (its
    ``length`` feature is this over five); 0 for a text with none. Calibration reads it."""
    read = _read(text)
    return 0.0 if read is None else 5.0 * read[1][0]


def _read(text: str) -> tuple[set[str], tuple[float, ...]] | None:
    normalised = normalise(text)
    own = strip_quoted(normalised) if _may_quote(normalised) else normalised
    tokens = _TOKEN.findall(own)
    if not tokens:
        return None
    grams = set(tokens)
    grams.update(f"{a} {b}" for a, b in zip([_START, *tokens], tokens, strict=False))
    analysis = analyse(text)
    count = len(tokens)
    dense = (
        math.log1p(count) / 5.0,
        5.0 * sum(map(_SECOND_PERSON.__contains__, tokens)) / (count + 1),
        1.0 if len(own) < 0.9 * len(normalised) else 0.0,
        1.0 if "http" in normalised else 0.0,
        analysis.attack_score,
        1.0 if analysis.profanity else 0.0,
        min(analysis.untargeted_insults, 3) / 3.0,
    )
    return grams, dense


def _spans_of(text: str, wanted: frozenset[str]) -> tuple[str, ...]:
    """The runs of neighbouring words of ``text`` (as written, outer punctuation trimmed) whose
    normalised tokens include one of ``wanted``; quoted words are skipped."""
    if not wanted:
        return ()
    spans: list[str] = []
    run: list[re.Match[str]] = []
    for word in _WORD.finditer(text):
        raw = word.group(0)
        hit = raw[0] not in "\"'>" and not wanted.isdisjoint(_word_tokens(raw))
        if hit:
            run.append(word)
            continue
        if run:
            spans.append(text[run[0].start() : run[-1].end()].strip(_TRIM))
            run = []
    if run:
        spans.append(text[run[0].start() : run[-1].end()].strip(_TRIM))
    return tuple(dict.fromkeys(span for span in spans if span))


def _word_tokens(word: str) -> list[str]:
    """The model's tokens in one word: a plain word's lower case is already its normalisation."""
    lowered = word.lower()
    if lowered.isascii() and not _NEEDS_NORMALISING.search(lowered):
        return _TOKEN.findall(lowered)
    return _TOKEN.findall(_normalise(word))


def _may_quote(text: str) -> bool:
    """False only when ``strip_quoted`` would change nothing: it costs more than the rest."""
    if '"' in text or ">" in text:
        return True
    if "'" not in text:
        return False
    if not text.isascii() or text.startswith("'"):
        return True  # other whitespace may open a span: let strip_quoted decide
    return any(opener in text for opener in _QUOTE_OPENERS)


class AttackModel:
    """A loaded attack model. Immutable after loading, so one instance may be shared."""

    def __init__(self, bias: float, dense: dict[str, float], ngrams: dict[str, float]) -> None:
        self._bias = bias
        self._dense = dense
        self._ngrams = ngrams
        self._dense_weights = tuple(dense.get(name, 0.0) for name in DENSE)

    @classmethod
    def load(cls, path: Path | None = None) -> AttackModel:
        """The model shipped with Longform (``bot/scoring/weights/attack_linear.json``), or the
        weights file at ``path``. Raises ValueError when the file is not a format-1 weights file."""
        if path is None:
            raw = resources.files("bot.scoring").joinpath("weights", WEIGHTS).read_text("utf-8")
        else:
            raw = path.read_text("utf-8")
        data = json.loads(raw)
        if data.get("format") != FORMAT:
            raise ValueError(f"attack model weights: expected format {FORMAT}")
        return cls(float(data["bias"]), dict(data["dense"]), dict(data["ngrams"]))

    def to_dict(self) -> dict[str, Any]:
        """The weights as stored: ``bias``, ``dense`` and ``ngrams`` (the training script's view)."""
        return {"bias": self._bias, "dense": dict(self._dense), "ngrams": dict(self._ngrams)}

    @property
    def size(self) -> int:
        """How many n-grams carry a weight."""
        return len(self._ngrams)

    def logit(self, text: str) -> float | None:
        """The log-odds that ``text`` is an attack on the person; None when it has no words."""
        read = _read(text)
        if read is None:
            return None
        grams, dense = read
        z = self._bias + sum(filter(None, map(self._ngrams.get, grams))) / math.sqrt(len(grams))
        return z + sum(w * v for w, v in zip(self._dense_weights, dense, strict=True))

    def salient(self, text: str, limit: int = MAX_WORDS_SHOWN) -> tuple[str, ...]:
        """The words of ``text`` whose n-grams raise the logit most, as written, in text order:
        the ``limit`` strongest word tokens (a bigram's weight shared by its two words), with
        neighbouring words joined into one span. () when no word raises it.

        Exact for the n-gram part of this linear model; the dense features (length, second
        person, rule cues) belong to no word and are left out, and so are function words ("and",
        "with", "of"), which the model also weighs (an artefact of its training forum) but which
        are not what reads as personal. Costs about one more scoring.
        """
        read = _read(text)
        if read is None:
            return ()
        grams, _ = read
        share: dict[str, float] = {}
        for gram in grams:
            weight = self._ngrams.get(gram)
            if not weight:
                continue
            words = [word for word in gram.split(" ") if word not in _NOT_SHOWN]
            for word in words:
                share[word] = share.get(word, 0.0) + weight / len(words)
        raising = sorted((word for word, value in share.items() if value > 0.0),
                         key=lambda word: (-share[word], word))[:limit]  # fmt: skip
        return _spans_of(text, frozenset(raising))

    def probability(self, text: str) -> float:
        """How likely ``text`` attacks the person (0..1). A message with no words of its own
        (empty, or nothing but quotation) scores 0. Deterministic: same text, same number."""
        z = self.logit(text)
        if z is None:
            return 0.0
        if z < -30.0:
            return 0.0
        return 1.0 / (1.0 + math.exp(-z))
