"""Capacity: how many candidates at realistic pacing one server keeps fast.

Imports no Django, like ``assessments.bench.load`` whose candidates it reuses. The run grows
in steps: each step adds candidates (their first requests spread over the first think time,
so they do not arrive as one burst) until the step's target is taking the test at once; a
candidate who finishes takes another invitation from the pool, so the number taking the test
stays at the target. Each step is measured after it settles. Beside the candidates a few
probes ask ``/healthz`` at a low rate all along, for the CPU a trivial request costs in the
same run. The run stops after the first step that misses (answer or page p95 over the limit,
or an error), or when its time is up; then candidates finish the request they are in and
stop, so the exactly-once check sees every answer's response.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from dataclasses import dataclass, field

import aiohttp

from assessments.bench.load import (
    ANSWER,
    BASELINE,
    PAGE,
    Behaviour,
    Outcome,
    Question,
    Sample,
    _candidate,
    _check_local,
    _Client,
    percentile,
)


@dataclass(frozen=True)
class Plan:
    """The steps of a capacity run and how each is judged."""

    steps: tuple[int, ...]
    step_seconds: float = 60.0
    settle_seconds: float = 25.0
    limit_ms: float = 200.0
    max_seconds: float = 600.0
    # Requests per second the /healthz probes send together, all run long.
    probe_rate: float = 4.0


@dataclass
class Step:
    """What one step measured, over its settled window."""

    candidates: int
    window: tuple[float, float]
    samples: list[Sample] = field(default_factory=list)
    generator_cpu: float = 0.0
    passed: bool = False


@dataclass
class CapacityOutcome:
    outcome: Outcome
    steps: list[Step]
    tokens_used: list[str]
    pool_ran_out: bool = False


class _Pool:
    """Invitation tokens handed out one at a time to whichever candidate needs one."""

    def __init__(self, tokens: list[str]):
        self._tokens = list(reversed(tokens))
        self.used: list[str] = []
        self.ran_out = False

    def take(self) -> str | None:
        if not self._tokens:
            self.ran_out = True
            return None
        token = self._tokens.pop()
        self.used.append(token)
        return token


async def _seat(client, connector, pool, questions, behaviour, seed, stopping, delay):
    """One seat in the room: a candidate, then the next one when they finish."""
    rng = random.Random(seed)  # noqa: S311 - simulated behaviour, not security
    try:
        await asyncio.wait_for(stopping.wait(), timeout=delay)
        return
    except TimeoutError:
        pass
    # The first candidate of a seat arrives at ``delay``; later ones start at once (no spread).
    behaviour_next = dataclasses.replace(behaviour, start_spread_ms=0.0)
    while not stopping.is_set():
        token = pool.take()
        if token is None:
            return
        await _candidate(
            client, connector, token, questions, behaviour_next, rng.randrange(1 << 30), stopping
        )


async def _probe(client, connector, path, rate, stopping, seed):
    """Ask ``path`` at about ``rate`` per second (Poisson arrivals) until told to stop."""
    rng = random.Random(seed)  # noqa: S311
    sent: set[asyncio.Future] = set()
    async with aiohttp.ClientSession(connector=connector, connector_owner=False) as http:
        while not stopping.is_set():
            try:
                await asyncio.wait_for(stopping.wait(), timeout=rng.expovariate(rate))
                break
            except TimeoutError:
                pass
            request = asyncio.ensure_future(
                client.send(http, BASELINE, path, "GET", path, expect=(200,))
            )
            sent.add(request)
            request.add_done_callback(sent.discard)
        if sent:
            await asyncio.wait(sent, timeout=30)


def step_passed(samples: list[Sample], limit_ms: float) -> bool:
    """A step passes with no error and answer and page p95 within the limit."""
    answers = [s.ms for s in samples if s.kind == ANSWER]
    pages = [s.ms for s in samples if s.kind == PAGE]
    if not answers or not pages or any(s.error for s in samples):
        return False
    return percentile(answers, 0.95) <= limit_ms and percentile(pages, 0.95) <= limit_ms


async def _capacity(base_url, tokens, questions, behaviour, plan, seed, baseline):
    outcome = Outcome()
    pool = _Pool(tokens)
    stopping = asyncio.Event()
    origin = time.perf_counter()
    client = _Client(base_url, outcome, timeout=30.0, origin=origin)
    connector = aiohttp.TCPConnector(limit=2000, ttl_dns_cache=None)
    seats: list[asyncio.Future] = []
    steps: list[Step] = []
    spread = max(1.0, behaviour.think_ms / 1000)
    outcome.started = origin
    cpu_started = time.process_time()
    probe = asyncio.ensure_future(
        _probe(client, connector, baseline, plan.probe_rate, stopping, seed)
    )
    try:
        for target in plan.steps:
            step_began = time.perf_counter() - origin
            if step_began + plan.step_seconds > plan.max_seconds:
                break
            for n in range(len(seats), target):
                seats.append(
                    asyncio.ensure_future(
                        _seat(
                            client,
                            connector,
                            pool,
                            questions,
                            behaviour,
                            seed * 100_003 + n,
                            stopping,
                            random.Random(seed + n).uniform(0, spread),  # noqa: S311
                        )
                    )
                )
            await asyncio.sleep(plan.settle_seconds)
            window_began, cpu = time.perf_counter() - origin, time.process_time()
            await asyncio.sleep(plan.step_seconds - plan.settle_seconds)
            window_ended = time.perf_counter() - origin
            step = Step(target, (window_began, window_ended))
            step.samples = [s for s in outcome.samples if window_began <= s.at < window_ended]
            step.generator_cpu = (time.process_time() - cpu) / (window_ended - window_began)
            step.passed = step_passed(step.samples, plan.limit_ms)
            steps.append(step)
            if not step.passed or pool.ran_out:
                break
    finally:
        stopping.set()
        # Candidates end the request they are in (a response for every answer sent).
        await asyncio.wait([*seats, probe], timeout=60)
        outcome.finished = time.perf_counter()
        outcome.cpu_seconds = time.process_time() - cpu_started
        outcome.unfinished = sum(1 for seat in seats if not seat.done())
        for seat in seats:
            if seat.done() and not seat.cancelled() and seat.exception() is not None:
                outcome.failures.append(repr(seat.exception()))
            elif not seat.done():
                seat.cancel()
        await connector.close()
    return CapacityOutcome(outcome, steps, pool.used, pool.ran_out)


def run_capacity(
    base_url: str,
    tokens: list[str],
    questions: list[Question],
    *,
    behaviour: Behaviour,
    plan: Plan,
    seed: int,
    baseline: str,
) -> CapacityOutcome:
    """Grow the number of candidates taking the test at once, step by step; measure each."""
    _check_local(base_url)
    return asyncio.run(_capacity(base_url, tokens, questions, behaviour, plan, seed, baseline))
