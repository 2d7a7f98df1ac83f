"""The dashboard's state-changing requests: sign in, sign out, a verdict, a policy comparison.

Every one is a POST with a CSRF token (see ``access``); storage work and the replay run in a worker
thread. A verdict is written exactly as the chat buttons write it (``FeedbackLog.add`` with the
decision's signal, message and community), with the audit row it was given on.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.core.events import MessagePosted
from bot.core.settings import Policy
from bot.dashboard import pages
from bot.dashboard.access import (
    SESSION_COOKIE,
    VISIT_COOKIE,
    check_csrf,
    clear_cookie,
    community,
    required,
    set_cookie,
    site_of,
    visit_token,
)
from bot.dashboard.context import Site
from bot.policy.compare import Comparison, compare
from bot.policy.loader import PolicyError, load_policy
from bot.scoring.embedded import EmbeddedScorer
from bot.storage.schema import Verdict

log = structlog.get_logger()
MAX_POLICY_BYTES = 64 * 1024
MAX_DAYS = 90


def signin_form(request: Request) -> Response:
    """``GET /signin?token=``: a button, so that a link preview does not use the link up."""
    site = site_of(request)
    visit = visit_token()
    response = pages.render(request, "signin.html", {
        "token": request.query_params.get("token", ""), "visit": visit,
    })  # fmt: skip
    set_cookie(response, site, VISIT_COOKIE, visit, max_age=600)
    return response


async def signin(request: Request) -> Response:
    """``POST /signin``: redeem the link once and start a session."""
    site = site_of(request)
    form = await request.form()
    check_csrf(form, request.cookies.get(VISIT_COOKIE, ""))
    token = str(form.get("token", ""))
    ttl = site.config.dashboard.session_hours
    started = await run_in_threadpool(
        site.store.signins.redeem, token, now=site.clock(), ttl=timedelta(hours=ttl)
    )
    if started is None:
        log.info("dashboard_signin_refused")
        return pages.render(request, "error.html", {
            "status": 400, "message": "This sign-in link has expired or was already used. Run "
            "/longform dashboard (Discord) or /dashboard (Telegram) for a new one.",
        }, status=400)  # fmt: skip
    cookie, session = started
    log.info("dashboard_signed_in", platform=session.moderator.platform,
             member=session.moderator.member, communities=len(session.moderator.communities))  # fmt: skip
    response = RedirectResponse("/", status_code=303)
    set_cookie(response, site, SESSION_COOKIE, cookie, max_age=int(ttl * 3600))
    clear_cookie(response, site, VISIT_COOKIE)
    return response


async def signout(request: Request) -> Response:
    """``POST /signout``: the session stops working here and everywhere."""
    site = site_of(request)
    session = await run_in_threadpool(required, request)
    check_csrf(await request.form(), session.csrf)
    await run_in_threadpool(
        site.store.signins.end, request.cookies.get(SESSION_COOKIE, ""), now=site.clock()
    )
    response = pages.render(request, "error.html", {
        "status": 200, "message": "You are signed out.",
    })  # fmt: skip
    clear_cookie(response, site, SESSION_COOKIE)
    return response


async def verdict(request: Request) -> Response:
    """``POST /c/{community}/feedback``: right or wrong on one decision."""
    site = site_of(request)
    session = await run_in_threadpool(required, request)
    cid = community(request, session)
    form = await request.form()
    check_csrf(form, session.csrf)
    try:
        audit_id = int(str(form.get("audit_id", "")))
        chosen = Verdict(str(form.get("verdict", "")))
    except ValueError as error:
        raise HTTPException(
            400, "A verdict needs an audit row and 'helpful' or 'wrong'."
        ) from error
    entry = await run_in_threadpool(site.queries.entry, cid, audit_id)
    if entry is None:
        raise HTTPException(404, "No such audit row in this community.")
    await run_in_threadpool(
        site.store.feedback.add, entry.platform, entry.signal, chosen,
        by=session.moderator.member, at=site.clock(), audit_id=audit_id,
        message_id=entry.message_id, community=cid,
    )  # fmt: skip
    back = str(form.get("back", "")) or str(request.app.url_path_for("feedback", community=cid))
    if not back.startswith("/"):  # only ever back into the dashboard
        back = str(request.app.url_path_for("feedback", community=cid))
    separator = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{separator}saved={audit_id}", status_code=303)


async def policy_compare(request: Request) -> Response:
    """``POST /c/{community}/policy/compare``: the policy in force against another, replayed
    over the community's retained messages of the last N days."""
    site = site_of(request)
    session = await run_in_threadpool(required, request)
    cid = community(request, session)
    async with request.form(max_part_size=MAX_POLICY_BYTES + 1) as form:
        return await _compare(request, site, cid, session.csrf, form)


async def _compare(request: Request, site: Site, cid: str, csrf: str, form: FormData) -> Response:
    check_csrf(form, csrf)
    try:
        days = max(1, min(MAX_DAYS, int(str(form.get("days", "7")))))
    except ValueError:
        days = 7
    try:
        other = await _other_policy(form.get("preset"), form.get("file"))
    except PolicyError as error:
        return await run_in_threadpool(pages.policy, request, None, str(error), 400)
    result = await run_in_threadpool(_replay, site, cid, other, days)
    preset = form.get("preset")
    chosen = preset if isinstance(preset, str) else ""
    return await run_in_threadpool(pages.policy, request, (result, days), "", 200, chosen)


async def _other_policy(preset: object, upload: object) -> Policy:
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(MAX_POLICY_BYTES + 1)
        if len(data) > MAX_POLICY_BYTES:
            raise PolicyError(f"{upload.filename}: a policy file is at most 64 KB")
        name = Path(upload.filename).name or "uploaded.toml"
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / (name if name.endswith(".toml") else name + ".toml")
            path.write_bytes(data)
            return await run_in_threadpool(load_policy, path)
    if isinstance(preset, str) and preset:
        return await run_in_threadpool(load_policy, preset)
    raise PolicyError("choose a preset or upload a policy file to compare with")


def _replay(site: Site, cid: str, other: Policy, days: int) -> Comparison:
    messages = site.queries.retained(cid, site.clock(), days)
    events = [
        MessagePosted(m.message_id, m.at, cid, m.conversation.channel, m.author, m.text or "",
                      m.conversation.thread, m.reply_to, m.reply_to_author, m.mentions)
        for m in messages
    ]  # fmt: skip
    scores = {m.message_id: m.scores for m in messages if m.scores}
    return compare(site.policy(cid), other, events, EmbeddedScorer(), scores)
