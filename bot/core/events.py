"""Events that enter the engine. Frozen: an event describes something that already happened."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from operator import attrgetter
from typing import Any


class Compact:
    """Pickles as its class and positional fields, which unpickles several times faster than
    the dataclass default (events and decisions cross process boundaries)."""

    __slots__ = ()
    __match_args__: tuple[str, ...] = ()

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), fields_of(type(self))(self))


_GETTERS: dict[type, Callable[[Any], tuple[Any, ...]]] = {}


def fields_of(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    """A fast getter of an instance's positional fields, as a tuple (made once per class)."""
    getter = _GETTERS.get(cls)
    if getter is None:
        names: tuple[str, ...] = cls.__match_args__  # type: ignore[attr-defined]
        if len(names) == 1:
            single = attrgetter(names[0])
            getter = _GETTERS[cls] = lambda value: (single(value),)
        else:
            getter = _GETTERS[cls] = attrgetter(*names)
    return getter


@dataclass(frozen=True, slots=True)
class ConversationKey(Compact):
    """Where a message lives: a thread inside a channel inside a community.

    A message outside any thread belongs to the channel's top-level conversation (``thread=""``).
    """

    community: str
    channel: str
    thread: str = ""

    @property
    def place(self) -> str:
        """The channel or thread id a notice or slow mode applies to."""
        return self.thread or self.channel


@dataclass(frozen=True, slots=True)
class MessagePosted(Compact):
    """A member posted a message.

    ``reply_to_author`` is filled by the adapter when the platform says it; the engine resolves it
    from its own memory of recent messages otherwise.
    """

    id: str
    at: datetime
    community: str
    channel: str
    author: str
    text: str
    thread: str = ""
    reply_to: str | None = None
    reply_to_author: str | None = None
    mentions: tuple[str, ...] = ()
    author_joined_at: datetime | None = None
    author_roles: frozenset[str] = frozenset()

    @property
    def conversation(self) -> ConversationKey:
        return _key(self.community, self.channel, self.thread)


# One key object for each recent conversation, however often it is asked for (the engine and its
# responder ask several times a message, and remember the key with each message and cooldown):
# fewer objects made and kept, which is most of what the garbage collector would walk. Keys are
# immutable, so sharing one is invisible; bounded, as the conversations a stream brings are not.
@lru_cache(maxsize=8192)
def _key(community: str, channel: str, thread: str) -> ConversationKey:
    return ConversationKey(community, channel, thread)


@dataclass(frozen=True, slots=True)
class MessageEdited(Compact):
    """A member changed the text of a message the engine may have seen."""

    id: str
    at: datetime
    text: str


@dataclass(frozen=True, slots=True)
class MessageDeleted(Compact):
    """A message was deleted: the engine forgets it and drops it from any evidence."""

    id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class MemberJoined(Compact):
    """A member joined a community; recent joiners weigh more in a pile-on."""

    at: datetime
    community: str
    user: str


@dataclass(frozen=True, slots=True)
class LongformOpened(Compact):
    """The long-form space Longform decided for ``conversation`` (on ``message_id``) is open, and
    its messages live at ``venue``. The runtime feeds it back from the platform's result, so that
    the engine can count who moved there and wrote (bot.core.outcomes)."""

    at: datetime
    conversation: ConversationKey
    message_id: str
    venue: ConversationKey


Event = MessagePosted | MessageEdited | MessageDeleted | MemberJoined | LongformOpened
