"""The embedded scorer: Longform's own hostility scores, with no download (the default tier).

Provenance: hand-written rules over the language analysis in ``bot.core.language`` (normalised
text, quotation removed, second-person targeting, negation, reported speech), written for this
project, plus ``attack``: the probability that the message attacks the person, from a cascade of
two trained models (training/README.md says on what and how well):

1. the linear attack model (``bot.scoring.attack_model``, pure Python, ~10 µs a text), on every
   text; without the sentence tier, only on texts of at least MODEL_MIN_WORDS words;
2. the sentence tier (``bot.scoring.sentence_model``: all-MiniLM-L6-v2, its top layers tuned by a
   small trained adapter, with a trained head, a few ms a text), only on texts the linear model
   does not clear (probability at least SENTENCE_FROM). The two probabilities are averaged.

The sentence tier needs the ``embedding`` extra (torch and the packaged model); without it the
first tier judges alone. Measured quality is in benchmarks/README.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import cache
from typing import Protocol

from bot.core.ad_hominem import MODEL_MIN_WORDS
from bot.core.language import analyse
from bot.core.scoring import Scorer
from bot.scoring.attack_model import AttackModel, log_words
from bot.scoring.sentence_model import Calibration

_ATTRIBUTES = (
    "toxicity", "insult", "identity_attack", "threat", "profanity", "attack", "attack_fast",
)  # fmt: skip
# Below this linear-model probability a text is cleared without the sentence tier: it would take
# a near-certain sentence tier to lift the mean to the detector's floor. A cost trade-off; the
# cross-validated F1 in training/README.md is measured with it.
SENTENCE_FROM = 0.1


FAST_NAME = "embedded"  # the fast tier alone
CASCADE_NAME = "embedded+minilm"  # with the sentence tier


def is_fast(scorer: Scorer) -> bool:
    """Whether ``scorer`` is the fast tier alone: cheap enough to call inline, a text at a time,
    on the event loop. Any other scorer is batched ahead and run off the loop."""
    return scorer.name == FAST_NAME


def combine(
    fast: float,
    sentence: float | None,
    calibration: Calibration | None = None,
    log_words: float = 0.0,
) -> float:
    """The cascade's ``attack``: the linear model's probability where the sentence tier did not
    speak; else the mean of the two, recalibrated by ``calibration`` (for a text of
    ``log_words``, see ``attack_model.log_words``) when one is given."""
    if sentence is None:
        return fast
    mean = (fast + sentence) / 2.0
    return mean if calibration is None else calibration.apply(mean, log_words)


class SentenceTier(Protocol):
    """What the cascade needs of its second tier: in this process (``SentenceAttackModel``) or
    in worker processes (``bot.scoring.sentence_process.SentenceProcesses``)."""

    @property
    def calibration(self) -> Calibration: ...

    def probabilities(self, texts: Sequence[str]) -> list[float]: ...


@cache
def _shipped_model() -> AttackModel:
    return AttackModel.load()


class EmbeddedScorer:
    """Scores texts from the language analysis and the attack-model cascade.

    ``attack_model`` defaults to the shipped one (loaded once per process). ``sentence``, when
    given, is the second tier, for texts the first scores at least ``sentence_from``. ``every_text``: give ``attack`` for short texts even without the
    sentence tier (evaluations ask for it, to measure the model itself). ``tiers`` counts texts
    scored and texts that reached each trained tier.
    """

    attributes = _ATTRIBUTES

    def __init__(
        self,
        attack_model: AttackModel | None = None,
        every_text: bool = False,
        sentence: SentenceTier | None = None,
        sentence_from: float = SENTENCE_FROM,
    ) -> None:
        self._attack_model = attack_model if attack_model is not None else _shipped_model()
        self._sentence = sentence
        self._sentence_from = sentence_from
        # A short text's fast-tier score is not trusted alone: without the sentence tier to
        # confirm it, it is not computed at all, which also saves its cost on most chat messages.
        self._min_words = 0 if every_text or sentence is not None else MODEL_MIN_WORDS
        self.name = FAST_NAME if sentence is None else CASCADE_NAME
        self.tiers: Counter[str] = Counter()

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """One mapping of attribute to 0..1 score per text."""
        rows = [self._score_one(text) for text in texts]
        self.tiers["texts"] += len(texts)
        if self._sentence is None:
            # The cheap path, called once per message on the event loop: nothing more to combine.
            modelled = 0
            for row in rows:
                if "attack" in row:
                    modelled += 1
                    row["attack"] = round(row["attack"], 4)
                else:
                    row["attack"] = 0.0
                row["attack_fast"] = row["attack"]
            self.tiers["attack model"] += modelled
            return rows
        self.tiers["attack model"] += sum(1 for row in rows if "attack" in row)
        fast = [row.pop("attack", 0.0) for row in rows]
        for text, row, probability in zip(texts, rows, fast, strict=True):
            # The fast tier's own score, as the fast tier alone gives it (none under
            # MODEL_MIN_WORDS words): what the forecast was trained on, whatever tier serves.
            short = len(text.split()) < MODEL_MIN_WORDS
            row["attack_fast"] = 0.0 if short else round(probability, 4)
        chosen = [i for i, p in enumerate(fast) if p >= self._sentence_from]
        found = self._sentence.probabilities([texts[i] for i in chosen])
        sentence = dict(zip(chosen, found, strict=True))
        self.tiers["sentence model"] += len(chosen)
        calibration = self._sentence.calibration
        for i, row in enumerate(rows):
            spoke = sentence.get(i)
            length = log_words(texts[i]) if spoke is not None else 0.0
            row["attack"] = round(combine(fast[i], spoke, calibration, length), 4)
        return rows

    def salient(self, text: str) -> tuple[str, ...]:
        """The words that raised ``text``'s ``attack`` most, as written (see ``bot.core.explain``).

        From the linear model, also when the sentence tier spoke: its attributions would cost a
        model run per word, and the two tiers' scores are averaged, so the linear model's words
        are what moved half of the score, exactly.
        """
        return self._attack_model.salient(text)

    def _score_one(self, text: str) -> dict[str, float]:
        analysis = analyse(text)
        insult = analysis.attack_score
        if analysis.untargeted_insults and insult < 0.3:
            insult = 0.3  # an insulting word about no one present: rude, not an attack
        threat = 0.9 if analysis.threat else 0.0
        identity = 0.85 if analysis.identity_attack else 0.0
        profanity = 0.8 if analysis.profanity else 0.0
        toxicity = max(insult, threat, identity, 0.25 if analysis.profanity else 0.0)
        row = {"toxicity": round(toxicity, 4), "insult": round(insult, 4),
               "identity_attack": identity, "threat": threat, "profanity": profanity}  # fmt: skip
        if self._min_words == 0 or len(text.split()) >= self._min_words:
            row["attack"] = self._attack_model.probability(text)
        return row
