"""The Optuna sampler of a spec: the one place it is built, for a sweep's study and for each arm's."""

from __future__ import annotations

from ..spec import SweepSpec


def make_sampler(spec: SweepSpec):
    """Seeded Optuna TPE for `search: optuna`, Optuna's random sampler for `search: random`."""
    import optuna

    if spec.search == "optuna":
        return optuna.samplers.TPESampler(seed=spec.seed)
    if spec.search == "random":
        return optuna.samplers.RandomSampler(seed=spec.seed)
    raise ValueError(f"search: {spec.search!r} has no Optuna sampler")
