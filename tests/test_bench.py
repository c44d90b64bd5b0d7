"""The load benchmark's own arithmetic: what it reads from responses and how it judges."""

from __future__ import annotations

import random
import statistics

from assessments.bench.capacity import Plan, step_passed
from assessments.bench.figures import cost, cpu_ratios
from assessments.bench.load import (
    ANSWER,
    BASELINE,
    PAGE,
    Behaviour,
    Sample,
    server_cpu_ms,
    think_seconds,
)
from assessments.bench.phases import tokens_needed
from config.cpu_timing import cpu_timed


def test_server_timing_cpu_is_read_and_anything_else_is_none():
    assert server_cpu_ms("cpu;dur=1.250") == 1.25
    assert server_cpu_ms("db;dur=3, cpu;desc=x;dur=0.5") == 0.5
    assert server_cpu_ms("cpu;dur=abc") is None
    assert server_cpu_ms(None) is None and server_cpu_ms("total;dur=9") is None


def test_wsgi_wrapper_adds_the_cpu_header():
    def app(environ, start_response):
        sum(range(10_000))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    seen = {}

    def start_response(status, headers, exc_info=None):
        seen.update(headers)

    assert cpu_timed(app)({}, start_response) == [b"ok"]
    assert server_cpu_ms(seen["Server-Timing"]) > 0


def test_lognormal_thinking_has_the_mean_asked_for_and_a_long_tail():
    rng = random.Random(7)
    behaviour = Behaviour(think_ms=20_000, think_sigma=1.0)
    pauses = [think_seconds(behaviour, rng) for _ in range(40_000)]
    assert 19 < statistics.fmean(pauses) < 21
    assert statistics.median(pauses) < 14  # most answer sooner than the mean
    assert max(pauses) > 120  # a few take minutes


def test_a_step_passes_only_fast_and_without_errors():
    fast = [Sample(ANSWER, "answer", 201, 50.0), Sample(PAGE, "question", 200, 40.0)]
    assert step_passed(fast * 20, 200)
    slow = fast * 20 + [Sample(ANSWER, "answer", 201, 900.0)] * 5
    assert not step_passed(slow, 200)
    failed = fast * 20 + [Sample(PAGE, "question", 500, 30.0, "HTTP 500")]
    assert not step_passed(failed, 200)
    assert not step_passed([], 200)


def test_cpu_ratios_use_medians():
    samples = [Sample(BASELINE, "/healthz", 200, 5.0, cpu_ms=ms) for ms in (2, 2, 2, 40)]
    samples += [Sample(ANSWER, "answer", 201, 9.0, cpu_ms=ms) for ms in (6, 6, 6)]
    assert cost(samples[:4]).median_ms == 2 and cost(samples[:4]).mean_ms == 11.5
    assert cpu_ratios(samples)[ANSWER] == 3


def test_enough_invitations_for_seats_that_finish_and_start_again():
    plan = Plan(steps=(100, 200), step_seconds=100, max_seconds=600)
    # 100 seats for 200 s and 100 more for 100 s, tests of 100 s: 300 + 200 tests, +20 %.
    assert tokens_needed(plan, Behaviour(think_ms=10_000), 10) == 650
