"""The search's samplers: quasirandom (scrambled Sobol) covers each range, seeded; every arm is offered the same points."""

from __future__ import annotations

import math

import optuna
import pytest

from sweeps.search.samplers import make_sampler
from sweeps.search.searchers import ArmSearcher
from sweeps.spec import parse_spec

SPEC = {"name": "qmc", "train": {"epochs": 2, "depth": 8}, "search": "quasirandom", "per_arm": 8,
        "search_space": {"residual": {"choice": [True, False]}, "lr": {"loguniform": [1e-4, 1.0]}},
        "confirm": {"seeds": 2, "factors": ["residual"]}}


def _spread(values: list[float], low: float, high: float) -> float:
    """The span of values over the range, in log scale."""
    logs = [(math.log(v) - math.log(low)) / (math.log(high) - math.log(low)) for v in values]
    return max(logs) - min(logs)


def _ask(spec, n: int) -> list[float]:
    study = optuna.create_study(sampler=make_sampler(spec))
    lrs = []
    for _ in range(n):
        trial = study.ask({"lr": optuna.distributions.FloatDistribution(1e-4, 1.0, log=True)})
        lrs.append(trial.params["lr"])
        study.tell(trial, 0.0)
    return lrs


def test_quasirandom_covers_the_log_range_and_repeats_with_its_seed() -> None:
    spec = parse_spec(SPEC)
    lrs = _ask(spec, 8)
    assert lrs == _ask(spec, 8)  # seeded
    assert _spread(lrs, 1e-4, 1.0) > 0.75  # 8 Sobol points span most of the 4 decades
    # every quarter of the log range holds a point: no cluster, no gap
    quarters = {min(3, int(4 * (math.log10(v) + 4) / 4)) for v in lrs}
    assert quarters == {0, 1, 2, 3}


@pytest.mark.parametrize("search", ["optuna", "random", "quasirandom"])
def test_every_arm_is_offered_the_same_points(search: str) -> None:
    spec = parse_spec({**SPEC, "search": search, "per_arm": 3})
    searcher = ArmSearcher(spec)
    configs = []
    while (config := searcher.suggest(f"t{len(configs)}")) not in (None, "FINISHED"):
        configs.append(config)
        searcher.on_trial_complete(f"t{len(configs) - 1}", {"val/acc": 0.5})
    by_arm = {arm: [c["lr"] for c in configs if c["residual"] is arm] for arm in (True, False)}
    assert len(by_arm[True]) == len(by_arm[False]) == 3
    assert by_arm[True] == by_arm[False]


def test_an_unknown_search_names_the_allowed_values() -> None:
    from sweeps.errors import SpecError

    with pytest.raises(SpecError, match="search: must be one of optuna, random, grid, quasirandom; got 'sobol'"):
        parse_spec({**SPEC, "search": "sobol"})
