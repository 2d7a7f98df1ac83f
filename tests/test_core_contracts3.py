"""More of the core's behaviour, found unchecked by mutation testing (issue 18, seed 38): an edit
judged with the scores it was given, a late event that does not turn the engine's clock back, a
member's long-form request carrying the notice's evidence and saying who asked for what, a prompt
naming "your reply" when no words are shown, the forecast's fast path agreeing with its features
for a model that names only some weights, and quoted lines written as ``&gt;``
(a gap mutation testing found, since fixed)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from bot.core.ad_hominem import AdHominemFinding
from bot.core.decisions import Evidence, OpenLongformSpace, PostNotice, PromptMember, Signal
from bot.core.engine import Engine
from bot.core.events import ConversationKey, MessageEdited
from bot.core.forecast import ForecastModel, exchange_features, turn_vector
from bot.core.language import quoted_spans
from bot.core.requests import MemberRequested, Requested, decide
from bot.core.responses import Responder
from bot.core.settings import Policy, PromptTexts, Settings
from bot.scoring.embedded import EmbeddedScorer
from tests.builders import MIN, T0, message

HERE = ConversationKey("c", "general", "t1")  # where tests.builders.message posts
SURE = {"attack": 0.99}  # the attack model is sure


# -- an edit and its scores ------------------------------------------------------------------------


def _edited_to(text: str, scores: dict[str, float] | None) -> list[Signal]:
    engine = Engine(Policy(), EmbeddedScorer())
    engine.feed(message("ana", "The trial excluded patients over 65.", T0, id="a1"))
    engine.feed(message("bo", "Thanks, that helps a lot.", T0 + MIN, reply_to_author="ana",
                        id="b1"))  # fmt: skip
    edited = engine.feed(MessageEdited(id="b1", at=T0 + 2 * MIN, text=text), scores)
    return [d.signal for d in edited.detections]


def test_an_edit_is_judged_with_the_scores_it_was_given_not_scored_again() -> None:
    text = "you should reread the paper before replying"
    assert Signal.AD_HOMINEM not in _edited_to(text, None), "the embedded scores alone detect it"
    assert Signal.AD_HOMINEM in _edited_to(text, SURE), "the given scores were not used"


def test_a_late_event_does_not_turn_the_engines_clock_back() -> None:
    # The engine has seen 14:00 + 5 h; an attack stamped 14:01 arrives late. Its prompt's window
    # (an hour) ended long ago by the engine's clock, so its outcome is settled at once.
    engine = Engine(Policy(), EmbeddedScorer())
    engine.feed(message("ana", "The trial excluded patients over 65.", T0, id="a1"))
    engine.feed(message("cy", "Unrelated thought in another thread.", T0 + 300 * MIN, thread="t9"))
    late = engine.feed(message("bo", "You're an idiot, did you even finish residency?",
                               T0 + MIN, reply_to_author="ana"))  # fmt: skip
    assert any(isinstance(a, PromptMember) for a in late.actions)
    settled = {(o.kind, o.recipient) for o in late.outcomes}
    assert ("prompt_member", "bo") in settled, "the late event's clock was used, not the engine's"


# -- a member's request --------------------------------------------------------------------------


def test_a_members_long_form_request_carries_the_notices_evidence_and_says_who_asked() -> None:
    evidence = Evidence(("m1", "m2"), (("insult", 0.9),))
    notice = PostNotice(HERE, "m2", T0, Signal.PILE_ON, "Many replies.", evidence, text="Slow.")
    request = MemberRequested(Requested.LONGFORM, HERE, "42", "Ana", T0 + MIN, "m2", notice)
    (space,) = decide(request, Settings()).actions
    assert isinstance(space, OpenLongformSpace)
    assert space.evidence == evidence
    assert space.reason == "Requested by Ana: continue this conversation in long form."
    assert (space.participants, space.requested_by) == (("42",), "42")


# -- how a prompt names the words ----------------------------------------------------------------


def _author_prompts(words: tuple[str, ...]) -> list[str]:
    prompts = replace(PromptTexts(), ad_hominem_author="[{quote}]")
    finding = AdHominemFinding(0.95, "ana", "aimed_at_person", "", "it reads as personal")
    reply = message("bo", "you should reread it", T0, reply_to_author="ana")
    _, actions = Responder().ad_hominem(reply, finding, SURE, Settings(prompts=prompts), words)
    return [a.text for a in actions if isinstance(a, PromptMember)]


def test_a_prompt_with_no_words_to_show_names_the_whole_reply() -> None:
    assert _author_prompts(()) == ["[your reply]"]
    shown = _author_prompts(("reread",))  # the positive half: words shown are named
    assert len(shown) == 1
    assert shown[0].startswith("[your reply (above all the words ")
    assert "reread" in shown[0]


# -- the forecast ----------------------------------------------------------------------------------


def test_the_forecasts_fast_path_agrees_with_its_features_when_weights_are_missing() -> None:
    # A model that names one weight: every other feature counts for nothing, on both paths.
    model = ForecastModel(-1.0, {"reply_attack": 2.0})
    opener = turn_vector("Thanks, could you share the dosing table please?", 0.1, 0.1)
    reply = turn_vector("No. Read it yourself.", 0.7, 0.5)
    features = exchange_features(opener, reply)
    assert features["politeness_dropped"] == 1.0  # the opener is polite, the reply is not
    fast = model.exchange_probability(opener, reply)
    assert fast == pytest.approx(model.probability(features))
    assert fast == pytest.approx(1 / (1 + math.exp(-(-1.0 + 2.0 * 0.7))))


# -- quoted lines ----------------------------------------------------------------------------------


def test_a_line_quoted_as_an_html_entity_is_a_quoted_span() -> None:
    text = "&gt; you are an idiot\nthat is what he wrote"
    assert (0, len("&gt; you are an idiot")) in quoted_spans(text)


def test_a_line_quoted_with_a_greater_than_sign_is_a_quoted_span() -> None:
    text = "> you are an idiot\nthat is what he wrote"
    assert (0, len("> you are an idiot")) in quoted_spans(text)
