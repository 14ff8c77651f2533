"""When is the queue exhausted: how many variances the next bins of the queue are expected to hold.

With calibrated probabilities the count of variances among the next n bins is a sum of independent
Bernoulli(P(variance)) (a Poisson-binomial): its mean is the sum of the probabilities and its quantiles
give the interval. A queue whose next 100 bins are expected to hold fewer than one is as good as done.
"""

from __future__ import annotations

import numpy as np

from binaudit.core.audit.estimates import Interval, count_interval


def expected_in_next(p_variance_in_queue_order: np.ndarray, n: int = 100, level: float = 0.95) -> Interval:
    """Variances expected among the next n scored bins of the queue, with the Poisson-binomial interval."""
    p = np.asarray(p_variance_in_queue_order, dtype=np.float64)
    p = p[np.isfinite(p)][:max(int(n), 0)]
    return count_interval(p, level)
