"""The signed-in pages: overview, audit log (and one row), thread, feedback and policy.

Each handler is synchronous: Starlette runs it in a worker thread, so database reads and plotting
never hold up the bot's event loop when the dashboard runs inside ``longform run``. Each reads the
session, checks the community against it (404 outside its scope), and renders one template.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.core.events import ConversationKey
from bot.dashboard import charts, thread
from bot.dashboard.access import community, page_context, required, site_of
from bot.dashboard.queries import MEASURES, AuditFilter, Cursor
from bot.policy.describe import effective_values
from bot.policy.loader import PRESETS
from bot.runtime.outcome_report import compare
from bot.runtime.service import policy_version


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
    """The template ``name`` with ``context``."""
    templates = request.app.state.templates
    response: Response = templates.TemplateResponse(request, name, context, status_code=status)
    return response


def home(request: Request) -> Response:
    """The first community's overview, or the sign-in explanation."""
    session = required(request)
    first = session.moderator.communities[0]
    return RedirectResponse(request.app.url_path_for("overview", community=first), status_code=303)


def overview(request: Request) -> Response:
    """Noticed, done, withheld and marked wrong by signal and day; precision; mode; policy."""
    session = required(request)
    cid = community(request, session)
    site = site_of(request)
    now = site.clock()
    found = site.queries.overview(cid, now)
    plots = [
        (measure, charts.data_uri(charts.daily(measure.capitalize() + " per day", found.days,
                                               found.counts.get(measure, {}))))
        for measure in MEASURES
    ]  # fmt: skip
    policy = site.policy(cid)
    return render(request, "overview.html", page_context(
        request, session, community=cid, name=site.name(cid), overview=found, plots=plots,
        measures=MEASURES, mode=site.mode(cid), policy=policy, version=policy_version(policy),
        page="overview",
    ))  # fmt: skip


def audit(request: Request) -> Response:
    """The audit log: filtered, newest first, paged."""
    session = required(request)
    cid = community(request, session)
    site = site_of(request)
    params = request.query_params
    filters = AuditFilter(
        signal=params.get("signal", ""), kind=params.get("kind", ""),
        outcome=params.get("outcome", ""), channel=params.get("channel", ""),
        member=params.get("member", "").strip(), since=_date(params.get("since", "")),
        until=_date(params.get("until", "")),
    )  # fmt: skip
    older = Cursor.parse(params.get("before", ""))
    newer = Cursor.parse(params.get("after", ""))
    page = site.queries.audit_page(cid, filters, older_than=older, newer_than=newer)
    return render(request, "audit.html", page_context(
        request, session, community=cid, name=site.name(cid), page_rows=page, filters=filters,
        query=filters.query(), choices=site.queries.choices(cid), page="audit",
    ))  # fmt: skip


def audit_row(request: Request) -> Response:
    """One audit row: its reason, detail and evidence (text only within retention)."""
    session = required(request)
    cid = community(request, session)
    site = site_of(request)
    entry = site.queries.entry(cid, int(request.path_params["audit_id"]))
    if entry is None:
        raise HTTPException(404, "No such audit row in this community.")
    ids = list(entry.evidence.get("message_ids", [])) if isinstance(entry.evidence, dict) else []
    messages = site.queries.messages(cid, [*ids, entry.message_id], site.clock())
    verdicts = site.queries.verdicts_for(cid, [entry.message_id])
    return render(request, "audit_row.html", page_context(
        request, session, community=cid, name=site.name(cid), entry=entry, evidence_ids=ids,
        messages=messages, scores=entry.evidence.get("scores", []) if isinstance(entry.evidence, dict) else [],
        verdicts=verdicts.get(entry.message_id, []), page="audit",
        retention=site.config.storage.retention_days,
    ))  # fmt: skip


def thread_page(request: Request) -> Response:
    """A thread: heat line with marks, the reply graph for a pile-on, and its evidence."""
    session = required(request)
    cid = community(request, session)
    site = site_of(request)
    key = ConversationKey(cid, request.query_params.get("channel", ""),
                          request.query_params.get("thread", ""))  # fmt: skip
    now = site.clock()
    messages = site.queries.thread_messages(cid, key, now)
    entries = site.queries.conversation_entries(cid, key)
    if not messages and not entries:
        raise HTTPException(404, "Longform has nothing about this conversation.")
    settings = site.policy(cid).for_channel(key.channel)
    heat_plot = None
    if messages:
        values = thread.heat_series(messages, settings)
        heat_plot = charts.data_uri(charts.heat([m.at for m in messages], values,
                                                thread.marks(entries),
                                                settings.escalation.detect_at))  # fmt: skip
    evidence: set[str] = set()
    for e in entries:
        if e.signal == "pile_on" and isinstance(e.evidence, dict):
            evidence.update(e.evidence.get("message_ids", []))
    graph = thread.reply_graph(messages, evidence, settings.pile_on.window_minutes)
    graph_plot = None
    if graph is not None:
        graph_plot = charts.data_uri(charts.reply_graph(graph.target, graph.edges,
                                                        set(graph.newcomers)))  # fmt: skip
    cited = {
        i
        for e in entries
        if isinstance(e.evidence, dict)
        for i in e.evidence.get("message_ids", [])
    }
    return render(request, "thread.html", page_context(
        request, session, community=cid, name=site.name(cid), key=key, messages=messages,
        entries=entries, heat_plot=heat_plot, graph=graph, graph_plot=graph_plot, cited=cited,
        page="audit", retention=site.config.storage.retention_days,
    ))  # fmt: skip


def feedback(request: Request) -> Response:
    """The latest decisions with their verdicts, each with right/wrong buttons."""
    session = required(request)
    cid = community(request, session)
    site = site_of(request)
    decisions = site.queries.decisions(cid)
    verdicts = site.queries.verdicts_for(cid, [d.message_id for d in decisions])
    found = site.queries.overview(cid, site.clock())
    return render(request, "feedback.html", page_context(
        request, session, community=cid, name=site.name(cid), decisions=decisions,
        verdicts=verdicts, precision=found.verdicts, page="feedback",
        saved=request.query_params.get("saved", ""),
    ))  # fmt: skip


def policy(
    request: Request, result: Any = None, problem: str = "", status: int = 200, chosen: str = ""
) -> Response:
    """The effective policy, and the form (and result) of "what another policy would have done"."""
    session = required(request)
    cid = community(request, session)
    site = site_of(request)
    current = site.policy(cid)
    rows = effective_values(current.settings) + effective_values(current.memory, "memory.")
    rows += effective_values(current.experiment, "experiment.")  # the holdback share, visibly
    presets = sorted(p.stem for p in PRESETS.glob("*.toml"))
    compared = compare(site.store.outcomes.read(cid))  # issue 17: does it help?
    shown = [(f"{c.action} {c.outcome}", c.difference, c.low, c.high) for c in compared
             if c.difference is not None and c.low is not None and c.high is not None]  # fmt: skip
    outcome_plot = charts.data_uri(charts.outcomes(shown)) if shown else ""
    return render(request, "policy.html", page_context(
        request, session, community=cid, name=site.name(cid), policy=current, rows=rows,
        overrides=[(channel, _changed(settings, current.settings))
                   for channel, settings in current.channels],
        presets=presets, result=result, problem=problem, mode=site.mode(cid), page="policy",
        chosen=chosen, outcomes=compared, outcome_plot=outcome_plot,
    ), status)  # fmt: skip


def _changed(settings: Any, defaults: Any) -> list[tuple[str, str]]:
    return [(k, v) for (k, v, _), (_, d, _) in zip(effective_values(settings), effective_values(defaults), strict=True)
            if v != d]  # fmt: skip


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None
