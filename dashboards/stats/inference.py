"""Inference over seeds: the one Welch test, seed intervals, Holm's correction, Hedges' g, and the p-value's words.

Every comparison in the report (the search-stage verdict table, the confirm verdict, the contrasts with a
reference arm) calls `welch` here, so the same two samples give the same interval and p wherever they are shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
from scipy import stats

# Why a comparison has no interval and no p (`untestable`); the verdict's words and cells name the reason.
FEW_SEEDS = "< 2 seeds"  # an arm with fewer than 2 seeds has no variance to estimate
NO_SPREAD = "no spread"  # every seed of both arms gave the same value: nothing to test the difference against


class Welch(NamedTuple):
    """mean(b) - mean(a), its 95% Welch interval (lo, hi) and two-sided p; unpacks as diff, lo, hi, p."""
    diff: float
    lo: float
    hi: float
    p: float


def finite(values: Iterable[float]) -> np.ndarray:
    """The finite entries of values as a float array."""
    x = np.asarray(list(values), dtype=float)
    return x[np.isfinite(x)]


def t_interval(values: Iterable[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided Student-t interval of the finite values; NaN bounds with fewer than two."""
    x = finite(values)
    if len(x) == 0:
        return np.nan, np.nan, np.nan
    mean = float(x.mean())
    if len(x) < 2:
        return mean, np.nan, np.nan
    half = stats.t.ppf(0.5 + confidence / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return mean, mean - half, mean + half


def untestable(a: Iterable[float], b: Iterable[float]) -> str:
    """Why `welch(a, b)` gives no interval or p ('' when it gives both): FEW_SEEDS or NO_SPREAD."""
    a, b = finite(a), finite(b)
    if len(a) < 2 or len(b) < 2:
        return FEW_SEEDS
    return NO_SPREAD if a.var() == 0 and b.var() == 0 else ""


# A difference of two percentages lies in [-100, 100] pp: the bounds of every interval the verdicts show.
PERCENT_DIFF = (-100.0, 100.0)


def compare(a: np.ndarray, b: np.ndarray, bounds: tuple[float, float] | None = None) -> dict[str, float | str]:
    """Both arms' means, the Welch difference b - a with interval and p, Hedges' g, why untested ('' if tested),
    and whether the interval was clipped to `bounds` (the values the difference can take)."""
    a, b = finite(a), finite(b)
    test, clipped = bounded(welch(a, b), bounds)
    return {"mean_a": float(a.mean()) if len(a) else np.nan, "mean_b": float(b.mean()) if len(b) else np.nan,
            **test._asdict(), "g": hedges_g(a, b), "why": untestable(a, b) if len(a) and len(b) else "",
            "clipped": clipped}


def bounded(test: Welch, bounds: tuple[float, float] | None) -> tuple[Welch, bool]:
    """The test with its interval cut to what the difference can be (a difference of two error rates never
    exceeds 100 pp), and whether it had to be cut: then the seeds could not bound it, and the text says so."""
    if bounds is None or not (np.isfinite(test.lo) and np.isfinite(test.hi)):
        return test, False
    low, high = bounds
    if test.lo >= low and test.hi <= high:
        return test, False
    return test._replace(lo=max(test.lo, low), hi=min(test.hi, high)), True


def interval_words(lo: float, hi: float, clipped: bool = False) -> str:
    """An interval in a sentence: "95% CI 1.0 to 13.0"; a clipped one says the seeds could not bound it."""
    words = f"95% CI {lo:.1f} to {hi:.1f}"
    return f"{words}, cut at the possible range: too few seeds to bound it" if clipped else words


def welch(a: Iterable[float], b: Iterable[float], confidence: float = 0.95) -> Welch:
    """mean(b) - mean(a) of the finite values, its Welch t-interval and two-sided Welch p (scipy's numbers).

    The difference is NaN when an arm has no value. Interval and p are NaN when an arm has fewer than 2 values,
    and when neither arm has any spread (every seed of both arms identical, e.g. both stuck at chance): Welch's
    t is then 0/0 or x/0, and a zero-width interval or p = 0 would claim certainty from seeds that only repeated
    themselves. `untestable` says which case it was, for the text a reader sees. One arm without spread is fine:
    the other's variance carries the test (Welch-Satterthwaite gives its n - 1 degrees of freedom).
    """
    a, b = finite(a), finite(b)
    if len(a) == 0 or len(b) == 0:
        return Welch(np.nan, np.nan, np.nan, np.nan)
    diff = float(b.mean() - a.mean())
    if untestable(a, b):
        return Welch(diff, np.nan, np.nan, np.nan)
    var_a, var_b = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = np.sqrt(var_a + var_b)
    dof = (var_a + var_b) ** 2 / (var_a**2 / (len(a) - 1) + var_b**2 / (len(b) - 1))  # Welch-Satterthwaite
    half = stats.t.ppf(0.5 + confidence / 2, dof) * se
    p = 2 * stats.t.sf(abs(diff) / se, dof)
    return Welch(diff, float(diff - half), float(diff + half), float(p))


def holm(pvalues: list[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (NaN entries stay NaN and do not count as tests)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(len(p), np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    order = idx[np.argsort(p[idx], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[i]))  # step-down: adjusted p never decreases
        out[i] = running
    return out


def hedges_g(a: np.ndarray, b: np.ndarray) -> float:
    """Standardised b-minus-a difference with the small-sample correction; NaN without spread."""
    n1, n2 = len(a), len(b)
    if n1 < 2 or n2 < 2:
        return np.nan
    pooled = np.sqrt(((n1 - 1) * a.var(ddof=1) + (n2 - 1) * b.var(ddof=1)) / (n1 + n2 - 2))
    if pooled == 0:
        return np.nan
    return float((b.mean() - a.mean()) / pooled * (1 - 3 / (4 * (n1 + n2) - 9)))


def format_p(p: float, in_text: bool = False, why: str = "") -> str:
    """The one way a p-value is shown: a table cell ("< 0.001", "0.012", "–") or, in_text, "p = 0.012".

    An undefined p shows why when given (`untestable`): "– (no spread)" in a cell, "no test: no spread" in text.
    """
    if not np.isfinite(p):
        if in_text:
            return f"no test: {why}" if why else "p n/a"
        return f"– ({why})" if why else "–"
    if p < 0.001:
        return "p < 0.001" if in_text else "< 0.001"
    return f"p = {p:.2g}" if in_text else f"{p:.2g}"


def format_num(v: float, digits: int = 1) -> str:
    """A table number: fixed digits, a dash when undefined."""
    return "–" if not np.isfinite(v) else f"{v:.{digits}f}"


def format_ci(diff: float, lo: float, hi: float, clipped: bool = False) -> str:
    """A difference with its interval in one cell, as every verdict table shows it: "-6.9 [-60.3, 46.4]" (no
    brackets without an interval; "(cut)" after one clipped to the possible range)."""
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return format_num(diff)
    return f"{format_num(diff)} [{format_num(lo)}, {format_num(hi)}]" + (" (cut)" if clipped else "")
