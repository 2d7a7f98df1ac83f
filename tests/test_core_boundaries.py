"""Boundaries of the core's newer policies, stated as behaviour: the outcome tracker's windows
(heat at 15 and at 60, the edit window, the settling time), which events count for which watch,
and what each kind of intervention reports."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.decisions import Evidence, PostNotice, PromptKind, PromptMember, Signal
from bot.core.events import ConversationKey
from bot.core.outcomes import OutcomeRecord, OutcomeTracker
from tests.builders import MIN, T0

HERE = ConversationKey("discord:1", "general", "t1")
ELSEWHERE = ConversationKey("discord:1", "general", "t2")
SECOND = timedelta(seconds=1)


def _notice(message_id: str = "m1", at: datetime = T0) -> PostNotice:
    return PostNotice(HERE, message_id, at, Signal.ESCALATION, "heating up", Evidence(),
                      text="A notice.")  # fmt: skip


def _prompt(kind: PromptKind, member: str = "bo", message_id: str = "m1") -> PromptMember:
    return PromptMember(HERE, message_id, T0, Signal.AD_HOMINEM, "why", Evidence(), member=member,
                        kind=kind, text="A private note.")  # fmt: skip


def _tracker(decision: PostNotice | PromptMember, *, target: str | None = None,
             before: float = 1.0, threshold: float = 0.5) -> OutcomeTracker:  # fmt: skip
    tracker = OutcomeTracker()
    tracker.start(decision, target=target, threshold=threshold, before=before,
                  window_minutes=60, edit_minutes=10)  # fmt: skip
    return tracker


def _settle(tracker: OutcomeTracker) -> OutcomeRecord:
    (record,) = tracker.due(T0 + 60 * MIN)
    return record


def _measures(tracker: OutcomeTracker) -> dict[str, float]:
    return dict(_settle(tracker).measures)


def test_heat_windows_include_their_ends_and_exclude_their_starts() -> None:
    tracker = _tracker(_notice())
    at_the_decision, at_15, past_15 = T0, T0 + 15 * MIN, T0 + 15 * MIN + SECOND
    at_45, past_45, at_60 = T0 + 45 * MIN, T0 + 45 * MIN + SECOND, T0 + 60 * MIN
    for heat, at in ((100.0, at_the_decision), (0.5, at_15), (10.0, past_15), (20.0, at_45),
                     (0.25, past_45), (0.125, at_60)):  # fmt: skip
        tracker.posted(HERE, "ana", (), heat, at)
    measures = _measures(tracker)
    assert measures["heat_15"] == 0.5  # the message at the decision's own time is not "after" it
    assert measures["heat_60"] == 0.375  # minutes 45 (excluded) to 60 (included)
    assert measures["heat_before"] == 1.0
    assert measures["change_15"] == -0.5
    assert measures["change_60"] == -0.625
    assert measures["cooled_15"] == 1.0


def test_heat_after_the_window_and_in_other_threads_is_not_counted() -> None:
    tracker = _tracker(_notice(), before=0.0)
    tracker.posted(HERE, "ana", (), 5.0, T0 + 60 * MIN + SECOND)
    tracker.posted(ELSEWHERE, "ana", (), 5.0, T0 + MIN)
    measures = _measures(tracker)
    assert (measures["heat_15"], measures["heat_60"]) == (0.0, 0.0)
    assert measures["cooled_15"] == 0.0  # no heat before and none after: not "cooled"


def test_heat_equal_to_before_is_not_cooled() -> None:
    tracker = _tracker(_notice(), before=2.0)
    tracker.posted(HERE, "ana", (), 2.0, T0 + MIN)
    assert _measures(tracker)["cooled_15"] == 0.0


def test_a_watch_settles_exactly_at_the_end_of_its_window_and_once() -> None:
    tracker = _tracker(_notice())
    assert tracker.size == 1
    assert tracker.watching(HERE)
    assert tracker.due(T0 + 60 * MIN - SECOND) == ()
    (record,) = tracker.due(T0 + 60 * MIN)
    assert record.settled_at == T0 + 60 * MIN
    assert record.decided_at == T0
    assert record.action == "post_notice"
    assert tracker.due(T0 + 120 * MIN) == ()
    assert tracker.size == 0
    assert not tracker.watching(HERE)


def test_two_watches_in_one_thread_settle_separately() -> None:
    tracker = OutcomeTracker()
    for at in (T0, T0 + 30 * MIN):
        tracker.start(_notice(f"m{at.minute}", at), target=None, threshold=0.5, before=0.0,
                      window_minutes=60, edit_minutes=10)  # fmt: skip
    assert len(tracker.due(T0 + 60 * MIN)) == 1
    assert tracker.watching(HERE)  # the second is still watched
    assert len(tracker.due(T0 + 90 * MIN)) == 1
    assert not tracker.watching(HERE)


def test_detections_count_only_on_other_messages_after_the_decision() -> None:
    quiet = _tracker(_notice())
    quiet.detected(HERE, "m1", T0 + MIN)  # the intervention's own message
    quiet.detected(HERE, "m2", T0)  # at the decision's own time
    quiet.detected(ELSEWHERE, "m3", T0 + MIN)
    quiet.detected(HERE, "m4", T0 + 60 * MIN + SECOND)
    assert _measures(quiet)["detected_again"] == 0.0
    again = _tracker(_notice())
    again.detected(HERE, "m2", T0 + 60 * MIN)
    assert _measures(again)["detected_again"] == 1.0


def test_an_authors_edit_counts_up_to_the_edit_windows_end() -> None:
    inside = _tracker(_prompt(PromptKind.AD_HOMINEM_AUTHOR), threshold=0.5)
    inside.edited("m1", HERE, T0 + 10 * MIN, attack=0.2)
    measures = _measures(inside)
    assert (measures["edited"], measures["edit_below_threshold"]) == (1.0, 1.0)
    late = _tracker(_prompt(PromptKind.AD_HOMINEM_AUTHOR))
    late.edited("m1", HERE, T0 + 10 * MIN + SECOND, attack=0.2)
    other = _tracker(_prompt(PromptKind.AD_HOMINEM_AUTHOR))
    other.edited("m9", HERE, T0 + MIN, attack=0.2)
    assert _measures(late)["edited"] == 0.0
    assert _measures(other)["edited"] == 0.0


def test_an_edit_at_the_threshold_is_not_below_it() -> None:
    tracker = _tracker(_prompt(PromptKind.AD_HOMINEM_AUTHOR), threshold=0.5)
    tracker.edited("m1", HERE, T0 + MIN, attack=0.5)
    measures = _measures(tracker)
    assert (measures["edited"], measures["edit_below_threshold"]) == (1.0, 0.0)


def test_a_deletion_counts_up_to_the_windows_end_and_only_for_its_message() -> None:
    at_end = _tracker(_prompt(PromptKind.AD_HOMINEM_AUTHOR))
    at_end.deleted("m1", HERE, T0 + 60 * MIN)
    after = _tracker(_prompt(PromptKind.AD_HOMINEM_AUTHOR))
    after.deleted("m1", HERE, T0 + 60 * MIN + SECOND)
    other = _tracker(_prompt(PromptKind.AD_HOMINEM_AUTHOR))
    other.deleted("m2", HERE, T0 + MIN)
    assert _measures(at_end)["deleted"] == 1.0
    assert _measures(after)["deleted"] == 0.0
    assert _measures(other)["deleted"] == 0.0


def test_an_authors_later_heat_is_the_mean_of_their_own_later_messages() -> None:
    tracker = _tracker(_prompt(PromptKind.AD_HOMINEM_AUTHOR), before=0.9)
    tracker.posted(HERE, "bo", (), 0.2, T0 + MIN)
    tracker.posted(HERE, "bo", (), 0.4, T0 + 50 * MIN)
    tracker.posted(HERE, "ana", (), 0.9, T0 + 2 * MIN)  # someone else
    measures = _measures(tracker)
    assert measures["posted_again"] == 1.0
    assert measures["later_heat"] == 0.3
    assert measures["earlier_heat"] == 0.9
    assert measures["heat_change"] == -0.6
    assert "heat_15" not in measures  # a prompt's outcome is about the member, not the thread


def test_an_author_who_stays_silent_has_no_later_heat() -> None:
    measures = _measures(_tracker(_prompt(PromptKind.AD_HOMINEM_AUTHOR)))
    assert measures["posted_again"] == 0.0
    assert "later_heat" not in measures
    assert "heat_change" not in measures


def test_a_late_joiner_counts_only_messages_pressing_on_the_target() -> None:
    tracker = _tracker(_prompt(PromptKind.LATE_JOINER, member="cy"), target="ana")
    tracker.posted(HERE, "cy", ("dan",), 0.9, T0 + MIN)
    record = _settle(tracker)
    assert dict(record.measures) == {"replied_to_target": 0.0}
    assert record.action == "prompt_member:late_joiner"
    again = _tracker(_prompt(PromptKind.LATE_JOINER, member="cy"), target="ana")
    again.posted(HERE, "cy", ("ana",), 0.8, T0 + MIN)
    again.posted(HERE, "cy", ("ana", "dan"), 0.5, T0 + 2 * MIN)
    assert _measures(again) == {"replied_to_target": 1.0, "reply_heat": 0.65}


def test_a_pile_on_target_who_writes_again_stayed_whatever_they_press_on() -> None:
    tracker = _tracker(_prompt(PromptKind.PILE_ON_TARGET, member="ana"), target="ana")
    tracker.posted(HERE, "ana", (), 0.1, T0 + MIN)
    assert _measures(tracker) == {"stayed": 1.0}
    silent = _tracker(_prompt(PromptKind.PILE_ON_TARGET, member="ana"), target="ana")
    silent.posted(HERE, "bo", (), 0.1, T0 + MIN)
    assert _measures(silent) == {"stayed": 0.0}


def test_an_outcome_names_its_decision_without_text() -> None:
    record = _settle(_tracker(_prompt(PromptKind.AD_HOMINEM_AUTHOR, member="bo")))
    assert (record.kind, record.conversation, record.message_id) == ("prompt_member", HERE, "m1")
    assert record.signal is Signal.AD_HOMINEM
    assert record.recipient == "bo"
    assert record.prompt == "ad_hominem_author"
    assert [name for name, _ in record.measures] == sorted(name for name, _ in record.measures)


# -- the engine's wording and the policy's descriptions ------------------------------------------


def test_the_claim_split_keeps_the_personal_words_as_written() -> None:
    from bot.core.rephrase import split_claim

    text = "The numbers are fine, but you clearly have no idea what a p-value is, so stop."
    found = split_claim(text, ("no idea", ""))
    assert found.personal == ("no idea",)  # the empty span is dropped, the cue kept as given
    missing = split_claim("A calm and careful reply about the trial.", ("no idea",))
    assert (missing.personal, missing.claim) == (("no idea",), None)


def test_every_policy_knob_is_described_for_check_policy() -> None:
    from bot.core.settings import Policy
    from bot.policy.describe import effective_values

    described = effective_values(Policy().settings)
    assert len(described) > 20
    undocumented = [key for key, _, doc in described if not doc.strip()]
    assert undocumented == []


def _engine_with(**prompt_templates: str):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from bot.core.engine import Engine
    from bot.policy.loader import load_policy
    from bot.scoring.embedded import EmbeddedScorer

    policy = load_policy("strict")
    prompts = replace(policy.settings.prompts, **prompt_templates)
    return Engine(replace(policy, settings=replace(policy.settings, prompts=prompts)),
                  EmbeddedScorer())  # fmt: skip


def test_a_pile_on_notice_can_name_the_policys_window() -> None:
    from bot.core.decisions import AlertModerators
    from tests.builders import message
    from tests.test_engine import DISAGREE, HOSTILE

    engine = _engine_with(pile_on_notice="window={window}")
    texts = [DISAGREE[0], HOSTILE[2], *DISAGREE[2:6]]
    said = []
    for i, author in enumerate(["u1", "u2", "u3", "u4", "u5", "u6"]):
        step = engine.feed(message(author, texts[i], T0 + i * MIN, reply_to_author="ana"))
        said += [a.text for a in step.actions if isinstance(a, PostNotice | AlertModerators)
                 and a.signal is Signal.PILE_ON and a.text.startswith("window=")]  # fmt: skip
    assert said, "no pile-on notice with the policy's template"
    assert all(text.removeprefix("window=").endswith("minutes") for text in said), said


def test_an_escalation_names_at_most_four_members_who_raised_the_heat() -> None:
    from dataclasses import replace

    from bot.core.decisions import Detection
    from bot.core.engine import Engine
    from bot.policy.loader import load_policy
    from bot.scoring.embedded import EmbeddedScorer
    from tests.builders import message

    policy = load_policy("strict")
    # More heat needed before it counts: by then five members have raised it.
    slow = replace(policy.settings.escalation, full_heat=12.0, detect_at=0.9)
    engine = Engine(replace(policy, settings=replace(policy.settings, escalation=slow)),
                    EmbeddedScorer())  # fmt: skip
    hostile = [
        "You're an idiot, did you even finish residency?",
        "People like you are the problem.",
        "What a pathetic take, you clown.",
        "You're a fraud and everyone knows it.",
        "Shut up, you useless idiot.",
        "You clearly don't understand any of this, you fraud.",
    ]
    heaters = ["vasquez", "greer", "lind", "moss", "quinn", "ruiz"]
    turns = [("priya", "Anyone seen the new guidance?"), ("okafor", "Yes, reading it now."),
             ("amara", "I think it's sensible."), ("hall", "Mostly agree, one caveat."),
             *zip(heaters, hostile, strict=True),
             *zip(heaters, hostile[1:] + hostile[:1], strict=True)]  # fmt: skip
    named: list[list[str]] = []
    for i, (author, text) in enumerate(turns):
        step = engine.feed(message(author, text, T0 + i * timedelta(seconds=20),
                                   reply_to_author="amara"))  # fmt: skip
        for found in step.detections:
            if isinstance(found, Detection) and found.signal is Signal.ESCALATION:
                listed = found.explanation.removeprefix("the thread is heating up, driven by ")
                named.append(
                    listed.removesuffix(" (most first)").replace(" and ", ", ").split(", ")
                )
    assert named, "the conversation did not escalate"
    assert all(len(people) <= 4 for people in named), named
    assert any(len(people) == 4 for people in named), named  # once five had raised the heat
    assert all(len(set(people)) == len(people) for people in named), named  # each named once
    assert all(set(people) <= set(heaters) for people in named), named


def test_a_finding_from_the_scorer_alone_quotes_no_words() -> None:
    from bot.core.ad_hominem import AdHominemDetector
    from tests.builders import message

    found = AdHominemDetector().judge(
        message("b", "you absolute walnut", reply_to_author="a"), {"insult": 0.95}, None
    )
    assert found is not None
    assert found.cue == "hostile_reply"
    assert found.phrase == ""  # the score came from the model, not from words in the text


def test_an_exempt_members_message_in_a_watched_thread_is_counted_without_heat() -> None:
    from dataclasses import replace

    from bot.core.engine import Engine
    from bot.core.events import MessagePosted
    from bot.core.settings import Policy
    from bot.scoring.embedded import EmbeddedScorer
    from tests.builders import message
    from tests.test_outcomes import ATTACK

    policy = Policy()
    engine = Engine(replace(policy, settings=replace(policy.settings, exempt_roles=("mod",))),
                    EmbeddedScorer())  # fmt: skip
    first = engine.feed(message("bo", ATTACK, T0, reply_to_author="ana", id="a1"))
    assert any(isinstance(a, PromptMember) for a in first.actions)  # a watch has started
    moderator = MessagePosted(id="x1", at=T0 + MIN, community="c", channel="general",
                              thread="t1", author="bo", text=ATTACK, reply_to_author="ana",
                              author_roles=frozenset({"mod"}))  # fmt: skip
    judged = engine.feed(moderator)
    assert (judged.detections, judged.actions) == ((), ())
    (record,) = [r for r in engine.tick(T0 + 120 * MIN).outcomes
                 if r.action == "prompt_member:ad_hominem_author"]  # fmt: skip
    measures = dict(record.measures)
    assert measures["posted_again"] == 1.0  # the author did write again ...
    assert measures["later_heat"] == 0.0  # ... but an exempt message is not scored: no heat


def test_saying_someone_lacks_competence_is_a_competence_cue_not_a_character_one() -> None:
    from bot.core.language import analyse

    assert [c.category for c in analyse("you are so stupid").cues] == ["competence"]
    assert [c.category for c in analyse("you are clueless").cues] == ["competence"]
    assert [c.category for c in analyse("you are so arrogant").cues] == ["character"]


def _pile_on_explanations(*, joined: bool) -> list[str]:
    from bot.core.engine import Engine
    from bot.core.events import MemberJoined
    from bot.core.settings import Policy
    from bot.scoring.embedded import EmbeddedScorer
    from tests.builders import message
    from tests.test_engine import DISAGREE, HOSTILE

    engine = Engine(Policy(), EmbeddedScorer())
    authors = ["u1", "u2", "u3", "u4", "u5", "u6"]
    if joined:
        engine.feed(MemberJoined(T0 - 60 * MIN, "c", "u2"))  # new to the community
    for i, author in enumerate(authors):  # everyone has been in the thread for half an hour
        engine.feed(message(author, "Interesting paper, reading it now.", T0 + i * MIN))
    engine.tick(T0 + 25 * MIN)  # a sweep in between: a join 72 hours old or less is kept
    texts = [DISAGREE[0], HOSTILE[2], *DISAGREE[2:6]]
    found: list[str] = []
    for i, author in enumerate(authors):
        step = engine.feed(message(author, texts[i], T0 + (30 + i) * MIN, reply_to_author="ana"))
        found += [d.explanation for d in step.detections if d.signal is Signal.PILE_ON]
    return found


def test_a_pile_on_by_members_long_in_the_thread_names_no_newcomers() -> None:
    found = _pile_on_explanations(joined=False)
    assert found, "no pile-on"
    assert all(e.endswith("minutes") and "new to the thread" not in e for e in found), found


def test_a_member_who_joined_recently_is_a_newcomer_though_long_in_the_thread() -> None:
    found = _pile_on_explanations(joined=True)
    assert found, "no pile-on"
    assert all(e.endswith(", 1 of them new to the thread or community") for e in found), found


def test_a_long_civil_exchange_is_reported_with_its_cue_and_the_other_member() -> None:
    from bot.core.engine import Engine
    from bot.core.settings import Policy
    from bot.scoring.embedded import EmbeddedScorer
    from tests.builders import message
    from tests.test_engine import DISAGREE

    engine = Engine(Policy(), EmbeddedScorer())
    found = []
    for i in range(16):
        author, other = ("ana", "bo") if i % 2 == 0 else ("bo", "ana")
        step = engine.feed(message(author, DISAGREE[i % len(DISAGREE)], T0 + i * MIN,
                                   reply_to_author=other))  # fmt: skip
        found += [d for d in step.detections if d.signal is Signal.LONG_EXCHANGE]
    assert [(d.cue, d.target) for d in found] == [("long civil exchange", "bo")]


def test_an_attack_with_no_reply_is_aimed_at_the_last_other_speaker() -> None:
    from bot.core.engine import Engine
    from bot.core.settings import Policy
    from bot.scoring.embedded import EmbeddedScorer
    from tests.builders import message

    engine = Engine(Policy(), EmbeddedScorer())
    engine.feed(message("ana", "The trial excluded patients over 65.", T0))
    step = engine.feed(message("bo", "You're an idiot, did you even finish residency?",
                               T0 + MIN))  # fmt: skip
    assert [(d.signal, d.target) for d in step.detections] == [(Signal.AD_HOMINEM, "ana")]


def test_a_members_request_opens_a_space_where_they_asked() -> None:
    from bot.core.decisions import OpenLongformSpace
    from bot.core.requests import MemberRequested, Requested, decide
    from bot.core.settings import Settings

    notice = PostNotice(HERE, "m7", T0, Signal.PILE_ON, "r", Evidence(("m5", "m7")), text="Slower?")
    ask = MemberRequested(Requested.LONGFORM, HERE, "42", "Ana", T0 + MIN, "notice-1", notice)
    (space,) = decide(ask, Settings())
    assert isinstance(space, OpenLongformSpace)
    assert (space.conversation, space.at, space.signal) == (HERE, T0 + MIN, Signal.PILE_ON)


def test_single_quotes_alone_mark_a_quoted_span() -> None:
    from bot.core.language import quoted_spans

    assert quoted_spans("he said 'you idiot' to me") == [(8, 19)]
    assert quoted_spans('he said "you idiot" to me') == [(8, 19)]
    assert quoted_spans("no quotes here at all") == []
