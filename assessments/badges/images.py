"""Badge images: an SVG drawn from a set's title and its organization, no external assets.

Every piece of text comes from authors or candidates, so each is escaped for XML and cut to
a length that fits; the fonts are the viewer's own (a generic family list, no web font), and
the colours come from the set's id so that different sets look different.
"""

from __future__ import annotations

import hashlib
import textwrap
from datetime import datetime

from django.utils.html import escape

SIZE = 400
TITLE_LINE_CHARS = 16
TITLE_LINES = 3
FONTS = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"

# Dark enough behind white text (WCAG AA for large text) in every case.
PALETTE = ["#1f4e79", "#6b2d5c", "#115e3b", "#7a3b00", "#3b3f8f", "#5c4a00", "#0b5563"]


def _lines(text: str, width: int, count: int) -> list[str]:
    lines = textwrap.wrap(" ".join(text.split()), width=width, break_long_words=True) or [""]
    if len(lines) > count:
        lines = lines[:count]
        lines[-1] = lines[-1][: width - 1].rstrip() + "…"
    return lines


def _cut(text: str, length: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def _colour(seed: str) -> str:
    return PALETTE[hashlib.sha256(seed.encode()).digest()[0] % len(PALETTE)]


def badge_svg(
    *,
    title: str,
    organization: str,
    seed: str,
    recipient: str = "",
    awarded_at: datetime | None = None,
    revoked: bool = False,
) -> str:
    """Return the badge of a set as an SVG document; with a recipient, one person's award."""
    colour = _colour(seed)
    title_lines = _lines(title, TITLE_LINE_CHARS, TITLE_LINES)
    first_y = 190 - 17 * (len(title_lines) - 1)
    tspans = "".join(
        f'<tspan x="200" y="{first_y + 34 * n}">{escape(line)}</tspan>'
        for n, line in enumerate(title_lines)
    )
    label = f"{title} — {organization}" + (f" — {recipient}" if recipient else "")
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" '
        f'viewBox="0 0 {SIZE} {SIZE}" role="img" aria-labelledby="badge-title">',
        f'<title id="badge-title">{escape(_cut(label, 300))}</title>',
        f'<g font-family="{FONTS}" text-anchor="middle">',
        f'<circle cx="200" cy="200" r="192" fill="{colour}"/>',
        '<circle cx="200" cy="200" r="176" fill="none" stroke="#ffffff" stroke-width="4" '
        'stroke-opacity="0.85"/>',
        '<text x="200" y="92" fill="#ffffff" font-size="40" aria-hidden="true">★</text>',
        f'<text fill="#ffffff" font-size="28" font-weight="700">{tspans}</text>',
        f'<text x="200" y="{first_y + 34 * (len(title_lines) - 1) + 44}" fill="#ffffff" '
        f'font-size="17">{escape(_cut(organization, 30))}</text>',
    ]
    if recipient:
        parts.append(
            f'<text x="200" y="318" fill="#ffffff" font-size="18" font-weight="600">'
            f"{escape(_cut(recipient, 28))}</text>"
        )
    if awarded_at is not None:
        parts.append(
            f'<text x="200" y="342" fill="#ffffff" font-size="14">{awarded_at:%Y-%m-%d}</text>'
        )
    if revoked:
        parts.append(
            '<g transform="rotate(-20 200 200)"><rect x="40" y="170" width="320" height="60" '
            'fill="#a40e26"/><text x="200" y="212" fill="#ffffff" font-size="36" '
            'font-weight="800">REVOKED</text></g>'
        )
    parts += ["</g>", "</svg>"]
    return "\n".join(parts) + "\n"
