"""The dashboard's plots, drawn server-side by matplotlib as SVG.

How it works: each function takes plain values (dates and counts, times and heat, graph edges) and
returns an SVG document as text; the page embeds it as an image, so the plots need no JavaScript,
no CDN and no network, and a moderator's browser only renders vector graphics. Text stays text in
the SVG (``svg.fonttype = none``), which keeps each plot to a few tens of kilobytes. matplotlib's
object-oriented API (``Figure``) is used, never ``pyplot``: it keeps no global state, so pages drawn
in several threads at once do not draw on each other's figures.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: the figures are only ever written out
from matplotlib.dates import DateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

matplotlib.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "longform",
                            "font.size": 9, "axes.spines.top": False,
                            "axes.spines.right": False})  # fmt: skip

COLOURS = {"pile_on": "#c2410c", "ad_hominem": "#7c3aed", "escalation": "#0369a1",
           "long_exchange": "#15803d"}  # fmt: skip
_OTHER = "#64748b"


@dataclass(frozen=True, slots=True)
class Mark:
    """A point marked on a thread's timeline: a detection or an action."""

    at: datetime
    label: str
    action: bool  # True: something was done or withheld; False: noticed


@dataclass(frozen=True, slots=True)
class Edge:
    """``source`` replied to or mentioned ``target``."""

    source: str
    target: str


def data_uri(svg: str) -> str:
    """``svg`` as a ``data:`` URI for an ``<img>`` (no second request, no id clashes)."""
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()


def daily(title: str, days: Sequence[date], series: Mapping[str, Mapping[date, int]]) -> str:
    """Stacked bars of counts per day, one colour per signal."""
    figure = Figure(figsize=(6.4, 2.2))
    axes = figure.subplots()
    bottom = [0] * len(days)
    x = _num(list(days))
    for signal, counts in sorted(series.items()):
        heights = [counts.get(day, 0) for day in days]
        axes.bar(x, heights, bottom=bottom, width=0.8, label=signal.replace("_", " "),
                 color=COLOURS.get(signal, _OTHER))  # fmt: skip
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    axes.set_title(title, loc="left")
    if days:  # the whole period, even where nothing happened
        axes.set_xlim(float(x[0]) - 1, float(x[-1]) + 1)
    axes.xaxis.set_major_formatter(_dates("%d %b"))
    axes.set_ylim(0, max([*bottom, 1]) * 1.15)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    if series:
        axes.legend(loc="upper left", frameon=False, ncols=4, fontsize=8)
    figure.autofmt_xdate()
    return _svg(figure)


def heat(
    times: Sequence[datetime], values: Sequence[float], marks: Sequence[Mark], detect_at: float
) -> str:
    """A thread's heat (0..1) over time, with its detections and actions marked."""
    figure = Figure(figsize=(6.4, 2.6))
    axes = figure.subplots()
    axes.plot(_num(list(times)), values, color="#0f172a", linewidth=1.5, marker=".", label="heat")
    axes.axhline(detect_at, color="#94a3b8", linestyle="--", linewidth=1,
                 label=f"escalation noticed from {detect_at:.2f}")  # fmt: skip
    for kind, colour, symbol, y in (("noticed", "#c2410c", "v", 1.04),
                                    ("acted", "#0369a1", "^", 1.1)):  # fmt: skip
        chosen = [m for m in marks if m.action == (kind == "acted")]
        if chosen:
            axes.scatter(_num([m.at for m in chosen]), [y] * len(chosen), marker=symbol, color=colour,
                         s=40, label=kind, zorder=3, clip_on=False)  # fmt: skip
            for mark in chosen:
                axes.axvline(float(_num(mark.at)), color=colour, alpha=0.25, linewidth=1)
    axes.set_ylim(0, 1.15)
    axes.set_ylabel("heat")
    axes.xaxis.set_major_formatter(_dates("%H:%M"))
    axes.legend(loc="upper left", frameon=False, fontsize=8, ncols=4, bbox_to_anchor=(0, -0.12))
    figure.subplots_adjust(bottom=0.3)
    return _svg(figure)


def outcomes(rows: Sequence[tuple[str, float, float, float]]) -> str:
    """Differences (sent minus control) with their 95% intervals, one row per (label, d, low,
    high); a line at 0, where an interval crossing it shows no clear difference."""
    figure = Figure(figsize=(6.4, 0.6 + 0.32 * max(len(rows), 1)))
    axes = figure.subplots()
    ys = list(range(len(rows)))[::-1]
    for y, (_, d, low, high) in zip(ys, rows, strict=True):
        colour = _OTHER if low <= 0 <= high else ("#15803d" if d > 0 else "#c2410c")
        axes.errorbar([d], [y], xerr=[[d - low], [high - d]], fmt="o", color=colour, capsize=3)
    axes.axvline(0, color="#94a3b8", linewidth=1)
    axes.set_yticks(ys, [label for label, *_ in rows], fontsize=8)
    axes.set_ylim(-0.7, max(len(rows), 1) - 0.3)
    axes.set_title("Sent minus control, 95% intervals (grey: no clear difference)", loc="left")
    figure.subplots_adjust(left=0.45)
    return _svg(figure)


def reply_graph(target: str, edges: Sequence[Edge], newcomers: set[str]) -> str:
    """Who replied to or mentioned whom: ``target`` at the centre, newcomers marked."""
    people = sorted({e.source for e in edges} | {e.target for e in edges} - {target})
    places = {target: (0.0, 0.0)}
    for index, person in enumerate(people):
        angle = 2 * math.pi * index / max(len(people), 1) + math.pi / 2
        places[person] = (math.cos(angle), math.sin(angle))
    figure = Figure(figsize=(4.8, 4.8))
    axes = figure.subplots()
    for edge in edges:
        (x0, y0), (x1, y1) = places[edge.source], places[edge.target]
        axes.annotate("", xy=(x1, y1), xytext=(x0, y0),
                      arrowprops={"arrowstyle": "->", "color": "#64748b", "shrinkA": 14,
                                  "shrinkB": 14, "linewidth": 1.2})  # fmt: skip
    for person, (x, y) in places.items():
        colour = (
            "#c2410c" if person == target else ("#7c3aed" if person in newcomers else "#0369a1")
        )
        axes.scatter([x], [y], s=900 if person == target else 500, color=colour, zorder=3)
        label = f"{person}\n(new)" if person in newcomers and person != target else person
        axes.annotate(label, (x, y), xytext=(0, -24), textcoords="offset points", ha="center",
                      va="top", fontsize=8)  # fmt: skip
    axes.set_xlim(-1.5, 1.5)
    axes.set_ylim(-1.6, 1.4)
    axes.set_aspect("equal")
    axes.axis("off")
    axes.set_title("Replies and mentions (orange: the target; purple: new to the thread)",
                   fontsize=8)  # fmt: skip
    return _svg(figure)


def _num(values: Any) -> Any:
    # matplotlib's date converter is untyped; it turns datetimes into its float day numbers.
    return date2num(values)  # type: ignore[no-untyped-call]


def _dates(pattern: str) -> DateFormatter:
    # Times are UTC throughout the dashboard; matplotlib's default zone is UTC too.
    return DateFormatter(pattern, tz="UTC")  # type: ignore[no-untyped-call]


def _svg(figure: Figure) -> str:
    out = io.StringIO()
    figure.savefig(out, format="svg", bbox_inches="tight", metadata={"Date": None})
    return out.getvalue()
