"""Pure confirm-stage planning: each arm's configuration picked from the search trials, and fresh seeds.

An arm is one combination of the confirm factors' values (e.g. depth 56, plain); every other searched
field is a nuisance parameter that the search tuned per arm. No Ray, MLflow or Optuna here.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from .spec import Dimension, SweepSpec


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
    rule: str             # how it was picked: a key of dashboards.confirmed.PICK_RULES (the report's words)
    source: str           # the trial ids whose values were used, "" for the default rule


def arms(spec: SweepSpec) -> list[dict]:
    """Every combination of the confirm factors' values, in the spec's order."""
    factors = spec.confirm.factors
    values = itertools.product(*(spec.search_space[f].values for f in factors))
    return [dict(zip(factors, combo)) for combo in values]


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


def _middle(dim: Dimension):
    """A range's middle (geometric for loguniform), or a choice's first value."""
    if dim.kind == "loguniform":
        return math.sqrt(dim.values[0] * dim.values[1])
    if dim.kind == "uniform":
        return (dim.values[0] + dim.values[1]) / 2
    return dim.values[0]


def _overall(spec: SweepSpec, trials: list[Trial]) -> tuple[dict, str, str]:
    """Nuisance values of the overall best trial (completed first, then pruned), else the space's middle."""
    for outcome in ("completed", "pruned"):
        best = _best([t for t in trials if t.outcome == outcome], spec.mode)
        if best is not None:
            return best[0], "overall", best[1]
    return {name: _middle(dim) for name, dim in spec.search_space.items()}, "default", ""


def pick_arms(spec: SweepSpec, trials: list[Trial]) -> list[Pick]:
    """Every arm's configuration: its best completed, else best pruned, else the overall best nuisance values."""
    picks = []
    for arm in arms(spec):
        mine = [t for t in trials if all(t.params.get(f) == v for f, v in arm.items())]
        for rule in ("completed", "pruned"):
            best = _best([t for t in mine if t.outcome == rule], spec.mode)
            if best is not None:
                picks.append(Pick(arm, {**best[0], **arm}, rule, best[1]))
                break
        else:
            params, rule, source = _overall(spec, trials)
            picks.append(Pick(arm, {**params, **arm}, rule, source))
    return picks


def confirm_seeds(spec: SweepSpec, trials: list[Trial]) -> list[int]:
    """K seeds the search never used: above both the spec's search seeds (0..seeds-1) and any seed seen."""
    start = max([spec.seeds - 1, *(t.seed for t in trials)]) + 1
    return list(range(start, start + spec.confirm.seeds))


def grid_entries(picks: list[Pick]) -> list[dict]:
    """One Tune grid value per arm: its config fields plus the pick's rule and source (tagged on the runs)."""
    return [{**p.params, "pick_rule": p.rule, "pick_source": p.source} for p in picks]
