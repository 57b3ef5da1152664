"""Statistics shared by the summary, verify, comparisons and points (the summary itself: harness/summary.py).

Distributions come from scipy: Student's t quantiles (`t975`), the exact binomial test behind McNemar's test
(`mcnemar`). The bootstrap is plain numpy resampling with a seeded generator (`bootstrap_means`), so that a figure
computed from many benchmarks' resamples (a points total) uses one set of draws per benchmark.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # scipy and numpy load on first use: `harness --help` and planning a run stay fast
    import numpy as np

# resamples drawn at once (rows of a resample matrix): bounds memory at BATCH × n indices for n items
BATCH = 500
LEVELS = 64  # at most this many distinct values: resampled as multinomial counts


def t975(df: int) -> float:
    """The 97.5% quantile of Student's t with `df` degrees of freedom (two-sided 95% intervals); nan for df < 1."""
    from scipy import stats

    if df <= 0:
        return float("nan")
    return float(stats.t.ppf(0.975, df))


def mcnemar(gained: int, lost: int) -> dict:
    """McNemar's test on the discordant pairs of a paired 2×2 table: the exact two-sided binomial test of
    `gained` successes in `gained + lost` trials at p = 1/2 (scipy.stats.binomtest; statsmodels' `mcnemar` with its
    default exact=True gives the same p-value). Exact at every size: scipy computes the tail for any count, so the
    chi-square approximation is not needed."""
    from scipy import stats

    n = gained + lost
    p = 1.0 if n == 0 else float(stats.binomtest(gained, n, 0.5).pvalue)
    return {"test": "McNemar, exact binomial on the discordant pairs (scipy.stats.binomtest, p = 1/2)",
            "discordant": n, "p_value": p}


def bootstrap_means(values, resamples: int, rng: "np.random.Generator") -> "np.ndarray":
    """`resamples` means of `values` resampled with replacement (same length), drawn from `rng`.

    Values with few distinct levels (right/wrong verdicts, means over a few repeats, their paired differences) are
    resampled as multinomial counts of the levels: the same distribution as drawing indices, in O(levels) per
    resample instead of O(n). Others draw index matrices in batches."""
    import numpy as np

    x = np.asarray(values, dtype=float)
    n = len(x)
    levels, counts = np.unique(x, return_counts=True)
    if len(levels) <= LEVELS:
        return rng.multinomial(n, counts / n, size=resamples) @ levels / n
    out = np.empty(resamples)
    for start in range(0, resamples, BATCH):
        k = min(BATCH, resamples - start)
        out[start:start + k] = x[rng.integers(0, n, size=(k, n))].mean(axis=1)
    return out


def percentile_ci(draws: "np.ndarray", level: float = 0.95) -> list[float]:
    """The percentile bootstrap interval of `draws`."""
    import numpy as np

    a = (1 - level) / 2
    lo, hi = np.quantile(draws, [a, 1 - a])
    return [float(lo), float(hi)]


def bootstrap_p(draws: "np.ndarray") -> float:
    """Two-sided p-value of 'no difference' read from bootstrap draws of a difference: twice the smaller share of
    draws on either side of 0 (the smallest level whose percentile interval excludes 0), at most 1."""
    import numpy as np

    d = np.asarray(draws)
    if d.size == 0:
        return math.nan
    below, above = float(np.mean(d <= 0)), float(np.mean(d >= 0))
    return min(1.0, 2 * min(below, above))
