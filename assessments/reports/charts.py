"""Small charts drawn on the server as inline SVG: no script, no external resource, printable.

Each chart is an image to assistive technology (``role="img"``) named by its ``<title>`` and
described by a ``<desc>`` that states every value, so nothing is conveyed by the drawing
alone; the page shows the same figures in a table too. Every text is escaped here, and
values are printed next to the marks so colour is never the only carrier. The colours
contrast at least 4.5:1 with white.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 640
LABEL_WIDTH = 200
VALUE_WIDTH = 56
ROW_HEIGHT = 26
BAR_HEIGHT = 16
TOP = 8
AXIS_HEIGHT = 22
# About 6.5 px a character at 12 px: a label of this many fits LABEL_WIDTH without clipping.
LABEL_CHARS = 26
# The widest a character of a printed value is taken to be, to leave room for it.
VALUE_CHAR_WIDTH = 7

INK = "#1b1f24"
MUTED = "#4a5160"
GRID = "#d0d5dd"
BAR = "#1f4e79"
EMPHASIS = "#116329"
LIMIT = "#a40e26"
# Stacked segments: first attempt, second, third, further ones, then unanswered.
SERIES = ("#116329", "#1f4e79", "#7a3d00", "#6b21a8", "#8a4b00")
UNANSWERED = "#5f6673"


@dataclass(frozen=True)
class Bar:
    label: str
    value: float  # 0..1
    note: str = ""  # printed after the value, e.g. "12 of 20"
    emphasis: bool = False  # drawn in the emphasis colour, and the note says why


@dataclass(frozen=True)
class TimeRow:
    label: str
    shares: Sequence[float]  # time used / limit of each candidate, 0..1
    p25: float | None
    median: float | None
    p75: float | None


@dataclass(frozen=True)
class StackRow:
    label: str
    counts: Sequence[int]


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _pct(value: float) -> str:
    # Half up, as people round: 32.5% shows as 33%, not as round()'s even 32%.
    return f"{math.floor(100 * value + 0.5)}%"


def _svg(chart_id: str, title: str, description: str, height: int, body: list[str]) -> SafeString:
    chart_id = escape(chart_id)
    return mark_safe(  # noqa: S308 -- every text inside was escaped by this module
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" '
        f'font-family="system-ui, sans-serif" font-size="12">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>'
        f'<rect width="{WIDTH}" height="{height}" fill="#fff"/>' + "".join(body) + "</svg>"
    )


def _label(y: float, text: str) -> str:
    return (
        f'<text x="{LABEL_WIDTH - 8}" y="{y:.1f}" text-anchor="end" dominant-baseline="middle" '
        f'fill="{INK}">{escape(_short(text))}</text>'
    )


def _axis(y: float, plot: float, ticks: Sequence[float]) -> list[str]:
    """Vertical grid lines at ``ticks`` (shares) with their percentages below ``y``."""
    parts = []
    for tick in ticks:
        x = LABEL_WIDTH + tick * plot
        parts.append(
            f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{y:.1f}" stroke="{GRID}"/>'
            f'<text x="{x:.1f}" y="{y + 14:.1f}" text-anchor="middle" fill="{MUTED}">'
            f"{_pct(tick)}</text>"
        )
    return parts


def bar_chart(
    *, chart_id: str, title: str, description: str, bars: Sequence[Bar], axis_label: str = ""
) -> SafeString:
    """Return horizontal bars of shares (0..1), each with its label and value printed."""
    values = [_pct(bar.value) + (f" {bar.note}" if bar.note else "") for bar in bars]
    # The printed values sit right of their bars: the longest one decides the plot's width,
    # so a full bar's value is never cut off at the edge.
    room = max([VALUE_WIDTH + 60] + [VALUE_CHAR_WIDTH * len(v) + 12 for v in values])
    plot = max(120, WIDTH - LABEL_WIDTH - room)
    height = TOP + ROW_HEIGHT * len(bars) + AXIS_HEIGHT + (14 if axis_label else 0)
    bottom = TOP + ROW_HEIGHT * len(bars)
    body = _axis(bottom, plot, (0, 0.25, 0.5, 0.75, 1))
    for row, (bar, value) in enumerate(zip(bars, values, strict=True)):
        y = TOP + row * ROW_HEIGHT
        middle = y + ROW_HEIGHT / 2
        width = max(0.0, min(1.0, bar.value)) * plot
        body.append(_label(middle, bar.label))
        body.append(
            f'<rect x="{LABEL_WIDTH}" y="{middle - BAR_HEIGHT / 2:.1f}" width="{width:.1f}" '
            f'height="{BAR_HEIGHT}" fill="{EMPHASIS if bar.emphasis else BAR}"/>'
            f'<text x="{LABEL_WIDTH + width + 6:.1f}" y="{middle:.1f}" dominant-baseline="middle" '
            f'fill="{INK}">{escape(value)}</text>'
        )
    if axis_label:
        body.append(
            f'<text x="{LABEL_WIDTH + plot / 2:.1f}" y="{height - 4}" text-anchor="middle" '
            f'fill="{MUTED}">{escape(axis_label)}</text>'
        )
    return _svg(chart_id, title, description, height, body)


def time_chart(
    *, chart_id: str, title: str, description: str, rows: Sequence[TimeRow]
) -> SafeString:
    """Return, per row, each candidate's time as a dot and the quartiles as a box, against
    the limit (100%, a red line)."""
    plot = WIDTH - LABEL_WIDTH - 40
    height = TOP + ROW_HEIGHT * len(rows) + AXIS_HEIGHT + 14
    bottom = TOP + ROW_HEIGHT * len(rows)
    body = _axis(bottom, plot, (0, 0.25, 0.5, 0.75))
    limit_x = LABEL_WIDTH + plot
    body.append(
        f'<line x1="{limit_x}" y1="{TOP}" x2="{limit_x}" y2="{bottom}" stroke="{LIMIT}" '
        f'stroke-width="2"/><text x="{limit_x}" y="{bottom + 14}" text-anchor="middle" '
        f'fill="{LIMIT}">{escape("limit")}</text>'
    )
    for row_number, row in enumerate(rows):
        y = TOP + row_number * ROW_HEIGHT
        middle = y + ROW_HEIGHT / 2
        body.append(_label(middle, row.label))
        if row.p25 is not None and row.p75 is not None and row.median is not None:
            x25, x75 = LABEL_WIDTH + row.p25 * plot, LABEL_WIDTH + row.p75 * plot
            xm = LABEL_WIDTH + row.median * plot
            body.append(
                f'<rect x="{x25:.1f}" y="{middle - BAR_HEIGHT / 2:.1f}" '
                f'width="{max(1.0, x75 - x25):.1f}" height="{BAR_HEIGHT}" fill="#dbe7f3" '
                f'stroke="{BAR}"/><line x1="{xm:.1f}" y1="{middle - BAR_HEIGHT / 2 - 2:.1f}" '
                f'x2="{xm:.1f}" y2="{middle + BAR_HEIGHT / 2 + 2:.1f}" stroke="{INK}" '
                f'stroke-width="3"/>'
            )
        for index, share in enumerate(row.shares):
            # A small vertical jitter, the same on every render, keeps equal times visible.
            jitter = ((index * 7) % 5 - 2) * 1.6
            x = LABEL_WIDTH + max(0.0, min(1.0, share)) * plot
            body.append(
                f'<circle cx="{x:.1f}" cy="{middle + jitter:.1f}" r="2.5" fill="{INK}" '
                f'fill-opacity="0.7"/>'
            )
    body.append(
        f'<text x="{LABEL_WIDTH + plot / 2:.1f}" y="{height - 4}" text-anchor="middle" '
        f'fill="{MUTED}">{escape("time used, as a share of the limit")}</text>'
    )
    return _svg(chart_id, title, description, height, body)


def stacked_bar_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    categories: Sequence[str],
    rows: Sequence[StackRow],
) -> SafeString:
    """Return one 100% bar per row split by category, with a legend; the last category is
    drawn grey (it is "unanswered")."""
    plot = WIDTH - LABEL_WIDTH - 20
    colours = [SERIES[min(i, len(SERIES) - 1)] for i in range(len(categories) - 1)]
    colours.append(UNANSWERED)
    body = []
    x, legend_y = LABEL_WIDTH, TOP
    for category, colour in zip(categories, colours, strict=True):
        needed = 24 + 7 * len(category)
        if x + needed > WIDTH and x > LABEL_WIDTH:  # wrap the legend
            x, legend_y = LABEL_WIDTH, legend_y + 18
        body.append(
            f'<rect x="{x}" y="{legend_y}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{x + 16}" y="{legend_y + 6}" dominant-baseline="middle" fill="{INK}">'
            f"{escape(category)}</text>"
        )
        x += needed
    legend_height = legend_y - TOP + 22
    height = TOP + legend_height + ROW_HEIGHT * len(rows) + 8
    for row_number, row in enumerate(rows):
        y = TOP + legend_height + row_number * ROW_HEIGHT
        middle = y + ROW_HEIGHT / 2
        body.append(_label(middle, row.label))
        total = sum(row.counts)
        x = float(LABEL_WIDTH)
        for count, colour in zip(row.counts, colours, strict=False):
            if not total or not count:
                continue
            width = count / total * plot
            body.append(
                f'<rect x="{x:.1f}" y="{middle - BAR_HEIGHT / 2:.1f}" width="{width:.1f}" '
                f'height="{BAR_HEIGHT}" fill="{colour}" stroke="#fff"/>'
            )
            if width >= 22:
                body.append(
                    f'<text x="{x + width / 2:.1f}" y="{middle:.1f}" text-anchor="middle" '
                    f'dominant-baseline="middle" fill="#fff">{count}</text>'
                )
            x += width
    return _svg(chart_id, title, description, height, body)
