"""Pure confirm-stage planning: each arm's configuration picked from the search trials, and fresh seeds.

An arm is one combination of the confirm factors' values (e.g. depth 56, plain); every other searched
field is a nuisance parameter that the search tuned per arm. No Ray, MLflow or Optuna here.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from ..spec import Dimension, SweepSpec

UNTUNED = "untuned"  # the pick rule of an arm with no usable search trial (dashboards.verdict.confirm.PICK_RULES)


@dataclass(frozen=True)
class Trial:
    """One finished search trial as the picker needs it."""
    trial_id: str
    params: dict          # searched field -> value (typed)
    seed: int             # the trial's seed
    outcome: str          # completed, pruned, diverged or errored
    value: float | None   # final value of the spec's metric (None when not reported)


@dataclass(frozen=True)
class Pick:
    """The configuration an arm is confirmed with, and the rule that picked it."""
    arm: dict             # factor -> value
    params: dict          # every searched field -> value (factors and nuisance)
    rule: str             # how it was picked: a key of dashboards.verdict.confirm.PICK_RULES (the report's words)
    source: str           # the trial ids whose values were used, "" for the default rule


def arms(spec: SweepSpec) -> list[dict]:
    """Every combination of the confirm factors' values, in the spec's order; with several training budgets,
    each of them at every budget (the budget is the arm's `epochs`)."""
    factors = spec.confirm.factors
    values = itertools.product(*(spec.search_space[f].values for f in factors))
    combos = [dict(zip(factors, combo)) for combo in values]
    if len(spec.budgets) > 1:
        return [{**c, "epochs": b} for b in spec.budgets for c in combos]
    return combos


def _best(trials: list[Trial], mode: str) -> tuple[dict, str] | None:
    """(params, trial ids) of the configuration with the best mean value over its seeds; None if none scored."""
    groups: dict[tuple, list[Trial]] = {}
    for t in trials:
        if t.value is not None and math.isfinite(t.value):
            groups.setdefault(tuple(sorted(t.params.items(), key=lambda kv: kv[0])), []).append(t)
    if not groups:
        return None
    sign = 1.0 if mode == "max" else -1.0
    # Ties go to the configuration listed first in sorted order: the same pick on every resume.
    key = max(sorted(groups, key=repr), key=lambda k: sign * sum(t.value for t in groups[k]) / len(groups[k]))
    return dict(key), ",".join(sorted(t.trial_id for t in groups[key]))


def middle(dim: Dimension):
    """A range's middle (geometric for loguniform), or a choice's first value."""
    if dim.kind == "loguniform":
        return math.sqrt(dim.values[0] * dim.values[1])
    if dim.kind == "uniform":
        return (dim.values[0] + dim.values[1]) / 2
    return dim.values[0]


def arm_of(spec: SweepSpec, params: dict) -> dict:
    """The confirm arm (factor -> value, and its budget with several) a trial's params belong to."""
    return {f: params.get(f) for f in spec.factors}


def pick_arms(spec: SweepSpec, trials: list[Trial]) -> list[Pick]:
    """Every arm's configuration from its own search trials only: its best completed, else its best pruned;
    an arm whose every trial errored or diverged (or that has none) is not tuned: the space's middle values."""
    picks = []
    for arm in arms(spec):
        mine = [t for t in trials if arm_of(spec, t.params) == arm]
        for rule in ("completed", "pruned"):
            best = _best([t for t in mine if t.outcome == rule], spec.mode)
            if best is not None:
                picks.append(Pick(arm, {**best[0], **arm}, rule, best[1]))
                break
        else:
            params = {name: middle(dim) for name, dim in spec.nuisance.items()}
            picks.append(Pick(arm, {**params, **arm}, UNTUNED, ""))
    return picks


def confirm_seeds(spec: SweepSpec, trials: list[Trial]) -> list[int]:
    """K seeds the search never used: above both the spec's search seeds (0..seeds-1) and any seed seen."""
    start = max([spec.seeds - 1, *(t.seed for t in trials)]) + 1
    return list(range(start, start + spec.confirm.seeds))


def grid_entries(picks: list[Pick]) -> list[dict]:
    """One Tune grid value per arm: its config fields plus the pick's rule and source (tagged on the runs)."""
    return [{**p.params, "pick_rule": p.rule, "pick_source": p.source} for p in picks]


def search_slots(active: list[int], per_arm: int, seeds: int,
                 counts: list[int] | None = None) -> list[tuple[int, int, int]]:
    """A search round's trial order, as (arm, configuration, seed) indices: configuration k of every active arm,
    each with all its seeds, before k + 1, so the arms are searched side by side and each gets per_arm
    configurations; counts: configurations each arm had before the round (its indices go on from there)."""
    counts = counts or [0] * (max(active, default=-1) + 1)
    return [(a, counts[a] + k, s) for k in range(per_arm) for a in active for s in range(seeds)]


def nuisance_points(spec: SweepSpec) -> list[dict]:
    """A grid search's configurations per arm: the nuisance grid in the spec's order, its first per_arm points."""
    names = list(spec.nuisance)
    combos = itertools.product(*(spec.nuisance[n].values for n in names))
    return [dict(zip(names, c)) for c in combos][:spec.per_arm]


def arm_label(arm: dict) -> str:
    """An arm's short name, e.g. depth=56,residual=False: its Optuna study's suffix and its scheduler's key."""
    return ",".join(f"{k}={v}" for k, v in arm.items())
