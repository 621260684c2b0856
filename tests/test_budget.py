"""The tuning-budget estimator (Dodge et al. 2019) and what the report says from it: pure, against hand numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboards.figures.budget import budget_figure
from dashboards.verdict.budget import budget_curves, budget_table, expected_max, still_rising
from dashboards.verdict.headline import tuning_note


def test_expected_max_matches_a_hand_computed_case() -> None:
    # v = 1, 2, 4 (N = 3). n = 1: the mean 7/3. n = 2: 1*(1/9) + 2*(4/9 - 1/9) + 4*(1 - 4/9) = 1/9 + 6/9 + 20/9 = 3.
    assert expected_max([4, 1, 2], 1) == pytest.approx(7 / 3)
    assert expected_max([4, 1, 2], 2) == pytest.approx(3.0)
    # n = 3: 1/27 + 2*(8/27 - 1/27) + 4*(1 - 8/27) = (1 + 14 + 76) / 27
    assert expected_max([1, 2, 4], 3) == pytest.approx(91 / 27)
    assert expected_max([5.0], 7) == 5.0 and np.isnan(expected_max([], 1))


def test_expected_max_rises_to_the_maximum() -> None:
    values = np.random.default_rng(0).uniform(size=20)
    curve = [expected_max(values, n) for n in range(1, 200)]
    assert all(b >= a - 1e-12 for a, b in zip(curve, curve[1:])) and curve[-1] == pytest.approx(values.max(), abs=1e-3)


def _trials(values: dict) -> pd.DataFrame:
    rows = [{"stage": "search", "depth": d, "residual": r, "lr": 0.01 * (i + 1), "val/acc": v}
            for (d, r), vs in values.items() for i, v in enumerate(vs)]
    return pd.DataFrame(rows + [{"stage": "confirm", "depth": 20, "residual": True, "lr": 0.5, "val/acc": 0.0}])


def test_curves_per_arm_from_search_trials_only_and_the_rising_note() -> None:
    trials = _trials({(20, True): [0.9, 0.9, 0.9], (20, False): [0.2, 0.4, 0.9]})
    curves = budget_curves(trials, ["lr"], "val/acc", "max")
    flat = curves[curves["arm"] == "residual"]
    assert list(flat["expected_best"]) == pytest.approx([90.0, 90.0, 90.0])  # the confirm row (0.0) is not counted
    rising = still_rising(curves)
    assert list(zip(rising["depth"], rising["arm"])) == [(20, "plain")]
    note = tuning_note(curves)
    assert note.startswith("More tuning could change this answer") and "plain-20" in note and "residual-20" not in note
    table = budget_table(curves)
    assert list(table.columns) == ["Depth", "Arm", "n = 1", "n = 2", "n = 3", "Still rising at k"]
    assert tuning_note(budget_curves(_trials({(20, True): [0.9, 0.9]}), ["lr"])) == ""
    assert len(budget_figure(curves).axes) == 1


def test_seeds_of_one_configuration_count_as_one_draw() -> None:
    trials = pd.DataFrame([{"stage": "search", "depth": 8, "residual": True, "lr": lr, "val/acc": v}
                           for lr, v in ((0.1, 0.2), (0.1, 0.4), (0.2, 0.9))])
    curves = budget_curves(trials, ["lr"])
    assert list(curves["configurations"]) == [2, 2] and curves["expected_best"].iloc[0] == pytest.approx(60.0)


def test_a_configuration_asha_stopped_counts_as_the_engine_counts_it() -> None:
    rows = [{"stage": "search", "depth": 20, "residual": True, "lr": lr, "val/acc": v, "outcome": o}
            for lr, v, o in ((0.01, 0.97, "completed"), (0.02, 0.975, "completed"), (0.05, 0.3, "pruned"))]
    curves = budget_curves(pd.DataFrame(rows), ["lr"])
    best = curves.sort_values("n")["expected_best"].to_numpy()
    assert best[-1] - best[-2] < 1  # the rung score 0.3 is not a final score: no steep last gain
