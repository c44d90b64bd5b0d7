"""A cheap load generator: simulated candidates taking a test over HTTP, all at once.

Imports no Django: it runs in the benchmark command's process after the invitations exist,
talks to one server on 127.0.0.1 through a single pooled aiohttp connector, and returns what
every request did (kind, status, latency) and which answers the server accepted. Each
candidate has its own cookie jar (the CSRF cookie), as a browser would.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp

# Request kinds the report separates.
ANSWER, PAGE, OTHER, BASELINE = "answer", "page", "other", "baseline"


@dataclass(frozen=True)
class Question:
    """What a candidate needs to answer one question: its option ids and the right one."""

    position: int
    correct: str
    wrong: tuple[str, ...]
    max_attempts: int


@dataclass
class Sample:
    """One request: its kind, outcome, latency, when it was sent (seconds into the run) and
    the server's CPU for it (``Server-Timing: cpu``, when the server says)."""

    kind: str
    name: str
    status: int
    ms: float
    error: str = ""
    at: float = 0.0
    cpu_ms: float | None = None


@dataclass
class Sent:
    """One answer as sent: what it should have been graded, and what the server said."""

    token: str
    position: int
    submission_id: str
    correct: bool
    statuses: list[int] = field(default_factory=list)
    graded_correct: list[bool | None] = field(default_factory=list)


@dataclass
class Outcome:
    samples: list[Sample] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    started: float = 0.0
    finished: float = 0.0
    cpu_seconds: float = 0.0
    unfinished: int = 0

    @property
    def seconds(self) -> float:
        return self.finished - self.started


@dataclass(frozen=True)
class Behaviour:
    """How simulated candidates behave: thinking, mistakes and double submits.

    Think times are uniform between 0 and twice ``think_ms`` when ``think_sigma`` is 0 (the
    overload mode), else lognormal with mean ``think_ms`` and that sigma: heavy-tailed, as
    people reading a question are (most answer within the mean, a few take minutes).
    """

    think_ms: float = 300.0
    think_sigma: float = 0.0
    wrong_first: float = 0.4
    wrong_second: float = 0.3
    double_submit: float = 0.1
    start_spread_ms: float = 1000.0


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def _check_local(base_url: str) -> None:
    host = urlsplit(base_url).hostname or ""
    if not (host == "localhost" or host.startswith("127.") or host == "::1"):
        raise ValueError(f"load goes to this machine only, not {host!r}")


def server_cpu_ms(header: str | None) -> float | None:
    """The ``cpu`` duration of a Server-Timing header (``cpu;dur=1.234``), if any."""
    for metric in (header or "").split(","):
        name, _, params = metric.strip().partition(";")
        if name != "cpu":
            continue
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "dur":
                try:
                    return float(value)
                except ValueError:
                    return None
    return None


class _Client:
    """Time requests and keep their samples."""

    def __init__(self, base_url: str, outcome: Outcome, timeout: float, origin: float = 0.0):
        self.base_url = base_url.rstrip("/")
        self.outcome = outcome
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        # perf_counter() at the run's start: samples say when they were sent relative to it.
        self.origin = origin or time.perf_counter()

    async def send(
        self,
        http: aiohttp.ClientSession,
        kind: str,
        name: str,
        method: str,
        path: str,
        *,
        expect: tuple[int, ...],
        **kwargs,
    ) -> tuple[int, bytes | None]:
        began = time.perf_counter()
        at = began - self.origin
        try:
            async with http.request(
                method,
                self.base_url + path,
                allow_redirects=False,
                timeout=self.timeout,
                **kwargs,
            ) as response:
                body = await response.read()
                status = response.status
                cpu_ms = server_cpu_ms(response.headers.get("Server-Timing"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            ms = (time.perf_counter() - began) * 1000
            self.outcome.samples.append(Sample(kind, name, 0, ms, type(exc).__name__, at))
            return 0, None
        ms = (time.perf_counter() - began) * 1000
        error = "" if status in expect else f"HTTP {status}"
        self.outcome.samples.append(Sample(kind, name, status, ms, error, at, cpu_ms))
        return status, body


def think_seconds(behaviour: Behaviour, rng: random.Random) -> float:
    """Draw one pause between a candidate's steps."""
    if behaviour.think_ms <= 0:
        return 0.0
    if behaviour.think_sigma <= 0:
        return rng.uniform(0, 2 * behaviour.think_ms) / 1000
    # A lognormal's mean is exp(mu + sigma^2 / 2): choose mu so the mean is think_ms.
    sigma = behaviour.think_sigma
    mu = math.log(behaviour.think_ms / 1000) - sigma * sigma / 2
    return rng.lognormvariate(mu, sigma)


async def _think(behaviour: Behaviour, rng: random.Random, stopping=None) -> bool:
    """Pause as a candidate does; return False when told to stop meanwhile."""
    seconds = think_seconds(behaviour, rng)
    if stopping is None:
        await asyncio.sleep(seconds)
        return True
    try:
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    except TimeoutError:
        return True
    return False


def _csrf(http: aiohttp.ClientSession) -> str:
    for cookie in http.cookie_jar:
        if cookie.key == "csrftoken":
            return cookie.value
    return ""


async def _answer(client, http, token, question, option, sent_list, behaviour, rng):
    """Send one answer (twice at once for a double click); return the state the server sent."""
    sent = Sent(token, question.position, str(uuid.uuid4()), option == question.correct)
    sent_list.append(sent)
    headers = {"Accept": "application/json", "X-CSRFToken": _csrf(http)}
    body = {"answer": option, "submission_id": sent.submission_id}
    path = f"/t/{token}/q/{question.position}/answer/"
    copies = 2 if rng.random() < behaviour.double_submit else 1
    results = await asyncio.gather(
        *(
            client.send(
                http, ANSWER, "answer", "POST", path, expect=(200, 201), json=body, headers=headers
            )
            for _ in range(copies)
        )
    )
    state = None
    for status, raw in results:
        sent.statuses.append(status)
        payload = _json(raw) if status in (200, 201) else None
        last = (payload or {}).get("last_answer") or {}
        sent.graded_correct.append(last.get("correct"))
        state = payload or state
    return state


def _json(raw: bytes | None):
    try:
        return json.loads(raw or b"")
    except ValueError:
        return None


async def _candidate(client, connector, token, questions, behaviour, seed, stopping=None):
    """Take the test as a person would; return early (between steps) once ``stopping`` is set."""
    rng = random.Random(seed)  # noqa: S311 - simulated behaviour, not security
    await asyncio.sleep(rng.uniform(0, behaviour.start_spread_ms) / 1000)
    # unsafe=True: aiohttp keeps no cookies from IP addresses otherwise (127.0.0.1).
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(
        connector=connector, connector_owner=False, cookie_jar=jar
    ) as http:
        base = f"/t/{token}"
        status, _ = await client.send(http, PAGE, "landing", "GET", f"{base}/", expect=(200,))
        if status != 200 or not await _think(behaviour, rng, stopping):
            return
        status, _ = await client.send(
            http,
            OTHER,
            "start",
            "POST",
            f"{base}/start/",
            expect=(302,),
            data={"csrfmiddlewaretoken": _csrf(http)},
        )
        await client.send(http, OTHER, "current", "GET", f"{base}/current/", expect=(302,))
        for question in questions:
            status, _ = await client.send(
                http, PAGE, "question", "GET", f"{base}/q/{question.position}/", expect=(200,)
            )
            if status != 200:
                return
            for attempt in range(question.max_attempts):
                if not await _think(behaviour, rng, stopping):
                    return
                wrong_share = behaviour.wrong_first if attempt == 0 else behaviour.wrong_second
                option = (
                    rng.choice(question.wrong) if rng.random() < wrong_share else question.correct
                )
                state = await _answer(
                    client, http, token, question, option, client.outcome.sent, behaviour, rng
                )
                if state is None or state.get("closed"):
                    break
        if not await _think(behaviour, rng, stopping):
            return
        await client.send(http, PAGE, "results", "GET", f"{base}/results/", expect=(200,))


async def _baseline_client(client, connector, path, count, behaviour, seed):
    rng = random.Random(seed)  # noqa: S311
    await asyncio.sleep(rng.uniform(0, behaviour.start_spread_ms) / 1000)
    async with aiohttp.ClientSession(connector=connector, connector_owner=False) as http:
        for _ in range(count):
            await client.send(http, BASELINE, path, "GET", path, expect=(200,))
            await _think(behaviour, rng)


async def _run(base_url, jobs_for, concurrency, timeout, deadline):
    outcome = Outcome()
    client = _Client(base_url, outcome, timeout)
    connector = aiohttp.TCPConnector(limit=concurrency, ttl_dns_cache=None)
    try:
        cpu, outcome.started = time.process_time(), time.perf_counter()
        tasks = [asyncio.ensure_future(job) for job in jobs_for(client, connector)]
        done, pending = await asyncio.wait(tasks, timeout=deadline)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        outcome.finished, outcome.cpu_seconds = time.perf_counter(), time.process_time() - cpu
        outcome.unfinished = len(pending)
        for task in done:
            if task.exception() is not None:
                outcome.failures.append(repr(task.exception()))
    finally:
        await connector.close()
    return outcome


def run_candidates(
    base_url: str,
    tokens: list[str],
    questions: list[Question],
    *,
    behaviour: Behaviour,
    seed: int,
    timeout: float = 30.0,
    deadline: float = 300.0,
) -> Outcome:
    """Let every token's candidate take the test at once; return what happened."""
    _check_local(base_url)

    def jobs(client, connector):
        return [
            _candidate(client, connector, token, questions, behaviour, seed * 100_003 + n)
            for n, token in enumerate(tokens)
        ]

    return asyncio.run(_run(base_url, jobs, len(tokens), timeout, deadline))


def run_baseline(
    base_url: str,
    path: str,
    *,
    clients: int,
    requests_each: int,
    behaviour: Behaviour,
    seed: int,
    timeout: float = 30.0,
    deadline: float = 300.0,
) -> Outcome:
    """The same number of clients, thinking the same, each sending GET ``path`` repeatedly."""
    _check_local(base_url)

    def jobs(client, connector):
        return [
            _baseline_client(client, connector, path, requests_each, behaviour, seed + n)
            for n in range(clients)
        ]

    return asyncio.run(_run(base_url, jobs, clients, timeout, deadline))
