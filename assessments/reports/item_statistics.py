"""Classical item statistics: quantiles, the discrimination index, point-biserial.

Pure functions over plain numbers, so that each figure of the analytics page can be checked
by hand.
"""

from __future__ import annotations

import math

# The upper and lower groups of the discrimination index: 27% of the sessions each (Kelley).
DISCRIMINATION_GROUP_SHARE = 0.27


def quantile(sorted_values: list[float], q: float) -> float | None:
    """Return the ``q`` quantile by linear interpolation between order statistics.

    The same definition as numpy's default and spreadsheets' PERCENTILE: the value at
    rank ``q * (n - 1)`` counted from 0.
    """
    if not sorted_values:
        return None
    rank = q * (len(sorted_values) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (rank - low)


def group_size(n: int) -> int:
    """Return how many sessions the upper (and the lower) group holds out of ``n``."""
    if n < 2:
        return 0
    return max(1, math.floor(DISCRIMINATION_GROUP_SHARE * n + 0.5))


def discrimination_index(outcomes: list[tuple[float, bool]]) -> tuple[float, float, float, int]:
    """Return (D, p upper, p lower, group size) of (session score share, correct) pairs.

    Sessions are ranked by their total score share (ties keep the given order, which the
    caller makes stable); D is the share correct in the top 27% minus the bottom 27%.
    """
    k = group_size(len(outcomes))
    ranked = sorted(outcomes, key=lambda pair: pair[0], reverse=True)
    p_upper = sum(correct for _score, correct in ranked[:k]) / k
    p_lower = sum(correct for _score, correct in ranked[-k:]) / k
    return p_upper - p_lower, p_upper, p_lower, k


def point_biserial(outcomes: list[tuple[float, bool]]) -> float | None:
    """Return the correlation of being correct with the session's score share, or None
    when either side does not vary."""
    n = len(outcomes)
    right = [score for score, correct in outcomes if correct]
    wrong = [score for score, correct in outcomes if not correct]
    if not right or not wrong:
        return None
    mean = sum(score for score, _ in outcomes) / n
    spread = math.sqrt(sum((score - mean) ** 2 for score, _ in outcomes) / n)
    if spread == 0:
        return None
    p = len(right) / n
    return (sum(right) / len(right) - sum(wrong) / len(wrong)) / spread * math.sqrt(p * (1 - p))
