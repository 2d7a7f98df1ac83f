"""Ad hominem: does a message attack the person rather than the idea?

How it works: the language analysis (``bot.core.language``) finds cues of an attack on the person
addressed (competence, credentials, motives, character, "people like you", name-calling, sarcasm at
the person, dismissal, threats), already discounting quotation, reported speech, negation,
self-talk and critique of ideas. The score is the combined weight of the cues. A scorer's ``insult``
can raise it, but only when the message addresses someone: an insult about a third party or a case
is not an attack on a participant. The target is the person addressed: a mentioned member named in
the text, else the author replied to, else the first mention, else the last other speaker.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.events import MessagePosted
from bot.core.language import Analysis, analyse
from bot.core.scoring import Scores

# Why, in a sentence a member would accept; {target} is the person addressed.
EXPLANATIONS = {
    "name_calling": "it calls {target} a name instead of answering the point",
    "competence": "it is about {target}'s competence, not the claim",
    "credentials": "it questions {target}'s credentials instead of the evidence",
    "motives": "it attributes motives to {target} rather than answering the argument",
    "character": "it describes {target}'s character rather than the argument",
    "people_like_you": "it judges {target} by a group ('people like you'), not by what they said",
    "sarcasm": "it is sarcasm aimed at {target}, not at the claim",
    "dismissal": "it dismisses {target} personally rather than the point",
    "threat": "it reads as a threat to {target}",
    "hostile_reply": "the hostility scorer reads it as an insult aimed at {target}",
}

# A scorer's insult counts only this much, so that a cue-less message needs a confident scorer.
_SCORER_INSULT_WEIGHT = 0.8
_SCORER_INSULT_FLOOR = 0.5


@dataclass(frozen=True, slots=True)
class AdHominemFinding:
    """How strongly ``message`` attacks ``target`` (0..1), and the cue that fired."""

    score: float
    target: str | None
    cue: str
    phrase: str
    explanation: str


class AdHominemDetector:
    """Judges single messages; holds no state, so it is safe to share."""

    def judge(
        self,
        message: MessagePosted,
        scores: Scores,
        last_other_speaker: str | None,
        text: str | None = None,
    ) -> AdHominemFinding | None:
        """The finding for ``message`` (or for ``text``, an edit of it), or None when nothing in it
        is aimed at a person."""
        analysis = analyse(message.text if text is None else text)
        cue_score, cue, phrase = _from_cues(analysis)
        scorer_score = _from_scorer(analysis, scores)
        if max(cue_score, scorer_score) <= 0.0:
            return None
        if scorer_score > cue_score:
            cue_score, cue, phrase = scorer_score, "hostile_reply", ""
        target = resolve_target(message, analysis, last_other_speaker)
        explanation = EXPLANATIONS[cue].format(target=target or "the other person")
        return AdHominemFinding(round(cue_score, 4), target, cue, phrase, explanation)


def _from_cues(analysis: Analysis) -> tuple[float, str, str]:
    strongest = analysis.strongest
    if strongest is None:
        return 0.0, "", ""
    return analysis.attack_score, strongest.category, strongest.phrase


def _from_scorer(analysis: Analysis, scores: Scores) -> float:
    insult = max(scores.get("insult", 0.0), scores.get("identity_attack", 0.0))
    if not analysis.addressed or insult < _SCORER_INSULT_FLOOR:
        return 0.0
    return _SCORER_INSULT_WEIGHT * insult


def resolve_target(
    message: MessagePosted, analysis: Analysis, last_other_speaker: str | None
) -> str | None:
    """The person a message addresses: named mention, reply author, first mention, last speaker."""
    for handle in analysis.mentioned_handles:
        for mentioned in message.mentions:
            if mentioned.casefold() == handle and mentioned != message.author:
                return mentioned
    if message.reply_to_author and message.reply_to_author != message.author:
        return message.reply_to_author
    for mentioned in message.mentions:
        if mentioned != message.author:
            return mentioned
    return last_other_speaker
