"""What moderators and members read names the right words, people and numbers (issues 12.5, 13)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.core.decisions import AlertModerators, PostNotice, PromptKind, PromptMember, Signal
from bot.core.engine import Engine
from bot.core.events import MessageEdited
from bot.core.explain import as_written, quoted
from bot.core.responses import minutes_text
from bot.core.settings import Policy
from bot.policy.loader import load_policy
from bot.scoring.attack_model import AttackModel
from bot.scoring.embedded import EmbeddedScorer
from tests.builders import MIN, T0, message

# Only the trained model fires on this one (no rule cue): a jab at attention span and standing.
MODEL_ONLY = (
    "Honestly someone with your attention span and your track record should not be commenting "
    "on how any of this works in a real clinic at all."
)


# Four members within minutes, one of them aimed at ana: a pile-on scoring under 0.75.
MILD_PILE_ON = ["that's wrong", "did you even finish training?", "what trial was that?",
                "this is misleading"]  # fmt: skip


def _engine(policy: str = "professional") -> Engine:
    return Engine(load_policy(policy), EmbeddedScorer())


def _prompts(actions: object) -> list[PromptMember]:
    return [a for a in actions if isinstance(a, PromptMember)]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "phrase", "written"),
    [
        ("Typical GP, no idea what walks in.", "typical gp", "Typical GP"),
        ("You are a 1D10T.", "you are a idiot", "You are a 1D10T"),
        ("ur so STUUUUPID", "stuupid", "STUUUUPID"),
        ("you i d i o t", "idiot", "i d i o t"),
        ("you \u0456dio\u200bt", "idiot", "\u0456dio\u200bt"),
        ('He wrote "you idiot" to me. You idiot.', "you idiot", "You idiot"),
    ],
)
def test_a_cue_is_quoted_back_as_the_author_wrote_it(text: str, phrase: str, written: str) -> None:
    assert as_written(text, phrase) == written


def test_the_prompt_quotes_the_authors_own_words_not_a_template_phrase() -> None:
    engine = _engine()
    text = "Typical GP, no idea what walks into ED two days later."
    decided = engine.feed(message("nakamura", text, reply_to_author="dr_amara"))
    (detection,) = decided.detections
    assert detection.words == ("Typical GP",)
    (prompt,) = _prompts(decided.actions)
    assert '"Typical GP"' in prompt.text
    assert "people like you" not in prompt.text.lower()  # words nakamura never wrote


def test_an_edit_that_makes_a_reply_personal_quotes_the_edited_words() -> None:
    engine = _engine()
    engine.feed(message("bo", "I read the appendix differently.", id="e1", reply_to_author="ana"))
    decided = engine.feed(MessageEdited("e1", T0 + MIN, "Reading isn't really your strong suit."))
    (detection,) = decided.detections
    assert detection.words == ("isn't really your strong suit",)


def test_a_model_only_detection_names_the_words_that_weighed_most() -> None:
    engine = _engine()
    decided = engine.feed(message("bo", MODEL_ONLY, reply_to_author="ana"))
    (detection,) = decided.detections
    assert detection.cue == "aimed_at_person"
    assert detection.words == AttackModel.load().salient(MODEL_ONLY)
    assert detection.words
    assert all(word in MODEL_ONLY for word in detection.words)
    (prompt,) = _prompts(decided.actions)
    assert f"above all the words {quoted(detection.words)}" in prompt.text


def test_salient_words_are_the_ones_raising_the_linear_score() -> None:
    model = AttackModel.load()
    words = model.salient(MODEL_ONLY)
    assert 1 <= len(words) <= 3
    # Taking the words out lowers the model's logit: they are what raised it.
    without = MODEL_ONLY
    for word in words:
        without = without.replace(word, "")
    assert model.logit(without) < model.logit(MODEL_ONLY)  # type: ignore[operator]
    assert model.salient("> only somebody else's words, quoted") == ()
    assert model.salient("") == ()


def test_the_alert_names_the_words() -> None:
    engine = _engine()
    text = "People like you are why patients don't trust GPs."
    decided = engine.feed(message("greer", text, reply_to_author="dr_amara"))
    (alert,) = [a for a in decided.actions if isinstance(a, AlertModerators)]
    assert 'words: "People like you"' in alert.text


def test_the_escalation_alert_names_who_raised_the_heat_most_first() -> None:
    engine = Engine(load_policy("strict"), EmbeddedScorer())
    calm = [("priya", "Anyone seen the new guidance?"), ("okafor", "Yes, reading it now."),
            ("amara", "I think it's sensible."), ("hall", "Mostly agree, one caveat.")]  # fmt: skip
    hot = [("vasquez", "You're an idiot, did you even finish residency?"),
           ("greer", "People like you are the problem."),
           ("vasquez", "You clearly don't understand any of this, you fraud."),
           ("okafor", "Come on, argue the evidence, not the person.")]  # fmt: skip
    actions = []
    for i, (author, text) in enumerate(calm + hot):
        actions += engine.feed(message(author, text, T0 + i * 20 * timedelta(seconds=1),
                                       reply_to_author="amara" if author != "amara" else None))  # fmt: skip
    alerts = [
        a for a in actions if isinstance(a, AlertModerators) and a.signal is Signal.ESCALATION
    ]
    assert alerts
    named = alerts[0].text.split("driven by ", 1)[1]
    assert named.startswith("vasquez")
    assert "priya" not in named
    assert "okafor" not in named


def test_a_pile_on_reaches_moderators_as_its_own_alert_with_count_and_window() -> None:
    engine = _engine()  # professional: its levels alert only from 0.75, what shadow mode sends
    actions = []
    for i, text in enumerate(MILD_PILE_ON):
        actions += engine.feed(message(f"u{i}", text, T0 + i * MIN, reply_to_author="ana"))
    alerts = [a for a in actions if isinstance(a, AlertModerators) and a.signal is Signal.PILE_ON]
    assert len(alerts) == 1
    assert alerts[0].severity < 75  # below the level that alerts
    assert "4 different members replied to ana within 3 minutes" in alerts[0].text
    assert "window: 15 minutes" in alerts[0].text


def test_pile_on_alert_follows_the_policy_key() -> None:
    policy = load_policy("professional")
    settings = policy.settings
    quiet = type(settings.pile_on)(**{**_fields(settings.pile_on), "alert_on_start": False})
    engine = Engine(
        Policy(settings=type(settings)(**{**_fields(settings), "pile_on": quiet})), EmbeddedScorer()
    )
    actions = [a for i, t in enumerate(MILD_PILE_ON)
               for a in engine.feed(message(f"u{i}", t, T0 + i * MIN, reply_to_author="ana"))]  # fmt: skip
    assert [a for a in actions if a.signal is Signal.PILE_ON]
    assert not [a for a in actions if isinstance(a, AlertModerators) and a.signal is Signal.PILE_ON]


def test_an_attack_and_a_pile_on_on_one_message_are_two_alerts() -> None:
    engine = _engine()
    texts = [*MILD_PILE_ON[:3], "People like you are why patients don't trust GPs."]
    last = None
    for i, text in enumerate(texts):
        last = engine.feed(message(f"u{i}", text, T0 + i * MIN, reply_to_author="ana"))
    assert last is not None
    signals = {a.signal for a in last.actions if isinstance(a, AlertModerators)}
    assert {Signal.AD_HOMINEM, Signal.PILE_ON} <= signals


def test_small_texts_plurals_and_a_notice_that_names_no_one() -> None:
    assert minutes_text(1) == "1 minute"
    assert minutes_text(6) == "6 minutes"
    engine = _engine()
    texts = ["that's wrong", "did you even finish training?", "this is misleading",
             "no evidence for that", "I disagree, this is outdated"]  # fmt: skip
    actions = [a for i, t in enumerate(texts)
               for a in engine.feed(message(f"u{i}", t, T0 + i * 10 * timedelta(seconds=1),
                                            reply_to_author="ana"))]  # fmt: skip
    written = [
        a.text for a in actions if isinstance(a, PostNotice | PromptMember | AlertModerators)
    ]
    assert written
    assert not any("1 minutes" in text for text in written)
    assert any("in the last 1 minute." in text for text in written)
    (notice,) = [a for a in actions if isinstance(a, PostNotice) and a.signal is Signal.PILE_ON]
    assert "ana" not in notice.text


def test_a_busy_civil_thread_is_not_a_pile_on_and_prompts_no_one() -> None:
    engine = _engine()
    questions = ["@ana what dose did you start at?", "@ana does this apply to children too?",
                 "@ana thanks, which guideline is that from?", "@ana how long did follow-up take?",
                 "@ana did you see the same in older patients?", "@ana could you share the slides?"]  # fmt: skip
    actions = []
    for i in range(40):
        text = questions[i % len(questions)]
        actions += engine.feed(message(f"m{i}", text, T0 + i * 15 * timedelta(seconds=1),
                                       mentions=("ana",), reply_to_author="ana"))  # fmt: skip
    assert not [a for a in actions if isinstance(a, PromptMember)]
    assert not [a for a in actions if a.signal is Signal.PILE_ON]


def test_a_joiner_prompt_still_comes_in_a_hostile_pile_on() -> None:
    engine = _engine()
    texts = ["that's wrong", "did you even finish training?", "this is misleading",
             "no evidence for that", "I disagree, this is outdated", "@ana what dose was that?"]  # fmt: skip
    actions = [a for i, t in enumerate(texts)
               for a in engine.feed(message(f"u{i}", t, T0 + i * MIN, reply_to_author="ana"))]  # fmt: skip
    assert [p for p in _prompts(actions) if p.kind is PromptKind.LATE_JOINER and p.member == "u5"]


def _fields(value: object) -> dict[str, object]:
    return {name: getattr(value, name) for name in value.__dataclass_fields__}  # type: ignore[attr-defined]
