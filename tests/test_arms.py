"""Confirm-stage planning (pure): which configuration each arm is retrained with, by which rule, with which seeds."""

from __future__ import annotations

import math
from collections import Counter

from sweeps.search.arms import Trial, arms, confirm_seeds, grid_entries, nuisance_points, pick_arms, search_slots
from sweeps.spec import parse_spec

SPEC = {
    "name": "pick", "dataset": "synthetic", "train": {"epochs": 4}, "seeds": 2,
    "search_space": {"depth": {"choice": [8, 14]}, "residual": {"choice": [True, False]},
                     "init": {"choice": ["kaiming", "xavier"]}, "lr": {"loguniform": [0.01, 0.64]}},
    "confirm": {"seeds": 3, "factors": ["depth", "residual"]},
}


def _t(tid: str, depth: int, residual: bool, init: str, lr: float, outcome: str, value, seed: int = 0) -> Trial:
    return Trial(tid, {"depth": depth, "residual": residual, "init": init, "lr": lr}, seed, outcome, value)


def _by_arm(picks) -> dict:
    return {(p.arm["depth"], p.arm["residual"]): p for p in picks}


def test_every_arm_is_picked_by_the_first_rule_that_applies() -> None:
    spec = parse_spec(SPEC)
    trials = [
        _t("a", 8, True, "kaiming", 0.1, "completed", 0.90),
        _t("b", 8, True, "xavier", 0.2, "completed", 0.95),
        _t("c", 8, True, "xavier", 0.3, "pruned", 0.99),        # pruned never beats a completed trial
        _t("d", 8, False, "kaiming", 0.05, "pruned", 0.40),
        _t("e", 8, False, "xavier", 0.07, "pruned", 0.60),
        _t("f", 14, True, "xavier", 0.5, "diverged", None),     # diverged: not usable, so the arm falls through
    ]
    picks = _by_arm(pick_arms(spec, trials))
    assert set(picks) == {(8, True), (8, False), (14, True), (14, False)}  # every arm, also never-finished ones
    assert picks[(8, True)].rule == "completed" and picks[(8, True)].params["lr"] == 0.2
    assert picks[(8, True)].source == "b"
    assert picks[(8, False)].rule == "pruned" and picks[(8, False)].params == {
        "depth": 8, "residual": False, "init": "xavier", "lr": 0.07}
    for arm in ((14, True), (14, False)):  # never another arm's values: not tuned, at the space's middle
        assert picks[arm].rule == "untuned" and picks[arm].source == ""
        assert picks[arm].params == {"depth": arm[0], "residual": arm[1], "init": "kaiming",
                                     "lr": math.sqrt(0.01 * 0.64)}


def test_configurations_are_ranked_by_their_mean_over_seeds_and_mode() -> None:
    spec = parse_spec({**SPEC, "mode": "min", "metric": "val/loss"})
    trials = [_t("a0", 8, True, "kaiming", 0.1, "completed", 0.2, seed=0),
              _t("a1", 8, True, "kaiming", 0.1, "completed", 0.6, seed=1),   # mean 0.4
              _t("b0", 8, True, "xavier", 0.1, "completed", 0.3, seed=0),
              _t("b1", 8, True, "xavier", 0.1, "completed", 0.3, seed=1)]    # mean 0.3: lower wins
    pick = _by_arm(pick_arms(spec, trials))[(8, True)]
    assert pick.params["init"] == "xavier" and pick.source == "b0,b1"


def test_no_trial_at_all_gives_the_space_middle() -> None:
    picks = pick_arms(parse_spec(SPEC), [])
    assert len(picks) == 4 and {p.rule for p in picks} == {"untuned"}
    assert math.isclose(picks[0].params["lr"], math.sqrt(0.01 * 0.64)) and picks[0].params["init"] == "kaiming"


def test_confirm_seeds_are_fresh_and_grid_entries_carry_the_rule() -> None:
    spec = parse_spec(SPEC)
    assert confirm_seeds(spec, []) == [2, 3, 4]  # search seeds are 0..1
    assert confirm_seeds(spec, [_t("x", 8, True, "kaiming", 0.1, "completed", 0.5, seed=6)]) == [7, 8, 9]
    assert len(arms(spec)) == spec.arms == 4
    entry = grid_entries(pick_arms(spec, []))[0]
    assert entry["pick_rule"] == "untuned" and entry["depth"] == 8 and entry["residual"] is True


def test_no_pick_comes_from_another_arm() -> None:
    """Whatever the other arms' trials, an arm's pick is its own best trial or nothing of theirs."""
    spec = parse_spec(SPEC)
    trials = [_t("r", 8, True, "xavier", 0.3, "completed", 0.99), _t("p", 8, False, "kaiming", 0.02, "diverged", None),
              _t("q", 14, False, "kaiming", 0.04, "completed", 0.20)]
    picks = _by_arm(pick_arms(spec, trials))
    for arm, pick in picks.items():
        own = {t.trial_id for t in trials if (t.params["depth"], t.params["residual"]) == arm}
        assert set(filter(None, pick.source.split(","))) <= own
    assert picks[(8, False)].rule == "untuned" and picks[(14, True)].rule == "untuned"
    assert picks[(14, False)].params["lr"] == 0.04


def test_search_slots_give_every_arm_the_same_budget_round_by_round() -> None:
    slots = search_slots([0, 1, 2], 2, 2)
    assert slots[:4] == [(0, 0, 0), (0, 0, 1), (1, 0, 0), (1, 0, 1)]  # round 0 of every arm first
    assert Counter(a for a, _, _ in slots) == {0: 4, 1: 4, 2: 4} and len(set(slots)) == len(slots)
    assert max(i for i, s in enumerate(slots) if s[1] == 0) < min(i for i, s in enumerate(slots) if s[1] == 1)


def test_grid_points_per_arm_are_the_nuisance_grid_in_order() -> None:
    spec = parse_spec({**SPEC, "search": "grid", "per_arm": 3,
                       "search_space": {"depth": {"grid": [8, 14]}, "init": {"grid": ["kaiming", "xavier"]},
                                        "lr": {"grid": [0.05, 0.1]}}, "confirm": {"factors": ["depth"]}})
    assert nuisance_points(spec) == [{"init": "kaiming", "lr": 0.05}, {"init": "kaiming", "lr": 0.1},
                                     {"init": "xavier", "lr": 0.05}]
    assert spec.total_trials == 2 * 3 * 2  # arms x per_arm x seeds
