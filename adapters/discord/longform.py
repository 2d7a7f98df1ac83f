"""Opening a long-form venue on Discord: a post in the community's forum channel.

How it works: the post is titled from the thread (the venue's title, with the thread's id
replaced by its name), tagged with the policy's tags that the forum has, slowed by the policy's
``slow_mode_seconds``, and opens with the invitation, the policy's template, quotes of and links to
the key messages, and the participants, each mentioned once. The pipeline offers it first where
the policy asks consent, and leaves the link to it in the original thread. A conversation that
already has an open post gets no second one (the post's first message names the conversation it
came from).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import discord

from adapters.discord import texts, views
from adapters.discord.calls import Calls, Place
from adapters.discord.community import Community
from adapters.discord.errors import DowngradeError
from bot.core.events import ConversationKey
from bot.runtime.gateway import Sent, Venue

ACTION = "open a long-form space"
MAX_QUOTES = 5
MAX_MENTIONS = 10
MAX_LOOKUPS = 10  # posts whose first message is fetched when looking for an existing space


async def open_post(ex: Calls, venue: Venue, key: str) -> Sent:
    """Open the forum post of ``venue`` (or find the one open); DowngradeError if the forum is
    missing or closed."""
    community, guild, origin = await ex.place(venue.origin.conversation)
    forum = await _forum(ex, community, guild)
    ex.require(forum, "send_messages", "Create Posts", ACTION)
    existing = await _existing_post(ex, forum, origin)
    if existing is not None:
        return Sent(str(existing.id), f"forum post {existing.id} (already open)", existing.jump_url)
    title = texts.title(venue.title, venue.origin.id, origin.name)
    thread = await _create_post(ex, forum, origin, venue, title, key)
    return Sent(str(thread.id), f"forum post {thread.id}", thread.jump_url)


async def _forum(ex: Calls, community: Community, guild: discord.Guild) -> discord.ForumChannel:
    if community.longform_space is None:
        raise _downgrade("no long-form forum is configured (communities.longform_space)")
    forum = await ex.channel(guild, community.longform_space)
    if not isinstance(forum, discord.ForumChannel):
        raise _downgrade(f"channel {community.longform_space} is not a forum channel")
    return forum


def _downgrade(problem: str) -> DowngradeError:
    return DowngradeError(ACTION, problem)


async def existing_space(ex: Calls, conversation: ConversationKey) -> discord.Thread | None:
    """The open long-form post this bot made for ``conversation``, if any."""
    community, guild, origin = await ex.place(conversation)
    forum = guild.get_channel(community.longform_space or 0)
    if not isinstance(forum, discord.ForumChannel):
        return None
    return await _existing_post(ex, forum, origin)


async def _existing_post(
    ex: Calls, forum: discord.ForumChannel, origin: Place
) -> discord.Thread | None:
    """The newest active post of this bot whose first message names ``origin`` as its start."""
    me = forum.guild.me.id
    mine = sorted((t for t in forum.threads if t.owner_id == me), key=lambda t: t.id, reverse=True)
    line = texts.origin_line(origin.jump_url) + "\n"
    for thread in mine[:MAX_LOOKUPS]:
        starter = thread.starter_message
        if starter is None:
            with contextlib.suppress(discord.NotFound, discord.Forbidden):
                starter = await ex.call(thread.fetch_message(thread.id))
        if starter is not None and line in starter.content + "\n":
            return thread
    return None


async def _create_post(
    ex: Calls,
    forum: discord.ForumChannel,
    origin: Place,
    venue: Venue,
    title: str,
    key: str,
) -> discord.Thread:
    quotes, authors = await _key_messages(ex, origin, [quote.id for quote in venue.quotes])
    people = _participants([*(p.id for p in venue.participants), *authors], forum.guild)
    content = texts.starter_content(
        ex.humanize(forum.guild, venue.intro), venue.template, quotes,
        origin.jump_url, [f"<@{person}>" for person in people],
    )  # fmt: skip
    wanted = {tag.lower() for tag in venue.tags}
    tags = [tag for tag in forum.available_tags if tag.name.lower() in wanted][:5]
    pings = discord.AllowedMentions(users=[discord.Object(p) for p in people], everyone=False,
                                    roles=False, replied_user=False)  # fmt: skip
    creating = forum.create_thread(
        name=title, content=content, applied_tags=tags, view=views.post_view(key),
        slowmode_delay=venue.slow_mode_seconds, allowed_mentions=pings,
    )  # fmt: skip
    created = await ex.guarded(creating, "Create Posts", ACTION)
    return created.thread


async def _key_messages(
    ex: Calls, origin: Place, ids: Sequence[str]
) -> tuple[list[tuple[str, str]], list[str]]:
    """(text, link) of the key messages still there, and the people in them: their authors and
    the members they reply to."""
    quotes: list[tuple[str, str]] = []
    people: list[str] = []
    for message_id in [i for i in ids if i.isdigit()][:MAX_QUOTES]:
        try:
            message = await ex.call(origin.fetch_message(int(message_id)))
        except (discord.NotFound, discord.Forbidden):
            continue  # deleted since, or unreadable: quote what is left
        quotes.append((message.content, message.jump_url))
        replied = message.reference.resolved if message.reference else None
        for person in (message.author, getattr(replied, "author", None)):
            if person is not None and not person.bot:
                people.append(str(person.id))
    return quotes, people


def _participants(ids: Sequence[str], guild: discord.Guild) -> list[int]:
    """Members to invite: people in the guild, once each, at most MAX_MENTIONS."""
    found: list[int] = []
    for raw in dict.fromkeys(i for i in ids if i.isdigit()):
        member = guild.get_member(int(raw))
        if member is not None and not member.bot:
            found.append(member.id)
    return found[:MAX_MENTIONS]
