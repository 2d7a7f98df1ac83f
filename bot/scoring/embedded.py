"""The embedded scorer: Longform's own fast, download-free hostility scores (the default tier).

Provenance: hand-written rules over the language analysis in ``bot.core.language`` (normalised
text, quotation removed, second-person targeting, negation, reported speech), written for this
project, plus ``attack``: the probability from the trained linear attack model
(``bot.scoring.attack_model``; weights shipped in ``bot/scoring/weights``, trained on Habernal et
al.'s ChangeMyView data, see training/README.md). Its measured quality is in benchmarks/README.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from bot.core.ad_hominem import MODEL_MIN_WORDS
from bot.core.language import analyse
from bot.scoring.attack_model import AttackModel

_ATTRIBUTES = ("toxicity", "insult", "identity_attack", "threat", "profanity", "attack")


@cache
def _shipped_model() -> AttackModel:
    return AttackModel.load()


class EmbeddedScorer:
    """Scores texts from the language analysis and the attack model; pure Python, thousands of
    texts a second. ``attack_model`` defaults to the shipped one (loaded once per process)."""

    name = "embedded"
    attributes = _ATTRIBUTES

    def __init__(self, attack_model: AttackModel | None = None, every_text: bool = False) -> None:
        """``every_text``: give ``attack`` for short texts too. By default a text shorter than
        the detector will consult the model on (MODEL_MIN_WORDS) gets 0, which saves the model's
        cost on most chat messages; evaluations ask for every text to measure the model itself."""
        self._attack_model = attack_model if attack_model is not None else _shipped_model()
        self._min_words = 0 if every_text else MODEL_MIN_WORDS

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """One mapping of attribute to 0..1 score per text."""
        return [self._score_one(text) for text in texts]

    def _score_one(self, text: str) -> dict[str, float]:
        analysis = analyse(text)
        insult = analysis.attack_score
        if analysis.untargeted_insults and insult < 0.3:
            insult = 0.3  # an insulting word about no one present: rude, not an attack
        threat = 0.9 if analysis.threat else 0.0
        identity = 0.85 if analysis.identity_attack else 0.0
        profanity = 0.8 if analysis.profanity else 0.0
        toxicity = max(insult, threat, identity, 0.25 if analysis.profanity else 0.0)
        long_enough = self._min_words == 0 or len(text.split()) >= self._min_words
        attack = self._attack_model.probability(text) if long_enough else 0.0
        return {"toxicity": round(toxicity, 4), "insult": round(insult, 4),
                "identity_attack": identity, "threat": threat, "profanity": profanity,
                "attack": round(attack, 4)}  # fmt: skip
