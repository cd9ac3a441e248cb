"""Sample-ratio mismatch: are the shoppers seen in each variant the shares the split promised?
Pearson's chi-square goodness-of-fit test of the observed counts against the expected shares;
a p-value under ``THRESHOLD`` flags a broken split (a redirect that loses shoppers in one
variant, a bot filter, a cache serving one variant's lists to others), whose results cannot
be trusted whatever they say (Fabijan et al., KDD 2019)."""

from __future__ import annotations

import numpy as np
from scipy.stats import chisquare

THRESHOLD = 0.001  # the usual SRM alarm level: a real split trips it once in 1000 checks


def check(observed, shares, threshold: float = THRESHOLD) -> dict:
    """{chi2, p_value, flagged, observed, expected} for counts (k,) and shares (k,) summing to 1."""
    obs = np.asarray(observed, dtype=np.float64)
    p = np.asarray(shares, dtype=np.float64)
    total = obs.sum()
    if total == 0 or len(obs) < 2:
        return {"chi2": None, "p_value": None, "flagged": False, "observed": obs.astype(int).tolist(),
                "expected": (p * total).tolist()}
    expected = p / p.sum() * total
    stat, pv = chisquare(obs, expected)
    return {"chi2": float(stat), "p_value": float(pv), "flagged": bool(pv < threshold),
            "observed": obs.astype(int).tolist(), "expected": expected.tolist()}
