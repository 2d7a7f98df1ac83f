"""Opening a long-form space on Telegram: a new forum topic with the template, copies of the key
messages and a link back, and a link to the topic left in the original conversation.

How it works: the topic goes to the community's ``longform_space`` forum group, or to the group
itself when it is a forum; where neither is a forum, the action is downgraded to a moderators' note
that says what to change. Each step is remembered under the decision's key, so a retry after a
rate limit halfway through continues where it stopped instead of opening a second topic. Copying
the key messages (``copyMessages``, at most 100, in increasing order, from the original group only)
is best effort: a message deleted since is simply left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog
from telegram import Bot
from telegram.error import BadRequest

from adapters.telegram import keyboards, texts
from adapters.telegram.community import Community, parse_message_ref, place
from adapters.telegram.errors import DowngradeError
from adapters.telegram.roster import Roster
from bot.core.decisions import OpenLongformSpace
from bot.core.events import ConversationKey

log = structlog.get_logger()
TITLE_LIMIT = 128  # characters Telegram allows in a topic name


@dataclass
class Opening:
    """How far opening one space got: the topic, and the steps done after creating it."""

    chat_id: int
    topic_id: int
    link: str | None
    done: set[str] = field(default_factory=set)

    @property
    def reference(self) -> str:
        """The space as the runtime stores it (for the closing reminder): ``<chat>:<topic>``."""
        return f"{self.chat_id}:{self.topic_id}"


def space_chat(community: Community, origin_chat: int) -> int:
    """Where the community's long-form topics go."""
    return community.longform_space or origin_chat


class LongformSpaces:
    """Opens spaces and remembers them, per decision key and per conversation."""

    def __init__(self, bot: Bot, roster: Roster) -> None:
        self.bot, self.roster = bot, roster
        self.openings: dict[str, Opening] = {}
        self.by_conversation: dict[ConversationKey, Opening] = {}

    async def open(self, decision: OpenLongformSpace, key: str, community: Community,
                   title: str, intro: str) -> Opening:  # fmt: skip
        """Open (or finish opening) the space for ``decision``; DowngradeError if no forum."""
        origin, origin_topic = place(decision.conversation)
        already = self.by_conversation.get(decision.conversation)
        if key not in self.openings and already is not None:
            return already  # one space per conversation: a second request gets the open one
        opening = self.openings.get(key) or await self._create(community, origin, title)
        self.openings[key] = opening
        if "intro" not in opening.done:
            replied = parse_message_ref(decision.message_id)
            back = texts.message_link(origin, replied[1], origin_topic) if replied else None
            body = texts.lines([intro, texts.LONGFORM_BACK.format(url=back) if back else None])
            await self.bot.send_message(
                opening.chat_id, texts.clip(body), message_thread_id=opening.topic_id
            )
            opening.done.add("intro")
        if "copies" not in opening.done:
            await self._copy(opening, origin, decision.key_messages)
            opening.done.add("copies")
        if "link" not in opening.done:
            await self._leave_link(opening, origin, origin_topic)
            opening.done.add("link")
        self.by_conversation[decision.conversation] = opening
        return opening

    async def _create(self, community: Community, origin: int, title: str) -> Opening:
        chat_id = space_chat(community, origin)
        chat = await self.bot.get_chat(chat_id)
        if not chat.is_forum:
            where = self.roster.titles.get(chat_id, chat.title or str(chat_id))
            raise DowngradeError("open a long-form topic", texts.NOT_A_FORUM.format(
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

    async def _leave_link(self, opening: Opening, origin: int, origin_topic: int | None) -> None:
        text = texts.LONGFORM_LINK.format(url=opening.link or "a new topic in the long-form group")
        markup = keyboards.link("Open the long-form topic", opening.link) if opening.link else None
        await self.bot.send_message(
            origin, text, message_thread_id=origin_topic, reply_markup=markup
        )
