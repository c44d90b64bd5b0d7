"""Turn authors' Markdown and code into safe HTML."""

from __future__ import annotations

import markdown
import nh3
from django.utils.safestring import SafeString, mark_safe
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

ALLOWED_TAGS = {
    "p", "br", "hr", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li",
    "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "a", "span", "div",
    "sub", "sup",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "span": {"class"},
    "div": {"class"},
    "code": {"class"},
}

_FORMATTER = HtmlFormatter(cssclass="codehilite", nowrap=False)


def render_markdown(text: str) -> SafeString:
    """Return sanitized HTML for author Markdown (no raw HTML, scripts or event handlers)."""
    html = markdown.markdown(text or "", extensions=["fenced_code", "tables", "sane_lists"])
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
    return mark_safe(clean)  # noqa: S308 - sanitized by nh3 just above


def highlight_python(code: str) -> SafeString:
    """Return Python source as highlighted HTML (pygments escapes every token)."""
    return mark_safe(highlight(code or "", PythonLexer(), _FORMATTER))  # noqa: S308
