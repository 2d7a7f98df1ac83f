"""A gateway that records the primitives called and can be told to fail: the seam the pipeline
is tested through (the platforms' own tests drive their real libraries against fakes)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.runtime.gateway import (
    Alert,
    CommunityRef,
    GatewayError,
    MemberRef,
    MessageRef,
    Notice,
    Place,
    Private,
    Rights,
    Sent,
    SlowMode,
    SlowModeSet,
    Unreachable,
    Venue,
)


@dataclass
class RecordingGateway:
    """Records each call as (primitive, argument); ``fail[primitive]`` raises once per entry."""

    platform: str = "test"
    calls: list[tuple[str, object]] = field(default_factory=list)
    fail: dict[str, list[GatewayError]] = field(default_factory=dict)
    unreachable: bool = False
    names: dict[str, str] = field(default_factory=dict)
    asks_moderators: bool = False  # slow mode only asked of the moderators (Telegram, no rights)

    def _do(self, primitive: str, argument: object) -> Sent:
        pending = self.fail.get(primitive)
        if pending:
            raise pending.pop(0)
        self.calls.append((primitive, argument))
        return Sent(f"{primitive}-{len(self.calls)}", link=f"https://x/{len(self.calls)}")

    def called(self, primitive: str) -> list[object]:
        return [argument for name, argument in self.calls if name == primitive]

    async def post_notice(self, notice: Notice, key: str) -> Sent:
        return self._do("post_notice", notice)

    async def reply(self, to: MessageRef, text: str, key: str) -> Sent:
        return self._do("reply", (to, text))

    async def send_private(self, message: Private, key: str) -> Sent | Unreachable:
        if self.unreachable:
            return Unreachable("DMs closed")
        return self._do("send_private", message)

    async def set_slow_mode(self, slow: SlowMode, key: str) -> SlowModeSet:
        self._do("set_slow_mode", slow)
        if self.asks_moderators:
            return SlowModeSet('{"asked": true}', emulated=True, detail="asked", asked=True)
        return SlowModeSet(restore='{"was": 5}', emulated=True)

    async def restore_slow_mode(self, place: Place, restore: str) -> Sent:
        return self._do("restore_slow_mode", (place, restore))

    async def open_venue(self, venue: Venue, key: str) -> Sent:
        return self._do("open_venue", venue)

    async def alert_moderators(self, alert: Alert, key: str) -> Sent:
        return self._do("alert_moderators", alert)

    async def post_in_venue(self, community: CommunityRef, reference: str, text: str) -> Sent:
        return self._do("post_in_venue", (reference, text))

    def venue_place(self, community: CommunityRef, reference: str) -> Place:
        return Place(community, "venues", reference)

    async def undo_actions(self, place: Place, key: str) -> Sent:
        return self._do("undo_actions", place)

    async def rights(self, member: MemberRef, place: Place) -> Rights:
        return Rights(moderator=member.id.startswith("mod"))

    async def resolve_names(
        self, community: CommunityRef, ids: tuple[str, ...]
    ) -> Mapping[str, str]:
        return {i: self.names[i] for i in ids if i in self.names}
