"""Dashboard sign-in: one-time links and the sessions they start.

How it works: :meth:`SignIns.issue` draws a random token (32 bytes, URL-safe) for a moderator and
the communities the platform says they moderate, and stores only its SHA-256 with an expiry
(ten minutes by default). :meth:`~SignIns.redeem` marks the link used in the same transaction
that starts a session, so a link opens at most one session even when two tabs race for it; an
expired, used or unknown link gives ``None``. A session is another random token (the cookie) with
its own CSRF token and expiry; :meth:`~SignIns.session` reads it back only while it is live, and
:meth:`~SignIns.end` signs it out. A leaked database holds no usable link or cookie.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.orm import Session, sessionmaker

from bot.storage.schema import DashboardSessionRow, SignInLinkRow

LINK_TTL = timedelta(minutes=10)
SESSION_TTL = timedelta(hours=12)


@dataclass(frozen=True, slots=True)
class Moderator:
    """Who signed in, on which platform, and the communities (``platform:id``) they may see."""

    platform: str
    member: str
    name: str
    communities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DashboardSession:
    """A live session: the moderator, the CSRF token its forms carry, and when it ends."""

    moderator: Moderator
    csrf: str
    expires_at: datetime


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SignIns:
    """One-time sign-in links and dashboard sessions (see the module docstring)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def issue(
        self,
        platform: str,
        member: str,
        communities: Iterable[str],
        *,
        now: datetime,
        name: str = "",
        ttl: timedelta = LINK_TTL,
    ) -> str:
        """A new one-time link token for ``member``, scoped to ``communities`` (not empty)."""
        scope = sorted(set(communities))
        if not scope:
            raise ValueError("a sign-in link needs at least one community the member moderates")
        token = secrets.token_urlsafe(32)
        row = SignInLinkRow(token_hash=_hash(token), platform=platform, member=member,
                            name=name or member, communities=scope, created_at=now,
                            expires_at=now + ttl, used_at=None)  # fmt: skip
        with self._sessions.begin() as session:
            session.add(row)
        return token

    def redeem(
        self, token: str, *, now: datetime, ttl: timedelta = SESSION_TTL
    ) -> tuple[str, DashboardSession] | None:
        """Use the link ``token`` once: (session cookie, session), or ``None`` if the link is
        unknown, expired or already used."""
        with self._sessions.begin() as session:
            used = session.execute(
                update(SignInLinkRow)
                .where(SignInLinkRow.token_hash == _hash(token),
                       SignInLinkRow.used_at.is_(None), SignInLinkRow.expires_at > now)
                .values(used_at=now)
                .execution_options(synchronize_session=False)
            )  # fmt: skip
            if used.rowcount != 1:  # type: ignore[attr-defined]
                return None
            link = session.get(SignInLinkRow, _hash(token))
            assert link is not None
            cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            session.add(
                DashboardSessionRow(
                    token_hash=_hash(cookie),
                    csrf=csrf,
                    platform=link.platform,
                    member=link.member,
                    name=link.name,
                    communities=list(link.communities),
                    created_at=now,
                    expires_at=now + ttl,
                    ended_at=None,
                )
            )
            moderator = Moderator(link.platform, link.member, link.name, tuple(link.communities))
        return cookie, DashboardSession(moderator, csrf, now + ttl)

    def session(self, cookie: str, *, now: datetime) -> DashboardSession | None:
        """The live session behind ``cookie``, or ``None`` (unknown, expired or signed out)."""
        with self._sessions() as session:
            row = session.get(DashboardSessionRow, _hash(cookie))
            if row is None or row.ended_at is not None or row.expires_at <= now:
                return None
            moderator = Moderator(row.platform, row.member, row.name, tuple(row.communities))
            return DashboardSession(moderator, row.csrf, row.expires_at)

    def end(self, cookie: str, *, now: datetime) -> None:
        """Sign out: the session behind ``cookie`` no longer works."""
        with self._sessions.begin() as session:
            session.execute(
                update(DashboardSessionRow)
                .where(DashboardSessionRow.token_hash == _hash(cookie))
                .values(ended_at=now)
                .execution_options(synchronize_session=False)
            )

    def forget_expired(self, now: datetime) -> int:
        """Delete links and sessions that can no longer be used; returns how many."""
        with self._sessions.begin() as session:
            links = session.execute(
                delete(SignInLinkRow).where(
                    or_(SignInLinkRow.expires_at <= now, SignInLinkRow.used_at.is_not(None))
                )
            )
            sessions = session.execute(
                delete(DashboardSessionRow).where(
                    or_(DashboardSessionRow.expires_at <= now,
                        DashboardSessionRow.ended_at.is_not(None))
                )
            )  # fmt: skip
            return int(links.rowcount) + int(sessions.rowcount)  # type: ignore[attr-defined]
