"""The dashboard's web application: Starlette routes, Jinja2 templates, static files, headers.

How it works: :func:`create_app` wires the pages (``pages``) and the POST actions (``actions``)
to URLs under ``/c/<community>/...``, serves the stylesheet from the package (no CDN, no
network), and adds headers to every response: a Content-Security-Policy that allows nothing but
this site's own stylesheet, images and forms (the pages use no JavaScript at all), no referrer
(a sign-in token in a URL never leaks to another site), no framing, no caching of pages. Errors
are rendered as a short page; nothing a page shows is logged.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.dashboard import actions, pages
from bot.dashboard.context import Site

HERE = Path(__file__).resolve().parent
HEADERS = {
    b"content-security-policy": b"default-src 'none'; style-src 'self'; img-src 'self' data:; "
    b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    b"referrer-policy": b"no-referrer",
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
}


class _SecurityHeaders:
    """Adds :data:`HEADERS` (and no-store on pages) to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += list(HEADERS.items())
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


async def _error(request: Request, error: Exception) -> Response:
    status = error.status_code if isinstance(error, HTTPException) else 500
    message = error.detail if isinstance(error, HTTPException) else "Something went wrong."
    return pages.render(request, "error.html", {"status": status, "message": message}, status)


def create_app(site: Site) -> Starlette:
    """The dashboard for ``site``."""
    c = "/c/{community}"
    routes = [
        Route("/", pages.home, name="home"),
        Route("/signin", actions.signin_form, methods=["GET"], name="signin_form"),
        Route("/signin", actions.signin, methods=["POST"], name="signin"),
        Route("/signout", actions.signout, methods=["POST"], name="signout"),
        Route(f"{c}/", pages.overview, name="overview"),
        Route(f"{c}/audit", pages.audit, name="audit"),
        Route(c + "/audit/{audit_id:int}", pages.audit_row, name="audit_row"),
        Route(f"{c}/thread", pages.thread_page, name="thread"),
        Route(f"{c}/feedback", pages.feedback, methods=["GET"], name="feedback"),
        Route(f"{c}/feedback", actions.verdict, methods=["POST"], name="verdict"),
        Route(f"{c}/policy", pages.policy, methods=["GET"], name="policy"),
        Route(f"{c}/policy/compare", actions.policy_compare, methods=["POST"], name="compare"),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(_SecurityHeaders)],
                    exception_handlers={HTTPException: _error, Exception: _error})  # fmt: skip
    app.state.site = site
    templates = Jinja2Templates(directory=HERE / "templates")
    # Paths, not absolute URLs: behind a reverse proxy the Host the app sees is not the public one.
    templates.env.globals["path_for"] = lambda name, **params: str(app.url_path_for(name, **params))
    app.state.templates = templates
    return app
