"""The one execution pipeline: decisions -> gateway primitives -> results, once each."""

from __future__ import annotations

from bot.core.decisions import (
    AlertModerators,
    Evidence,
    LiftSlowMode,
    OpenLongformSpace,
    PostNotice,
    PromptKind,
    PromptMember,
    SetSlowMode,
    Signal,
)
from bot.core.events import ConversationKey
from bot.core.settings import Settings
from bot.runtime.gateway import (
    Alert,
    CommunityRef,
    Gateway,
    MissingPermissionError,
    Notice,
    Place,
    RetryLaterError,
    SlowMode,
    UnresolvedError,
    Venue,
)
from bot.runtime.pipeline import (
    MemorySteps,
    Pipeline,
    opt_out_check,
    record,
    recorded,
    shadow_check,
    withheld,
)
from bot.runtime.platform import ActionResult, Status
from bot.storage.codec import decision_key
from bot.storage.schema import Outcome
from tests.builders import MIN, T0
from tests.gateway_support import RecordingGateway

HERE = ConversationKey("test:c1", "room", "thread")
WHY = Evidence(("m1", "m2"))


def _notice() -> PostNotice:
    return PostNotice(HERE, "m2", T0, Signal.PILE_ON, "r", WHY, text="Slower, @ana:x?",
                      offers_longform=True)  # fmt: skip


def _slow() -> SetSlowMode:
    return SetSlowMode(HERE, "m2", T0, Signal.PILE_ON, "heated", WHY, seconds=60, until=T0 + MIN)


def _space() -> OpenLongformSpace:
    return OpenLongformSpace(HERE, "m2", T0, Signal.ESCALATION, "r", WHY, title="Long form",
                             template=("Claim",), participants=("ana",), key_messages=("m1",),
                             text="More room.", requested_by="ana")  # fmt: skip


def test_the_recording_gateway_is_a_gateway() -> None:
    assert isinstance(RecordingGateway(), Gateway)


async def test_a_notice_offers_long_form_and_names_members() -> None:
    gateway = RecordingGateway(names={"@ana:x": "Ana"})
    result = await Pipeline(gateway).execute(_notice(), "k1")
    (notice,) = gateway.called("post_notice")
    assert isinstance(notice, Notice)
    assert notice.text == "Slower, Ana?"
    assert notice.reply_to == "m2"
    assert [a.kind.value for a in notice.actions] == ["why", "wrong", "longform"]
    assert (result.status, result.reference) == (Status.SENT, "post_notice-1")


async def test_a_retry_of_a_done_notice_posts_nothing_more() -> None:
    gateway, steps = RecordingGateway(), MemorySteps()
    first = await Pipeline(gateway, steps).execute(_notice(), "k1")
    again = await Pipeline(gateway, steps).execute(_notice(), "k1")
    assert len(gateway.called("post_notice")) == 1
    assert again.reference == first.reference


async def test_a_long_form_retry_resumes_after_the_venue_it_opened() -> None:
    gateway, steps = RecordingGateway(), MemorySteps()
    gateway.fail["reply"] = [RetryLaterError("429", retry_after=2.5)]
    pipeline = Pipeline(gateway, steps)
    failed = await pipeline.execute(_space(), "k2")
    assert (failed.status, failed.retry_after) == (Status.FAILED, 2.5)
    done = await pipeline.execute(_space(), "k2")
    assert len(gateway.called("open_venue")) == 1
    (reply,) = gateway.called("reply")
    assert isinstance(reply, tuple)
    assert reply[0].id == "m2"
    assert "https://x/1" in reply[1]
    assert (done.status, done.reference) == (Status.SENT, "open_venue-1")


async def test_a_venue_gets_the_template_quotes_and_policy_slow_mode() -> None:
    gateway = RecordingGateway()
    await Pipeline(gateway, settings_of=lambda c, ch: Settings()).execute(_space(), "k2")
    (venue,) = gateway.called("open_venue")
    assert isinstance(venue, Venue)
    assert venue.template == ("Claim",)
    assert [q.id for q in venue.quotes] == ["m1"]
    assert venue.slow_mode_seconds == Settings().longform.slow_mode_seconds


async def test_a_missing_permission_alerts_the_moderators_with_the_right_to_grant() -> None:
    gateway = RecordingGateway()
    gateway.fail["set_slow_mode"] = [MissingPermissionError("Manage Channels", "set slow mode")]
    result = await Pipeline(gateway).execute(_slow(), "k3")
    (alert,) = gateway.called("alert_moderators")
    assert isinstance(alert, Alert)
    assert "Manage Channels" in alert.text
    assert result.status is Status.DOWNGRADED


async def test_a_missing_permission_for_the_alert_itself_fails() -> None:
    gateway = RecordingGateway()
    gateway.fail["alert_moderators"] = [MissingPermissionError("Send Messages", "alert")]
    alert = AlertModerators(HERE, "m2", T0, Signal.PILE_ON, "r", WHY, text="Look")
    result = await Pipeline(gateway).execute(alert, "k4")
    assert result.status is Status.FAILED
    assert result.retry_after is None
    assert "Send Messages" in result.detail


async def test_an_unresolved_place_fails_for_good() -> None:
    gateway = RecordingGateway()
    gateway.fail["post_notice"] = [UnresolvedError("no such room")]
    result = await Pipeline(gateway).execute(_notice(), "k5")
    assert (result.status, result.retry_after, result.detail) == (
        Status.FAILED, None, "no such room",
    )  # fmt: skip


async def test_an_unreachable_member_gets_a_neutral_note_in_public() -> None:
    gateway = RecordingGateway(unreachable=True)
    prompt = PromptMember(HERE, "m2", T0, Signal.PILE_ON, "r", WHY, member="ana",
                          kind=PromptKind.PILE_ON_TARGET, text="Take your time.")  # fmt: skip
    result = await Pipeline(gateway).execute(prompt, "k6")
    (note,) = gateway.called("post_notice")
    assert isinstance(note, Notice)
    assert "Take your time" not in note.text
    assert [a.kind.value for a in note.actions] == ["note"]
    assert result.status is Status.DOWNGRADED


async def test_a_lift_restores_exactly_what_the_slow_mode_recorded() -> None:
    gateway, steps = RecordingGateway(), MemorySteps()
    pipeline = Pipeline(gateway, steps)
    await pipeline.execute(_slow(), decision_key(_slow(), "test"))
    lift = LiftSlowMode(HERE, "m2", T0 + MIN, Signal.PILE_ON, "cooled", WHY)
    result = await pipeline.execute(lift, "k7")
    (restored,) = gateway.called("restore_slow_mode")
    assert isinstance(restored, tuple)
    assert restored[1] == '{"was": 5}'
    assert result.status is Status.SENT


async def test_a_slow_mode_only_asked_of_the_moderators_is_downgraded_and_still_lifted() -> None:
    gateway, steps = RecordingGateway(asks_moderators=True), MemorySteps()
    pipeline, key = Pipeline(gateway, steps), decision_key(_slow(), "test")
    first = await pipeline.execute(_slow(), key)
    again = await pipeline.execute(_slow(), key)
    assert (
        (first.status, first.detail) == (again.status, again.detail) == (Status.DOWNGRADED, "asked")
    )
    assert len(gateway.called("set_slow_mode")) == 1
    (slow,) = gateway.called("set_slow_mode")
    assert isinstance(slow, SlowMode)
    assert slow.reason == "heated"
    # The messages that heated it go along (Matrix mutes just their authors).
    assert [m.id for m in slow.evidence] == list(WHY.message_ids)
    assert {m.place for m in slow.evidence} == {Place.of(HERE)}
    lift = LiftSlowMode(HERE, "m2", T0 + MIN, Signal.PILE_ON, "cooled", WHY)
    assert (await pipeline.execute(lift, "k9")).status is Status.SENT
    (restored,) = gateway.called("restore_slow_mode")
    assert isinstance(restored, tuple)
    assert restored[1] == '{"asked": true}'


async def test_an_alert_with_a_summary_carries_its_reason_apart() -> None:
    gateway = RecordingGateway(names={"@ana:x": "Ana"})
    alert = AlertModerators(
        HERE, "m2", T0, Signal.PILE_ON, "@ana:x was piled on", WHY, text="Pile-on"
    )
    await Pipeline(gateway).execute(alert, "k10")
    (sent,) = gateway.called("alert_moderators")
    assert isinstance(sent, Alert)
    assert (sent.text, sent.reason) == ("Pile-on", "Ana was piled on")


async def test_a_second_lift_of_the_same_slow_mode_is_skipped() -> None:
    gateway, steps = RecordingGateway(), MemorySteps()
    pipeline = Pipeline(gateway, steps)
    await pipeline.execute(_slow(), decision_key(_slow(), "test"))
    lift = LiftSlowMode(HERE, "m2", T0 + MIN, Signal.PILE_ON, "cooled", WHY)
    first = await pipeline.execute(lift, "k11")
    retried = await pipeline.execute(lift, "k11")  # the same lift again: its recorded result
    other = await pipeline.execute(lift, "k12")  # another lift of it: nothing left to do
    assert (first.status, retried.status, other.status) == (
        Status.SENT,
        Status.SENT,
        Status.SKIPPED,
    )
    assert len(gateway.called("restore_slow_mode")) == 1


async def test_a_downgrade_alert_says_what_could_not_be_done_and_why_apart() -> None:
    gateway = RecordingGateway()
    gateway.fail["set_slow_mode"] = [MissingPermissionError("Manage Channels", "set slow mode")]
    await Pipeline(gateway).execute(_slow(), "k13")
    (alert,) = gateway.called("alert_moderators")
    assert isinstance(alert, Alert)
    assert (alert.could_not, alert.reason) == ("set slow mode", "heated")
    assert "Manage Channels" in alert.problem


async def test_a_lift_of_a_slow_mode_never_set_does_nothing() -> None:
    gateway = RecordingGateway()
    lift = LiftSlowMode(HERE, "m2", T0 + MIN, Signal.PILE_ON, "cooled", WHY)
    result = await Pipeline(gateway).execute(lift, "k8")
    assert result.status is Status.SKIPPED
    assert not gateway.calls


def test_shadow_mode_holds_back_all_but_moderator_alerts() -> None:
    checks = [shadow_check(lambda community: "shadow")]
    alert = AlertModerators(HERE, "m2", T0, Signal.PILE_ON, "r", WHY, text="Look")
    assert withheld(checks, _notice()) is Outcome.SUPPRESSED_SHADOW
    assert withheld(checks, alert) is None


def test_an_opted_out_member_gets_no_prompt() -> None:
    seen: list[tuple[str, str, str]] = []

    def opted_out(platform: str, community: str, member: str) -> bool:
        seen.append((platform, community, member))
        return True

    prompt = PromptMember(HERE, "m2", T0, Signal.PILE_ON, "r", WHY, member="ana",
                          kind=PromptKind.PILE_ON_TARGET, text="Hi")  # fmt: skip
    assert withheld([opt_out_check(opted_out)], prompt) is Outcome.OPTED_OUT
    assert seen == [("test", "c1", "ana")]
    assert withheld([opt_out_check(opted_out)], _notice()) is None


async def test_a_recorded_result_comes_back_whole_and_only_once_done() -> None:
    steps = MemorySteps()
    await record(steps, "k9", ActionResult.failed("429", retry_after=1.0))
    assert await recorded(steps, "k9") is None, "a failure is not done"
    downgraded = ActionResult(Status.DOWNGRADED, "DMs closed: a note", None, "m-5")
    await record(steps, "k9", downgraded)
    assert await recorded(steps, "k9") == downgraded


async def test_names_replace_whole_ids_only_and_never_inside_a_link() -> None:
    gateway = RecordingGateway(names={"12": "ana", "@bo:example.org": "bo"})
    community = CommunityRef("test", "c")
    text = "12 and @bo:example.org: see https://discord.com/channels/1/12/34 (not 123 or 120)."
    found = await Pipeline(gateway).readable(community, text)
    assert found == "ana and bo: see https://discord.com/channels/1/12/34 (not 123 or 120)."
