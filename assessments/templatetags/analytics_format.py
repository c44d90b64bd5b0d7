"""Filters of the analytics page: shares as percentages, indices with a sign."""

from __future__ import annotations

import math

from django import template

register = template.Library()


@register.filter
def percent(value: float | None) -> str:
    """Return a share (0..1) as a whole percentage, or a dash when there is none."""
    if value is None:
        return "—"
    return f"{math.floor(100 * value + 0.5)}%"  # half up: 32.5% shows as 33%


@register.filter
def index(value: float | None) -> str:
    """Return an index (-1..1) with two decimals and a real minus sign, or a dash."""
    if value is None:
        return "—"
    return f"{value:.2f}".replace("-", "\u2212")
