"""Figures from the load benchmark's samples: latency percentiles and server CPU per request.

Imports no Django. Server CPU comes from each response's ``Server-Timing: cpu`` (the server
runs with ``SERVER_TIMING_CPU=1``, see ``config/cpu_timing.py``), so answers, pages and the
``/healthz`` baseline are costed within the same run and their ratios hold on a busy machine.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass

from assessments.bench.load import ANSWER, BASELINE, PAGE, Sample, percentile


@dataclass(frozen=True)
class Cost:
    """Server CPU per request of one kind: how many said, their mean and median (ms)."""

    count: int
    mean_ms: float
    median_ms: float

    def __str__(self) -> str:
        if not self.count:
            return "n/a"
        return f"{self.mean_ms:.2f} ms (median {self.median_ms:.2f}, n={self.count})"


def cost(samples: list[Sample]) -> Cost:
    values = [s.cpu_ms for s in samples if s.cpu_ms is not None and not s.error]
    if not values:
        return Cost(0, float("nan"), float("nan"))
    return Cost(len(values), statistics.fmean(values), statistics.median(values))


def costs_by(samples: list[Sample], *, attribute: str) -> dict[str, Cost]:
    """CPU per request grouped by ``kind`` or ``name``."""
    groups: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        groups[getattr(sample, attribute)].append(sample)
    return {key: cost(group) for key, group in sorted(groups.items())}


def latency(samples: list[Sample], kind: str) -> tuple[float, float]:
    """p50 and p95 in ms of one kind's requests."""
    values = [s.ms for s in samples if s.kind == kind]
    return percentile(values, 0.5), percentile(values, 0.95)


def cpu_ratios(samples: list[Sample]) -> dict[str, float]:
    """Median CPU of an answer and of a page over the median CPU of the baseline.

    Medians, because on a shared machine a request now and then is charged for cache misses
    after another process ran (the baseline's mean moved from 3.7 to 5.6 ms between runs,
    its median from 2.8 to 3.1 ms); the means, which capacity arithmetic needs, are printed
    beside them.
    """
    by_kind = costs_by(samples, attribute="kind")
    base = by_kind.get(BASELINE)
    if base is None or not base.count:
        return {}
    return {
        kind: by_kind[kind].median_ms / base.median_ms
        for kind in (ANSWER, PAGE)
        if kind in by_kind and by_kind[kind].count
    }
