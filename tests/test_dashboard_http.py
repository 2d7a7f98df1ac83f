"""The dashboard over HTTP: every page, sign-in by one-time link, sessions, CSRF, and scope."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage.schema import FeedbackRow
from tests.dashboard_support import (
    NOW,
    OTHER_TEXT,
    SECRET_TEXT,
    A,
    B,
    Dashboard,
    dashboard,
    entry,
    message,
)

OVERVIEW, AUDIT = f"/c/{A}/", f"/c/{A}/audit"


@pytest.fixture
def board(tmp_path: Path) -> Iterator[Dashboard]:
    made = dashboard(tmp_path)
    yield made
    made.store.close()


def signed_in(board: Dashboard) -> Dashboard:
    response = board.sign_in()
    assert response.status_code == 303
    return board


def feedback_rows(board: Dashboard) -> list[FeedbackRow]:
    with Session(board.store.engine) as session:
        return list(session.scalars(select(FeedbackRow)))


# -- signing in -----------------------------------------------------------------------------------


def test_pages_need_a_session(board: Dashboard) -> None:
    for path in ("/", OVERVIEW, AUDIT, f"/c/{A}/feedback", f"/c/{A}/policy"):
        response = board.client.get(path)
        assert response.status_code == 401
        assert "/longform dashboard" in response.text


def test_a_link_signs_in_once_and_opening_it_does_not_use_it_up(board: Dashboard) -> None:
    token = board.link()
    assert board.client.get(f"/signin?token={token}").status_code == 200  # a link preview
    response = board.sign_in(token)
    assert response.status_code == 303
    assert board.client.get(response.headers["location"], follow_redirects=True).status_code == 200
    board.client.cookies.clear()
    again = board.sign_in(token)
    assert again.status_code == 400
    assert "expired or was already used" in again.text
    assert board.client.get(OVERVIEW).status_code == 401


def test_an_expired_link_is_refused(board: Dashboard) -> None:
    token = board.link()
    board.clock.now = NOW + timedelta(minutes=10, seconds=1)
    response = board.sign_in(token)
    assert response.status_code == 400
    assert board.client.get(OVERVIEW).status_code == 401


def test_an_unknown_link_is_refused(board: Dashboard) -> None:
    assert board.sign_in("not-a-token").status_code == 400


def test_sessions_expire_and_sign_out_ends_them(board: Dashboard) -> None:
    signed_in(board)
    assert board.client.get(OVERVIEW).status_code == 200
    board.clock.now = NOW + timedelta(hours=12, seconds=1)
    assert board.client.get(OVERVIEW).status_code == 401
    board.clock.now = NOW
    board.client.cookies.clear()
    signed_in(board)
    cookie = board.client.cookies["longform_session"]
    response = board.client.post("/signout", data={"csrf": board.csrf(OVERVIEW)})
    assert response.status_code == 200
    assert "signed out" in response.text
    board.client.cookies.set("longform_session", cookie)  # a copied cookie is dead too
    assert board.client.get(OVERVIEW).status_code == 401


def test_cookies_are_http_only_same_site_and_secure_behind_https(tmp_path: Path) -> None:
    plain = dashboard(tmp_path / "plain")
    cookie = plain.sign_in().headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie
    plain.store.close()
    https = dashboard(tmp_path / "https", public_url="https://mods.example.org")
    form = https.client.get(f"/signin?token={https.link()}")
    assert "Secure" in form.headers["set-cookie"]
    https.store.close()


def test_every_page_refuses_framing_scripts_and_referrers(board: Dashboard) -> None:
    response = board.client.get(f"/signin?token={board.link()}")
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy  # no script may run at all
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"


# -- CSRF -----------------------------------------------------------------------------------------


def test_state_changing_requests_without_the_csrf_token_are_refused(board: Dashboard) -> None:
    token = board.link()
    board.client.get(f"/signin?token={token}")
    assert board.client.post("/signin", data={"token": token}).status_code == 403
    signed_in(board)
    audit_id = board.ids["alert"]
    refused = [
        board.client.post(f"/c/{A}/feedback", data={"audit_id": audit_id, "verdict": "wrong"}),
        board.client.post(
            f"/c/{A}/feedback", data={"audit_id": audit_id, "verdict": "wrong", "csrf": "guess"}
        ),
        board.client.post(f"/c/{A}/policy/compare", data={"preset": "strict"}),
        board.client.post("/signout"),
    ]
    assert [r.status_code for r in refused] == [403, 403, 403, 403]
    assert feedback_rows(board) == []
    assert board.client.get(OVERVIEW).status_code == 200  # still signed in


def test_a_stolen_link_token_is_no_sign_in_form_from_elsewhere(board: Dashboard) -> None:
    # A form on another site can post the token, but not the visit's CSRF value with its cookie.
    token = board.link()
    response = board.client.post("/signin", data={"token": token, "csrf": "made-up"})
    assert response.status_code == 403
    assert board.sign_in(token).status_code == 303  # the link was not used up


# -- scope ----------------------------------------------------------------------------------------


def test_a_moderator_of_one_community_never_sees_another(board: Dashboard) -> None:
    signed_in(board)
    b_row = board.ids["b"]
    for path in (
        f"/c/{B}/",
        f"/c/{B}/audit",
        f"/c/{B}/feedback",
        f"/c/{B}/policy",
        f"/c/{B}/audit/{b_row}",
        f"/c/{A}/audit/{b_row}",
        f"/c/{B}/thread?channel=general&thread=t1",
    ):
        response = board.client.get(path)
        assert response.status_code == 404, path
        assert OTHER_TEXT not in response.text
    csrf = board.csrf(OVERVIEW)
    for path in (f"/c/{A}/feedback", f"/c/{B}/feedback"):
        posted = board.client.post(path, data={"audit_id": b_row, "verdict": "wrong", "csrf": csrf})
        assert posted.status_code == 404
    assert feedback_rows(board) == []
    pages = [board.client.get(p).text for p in (OVERVIEW, AUDIT, f"/c/{A}/feedback")]
    pages.append(board.client.get(f"/c/{A}/thread?channel=general&thread=t1").text)
    assert not [p for p in pages if OTHER_TEXT in p or "zed" in p or "Other place" in p]


def test_a_moderator_of_both_sees_both(board: Dashboard) -> None:
    board.sign_in(board.link((A, B)))
    assert board.client.get(f"/c/{B}/audit/{board.ids['b']}").status_code == 200
    assert "Other place" in board.client.get(OVERVIEW).text


# -- pages ----------------------------------------------------------------------------------------


def test_overview_counts_and_plots_by_signal_and_day(board: Dashboard) -> None:
    signed_in(board)
    board.store.feedback.add(
        "discord", "pile_on", "wrong", by="mo", at=NOW, message_id="m4", community=A
    )
    page = board.client.get(OVERVIEW).text
    assert page.count('src="data:image/svg+xml;base64,') == 4
    assert 'Mode: <strong class="mode">live</strong>' in page
    assert "<strong>professional</strong> (version" in page
    row = page[page.index("<td>pile_on</td>") :].split("</tr>")[0]
    cells = [c.split("</td>")[0] for c in row.split("<td>")[1:]]
    # noticed (decided + withheld), done (sent), withheld, marked wrong, right, precision
    assert cells[:6] == ["pile_on", "2", "1", "1", "1", "0"]
    assert cells[6].startswith("0.00 (1 judged)")


def test_audit_is_newest_first_paged_and_filtered(board: Dashboard) -> None:
    start = NOW - timedelta(days=3)
    for i in range(120):
        board.store.audit.append(
            entry(
                A,
                f"n{i}",
                start + i * timedelta(minutes=1),
                signal="ad_hominem" if i % 2 else "escalation",
                outcome="sent" if i % 3 else "failed",
            )
        )
    signed_in(board)
    first = board.client.get(AUDIT).text
    shown = re.findall(r"<code>(\w+)</code>", first)
    # The pile-on's three rows are newest; then the 120, newest first, 50 rows a page.
    assert shown == ["m4", "m4", "m4"] + [f"n{i}" for i in range(119, 72, -1)]
    older = first.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = board.client.get(AUDIT + older).text
    assert re.findall(r"<code>(\w+)</code>", second) == [f"n{i}" for i in range(72, 22, -1)]
    newer = second.split('rel="prev" href="')[1].split('"')[0].replace("&amp;", "&")
    assert "n119" in board.client.get(AUDIT + newer).text
    filtered = board.client.get(AUDIT, params={"signal": "ad_hominem", "outcome": "failed"}).text
    rows = [line for line in filtered.split("<tr>") if 'class="outcome' in line]
    assert all("ad_hominem" in r for r in rows)
    assert all("failed" in r for r in rows)
    assert len(rows) == len([i for i in range(120) if i % 2 and not i % 3])
    by_member = board.client.get(AUDIT, params={"member": "ana"}).text  # the prompt's recipient
    assert re.findall(r"<td>(\w+)</td><td class=\"outcome", by_member) == ["prompt_member"]
    by_author = board.client.get(AUDIT, params={"member": "finn"}).text  # wrote m4
    assert by_author.count('class="outcome') == 3
    day = (NOW - timedelta(days=3)).date().isoformat()
    dated = board.client.get(AUDIT, params={"since": day, "until": day}).text
    assert re.findall(r"<code>(\w+)</code>", dated) == [f"n{i}" for i in range(119, 69, -1)]


def test_an_audit_row_shows_its_reason_evidence_and_text_within_retention(board: Dashboard) -> None:
    signed_in(board)
    page = board.client.get(f"/c/{A}/audit/{board.ids['alert']}").text
    assert "3 people replied to ana within 4 minutes." in page
    for mid in ("m2", "m3", "m4"):
        assert f"<code>{mid}</code>" in page
    assert SECRET_TEXT in page
    assert "pile_on 0.72" in page


def test_text_past_retention_is_never_shown_even_before_the_purge(board: Dashboard) -> None:
    old = NOW - timedelta(days=31)
    board.store.messages.record(
        "discord", message("old1", "ben", "An old unkind remark.", old), {"insult": 0.9}
    )
    audit_id = board.store.audit.append(entry(A, "old1", old))
    signed_in(board)
    page = board.client.get(f"/c/{A}/audit/{audit_id}").text
    assert "An old unkind remark." not in page
    assert "text no longer kept (30-day retention)" in page
    assert "<code>old1</code>" in page  # ids and scores stay


def test_a_thread_shows_heat_marks_reply_graph_and_evidence(board: Dashboard) -> None:
    signed_in(board)
    page = board.client.get(f"/c/{A}/thread", params={"channel": "general", "thread": "t1"}).text
    assert 'id="heat-plot"' in page
    assert 'id="reply-graph"' in page
    assert "Target: <strong>ana</strong>" in page
    assert "New to the thread: ben, eve, finn." in page
    assert SECRET_TEXT in page
    missing = board.client.get(f"/c/{A}/thread", params={"channel": "nowhere"})
    assert missing.status_code == 404


def test_marking_a_decision_wrong_writes_the_buttons_record(board: Dashboard) -> None:
    signed_in(board)
    page = board.client.get(f"/c/{A}/feedback")
    assert f'id="wrong-{board.ids["alert"]}"' in page.text
    csrf = board.csrf(f"/c/{A}/feedback")
    posted = board.client.post(
        f"/c/{A}/feedback",
        data={
            "audit_id": board.ids["alert"],
            "verdict": "wrong",
            "csrf": csrf,
            "back": f"/c/{A}/feedback",
        },
    )
    assert posted.status_code == 303
    assert board.client.get(posted.headers["location"]).text.count("Verdict recorded") == 1
    [row] = feedback_rows(board)
    assert (row.platform, row.community, row.signal, row.verdict, row.message_id, row.by) == (
        "discord",
        A,
        "pile_on",
        "wrong",
        "m4",
        "mo",
    )
    assert row.audit_id == board.ids["alert"]
    assert board.store.feedback.feedback_counts(A) == {"pile_on": (0, 1)}
    away = board.client.post(
        f"/c/{A}/feedback",
        data={
            "audit_id": board.ids["alert"],
            "verdict": "helpful",
            "csrf": csrf,
            "back": "https://evil.example/",
        },
    )
    assert away.headers["location"].startswith(f"/c/{A}/feedback")


def test_policy_page_shows_effective_values_and_compares_with_a_preset(board: Dashboard) -> None:
    recent = NOW - timedelta(hours=1)
    replies = [
        "Did you even finish residency? Nobody competent says that.",
        "People like you are why patients don't trust doctors.",
        "Typical GP, no idea what walks into ED later. Pathetic.",
        "You clearly have no idea what you're talking about, idiot.",
    ]
    board.store.messages.record(
        "discord", message("c0", "ana", "Viral coughs need no antibiotics.", recent), {}
    )
    for i, text in enumerate(replies):
        scorer_like = {"toxicity": 0.7, "insult": 0.7, "attack": 0.8}
        board.store.messages.record(
            "discord",
            message(
                f"c{i + 1}",
                f"user{i}",
                text,
                recent + (i + 1) * timedelta(seconds=40),
                reply_to="c0",
            ),
            scorer_like,
        )
    signed_in(board)
    page = board.client.get(f"/c/{A}/policy").text
    assert "<code>pile_on.min_authors</code>" in page
    assert '<option value="strict">' in page
    csrf = board.csrf(f"/c/{A}/policy")
    compared = board.client.post(
        f"/c/{A}/policy/compare", data={"preset": "gentle", "days": "1", "csrf": csrf}
    )
    assert compared.status_code == 200
    assert 'id="comparison"' in compared.text
    assert "<strong>gentle</strong> would have made" in compared.text
    assert " differ." in compared.text
    assert "only in" in compared.text


def test_comparing_with_an_uploaded_policy_file_and_a_broken_one(board: Dashboard) -> None:
    signed_in(board)
    csrf = board.csrf(f"/c/{A}/policy")
    good = b'schema_version = 1\nname = "mine"\nmode = "live"\n[pile_on]\nmin_authors = 5\n'
    ok = board.client.post(
        f"/c/{A}/policy/compare",
        data={"csrf": csrf, "days": "7"},
        files={"file": ("mine.toml", io.BytesIO(good))},
    )
    assert ok.status_code == 200
    assert "<strong>mine</strong> would have made" in ok.text
    bad = board.client.post(
        f"/c/{A}/policy/compare",
        data={"csrf": csrf},
        files={"file": ("bad.toml", io.BytesIO(b"[pile_on]\nmin_autors = 2\n"))},
    )
    assert bad.status_code == 400
    assert "min_autors" in bad.text
    nothing = board.client.post(f"/c/{A}/policy/compare", data={"csrf": csrf})
    assert nothing.status_code == 400
    assert "choose a preset or upload a policy file" in nothing.text


def test_no_message_text_reaches_the_logs(
    board: Dashboard, caplog_structlog: list[dict[str, Any]]
) -> None:
    token = board.link()
    board.sign_in(token)
    for path in (
        OVERVIEW,
        AUDIT,
        f"/c/{A}/audit/{board.ids['alert']}",
        f"/c/{A}/feedback",
        f"/c/{A}/thread?channel=general&thread=t1",
    ):
        assert board.client.get(path).status_code == 200
    logged = repr(caplog_structlog)
    assert "dashboard_signed_in" in logged
    assert SECRET_TEXT not in logged
    assert "residency" not in logged
    assert token not in logged


def test_policy_page_shows_the_experiment_and_its_outcomes(board: Dashboard) -> None:
    from bot.core.decisions import Evidence, PostNotice, Signal
    from bot.core.events import ConversationKey
    from bot.core.outcomes import OutcomeRecord
    from bot.storage.audit import AuditEntry, Provenance
    from bot.storage.codec import decision_key
    from bot.storage.schema import Outcome

    place = ConversationKey(A, "general", "t1")
    live = Provenance("discord", "professional", "1", "live")
    for i in range(50):
        notice = PostNotice(place, f"o{i}", NOW, Signal.ESCALATION, "r", Evidence(), text="n")
        arm = Outcome.SENT if i % 2 else Outcome.HELD_BACK
        board.store.audit.append(AuditEntry.of(notice, arm, at=NOW, provenance=live,
                                               decision_key=decision_key(notice, "discord")))  # fmt: skip
        record = OutcomeRecord("post_notice", place, f"o{i}", Signal.ESCALATION, "t1", "", NOW,
                               NOW + timedelta(hours=1), (("cooled_15", float(i % 2)),))  # fmt: skip
        board.store.outcomes.add([record], "discord")
    signed_in(board)
    page = board.client.get(f"/c/{A}/policy").text
    assert "<code>experiment.holdback</code>" in page
    assert "No control group" in page
    assert 'id="outcomes"' in page
    assert "higher when sent" in page
    assert 'alt="Differences in outcomes' in page
