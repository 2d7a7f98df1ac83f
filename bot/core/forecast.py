"""Forecasting derailment: early warning from an exchange, before anyone is attacked.

How it works: escalation reacts to heat already there; the forecast reads the signs that precede
personal attacks in the literature (Zhang et al. 2018, "Conversations Gone Awry"; Chang and
Danescu-Niculescu-Mizil 2019, CRAFT). Each message is reduced once to a short vector of markers
(``turn_vector``): direct questions and second-person framing, openings that go straight at the
point, views stated as plain fact, the politeness markers (hedges, gratitude, greetings, please,
apologies), warmth and disagreement, and the fast tier's ``attack`` and hostility scores. An
*exchange* is a message and the next message by someone else; its features are both vectors side by
side plus whether politeness dropped away and whether the scores rose (``exchange_features``). A
small logistic regression (``ForecastModel``, weights from ``training/train_forecast.py``) turns
them into the probability that the exchange is heading for a personal attack.

Two signs from the literature are rules, not weights, because the training data cannot teach them
(every training context has exactly two speakers and one reply gap): the forecast speaks only when
the conversation's recent messages come from two people (narrowing), and it leaves tempo to
escalation, which already weighs fast replies. Per conversation the detector keeps only the last
message's vector and the last few authors, so each message costs a dot product.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from math import exp

from bot.core.language import analyse, turn_markers
from bot.core.settings import ForecastSettings

# Per message, in this order (the training script and the weights use these names).
TURN_FEATURES = (
    "question", "direct_question", "second_person", "you_start", "i_start", "direct_start",
    "factuality", "hedge", "gratitude", "greeting", "please", "apology", "warm", "disagree",
    "attack", "hostility",
)  # fmt: skip
_POLITE = tuple(TURN_FEATURES.index(name) for name in ("hedge", "gratitude", "greeting", "please",
                                                      "apology"))  # fmt: skip
_ATTACK = TURN_FEATURES.index("attack")
_HOSTILITY = TURN_FEATURES.index("hostility")
_RECENT_AUTHORS = 4  # narrowing: the last this many messages come from the two in the exchange

# What a member reads for each sign that pushed the forecast up (the strongest two are named).
# "You" anywhere in a reply is not among them: "you're right" is second person too.
_SIGNS = {
    "reply_direct_question": "direct questions aimed at one person",
    "opener_direct_question": "direct questions aimed at one person",
    "reply_you_start": "replies that open on 'you'",
    "reply_direct_start": "replies that go straight at the other person's point",
    "reply_factuality": "views stated as plain fact",
    "politeness_dropped": "the courtesies dropping away",
    "attack_rising": "sharper wording",
    "hostility_rising": "sharper wording",
    "reply_attack": "sharper wording",
    "reply_hostility": "sharper wording",
    "reply_disagree": "flat disagreement",
}

Vector = tuple[float, ...]


def turn_vector(text: str, attack: float, hostility: float) -> Vector:
    """One message's markers as numbers (``TURN_FEATURES`` order); ``attack`` and ``hostility``
    are the scorer's for this text. Pure: the analyses it reads are cached."""
    m = turn_markers(text)
    analysis = analyse(text)
    return (
        float(m.question), float(m.direct_question), float(m.second_person), float(m.you_start),
        float(m.i_start), float(m.direct_start), float(m.factuality), float(m.hedge),
        float(m.gratitude), float(m.greeting), float(m.please), float(m.apology),
        float(analysis.warmth > 0), float(analysis.disagreement > 0), attack, hostility,
    )  # fmt: skip


def exchange_features(opener: Vector, reply: Vector) -> dict[str, float]:
    """The features of an exchange: both messages' markers, politeness dropping, scores rising."""
    found = {f"opener_{name}": value for name, value in zip(TURN_FEATURES, opener, strict=True)}
    found.update({f"reply_{name}": value for name, value in zip(TURN_FEATURES, reply, strict=True)})
    opener_polite = any(opener[i] for i in _POLITE)
    reply_polite = any(reply[i] for i in _POLITE)
    found["politeness_dropped"] = float(opener_polite and not reply_polite)
    found["attack_rising"] = max(0.0, reply[_ATTACK] - opener[_ATTACK])
    found["hostility_rising"] = max(0.0, reply[_HOSTILITY] - opener[_HOSTILITY])
    return found


@dataclass(frozen=True, slots=True)
class ForecastModel:
    """A logistic regression over ``exchange_features``: ``bias`` plus named weights."""

    bias: float
    weights: Mapping[str, float]
    # The weights in TURN_FEATURES order, so that scoring an exchange builds no names.
    _opener: Vector = field(init=False, repr=False, compare=False)
    _reply: Vector = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        opener = tuple(self.weights.get(f"opener_{name}", 0.0) for name in TURN_FEATURES)
        reply = tuple(self.weights.get(f"reply_{name}", 0.0) for name in TURN_FEATURES)
        object.__setattr__(self, "_opener", opener)
        object.__setattr__(self, "_reply", reply)

    def logit(self, features: Mapping[str, float]) -> float:
        """The log-odds of derailment; features without a weight count for nothing."""
        weights = self.weights
        return self.bias + sum(weights.get(name, 0.0) * value for name, value in features.items())

    def exchange_probability(self, opener: Vector, reply: Vector) -> float:
        """``probability(exchange_features(opener, reply))``, without building the features."""
        weights = self.weights
        z = self.bias
        for w, x in zip(self._opener, opener, strict=True):
            z += w * x
        for w, x in zip(self._reply, reply, strict=True):
            z += w * x
        if any(opener[i] for i in _POLITE) and not any(reply[i] for i in _POLITE):
            z += weights.get("politeness_dropped", 0.0)
        z += weights.get("attack_rising", 0.0) * max(0.0, reply[_ATTACK] - opener[_ATTACK])
        z += weights.get("hostility_rising", 0.0) * max(0.0, reply[_HOSTILITY] - opener[_HOSTILITY])
        return _sigmoid(z)

    def probability(self, features: Mapping[str, float]) -> float:
        """The probability of derailment, 0..1."""
        return _sigmoid(self.logit(features))

    def signs(self, features: Mapping[str, float], most: int = 2) -> tuple[str, ...]:
        """What a member would read for the signs that raised the forecast most (distinct)."""
        pushes = sorted(
            ((self.weights.get(name, 0.0) * value, name) for name, value in features.items()),
            reverse=True,
        )
        named: list[str] = []
        for push, name in pushes:
            phrase = _SIGNS.get(name)
            if push > 0 and phrase is not None and phrase not in named:
                named.append(phrase)
        return tuple(named[:most])


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + exp(-z)) if z >= 0 else exp(z) / (1.0 + exp(z))


def shipped_model() -> ForecastModel:
    """The weights ``training/train_forecast.py`` wrote into ``bot.core.forecast_weights``."""
    from bot.core import forecast_weights  # a constants module: no I/O

    return ForecastModel(forecast_weights.BIAS, forecast_weights.WEIGHTS)


@dataclass(frozen=True, slots=True)
class ForecastFinding:
    """The exchange between ``pair`` (opener first) looks headed for a personal attack."""

    score: float
    pair: tuple[str, str]
    evidence: tuple[str, ...]
    signs: tuple[str, ...]


@dataclass(slots=True)
class _Turn:
    author: str
    message_id: str
    vector: Vector | None  # None: no exchange could use it (three people in the last three)


class ForecastDetector:
    """The forecast for one conversation: the last message, recent authors, and when it last
    spoke (it speaks at most once per ``cooldown_minutes``)."""

    def __init__(self) -> None:
        self._last: _Turn | None = None
        self._authors: deque[str] = deque(maxlen=_RECENT_AUTHORS)
        self._spoke_at: datetime | None = None

    def add(
        self,
        at: datetime,
        author: str,
        message_id: str,
        vector: Callable[[], Vector],
        model: ForecastModel,
        settings: ForecastSettings,
        answering: tuple[str, ...] = (),
    ) -> ForecastFinding | None:
        """Add one message (``vector`` computes its ``turn_vector``, called only when an exchange
        can use it); return a finding when the exchange it completes scores ``detect_at`` or more
        with at least one sign to name, the conversation has narrowed to two people, and the
        cooldown has passed. ``answering`` names whom the message replies to or mentions: an
        exchange is a message answering the one before it, so when it names someone that must be
        the previous author (two members each answering a third are not an exchange); when it
        names no one, the two must have alternated for at least three messages."""
        previous = self._last
        self._authors.append(author)
        authors = tuple(self._authors)
        answers_previous = (
            previous is not None and previous.author in answering
            if answering
            else len(authors) >= 3
        )
        scoring = (
            previous is not None
            and previous.vector is not None
            and previous.author != author
            and answers_previous
            and len(set(authors)) <= 2
            and (
                self._spoke_at is None
                or at - self._spoke_at >= timedelta(minutes=settings.cooldown_minutes)
            )
        )
        # The next exchange's window holds this message and the two before it: with three
        # people among them it cannot narrow to two, so most crowded messages cost nothing.
        keep = scoring or len(set(authors[-3:])) <= 2
        found = vector() if keep else None
        self._last = _Turn(author, message_id, found)
        if not scoring or previous is None or previous.vector is None or found is None:
            return None
        score = model.exchange_probability(previous.vector, found)
        if score < settings.detect_at:
            return None
        # Silence without a sign to name: an exchange of short plain messages scores on the bias
        # alone, and a member deserves a reason they can check.
        signs = model.signs(exchange_features(previous.vector, found))
        if not signs:
            return None
        self._spoke_at = at
        return ForecastFinding(
            round(score, 4), (previous.author, author), (previous.message_id, message_id), signs
        )

    def forget(self, message_id: str) -> None:
        """A deleted message no longer opens an exchange."""
        if self._last is not None and self._last.message_id == message_id:
            self._last = None
