"""Opening a long-form venue on Telegram: a new forum topic with the intro, the template, copies
of the key messages and a link back (the pipeline leaves the link to it in the origin).

How it works: the topic goes to the community's ``longform_space`` forum group, or to the group
itself when it is a forum; where neither is a forum, ``NotAForumError`` (a missing permission)
has the pipeline tell the moderators what to change. The Bot API has no idempotency key, so each
of the venue's own steps (topic, intro, copies) is recorded in the pipeline's step store under
``<key>.venue`` (the topic as its reference), so a retry after a rate limit halfway through, or
after a restart, continues where it stopped instead of opening a second topic. Copying
the key messages (``copyMessages``, at most 100, in increasing order, from the original group only)
is best effort: a message deleted since is simply left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from telegram import Bot
from telegram.error import BadRequest

from adapters.telegram import texts
from adapters.telegram.community import Community, parse_message_ref, place
from adapters.telegram.errors import NotAForumError
from adapters.telegram.roster import Roster
from bot.core.events import ConversationKey
from bot.runtime.gateway import Step, Steps, Venue
from bot.runtime.pipeline import StepStore

log = structlog.get_logger()
TITLE_LIMIT = 128  # characters Telegram allows in a topic name


@dataclass(frozen=True)
class Opening:
    """The topic of one space: where it is and the link to it."""

    chat_id: int
    topic_id: int
    link: str | None

    @property
    def reference(self) -> str:
        """The space as the runtime stores it (for the closing reminder): ``<chat>:<topic>``."""
        return f"{self.chat_id}:{self.topic_id}"


def space_chat(community: Community, origin_chat: int) -> int:
    """Where the community's long-form topics go."""
    return community.longform_space or origin_chat


class LongformSpaces:
    """Opens spaces and remembers them, per decision key and per conversation."""

    def __init__(self, bot: Bot, roster: Roster, steps: StepStore) -> None:
        self.bot, self.roster, self.steps = bot, roster, steps
        self.by_conversation: dict[ConversationKey, Opening] = {}

    async def open(self, venue: Venue, key: str, community: Community, title: str,
                   intro: str) -> Opening:  # fmt: skip
        """Open (or finish opening) the topic of ``venue``; NotAForumError if there is no forum."""
        origin, origin_topic = place(venue.origin.conversation)
        key = f"{key}.venue"
        steps = await self.steps.load(key)
        conversation = venue.origin.conversation
        already = self.by_conversation.get(conversation)
        topic = steps.get("topic")
        if topic is None and already is not None:
            return already  # one space per conversation: a second request gets the open one
        if topic is None:
            created = await self._create(community, origin, title)
            topic = Step("topic", created.reference, created.link or "")
            steps = await self._done(key, steps, topic)
        opening = _opening(topic)
        if steps.get("intro") is None:
            replied = parse_message_ref(venue.started_from)
            back = texts.message_link(origin, replied[1], origin_topic) if replied else None
            body = texts.lines([intro, texts.LONGFORM_BACK.format(url=back) if back else None])
            await self.bot.send_message(
                opening.chat_id, texts.clip(body), message_thread_id=opening.topic_id
            )
            steps = await self._done(key, steps, Step("intro", opening.reference))
        if steps.get("copies") is None:
            await self._copy(opening, origin, tuple(quote.id for quote in venue.quotes))
            steps = await self._done(key, steps, Step("copies", opening.reference))
        self.by_conversation[conversation] = opening
        return opening

    async def _done(self, key: str, steps: Steps, step: Step) -> Steps:
        """Record ``step`` of ``key`` before the next begins."""
        steps = steps.plus(step)
        await self.steps.save(key, steps)
        return steps

    async def _create(self, community: Community, origin: int, title: str) -> Opening:
        chat_id = space_chat(community, origin)
        chat = await self.bot.get_chat(chat_id)
        if not chat.is_forum:
            where = self.roster.titles.get(chat_id, chat.title or str(chat_id))
            raise NotAForumError(texts.NOT_A_FORUM.format(
                place=self.roster.place_name(origin, None), chat=where))  # fmt: skip
        topic = await self.bot.create_forum_topic(chat_id, texts.clip(title, TITLE_LIMIT))
        self.roster.topics[(chat_id, topic.message_thread_id)] = topic.name
        link = texts.topic_link(chat_id, topic.message_thread_id, chat.username)
        return Opening(chat_id, topic.message_thread_id, link)

    async def _copy(self, opening: Opening, origin: int, key_messages: tuple[str, ...]) -> None:
        refs = (parse_message_ref(ref) for ref in key_messages)
        ids = sorted({message for chat, message in filter(None, refs) if chat == origin})[:100]
        if not ids:
            return
        try:
            await self.bot.copy_messages(
                opening.chat_id, origin, ids, message_thread_id=opening.topic_id
            )
        except BadRequest as error:  # deleted since, or not copyable: the link back remains
            log.warning("longform_copy_skipped", chat=origin, problem=error.message)


def _opening(topic: Step) -> Opening:
    """The topic a recorded ``topic`` step created (reference ``<chat>:<topic>``)."""
    parsed = parse_message_ref(topic.reference)
    if parsed is None:
        raise ValueError(f"not a Telegram topic reference: {topic.reference!r}")
    return Opening(parsed[0], parsed[1], topic.link or None)
