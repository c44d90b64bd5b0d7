"""Click to verdict: how soon a code answer's verdict shows on the candidate's page.

Imports no Django. Each candidate opens the code question and clicks Submit as the page's
form does (a form POST, its redirect, the question page again), then waits exactly as
``static/js/take.js`` does: if the page says the answer is pending it asks the state URL
with ``?poll=1`` on the schedule the page carries (``data-poll``: first delay, factor, cap)
until the answer is no longer pending. The time from the click to the response that carries
the verdict is what a candidate waits.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from dataclasses import dataclass, field

import aiohttp

from assessments.bench.load import OTHER, PAGE, Outcome, _check_local, _Client, _csrf

POLL = "poll"
_ATTRIBUTE = re.compile(r'data-(pending|poll|state-url)="([^"]*)"')


@dataclass
class Verdicts:
    outcome: Outcome
    click_to_verdict_ms: list[float] = field(default_factory=list)
    polls: list[int] = field(default_factory=list)
    correct: int = 0
    shown_on_load: int = 0
    tokens: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _attributes(html: bytes | None) -> dict[str, str]:
    return dict(_ATTRIBUTE.findall((html or b"").decode("utf-8", "replace")))


async def _click(client, http, base, position, code, result: Verdicts) -> None:
    """Submit ``code`` as the page's form does; wait for its verdict as the page's script."""
    clicked = time.perf_counter()
    form = {"csrfmiddlewaretoken": _csrf(http), "submission_id": str(uuid.uuid4()), "answer": code}
    status, _ = await client.send(
        http, OTHER, "answer form", "POST", f"{base}/q/{position}/answer/", expect=(302,), data=form
    )
    if status != 302:
        result.problems.append(f"answer form: HTTP {status}")
        return
    status, html = await client.send(
        http, PAGE, "question", "GET", f"{base}/q/{position}/", expect=(200,)
    )
    page = _attributes(html)
    if status != 200 or "poll" not in page:
        result.problems.append(f"question page after answering: HTTP {status}")
        return
    polls, state = 0, None
    if page["pending"] == "1":
        first, factor, cap = (float(v) for v in page["poll"].split())
        delay = first
        while time.perf_counter() - clicked < 60:
            await asyncio.sleep(delay / 1000)
            polls += 1
            status, body = await client.send(
                http, POLL, "state poll", "GET", page["state-url"] + "?poll=1", expect=(200,)
            )
            state = json.loads(body) if status == 200 else None
            if state is not None and not state.get("pending"):
                break
            delay = min(delay * factor, cap)
        else:
            result.problems.append("no verdict within 60 s")
            return
        last = (state or {}).get("last_answer") or {}
        result.correct += last.get("correct") is True
    else:
        result.shown_on_load += 1
        result.correct += b"verdict correct" in (html or b"")
    result.click_to_verdict_ms.append((time.perf_counter() - clicked) * 1000)
    result.polls.append(polls)


async def _candidate(client, connector, token, position, code, result, pause):
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(
        connector=connector, connector_owner=False, cookie_jar=jar
    ) as http:
        base = f"/t/{token}"
        await client.send(http, PAGE, "landing", "GET", f"{base}/", expect=(200,))
        form = {"csrfmiddlewaretoken": _csrf(http)}
        await client.send(http, OTHER, "start", "POST", f"{base}/start/", expect=(302,), data=form)
        await client.send(http, PAGE, "question", "GET", f"{base}/q/{position}/", expect=(200,))
        await asyncio.sleep(pause)  # reading the question
        await _click(client, http, base, position, code, result)


async def _run(base_url, tokens, position, code, concurrency, pause):
    result = Verdicts(Outcome(), tokens=tokens)
    client = _Client(base_url, result.outcome, timeout=30.0)
    connector = aiohttp.TCPConnector(limit=concurrency, ttl_dns_cache=None)
    gate = asyncio.Semaphore(concurrency)

    async def one(token: str) -> None:
        async with gate:
            await _candidate(client, connector, token, position, code, result, pause)

    try:
        result.outcome.started = time.perf_counter()
        await asyncio.gather(*(one(token) for token in tokens))
        result.outcome.finished = time.perf_counter()
    finally:
        await connector.close()
    return result


def run_verdicts(
    base_url: str,
    tokens: list[str],
    *,
    position: int,
    code: str,
    concurrency: int = 2,
    pause: float = 0.3,
) -> Verdicts:
    """Let each token's candidate answer the code question once; time click to verdict."""
    _check_local(base_url)
    return asyncio.run(_run(base_url, tokens, position, code, concurrency, pause))
