"""What a live experiment's counts say (docs/metrics.md#experiments). Pure, stdlib only.

A two-proportion z-test of each variant against the control (two-sided, pooled
variance), and the fixed-horizon sample size per arm that a test of level
``ALPHA`` needs to find a relative lift of the minimum detectable effect with
probability ``POWER``. The p-value is only meaningful once every arm has reached
that size: read before, it is the peeking fallacy (README, "Reading an experiment").
"""

from __future__ import annotations

import math
from statistics import NormalDist

ALPHA = 0.05  # two-sided
POWER = 0.8
_STANDARD = NormalDist()


def p_value(conversions_c: int, sessions_c: int, conversions_v: int, sessions_v: int) -> float:
    """Two-sided p-value that the variant converts differently from the control.

    NaN while an arm has no sessions; 1 when every session of both arms converted
    alike (all or none): no difference was observed.
    """
    if sessions_c <= 0 or sessions_v <= 0:
        return math.nan
    rate_c, rate_v = conversions_c / sessions_c, conversions_v / sessions_v
    pooled = (conversions_c + conversions_v) / (sessions_c + sessions_v)
    variance = pooled * (1 - pooled) * (1 / sessions_c + 1 / sessions_v)
    if variance <= 0:
        return 1.0
    z = abs(rate_v - rate_c) / math.sqrt(variance)
    return 2 * _STANDARD.cdf(-z)  # the lower tail: no 1 - cdf cancellation for large z


def sample_size(baseline: float, mde: float, alpha: float = ALPHA, power: float = POWER) -> float:
    """Sessions each arm needs to detect a lift from ``baseline`` to ``baseline * (1 + mde)``.

    The classic fixed-horizon formula for two proportions (Fleiss); NaN when the
    baseline is unknown (0 or none yet) or the lifted rate would reach 1.
    """
    target = baseline * (1 + mde)
    if not 0 < baseline < 1 or not 0 < target < 1 or mde <= 0:
        return math.nan
    z_alpha = _STANDARD.inv_cdf(1 - alpha / 2)
    z_power = _STANDARD.inv_cdf(power)
    mean = (baseline + target) / 2
    spread = z_alpha * math.sqrt(2 * mean * (1 - mean)) + z_power * math.sqrt(
        baseline * (1 - baseline) + target * (1 - target)
    )
    return float(math.ceil(spread**2 / (target - baseline) ** 2))
