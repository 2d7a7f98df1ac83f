"""Text handling for the fake Telegram server: parse modes and message entities.

How it works: Telegram turns `parse_mode` markup into plain text plus entities, and rejects markup it
cannot parse with `400 Bad Request: can't parse entities: ...`. MarkdownV2's reserved characters are the
classic trap (an unescaped `.` or `!` fails the whole call), so they are checked strictly. HTML accepts
only Telegram's tag set. Entity offsets and lengths are in UTF-16 code units, as in the real API. The
parsers here are small and cover what a bot sends; they are not a full reimplementation.
"""

from __future__ import annotations

import html
import re
from typing import Any

from tests.fakes.telegram_world import ApiError

JSON = dict[str, Any]

_MENTION = re.compile(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{3,31}\b")
_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z][A-Za-z0-9_]{3,31})?(?![\w/])")
_URL = re.compile(r"\bhttps?://[^\s<>\"]+")
_HTML_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^>]*)?)>")
_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_MD2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MD2_MARKERS = {
    "*": "bold",
    "_": "italic",
    "__": "underline",
    "~": "strikethrough",
    "||": "spoiler",
}


def utf16_len(text: str) -> int:
    """Return the length of `text` in UTF-16 code units (the unit of entity offsets)."""
    return len(text.encode("utf-16-le")) // 2


def detect_entities(text: str) -> list[JSON]:
    """Return the entities Telegram detects by itself: mentions, bot commands and URLs."""
    found: list[tuple[int, int, str]] = []
    for kind, pattern in (("mention", _MENTION), ("bot_command", _COMMAND), ("url", _URL)):
        found.extend((m.start(), m.end(), kind) for m in pattern.finditer(text))
    found.sort()
    return [_entity(kind, text, start, end) for start, end, kind in found]


def _entity(kind: str, text: str, start: int, end: int, **extra: Any) -> JSON:
    offset = utf16_len(text[:start])
    return {"type": kind, "offset": offset, "length": utf16_len(text[start:end]), **extra}


def render(text: Any, parse_mode: Any, entities: Any) -> tuple[str, list[JSON]]:
    """Return (plain text, entities) for a sendMessage/editMessageText call, or raise ApiError."""
    if not isinstance(text, str) or not text.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if entities is not None:
        return text, list(entities)
    mode = (parse_mode or "").lower()
    if mode == "html":
        plain, styled = _parse_html(text)
    elif mode == "markdownv2":
        plain, styled = _parse_markdown_v2(text)
    elif mode == "markdown":
        plain, styled = re.sub(r"[*_`]", "", text), []
    elif mode:
        raise ApiError(400, f"Bad Request: unsupported parse_mode {parse_mode!r}")
    else:
        plain, styled = text, []
    if utf16_len(plain) > 4096:
        raise ApiError(400, "Bad Request: message is too long")
    merged = sorted(styled + detect_entities(plain), key=lambda e: (e["offset"], -e["length"]))
    return plain, merged


def _cant_parse(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: can't parse entities: {detail}")


def _parse_html(source: str) -> tuple[str, list[JSON]]:
    out: list[str] = []
    stack: list[tuple[str, int, str]] = []  # (tag, start in plain text, attributes)
    entities: list[JSON] = []
    pos = 0
    for match in _HTML_TAG.finditer(source):
        _append_html_text(out, source[pos : match.start()], pos)
        pos = match.end()
        closing, tag, attrs = match.group(1) == "/", match.group(2).lower(), match.group(3)
        if tag not in _HTML_TAGS:
            kind = "end" if closing else "start"
            raise _cant_parse(f'Unsupported {kind} tag "{tag}" at byte offset {match.start()}')
        plain_so_far = "".join(out)
        if not closing:
            stack.append((tag, len(plain_so_far), attrs))
            continue
        if not stack or stack[-1][0] != tag:
            raise _cant_parse(
                f'Unmatched end tag at byte offset {match.start()}, expected "</{tag}>"'
            )
        _, start, attrs = stack.pop()
        extra = _html_extra(tag, attrs)
        entities.append(_entity(_HTML_TAGS[tag], plain_so_far, start, len(plain_so_far), **extra))
    _append_html_text(out, source[pos:], pos)
    if stack:
        raise _cant_parse(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return "".join(out), entities


def _append_html_text(out: list[str], chunk: str, offset: int) -> None:
    if "<" in chunk or ">" in chunk:
        at = offset + min(i for i in (chunk.find("<"), chunk.find(">")) if i >= 0)
        raise _cant_parse(f"Can't find end of the tag at byte offset {at}; use &lt; and &gt;")
    out.append(html.unescape(chunk))


def _html_extra(tag: str, attrs: str) -> JSON:
    if tag != "a":
        return {}
    href = re.search(r"""href\s*=\s*["']([^"']*)["']""", attrs)
    return {"url": href.group(1) if href else ""}


def _parse_markdown_v2(source: str) -> tuple[str, list[JSON]]:
    out: list[str] = []
    open_marks: list[tuple[str, int]] = []
    entities: list[JSON] = []
    i = 0
    while i < len(source):
        ch = source[i]
        if ch == "\\" and i + 1 < len(source):
            out.append(source[i + 1])
            i += 2
            continue
        if ch == "`":
            i = _md2_code(source, i, out, entities)
            continue
        mark = source[i : i + 2] if source[i : i + 2] in ("__", "||") else ch
        if mark in _MD2_MARKERS:
            _md2_toggle(mark, open_marks, out, entities)
            i += len(mark)
            continue
        if ch == "[":
            i = _md2_link(source, i, out, entities)
            continue
        if ch == ">" and (i == 0 or source[i - 1] == "\n"):
            i += 1  # a blockquote line marker
            continue
        if ch in _MD2_RESERVED:
            raise _cant_parse(
                f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )
        out.append(ch)
        i += 1
    if open_marks:
        name = _MD2_MARKERS[open_marks[-1][0]].capitalize()
        raise _cant_parse(f"Can't find end of {name} entity at byte offset {open_marks[-1][1]}")
    return "".join(out), entities


def _md2_toggle(
    mark: str, open_marks: list[tuple[str, int]], out: list[str], entities: list[JSON]
) -> None:
    plain = "".join(out)
    if open_marks and open_marks[-1][0] == mark:
        _, start = open_marks.pop()
        entities.append(_entity(_MD2_MARKERS[mark], plain, start, len(plain)))
    else:
        open_marks.append((mark, len(plain)))


def _md2_code(source: str, i: int, out: list[str], entities: list[JSON]) -> int:
    fence = "```" if source.startswith("```", i) else "`"
    end = i + len(fence)
    while end < len(source) and not source.startswith(fence, end):
        end += 2 if source[end] == "\\" else 1
    if end >= len(source):
        kind = "Pre" if fence == "```" else "Code"
        raise _cant_parse(f"Can't find end of {kind} entity at byte offset {i}")
    body = re.sub(r"\\([`\\])", r"\1", source[i + len(fence) : end])
    plain = "".join(out)
    out.append(body)
    kind = "pre" if fence == "```" else "code"
    entities.append(_entity(kind, plain + body, len(plain), len(plain) + len(body)))
    return end + len(fence)


def _md2_link(source: str, i: int, out: list[str], entities: list[JSON]) -> int:
    match = re.compile(r"\[((?:\\.|[^\]\\])*)\]\(((?:\\.|[^)\\])*)\)").match(source, i)
    if match is None:
        raise _cant_parse("Character '[' is reserved and must be escaped with the preceding '\\'")
    label, _ = _parse_markdown_v2(match.group(1))
    url = re.sub(r"\\(.)", r"\1", match.group(2))
    plain = "".join(out)
    out.append(label)
    entities.append(
        _entity("text_link", plain + label, len(plain), len(plain) + len(label), url=url)
    )
    return match.end()
