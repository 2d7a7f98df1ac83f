"""The gateway's small types: community refs parse and print back, places map to conversations."""

from __future__ import annotations

import pytest

from bot.core.events import ConversationKey
from bot.runtime.gateway import CommunityRef, Place, Step, Steps


def test_community_ref_round_trips_a_matrix_id_with_colons() -> None:
    ref = CommunityRef.parse("matrix:!space:example.org")
    assert (ref.platform, ref.id) == ("matrix", "!space:example.org")
    assert ref.key == "matrix:!space:example.org"


@pytest.mark.parametrize("bad", ["", "discord", "discord:", ":123"])
def test_community_ref_names_the_expected_form(bad: str) -> None:
    with pytest.raises(ValueError, match="write it as '<platform>:<id>'"):
        CommunityRef.parse(bad)


def test_place_is_the_thread_inside_a_thread_and_maps_back() -> None:
    conversation = ConversationKey("telegram:-100", "-100", "7")
    place = Place.of(conversation)
    assert place.id == "7"
    assert place.community == CommunityRef("telegram", "-100")
    assert place.conversation == conversation


def test_steps_remember_what_each_step_created() -> None:
    steps = Steps().plus(Step("venue", "post-1", "https://x/1"))
    assert steps.get("venue") == Step("venue", "post-1", "https://x/1")
    assert steps.get("link") is None
