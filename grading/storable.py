"""Make text from jobs storable in PostgreSQL before it is stored.

PostgreSQL refuses a NUL character in ``text`` and in ``jsonb`` strings, and a lone UTF-16
surrogate cannot be encoded as UTF-8 at all; a job can print either or put it in an
exception message. Both become visible backslash escapes (``\\u0000``, ``\\udc80``) so the
row is stored and a reader still sees that something odd was there.
"""

from __future__ import annotations

from typing import Any


def storable_text(text: str) -> str:
    """Return ``text`` with NUL characters and lone surrogates escaped."""
    if "\x00" in text:
        text = text.replace("\x00", "\\u0000")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def storable_data(data: Any) -> Any:
    """Return JSON-ready ``data`` with every string, keys included, made storable.

    Only called on data the worker built itself (bounded depth), after validation.
    """
    if isinstance(data, str):
        return storable_text(data)
    if isinstance(data, dict):
        return {storable_text(str(key)): storable_data(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [storable_data(item) for item in data]
    return data
