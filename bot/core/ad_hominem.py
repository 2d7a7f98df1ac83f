"""Ad hominem: does a message attack the person rather than the idea?

How it works: the language analysis (``bot.core.language``) finds cues of an attack on the person
addressed (competence, credentials, motives, character, "people like you", name-calling, sarcasm at
the person, dismissal, threats), already discounting quotation, reported speech, negation,
self-talk and critique of ideas. The score is the combined weight of the cues. A scorer's ``insult``
can raise it, but only when the message addresses someone: an insult about a third party or a case
is not an attack on a participant. A scorer's ``attack`` (a trained model's probability that the
message attacks the person, which catches what no cue names) can raise it too, where the rules saw
no attack, when the message is aimed at someone (a reply, a mention, or "you") and the model is
confident; surer still for a short message. It counts for less when the message is warm or denies
or reports an attack phrase ("nobody thinks you're lazy"). An insult about someone who is not
addressed ("he's an idiot", "the minister is a moron") is not an attack on a participant: where no
rule cue names one, neither the scorer's insult nor the model counts (a policy may alert moderators
about it separately, ``[ad_hominem] alert_absent``; never a prompt). The target is the person addressed: a
mentioned member named in the text, else the author replied to, else the first mention, else the
last other speaker.
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
    # Never a quoted phrase here: the prompt quotes the author's own words ("Typical GP").
    "people_like_you": "it judges {target} by a group they belong to, not by what they said",
    "sarcasm": "it is sarcasm aimed at {target}, not at the claim",
    "dismissal": "it dismisses {target} personally rather than the point",
    "threat": "it reads as a threat to {target}",
    "hostile_reply": "the hostility scorer reads it as an insult aimed at {target}",
    "aimed_at_person": "taken as a whole, it is more about {target} than about the claim",
}

# A scorer's insult counts only this much, so that a cue-less message needs a confident scorer.
_SCORER_INSULT_WEIGHT = 0.8
_SCORER_INSULT_FLOOR = 0.5

# The attack model's probability counts from _MODEL_FLOOR, where it scores _MODEL_AT_FLOOR (the
# professional preset's threshold), rising to _MODEL_AT_ONE: below the 0.85 at which presets alert
# moderators, so the model alone only ever prompts the author privately. Warmth makes it less sure
# (warm words are often sarcasm in an attack, so not a veto), and so does an attack phrase the
# message denies ("you're not stupid for asking") or reports. The floors were chosen on scores no
# model was fitted on (training/README.md, "Choosing the floors"): the pair that gives the best
# mean F1 on Habernal and Argotario while flagging at most 3% of the civil Reddit comments.
_MODEL_FLOOR = 0.55
_MODEL_AT_FLOOR = 0.6
_MODEL_AT_ONE = 0.8
_MODEL_WARM = 0.9
_MODEL_NEGATED = 0.7
# A reply that concedes the point ("you're right about the cost, damn") yields to the person
# rather than attacking them: the model's second-person, swearing reading of it is discounted.
_MODEL_CONCEDES = 0.7
# Cues this weak were found in reported speech or self-talk ("he said only an idiot would..."),
# which the analysis discounts tenfold: the model is discounted as for a denied attack.
_REPORTED_CUES = 0.15
# Short chat ("Are you free at 3?", "Damn, you're fast.") is where a model trained on a debating
# forum transfers worst: it reads short second-person replies as attacks. Below this many words the
# model must be surer. (The fast tier alone gives no score at all below it: see EmbeddedScorer.)
MODEL_MIN_WORDS = 20
_MODEL_SHORT_FLOOR = 0.6
# Below this many words there is no claim for the model to weigh against the person: a reply
# like "You first." reads to it like the short removed comments it learned from. What an attack
# this short says ("Clown.", "You're pathetic.") the rules name.
_MODEL_FEWEST_WORDS = 4


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
        judged = message.text if text is None else text
        analysis = analyse(judged)
        cue_score, cue, phrase = _from_cues(analysis)
        if analysis.absent_insult and not analysis.cues:
            # The insulting words are about someone absent: what a scorer or model reads as
            # hostile in them is not aimed at the person addressed.
            scorer_score = model_score = 0.0
        else:
            scorer_score = _from_scorer(analysis, scores)
            model_score = _from_model(message, analysis, scores, judged)
        if max(cue_score, scorer_score, model_score) <= 0.0:
            return None
        if scorer_score > cue_score:
            cue_score, cue, phrase = scorer_score, "hostile_reply", ""
        if model_score > cue_score and cue_score < _MODEL_AT_FLOOR:
            # The model speaks only where the rules saw no attack: a named cue explains better.
            cue_score, cue, phrase = model_score, "aimed_at_person", ""
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


def _from_model(message: MessagePosted, analysis: Analysis, scores: Scores, judged: str) -> float:
    """The model's say on ``judged`` (the message's text, or an edit of it)."""
    probability = scores.get("attack", 0.0)
    if probability < _MODEL_FLOOR or not _aimed(message, analysis):
        return 0.0
    if analysis.warmth > 0.0:
        probability *= _MODEL_WARM
    if analysis.negated_attacks or 0.0 < analysis.attack_score < _REPORTED_CUES:
        probability *= _MODEL_NEGATED
    if analysis.concedes:
        probability *= _MODEL_CONCEDES
    words = len(judged.split())
    if words < _MODEL_FEWEST_WORDS:
        return 0.0
    short = words < MODEL_MIN_WORDS
    if probability < (_MODEL_SHORT_FLOOR if short else _MODEL_FLOOR):
        return 0.0
    rise = (probability - _MODEL_FLOOR) / (1.0 - _MODEL_FLOOR)
    return _MODEL_AT_FLOOR + (_MODEL_AT_ONE - _MODEL_AT_FLOOR) * rise


def _aimed(message: MessagePosted, analysis: Analysis) -> bool:
    """The words themselves speak to someone: "you", or a mention of a member. Being a reply is
    not enough: in chat nearly everything is a reply, and a reply that swears at the weather or
    insults someone outside the conversation attacks no participant. (A name said to the person,
    "Sure thing, clown.", is a rule cue and needs no model.)"""
    return analysis.addressed or bool(message.mentions)


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
