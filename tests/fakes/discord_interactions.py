"""Component interactions in the fake Discord: a click goes in, the bot's answers are recorded.

How it works: `click` builds an INTERACTION_CREATE (type 3, a button) and `command` one of type 2 (a
slash command, with its options) with every field discord.py's parser indexes, and keeps it pending
under its id and token. The bot then answers through the webhook-style
routes: one callback (4 message, 5 deferred "thinking", 6 deferred update, 7 update the clicked
message, 9 modal; a second one is refused with 40060), followups, and edits of `@original`.
Ephemeral messages are kept with the interaction, never in the channel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tests.fakes import discord_state as ds
from tests.fakes.discord_http import EPHEMERAL, DiscordError
from tests.fakes.discord_state import FakeUser, Json

if TYPE_CHECKING:
    from tests.fakes.discord_server import FakeDiscordServer

LOADING = 1 << 7  # message flag of a deferred response


@dataclass
class PendingInteraction:
    id: int
    token: str
    payload: Json
    acknowledged: bool = False
    response_message_id: int | None = None
    ephemeral: dict[int, Json] = field(default_factory=dict)

    @property
    def user(self) -> Json:
        return dict(self.payload.get("member", {}).get("user") or self.payload["user"])


@dataclass(frozen=True)
class InteractionResponse:
    """What the bot answered to an interaction: a `callback` (with its `type`: 4 message,
    5 deferred, 6 deferred update, 7 update message, 9 modal), a `followup`, or an `edit`."""

    interaction_id: int
    custom_id: str | None
    user_id: int
    kind: str
    type: int | None
    data: Json
    ephemeral: bool
    message: Json | None

    @property
    def content(self) -> str:
        return str(self.data.get("content") or "")


class Interactions:
    """Pending interactions and the answers recorded for them."""

    def __init__(self, server: FakeDiscordServer) -> None:
        self._s = server
        self._pending: dict[int, PendingInteraction] = {}
        self.responses: list[InteractionResponse] = []

    async def click(self, message: Json, button: Json, user: FakeUser) -> int:
        data = {"custom_id": button["custom_id"], "component_type": 2, "id": button.get("id", 1)}
        return await self._dispatch(int(message["channel_id"]), user, 3, data, message)

    async def command(self, channel_id: int, user: FakeUser, name: str, options: list[Json]) -> int:
        """A member runs `/name` with `options` (already nested for subcommands) in a channel."""
        data: Json = {"id": str(ds.snowflake()), "name": name, "type": 1, "options": options}
        if channel_id in self._s.world.channels:
            data["guild_id"] = str(self._s.world.guild_id)
        return await self._dispatch(channel_id, user, 2, data, None)

    async def _dispatch(
        self, channel_id: int, user: FakeUser, kind: int, data: Json, message: Json | None
    ) -> int:
        pending = PendingInteraction(ds.snowflake(), f"token-{ds.snowflake()}", {})
        pending.payload = self._payload(pending, channel_id, user, kind, data, message)
        self._pending[pending.id] = pending
        await self._s.dispatch("INTERACTION_CREATE", pending.payload)
        return pending.id

    def _payload(
        self,
        pending: PendingInteraction,
        channel_id: int,
        user: FakeUser,
        kind: int,
        data: Json,
        message: Json | None,
    ) -> Json:
        channel = self._s.channel_payload(channel_id)
        in_guild = channel_id in self._s.world.channels
        payload: Json = {
            "id": str(pending.id),
            "application_id": str(self._s.world.bot.id),
            "type": kind,
            "data": data,
            "channel": channel,
            "channel_id": channel["id"],
            "token": pending.token,
            "version": 1,
            "app_permissions": "2248473465835073",
            "locale": "en-US",
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": 10 * 1024 * 1024,
            "context": 0 if in_guild else 1,
        }
        if message is not None:
            payload["message"] = message
        if in_guild:
            guild_id = str(self._s.world.guild_id)
            payload.update(
                guild_id=guild_id,
                guild={"id": guild_id, "locale": "en-US", "features": []},
                guild_locale="en-US",
                member=user.member_payload() | {"permissions": str(self._permissions(user))},
                authorizing_integration_owners={"0": guild_id},
            )
        else:
            payload.update(
                user=user.user_payload(), authorizing_integration_owners={"1": str(user.id)}
            )
        return payload

    def _permissions(self, user: FakeUser) -> int:
        roles = self._s.world.roles
        perms = 0
        for role_id in [self._s.world.guild_id, *user.roles]:
            perms |= roles[role_id].permissions if role_id in roles else 0
        return perms

    def pending(self, interaction_id: int, token: str) -> PendingInteraction:
        pending = self._pending.get(interaction_id)
        if pending is None or pending.token != token:
            raise DiscordError(404, 10062, "Unknown interaction")
        return pending

    def by_token(self, token: str) -> PendingInteraction:
        for pending in self._pending.values():
            if pending.token == token:
                return pending
        raise DiscordError(404, 10015, "Unknown Webhook")

    def message(self, pending: PendingInteraction, message_id: str) -> Json:
        """A response message by id or "@original" (ephemeral ones included)."""
        mid = pending.response_message_id if message_id == "@original" else int(message_id)
        message = self._s.messages_by_id.get(mid or 0) or pending.ephemeral.get(mid or 0)
        if message is None:
            raise DiscordError(404, 10008, "Unknown Message")
        return message

    async def answer(
        self, pending: PendingInteraction, kind: int | None, data: Json
    ) -> Json | None:
        """Apply a callback (`kind` 4, 5, 6, 7, 9) or a followup (`kind` None); return the
        message it created or updated."""
        message: Json | None = None
        if kind in (4, 5, None):  # a message, a "thinking..." placeholder, a followup
            loading = {"flags": int(data.get("flags") or 0) | LOADING} if kind == 5 else {}
            message = self._response_message(pending, data | loading)
            if kind is not None:
                pending.response_message_id = int(message["id"])
            if int(message["flags"]) & EPHEMERAL:
                pending.ephemeral[int(message["id"])] = message
            else:
                await self._s.store_message(message, by_bot=True)
        elif kind in (6, 7):  # the original response is then the clicked message
            if "message" not in pending.payload:
                raise DiscordError(400, 40004, "Interaction has no message to update")
            source_id = int(pending.payload["message"]["id"])
            source = self._s.messages_by_id.get(source_id) or pending.payload["message"]
            pending.response_message_id = source_id
            if kind == 7:
                await self._s.apply_edit(source, data)
                message = source
        self.record(pending, "followup" if kind is None else "callback", kind, data, message)
        return message

    def _response_message(self, pending: PendingInteraction, data: Json) -> Json:
        guild_id = pending.payload.get("guild_id")
        message = ds.message_payload(
            channel_id=int(pending.payload["channel_id"]),
            guild_id=None if guild_id is None else int(guild_id),
            author=self._s.world.bot,
            content=data.get("content") or "",
            components=data.get("components"),
            embeds=data.get("embeds"),
            flags=int(data.get("flags") or 0),
        )
        message.update(
            application_id=str(self._s.world.bot.id),
            webhook_id=str(self._s.world.bot.id),
            interaction_metadata=self._metadata(pending),
        )
        return message

    def _metadata(self, pending: PendingInteraction) -> Json:
        metadata: Json = {
            "id": str(pending.id),
            "type": pending.payload["type"],
            "user": pending.user,
            "authorizing_integration_owners": pending.payload["authorizing_integration_owners"],
        }
        if "message" in pending.payload:
            metadata["interacted_message_id"] = pending.payload["message"]["id"]
        else:
            metadata["name"] = pending.payload["data"]["name"]
        return metadata

    def record(
        self,
        pending: PendingInteraction,
        kind: str,
        type_: int | None,
        data: Json,
        message: Json | None,
    ) -> None:
        flags = int((message or data).get("flags") or 0)
        custom_id = pending.payload["data"].get("custom_id")
        user_id = int(pending.user["id"])
        response = InteractionResponse(
            pending.id, custom_id, user_id, kind, type_, data, bool(flags & EPHEMERAL), message
        )
        self.responses.append(response)
        self._s.notify()
