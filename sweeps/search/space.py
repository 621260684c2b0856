"""A spec's search space as Tune's: one domain per dimension, and the param space of a sweep."""

from __future__ import annotations

from ray import tune

from ..spec import Dimension, SweepSpec


def tune_domain(dim: Dimension):
    """One spec dimension as Tune's search domain."""
    if dim.kind in ("choice", "grid"):
        return tune.grid_search(list(dim.values)) if dim.kind == "grid" else tune.choice(list(dim.values))
    low, high = dim.values
    return tune.loguniform(low, high) if dim.kind == "loguniform" else tune.uniform(low, high)


def param_space(spec: SweepSpec) -> dict:
    """Tune's search space; a grid crosses every value (choices too) with every seed; a confirm sweep's
    searcher hands Tune whole configurations (sweeps.search.searchers.ArmSearcher), so its space is empty."""
    if spec.confirm is not None:
        return {}
    if spec.search == "grid":
        space = {name: tune.grid_search(list(dim.values)) for name, dim in spec.search_space.items()}
        space["seed"] = tune.grid_search(list(range(spec.seeds)))
        return space
    return {name: tune_domain(dim) for name, dim in spec.search_space.items()}
