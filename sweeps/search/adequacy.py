"""Was an arm tuned well enough? The check after each search round, pure (no Ray, MLflow or Optuna).

Two tests careful researchers use, acted on rather than only reported:
- The boundary check of the Deep Learning Tuning Playbook: is the best configuration in the outer tenth of a range
  (in the dimension's own scale: log for loguniform)? If the trials beyond it diverged, that edge is the net's
  stability limit and stays; if not, the edge is open and the next round widens that side by the range's width
  (within hard limits: the spec's `rounds.limits`, else 100x beyond a loguniform range; a uniform range is widened
  only within limits the spec sets).
- Dodge et al. 2019's expected maximum: E[best of n] over the arm's configurations; a curve that still gains more
  than the tolerance from n/2 to n configurations says more trials would likely find a better one.
An arm whose configurations all score alike (within the tolerance) is on a plateau: no best to place, no edge to
move ("flat"); but a plateau at chance (a net that learned nothing anywhere in the range) is widened on both sides,
since it may learn outside it ("flat at chance"), until the hard limits.
An arm is adequate when it has at least 2 configurations, its curve is flat and no range has an open edge.
Configurations ASHA stopped have no final score: they count as the worst finished one on the curve, never as the
best, never on a plateau, and an arm with fewer than 2 finished configurations is not judged flat (see assess).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

EDGE = 0.1            # the outer tenth of a range
WIDEN_LOG_LIMIT = 100.0  # default hard limits of a loguniform range: 100x below its low and above its high
RANGES = ("uniform", "loguniform")
CLASSES = 10          # every data set the trainer loads has 10 classes (digits, CIFAR-10, the synthetic set)
CHANCE_MARGIN = 0.05  # an accuracy within 5 pp of chance (an error within 5 pp of 1 - chance): learned nothing


def expected_max(values: Sequence[float], n: int) -> float:
    """Expected best of n draws with replacement from values (Dodge et al. 2019's estimator):
    sum_i v_(i) * ((i/N)^n - ((i-1)/N)^n) over the sorted values v_(1) <= ... <= v_(N)."""
    v = sorted(float(x) for x in values)
    if not v or n < 1:
        return float("nan")
    big_n = len(v)
    return sum(x * ((i / big_n) ** n - ((i - 1) / big_n) ** n) for i, x in enumerate(v, 1))


def curve_gain(values: Sequence[float], mode: str = "max") -> float | None:
    """How much the expected best improves from n/2 to n configurations (in the metric's units); None below 2."""
    sign = 1.0 if mode == "max" else -1.0
    v = [sign * x for x in values]
    if len(v) < 2:
        return None
    return expected_max(v, len(v)) - expected_max(v, len(v) // 2)


def curve_values(scored: list[dict], mode: str = "max") -> list[float]:
    """The scores the tuning curve is drawn from. A configuration the scheduler stopped early (ASHA) has no final
    score, and its score at the rung where it stopped is not one: it counts as no better than the worst configuration
    that finished (ASHA judged it worse at a rung), so it adds a draw to the curve but never a new best. Without any
    finished configuration, every score counts as it is."""
    done = [c["value"] for c in scored if not c.get("pruned")]
    if not done:
        return [c["value"] for c in scored]
    floor = min(done) if mode == "max" else max(done)
    return done + [floor] * (len(scored) - len(done))


def metric_scale(metric: str) -> float:
    """Percentage points per unit of the metric: 100 for accuracies and error rates (fractions), else 1."""
    return 100.0 if metric.endswith(("acc", "error")) else 1.0


def at_chance(value: float, metric: str) -> bool:
    """Whether a score is what a net that learned nothing gets (accuracy or error metrics; never for a loss)."""
    if metric.endswith("acc"):
        return value <= 1 / CLASSES + CHANCE_MARGIN
    if metric.endswith("error"):
        return value >= 1 - 1 / CLASSES - CHANCE_MARGIN
    return False


def _t(kind: str, x: float) -> float:
    return math.log(x) if kind == "loguniform" else float(x)


def _x(kind: str, t: float) -> float:
    return math.exp(t) if kind == "loguniform" else t


def position(kind: str, rng: Sequence[float], x: float) -> float:
    """Where x sits in rng, 0 (low) to 1 (high), in the dimension's scale."""
    lo, hi = _t(kind, rng[0]), _t(kind, rng[1])
    return (_t(kind, x) - lo) / (hi - lo) if hi > lo else 0.5


def hard_limits(kind: str, start: Sequence[float], limits: dict, name: str) -> tuple[float, float]:
    """The bounds a range may be widened to: the spec's, else 100x beyond a loguniform range, else the range."""
    if name in limits:
        return tuple(limits[name])
    if kind == "loguniform":
        return start[0] / WIDEN_LOG_LIMIT, start[1] * WIDEN_LOG_LIMIT
    return tuple(start)


def widened(kind: str, rng: Sequence[float], side: str, limit: tuple[float, float]) -> tuple[float, float]:
    """rng with one side moved out by the range's width (in its scale), stopped at the hard limit."""
    lo, hi = _t(kind, rng[0]), _t(kind, rng[1])
    if side == "high":
        return rng[0], min(_x(kind, hi + (hi - lo)), limit[1])
    return max(_x(kind, lo - (hi - lo)), limit[0]), rng[1]


def coverage(kind: str, rng: Sequence[float], tried: Sequence[float]) -> float:
    """The span of the tried values over the range, in the dimension's scale (0 to 1)."""
    if len(tried) < 2:
        return 0.0
    u = [position(kind, rng, x) for x in tried]
    return max(0.0, min(1.0, max(u)) - max(0.0, min(u)))


def limits_seen(best_x: float, configs: list[dict], name: str) -> dict:
    """The diverged values nearest the best on each side: {"high": lowest diverged above, "low": highest below}."""
    above = [c["params"][name] for c in configs if c["diverged"] and c["params"].get(name, best_x) > best_x]
    below = [c["params"][name] for c in configs if c["diverged"] and c["params"].get(name, best_x) < best_x]
    return ({"high": min(above)} if above else {}) | ({"low": max(below)} if below else {})


def _edge(kind, rng, best_x, configs, name) -> tuple[str, str]:
    """(side, how) of the best value in one range: ("", "interior"), or a side with "open" or "stability"."""
    u = position(kind, rng, best_x)
    side = "low" if u < EDGE else "high" if u > 1 - EDGE else ""
    if not side:
        return "", "interior"
    sign = -1 if side == "low" else 1
    beyond = [c for c in configs if name in c["params"] and sign * (position(kind, rng, c["params"][name]) - u) > 0]
    return side, "stability" if any(c["diverged"] for c in beyond) else "open"


def assess(configs: list[dict], dims: dict[str, tuple[str, tuple, tuple]], rounds, mode: str,
           metric: str) -> dict:
    """One arm after a round. configs: {"params", "value" (mean over seeds, None if none scored), "diverged",
    "pruned" (optional: stopped early by the scheduler; see curve_values)};
    dims: name -> (kind, start range, current range) of its uniform and loguniform nuisance dimensions; rounds:
    the spec's Rounds. Returns the record the adequacy table shows, with "ranges" for the next round."""
    scale, tol = metric_scale(metric), rounds.tolerance_pp
    sign = 1.0 if mode == "max" else -1.0
    scored = [c for c in configs if not c["diverged"] and c["value"] is not None and math.isfinite(c["value"])]
    gain = curve_gain(curve_values(scored, mode), mode)  # pruned configurations: see curve_values
    gain_pp = None if gain is None else gain * scale
    finished = [c for c in scored if not c.get("pruned")] or scored  # the best is a configuration that finished
    best = max(finished, key=lambda c: sign * c["value"]) if scored else None
    values, stopped = curve_values(scored, mode), len(scored) - len(finished)
    # A plateau needs every configuration's final score: one the scheduler stopped was judged worse at a rung.
    flat = len(values) >= 2 and not stopped and (max(values) - min(values)) * scale < tol
    # Stopped configurations stand in for the worst finished one on the curve; with fewer than 2 finished that
    # makes a curve flat by construction, so it is not judged: another round, for more finished configurations.
    few_finished = bool(stopped) and len(finished) < 2
    where, ranges, why, is_open, stability = {}, {}, [], False, {}
    for name, (kind, start, rng) in dims.items():
        rng = tuple(rng)
        ranges[name] = rng
        limit = hard_limits(kind, start, rounds.limits, name)
        if best is None:
            if configs and all(c["diverged"] for c in configs):  # smaller is stabler for a learning rate
                where[name] = "every configuration diverged"
                if rounds.widen and rng[0] > limit[0]:
                    ranges[name] = widened(kind, rng, "low", limit)
                    why.append(f"{name}: every configuration diverged, widened down to {_fmt(ranges[name])}")
                is_open = True
            continue
        if flat and not at_chance(best["value"], metric):  # a plateau: no best to place, no edge to move
            where[name] = "flat"
            continue
        if flat:  # learned nothing anywhere in the range: it may learn outside it
            wider = widened(kind, widened(kind, rng, "low", limit), "high", limit) if rounds.widen else rng
            if tuple(wider) == rng and rounds.widen:
                where[name] = "flat at chance (hard limits)"
                why.append(f"{name}: no configuration learned anything, up to the hard limits {_fmt(rng)}")
                continue
            where[name], ranges[name], is_open = "flat at chance", tuple(wider), True
            why.append(f"{name}: no configuration learned anything in {_fmt(rng)}"
                       + (f", widened to {_fmt(wider)}" if rounds.widen else " (widening is off)"))
            continue
        stability[name] = limits_seen(best["params"][name], configs, name)
        side, how = _edge(kind, rng, best["params"][name], configs, name)
        if not side:
            where[name] = "interior"
        elif how == "stability":
            where[name] = f"stability limit ({side})"
            why.append(f"{name}: the trials beyond the best diverged, so the {side} edge is the net's stability limit")
        elif (side == "high" and rng[1] >= limit[1]) or (side == "low" and rng[0] <= limit[0]):
            where[name] = f"hard limit ({side})"
            why.append(f"{name}: best at the {side} edge, which is the hard limit {_fmt(limit)}")
        else:
            where[name], is_open = f"{side} edge", True
            if rounds.widen:
                ranges[name] = widened(kind, rng, side, limit)
                why.append(f"{name}: best {best['params'][name]:.3g} at the {side} edge of {_fmt(rng)}, "
                           f"widened to {_fmt(ranges[name])}")
            else:
                why.append(f"{name}: best at the open {side} edge of {_fmt(rng)} (widening is off)")
    for name, seen in stability.items():
        if "high" in seen and not where.get(name, "").startswith("stability"):
            why.append(f"{name}: diverged from {seen['high']:.3g} up (a stability limit above the best)")
    rising = gain_pp is None or gain_pp > tol or few_finished
    if best is None:
        why.append("no configuration trained to a score")
    elif few_finished:
        why.append(f"{len(finished)} of {len(scored)} configurations finished (the scheduler stopped {stopped}): "
                   f"too few final scores to tell whether more would do better")
    elif gain_pp is None:
        why.append("one configuration: too few to tell whether more would do better")
    elif flat:
        why.append(f"flat: every configuration within {tol:g} pp of the best")
    elif rising:
        why.append(f"tuning curve still rising (+{gain_pp:.1f} pp from {len(scored) // 2} to {len(scored)} "
                   f"configurations)")
    else:
        why.append(f"tuning curve flat (+{gain_pp:.1f} pp from {len(scored) // 2} to {len(scored)} configurations)")
    adequate = best is not None and not rising and not is_open
    tried = {name: [c["params"][name] for c in configs if name in c["params"]] for name in dims}
    return {"configurations": len(configs), "diverged": sum(bool(c["diverged"]) for c in configs),
            "best": {"params": dict(best["params"]), "value": best["value"]} if best else None,
            "where": where, "stability": stability, "gain_pp": gain_pp, "adequate": adequate, "reason": "; ".join(why),
            "ranges": ranges, "coverage": {n: round(coverage(dims[n][0], ranges[n], tried[n]), 3) for n in dims}}


def _fmt(rng: Sequence[float]) -> str:
    return f"[{rng[0]:.3g}, {rng[1]:.3g}]"
