"""The start-up check of each configured group: what the bot can see and do there.

A bot with privacy mode on (``getMe``'s ``can_read_all_group_messages`` is false) that is not an
admin of a group sees only commands and replies to itself there: Longform would judge almost
nothing. Slow mode emulation needs the admin right to restrict members (in a supergroup), and
long-form topics need a forum where the bot may manage topics. Each problem is logged as a warning
and told to that group's moderators with the change to make; none stops the service, since the
other groups may be fine. The admins learnt here are exempt from judging and from slow mode.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from telegram import Bot, ChatFullInfo, ChatMember, ChatMemberAdministrator

from adapters.telegram import texts
from adapters.telegram.community import Community, Known
from adapters.telegram.errors import PLATFORM_ERRORS
from adapters.telegram.roster import Roster

log = structlog.get_logger()
Tell = Callable[[str, str], Awaitable[object]]  # (community id, text) -> to its moderators
ADMIN = (ChatMember.ADMINISTRATOR, ChatMember.OWNER)


async def check_setup(bot: Bot, known: Known, roster: Roster, tell: Tell) -> None:
    """Check every configured group; warn and tell its moderators about what is missing."""
    reads_all = bool(bot.bot.can_read_all_group_messages)
    for community in known.values():
        try:
            problems = await _problems(bot, community, roster, reads_all)
        except PLATFORM_ERRORS as error:
            problems = [f"Longform cannot check group {community.chat_id}: {error}. Is the bot a "
                        "member of it, and is the id in the config right?"]  # fmt: skip
        for problem in problems:
            log.warning("telegram_setup_problem", community=community.key, problem=problem)
        if problems:
            await tell(community.key, "\n\n".join(problems))


async def _problems(bot: Bot, community: Community, roster: Roster, reads_all: bool) -> list[str]:
    chat = await bot.get_chat(community.chat_id)
    roster.learn_chat(chat)
    name = chat.title or str(chat.id)
    me = await bot.get_chat_member(chat.id, bot.id)
    admins = await bot.get_chat_administrators(chat.id)
    roster.set_admins(chat.id, (admin.user.id for admin in admins))
    problems = []
    if me.status not in ADMIN and not reads_all:
        problems.append(texts.PRIVACY_HELP.format(chat=name, bot=bot.username))
    if me.status not in ADMIN:
        return [*problems, texts.NOT_ADMIN.format(chat=name, bot=bot.username)]
    if chat.type != "supergroup" or not _right(me, "can_restrict_members"):
        problems.append(f"Longform cannot pause members in {name} (slow mode emulation needs a "
                        "supergroup and the admin right to ban users): it will ask you to set "
                        "slow mode instead.")  # fmt: skip
    problems += await _longform_problems(bot, community, chat)
    return problems


async def _longform_problems(bot: Bot, community: Community, group: ChatFullInfo) -> list[str]:
    space = group
    if community.longform_space and community.longform_space != group.id:
        space = await bot.get_chat(community.longform_space)
    where = space.title or str(space.id)
    if not space.is_forum:
        return [texts.NOT_A_FORUM.format(place=group.title or group.id, chat=where)]
    me = await bot.get_chat_member(space.id, bot.id)
    if not _right(me, "can_manage_topics"):
        return [f"Longform cannot open long-form topics in {where}: give the bot the admin right "
                "to manage topics."]  # fmt: skip
    return []


def _right(member: ChatMember, right: str) -> bool:
    if member.status == ChatMember.OWNER:
        return True
    return isinstance(member, ChatMemberAdministrator) and bool(getattr(member, right, False))
