"""HTTP plumbing of the fake Discord REST API, and the rules Discord validates bodies with.

Recorded requests, forced responses (errors, 429s, delays) and Discord's error shapes live here, so
that discord_rest.py holds only routes. Every answer is JSON with `Content-Type` exactly
`application/json`: discord.py treats anything else (even with `; charset=utf-8`) as text.
"""

from __future__ import annotations

import fnmatch
import json
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.discord_state import Json

MAX_SLOWMODE = 21600
EPHEMERAL = 1 << 6
_DEFAULT_ERRORS = {
    400: (50035, "Invalid Form Body"),
    401: (0, "401: Unauthorized"),
    403: (50013, "Missing Permissions"),
    404: (0, "404: Not Found"),
    429: (0, "You are being rate limited."),
    500: (0, "500: Internal Server Error"),
    502: (0, "502: Bad Gateway"),
}


class DiscordError(Exception):
    """Raised by a handler to answer with Discord's error shape."""

    def __init__(self, status: int, code: int, message: str, errors: Json | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.errors = status, code, message, errors


def invalid(field_name: str, code: str, message: str) -> DiscordError:
    """A 400 Invalid Form Body naming one field, as Discord words it."""
    errors = {field_name: {"_errors": [{"code": code, "message": message}]}}
    return DiscordError(400, 50035, "Invalid Form Body", errors)


@dataclass
class RecordedRequest:
    """One REST call the client made; `status` is what the fake answered."""

    method: str
    path: str  # relative to /api/v10, e.g. "/channels/123/messages"
    query: dict[str, str]
    json: Any
    status: int = 0


@dataclass
class ForcedResponse:
    """An answer queued for the next matching request(s), instead of the normal handler."""

    method: str
    path: str  # exact path or fnmatch pattern, e.g. "/channels/*/messages"
    status: int | None  # None: after `delay`, handle the request normally
    body: Json | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    times: int = 1

    def matches(self, method: str, path: str) -> bool:
        return self.method == method and fnmatch.fnmatchcase(path, self.path)


def error_body(status: int, code: int | None = None, message: str | None = None) -> Json:
    default_code, default_message = _DEFAULT_ERRORS.get(status, (0, f"{status}: Error"))
    return {"message": message or default_message, "code": default_code if code is None else code}


def rate_limit(retry_after: float, *, is_global: bool = False) -> tuple[Json, dict[str, str]]:
    """Body and headers of a 429 that discord.py retries (it needs `Via` and `retry_after`)."""
    body = {
        "message": "You are being rate limited.",
        "retry_after": retry_after,
        "global": is_global,
    }
    headers = {
        "Via": "1.1 google",
        "Retry-After": str(max(1, round(retry_after))),
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset-After": f"{retry_after:.3f}",
        "X-RateLimit-Scope": "global" if is_global else "user",
    }
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    return body, headers


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    if status == 204:
        return web.Response(status=204, headers=headers)
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(status=status, body=json.dumps(body).encode(), headers=all_headers)


async def read_body(request: web.Request) -> Any:
    if not request.can_read_body:
        return None
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        return json.loads(str(form.get("payload_json") or "{}"))
    text = await request.text()
    return json.loads(text) if text else None


def slowmode(value: Any) -> int:
    if value is None:
        return 0
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid("rate_limit_per_user", "NUMBER_TYPE_COERCE", "Value is not int.")
    if not 0 <= value <= MAX_SLOWMODE:
        code = "NUMBER_TYPE_MAX" if value > MAX_SLOWMODE else "NUMBER_TYPE_MIN"
        raise invalid("rate_limit_per_user", code, f"Must be between 0 and {MAX_SLOWMODE}.")
    return value


def check_message_body(body: Json) -> None:
    content = body.get("content") or ""
    if len(content) > 2000:
        raise invalid("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    if not (content or body.get("embeds") or body.get("components") or body.get("attachments")):
        raise DiscordError(400, 50006, "Cannot send an empty message")
    rows = body.get("components") or []
    if len(rows) > 5 or any(r.get("type") != 1 or not 1 <= len(r["components"]) <= 5 for r in rows):
        raise invalid("components", "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "Invalid action rows")
    for button in (c for r in rows for c in r["components"] if c.get("type") == 2):
        has_id, has_url = bool(button.get("custom_id")), bool(button.get("url"))
        if has_id == has_url or len(button.get("custom_id") or "") > 100:
            raise invalid(
                "components", "BUTTON_COMPONENT_INVALID", "A button needs custom_id or url"
            )


def with_ids(rows: list[Json] | None) -> list[Json]:
    """Components as Discord echoes them: with numeric `id`s."""
    counter = iter(range(1, 1000))
    return [
        {
            **row,
            "id": next(counter),
            "components": [{**c, "id": next(counter)} for c in row["components"]],
        }
        for row in rows or []
    ]


def rest_view(message: Json) -> Json:
    return {k: v for k, v in message.items() if k not in ("guild_id", "member")}


def bucket_headers(path: str) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "4",
        "X-RateLimit-Reset-After": "1.000",
        "X-RateLimit-Bucket": format(abs(hash(re.sub(r"\d{15,}", "{id}", path))) % 16**12, "x"),
    }
