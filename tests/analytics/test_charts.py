"""Server-side SVG charts: escaped, accessible, self-contained."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from assessments.reports import charts

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 -- our own output, parsed to prove it is well formed


def _texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def test_bar_chart_is_an_image_with_title_description_labels_and_values():
    svg = charts.bar_chart(
        chart_id="c1",
        title="Share correct",
        description="Q1: 40% of 10",
        bars=[charts.Bar("Q1", 0.4, note="(4/10)"), charts.Bar("Q2", 1.0, emphasis=True)],
    )
    root = _parse(svg)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "c1-title c1-desc"
    assert root.find(f"{SVG}title").text == "Share correct"
    assert root.find(f"{SVG}desc").text == "Q1: 40% of 10"
    texts = _texts(root)
    assert "Q1" in texts and "40% (4/10)" in texts and "100%" in texts
    widths = [float(r.get("width")) for r in root.iter(f"{SVG}rect")][1:]  # after the background
    assert widths[1] == 2.5 * widths[0]


def test_text_is_escaped_and_nothing_is_fetched():
    evil = '<script>alert(1)</script> & "quotes"'
    svg = charts.bar_chart(
        chart_id="c2", title=evil, description=evil, bars=[charts.Bar(evil, 0.5)]
    )
    assert "<script>" not in svg
    root = _parse(svg)
    assert root.find(f"{SVG}title").text == evil  # escaped in the markup, intact when read
    assert not re.search(r"href|url\(|<image|<script|@import", svg)
    assert re.findall(r"https?://[^\"]+", svg) == ["http://www.w3.org/2000/svg"]


def test_long_labels_are_shortened_on_the_chart_and_kept_in_the_description():
    label = "A very long challenge title that would not fit"
    svg = charts.bar_chart(
        chart_id="c3", title="t", description=label, bars=[charts.Bar(label, 0.5)]
    )
    root = _parse(svg)
    assert any(t.endswith("…") and len(t) == charts.LABEL_CHARS for t in _texts(root))
    assert root.find(f"{SVG}desc").text == label


def test_time_chart_draws_the_limit_the_quartiles_and_each_candidate():
    svg = charts.time_chart(
        chart_id="t",
        title="Time",
        description="d",
        rows=[charts.TimeRow("Q1", [0.1, 0.5, 1.0], 0.3, 0.5, 0.75)],
    )
    root = _parse(svg)
    assert len(list(root.iter(f"{SVG}circle"))) == 3
    assert "limit" in _texts(root)


def test_stacked_chart_has_a_legend_and_counts():
    svg = charts.stacked_bar_chart(
        chart_id="s",
        title="Attempts",
        description="d",
        categories=["1 attempt", "2 attempts", "unanswered"],
        rows=[charts.StackRow("Q1", [4, 5, 1]), charts.StackRow("Q2", [0, 0, 0])],
    )
    root = _parse(svg)
    texts = _texts(root)
    assert {"1 attempt", "2 attempts", "unanswered", "4", "5"} <= set(texts)
    segments = [r for r in root.iter(f"{SVG}rect") if r.get("height") == str(charts.BAR_HEIGHT)]
    assert len(segments) == 3  # Q2 has nobody: no segment, no division by zero


def _extent(text: ET.Element) -> tuple[float, float]:
    """Where a text runs, taking a character as VALUE_CHAR_WIDTH wide (a generous estimate)."""
    x, width = float(text.get("x")), charts.VALUE_CHAR_WIDTH * len(text.text or "")
    anchor = text.get("text-anchor", "start")
    start = {"start": x, "middle": x - width / 2, "end": x - width}[anchor]
    return start, start + width


def test_no_label_or_value_runs_off_the_chart():
    """Long titles and a full bar's long note stay inside the drawing (they were clipped)."""
    bars = [
        charts.Bar("Output of BatchNorm1d on a simple tensor", 1.0, note="(20 of 20, easiest)"),
        charts.Bar("Choosing BatchNorm variant for sequence data", 0.05, note="(1 of 20)"),
    ]
    svg = charts.bar_chart(chart_id="c4", title="t", description="d", bars=bars, axis_label="x")
    times = charts.time_chart(
        chart_id="c5",
        title="t",
        description="d",
        rows=[charts.TimeRow("Effect of momentum parameter in nn.BatchNorm", [1.0], 1, 1, 1)],
    )
    for chart in (svg, times):
        for text in _parse(chart).iter(f"{SVG}text"):
            start, end = _extent(text)
            assert start >= 0 and end <= charts.WIDTH, (text.text, start, end)
