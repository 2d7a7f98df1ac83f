"""Who may see what: sign-in by one-time link, the session cookie, CSRF, and community scope.

How it works: the link a moderator receives in chat opens ``GET /signin?token=...``, which only
shows a "Sign in" button: chat platforms fetch links to preview them, and a preview must not use
up a single-use link. The button posts the token back with a per-visit CSRF value that is also in
a short-lived cookie (a form elsewhere cannot know it); the link is redeemed and the session
cookie set. Every later state-changing request carries the session's own CSRF token in its form,
compared in constant time. A page for a community outside the session's scope answers 404, the
same as a community that does not exist, so nothing is learnt by guessing ids.
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from bot.dashboard.context import Site
from bot.storage.signin import DashboardSession

SESSION_COOKIE = "longform_session"
VISIT_COOKIE = "longform_signin"


def site_of(request: Request) -> Site:
    """The dashboard's :class:`Site` (set on the app at creation)."""
    site: Site = request.app.state.site
    return site


def current(request: Request) -> DashboardSession | None:
    """The live session of the request's cookie, if any."""
    cookie = request.cookies.get(SESSION_COOKIE, "")
    if not cookie:
        return None
    site = site_of(request)
    return site.store.signins.session(cookie, now=site.clock())


def required(request: Request) -> DashboardSession:
    """The live session, or 401 (the page says how to get a link)."""
    session = current(request)
    if session is None:
        raise HTTPException(401, "Sign in first: run /longform dashboard (Discord) or /dashboard "
                                 "(Telegram) and open the link Longform sends you.")  # fmt: skip
    return session


def community(request: Request, session: DashboardSession) -> str:
    """The path's community, if the session may see it; otherwise 404."""
    wanted = str(request.path_params.get("community", ""))
    if wanted not in session.moderator.communities:
        raise HTTPException(404, "No such community among those you moderate.")
    return wanted


def check_csrf(form: FormData, expected: str) -> None:
    """403 unless the form's ``csrf`` field equals ``expected``."""
    given = form.get("csrf")
    if not isinstance(given, str) or not expected or not secrets.compare_digest(given, expected):
        raise HTTPException(403, "This form has expired or did not come from the dashboard; "
                                 "reload the page and try again.")  # fmt: skip


def set_cookie(response: Response, site: Site, name: str, value: str, max_age: int) -> None:
    """A cookie that scripts cannot read, sent only to this site, Secure behind https."""
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax",
                        secure=site.secure_cookies, path="/")  # fmt: skip


def clear_cookie(response: Response, site: Site, name: str) -> None:
    """Remove a cookie set by :func:`set_cookie`."""
    response.delete_cookie(name, path="/", httponly=True, samesite="lax",
                           secure=site.secure_cookies)  # fmt: skip


def visit_token() -> str:
    """A fresh CSRF value for the sign-in form."""
    return secrets.token_urlsafe(24)


def page_context(request: Request, session: DashboardSession, **values: Any) -> dict[str, Any]:
    """What every signed-in page's template gets: the moderator, their communities, the CSRF."""
    site = site_of(request)
    communities = [(c, site.name(c)) for c in session.moderator.communities]
    return {"moderator": session.moderator, "csrf": session.csrf, "communities": communities,
            **values}  # fmt: skip
