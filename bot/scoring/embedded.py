"""The embedded scorer: Longform's own fast, download-free hostility scores (the default tier).

Provenance: hand-written rules over the language analysis in ``bot.core.language`` (normalised
text, quotation removed, second-person targeting, negation, reported speech), written for this
project; no trained weights. Its measured quality is in benchmarks/README.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.language import analyse

_ATTRIBUTES = ("toxicity", "insult", "identity_attack", "threat", "profanity")


class EmbeddedScorer:
    """Scores texts from the language analysis; pure Python, thousands of texts a second."""

    name = "embedded"
    attributes = _ATTRIBUTES

    def score(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """One mapping of attribute to 0..1 score per text."""
        return [self._score_one(text) for text in texts]

    @staticmethod
    def _score_one(text: str) -> dict[str, float]:
        analysis = analyse(text)
        insult = analysis.attack_score
        if analysis.untargeted_insults and insult < 0.3:
            insult = 0.3  # an insulting word about no one present: rude, not an attack
        threat = 0.9 if analysis.threat else 0.0
        identity = 0.85 if analysis.identity_attack else 0.0
        profanity = 0.8 if analysis.profanity else 0.0
        toxicity = max(insult, threat, identity, 0.25 if analysis.profanity else 0.0)
        return {"toxicity": round(toxicity, 4), "insult": round(insult, 4),
                "identity_attack": identity, "threat": threat, "profanity": profanity}  # fmt: skip
