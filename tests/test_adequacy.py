"""The adequacy check after a search round (pure) and the spec fields that drive it (budgets, rounds)."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from sweeps.search.adequacy import assess, coverage, curve_gain, expected_max, position, widened
from sweeps.search.arms import arms, search_slots
from sweeps.spec import Rounds, SpecError, parse_spec

LR = ("loguniform", (0.001, 0.1), (0.001, 0.1))


def configs(*pairs, diverged=()):
    return [{"params": {"lr": lr}, "value": v, "diverged": lr in diverged} for lr, v in pairs]


def test_expected_max_is_dodge_estimator() -> None:
    assert expected_max([0.1, 0.5, 0.9], 1) == pytest.approx(0.5)  # one draw: the mean
    assert expected_max([0.1, 0.5, 0.9], 50) == pytest.approx(0.9, abs=1e-6)  # many draws: the best
    assert curve_gain([0.9, 0.9, 0.9, 0.9]) == pytest.approx(0.0)
    assert curve_gain([0.1]) is None
    assert curve_gain([0.2, 0.1], mode="min") > 0  # lower is better: the gain is still positive


def test_position_and_widening_are_in_the_dimension_scale() -> None:
    assert position("loguniform", (0.001, 0.1), 0.01) == pytest.approx(0.5)
    assert position("uniform", (0.0, 1.0), 0.25) == pytest.approx(0.25)
    assert widened("loguniform", (0.001, 0.1), "high", (1e-6, 10.0)) == pytest.approx((0.001, 10.0))
    assert widened("loguniform", (0.001, 0.1), "low", (1e-4, 10.0)) == pytest.approx((1e-4, 0.1))  # the hard limit
    assert coverage("loguniform", (0.001, 0.1), [0.001, 0.01]) == pytest.approx(0.5)


def test_best_at_an_open_high_edge_widens_that_side() -> None:
    r = assess(configs((0.002, 0.2), (0.01, 0.5), (0.09, 0.9)), {"lr": LR}, Rounds(), "max", "val/acc")
    assert r["where"] == {"lr": "high edge"} and not r["adequate"]
    assert r["ranges"]["lr"] == pytest.approx((0.001, 10.0))
    assert "widened" in r["reason"]


def test_diverged_trials_beyond_the_best_make_a_stability_limit_not_a_widening() -> None:
    r = assess(configs((0.002, 0.5), (0.06, 0.88), (0.09, 0.9), (0.099, 0.0), diverged=(0.099,)),
               {"lr": LR}, Rounds(), "max", "val/acc")
    assert r["where"] == {"lr": "stability limit (high)"} and r["stability"] == {"lr": {"high": 0.099}}
    assert r["ranges"]["lr"] == (0.001, 0.1)
    assert r["diverged"] == 1


def test_flat_at_chance_is_widened_both_ways_until_the_hard_limits_a_plateau_is_not() -> None:
    r = assess(configs((0.002, 0.1), (0.01, 0.1), (0.05, 0.1)), {"lr": LR}, Rounds(), "max", "val/acc")
    assert r["where"] == {"lr": "flat at chance"} and not r["adequate"]
    assert r["ranges"]["lr"] == pytest.approx((1e-5, 10.0))
    full = ("loguniform", (0.001, 0.1), (1e-5, 10.0))
    r = assess(configs((1e-4, 0.1), (0.01, 0.1), (1.0, 0.1)), {"lr": full}, Rounds(), "max", "val/acc")
    assert r["where"] == {"lr": "flat at chance (hard limits)"} and r["adequate"]
    plateau = assess(configs((0.002, 0.97), (0.01, 0.97), (0.05, 0.972)), {"lr": LR}, Rounds(), "max", "val/acc")
    assert plateau["where"] == {"lr": "flat"} and plateau["adequate"] and plateau["ranges"]["lr"] == (0.001, 0.1)


def test_a_rising_curve_is_not_adequate_and_a_flat_one_is() -> None:
    rising = assess(configs((0.005, 0.3), (0.01, 0.5), (0.02, 0.9)), {"lr": LR}, Rounds(), "max", "val/acc")
    assert rising["where"] == {"lr": "interior"} and not rising["adequate"]
    assert "still rising" in rising["reason"] and rising["gain_pp"] > 1
    flat = assess(configs((0.005, 0.895), (0.01, 0.9), (0.02, 0.9), (0.03, 0.9)), {"lr": LR}, Rounds(), "max",
                  "val/acc")
    assert flat["adequate"], flat["reason"]
    one = assess(configs((0.01, 0.9)), {"lr": LR}, Rounds(), "max", "val/acc")
    assert not one["adequate"] and one["gain_pp"] is None


def test_widening_off_leaves_an_open_edge_open() -> None:
    r = assess(configs((0.002, 0.2), (0.01, 0.5), (0.09, 0.9)), {"lr": LR}, Rounds(widen=False), "max", "val/acc")
    assert r["where"] == {"lr": "high edge"} and not r["adequate"] and r["ranges"]["lr"] == (0.001, 0.1)
    assert "widening is off" in r["reason"]


def test_every_configuration_diverged_widens_downwards() -> None:
    r = assess(configs((0.02, None), (0.05, None), diverged=(0.02, 0.05)), {"lr": LR}, Rounds(), "max", "val/acc")
    assert not r["adequate"] and r["ranges"]["lr"][0] < 0.001 and r["ranges"]["lr"][1] == 0.1
    assert r["diverged"] == 2 and r["best"] is None


BASE = {"name": "b", "dataset": "synthetic", "search_space": {"depth": {"choice": [8, 14]},
        "residual": {"choice": [True, False]}, "lr": {"loguniform": [0.01, 0.1]}}, "confirm": {"seeds": 2},
        "per_arm": 2}


def test_budgets_make_arms_of_their_own_and_set_the_largest_as_epochs() -> None:
    spec = parse_spec({**BASE, "budgets": [2, 8]})
    assert spec.budgets == (2, 8) and spec.epochs == 8 and spec.factors == ("depth", "residual", "epochs")
    assert len(arms(spec)) == 8 == spec.arms
    assert {a["epochs"] for a in arms(spec)} == {2, 8}
    assert spec.rounds == Rounds()  # on by default with confirm
    one = parse_spec(BASE)
    assert one.factors == ("depth", "residual") and len(arms(one)) == 4


@pytest.mark.parametrize("extra, field", [
    ({"budgets": [8, 2]}, "budgets"), ({"budgets": [0]}, "budgets"), ({"budgets": "8"}, "budgets"),
    ({"budgets": [2, 8], "train": {"epochs": 4}}, "train.epochs"),
    ({"rounds": {"max": 0}}, "rounds.max"), ({"rounds": {"bogus": 1}}, "rounds.bogus"),
    ({"rounds": {"limits": {"lr": [0.05, 1.0]}}}, "rounds.limits.lr"),
    ({"rounds": {"limits": {"depth": [1, 2]}}}, "rounds.limits.depth"),
    ({"rounds": {"widen": "yes"}}, "rounds.widen"), ({"rounds": {"tolerance": -1}}, "rounds.tolerance"),
])
def test_bad_budgets_and_rounds_name_their_field(extra, field) -> None:
    with pytest.raises(SpecError) as e:
        parse_spec({**BASE, **extra})
    assert str(e.value).startswith(f"{field}:")


def test_budgets_and_rounds_need_a_confirm_stage() -> None:
    plain = {k: v for k, v in BASE.items() if k not in ("confirm", "per_arm")}
    for extra, field in (({"budgets": [2, 8]}, "budgets"), ({"rounds": {"max": 2}}, "rounds")):
        with pytest.raises(SpecError, match=f"^{field}:"):
            parse_spec({**plain, **extra})
    assert parse_spec(plain).rounds is None
    assert parse_spec({**BASE, "rounds": False}).rounds == Rounds(max_rounds=1)
    limits = parse_spec({**BASE, "rounds": {"limits": {"lr": [0.001, 1.0]}, "max": 5}}).rounds
    assert limits.limits == {"lr": (0.001, 1.0)} and limits.max_rounds == 5


def test_every_arm_of_a_round_gets_the_same_number_of_configurations() -> None:
    slots = search_slots([0, 2], per_arm=3, seeds=2, counts=[3, 3, 3])
    per_arm = {a: {k for x, k, _ in slots if x == a} for a in (0, 2)}
    assert per_arm == {0: {3, 4, 5}, 2: {3, 4, 5}}
    assert len(slots) == 2 * 3 * 2


def _drive(searcher, score) -> list[dict]:
    """Play Tune: ask for trials until the searcher waits or is done, complete each with score(config)."""
    from ray.tune.search import Searcher

    configs, n = [], 0
    while True:
        config = searcher.suggest(f"t{n}")
        if config == Searcher.FINISHED:
            return configs
        if config is None:  # waiting for the round: never, since every trial is completed right away
            raise AssertionError("the searcher waits with no trial running")
        configs.append(config)
        searcher.on_trial_complete(f"t{n}", {"val/acc": score(config), "epoch": 3})
        n += 1


@pytest.mark.parametrize("seeds", [1, 2])
def test_the_searcher_runs_rounds_until_adequate_widening_a_range_too_low(tmp_path, seeds) -> None:
    from sweeps.search.searchers import ArmSearcher, read_adequacy
    from sweeps.trial.reports import SEARCH_ROUND

    spec = parse_spec({**BASE, "search_space": {"residual": {"choice": [True, False]},
                                                "lr": {"loguniform": [1e-5, 1e-4]}}, "seeds": seeds,
                       "confirm": {"seeds": 2, "factors": ["residual"]}, "rounds": {"max": 4}, "per_arm": 3})
    # Accuracy rises with lr up to 0.05: a range far too low has its best at the top edge, round after round.
    configs = _drive(ArmSearcher(spec, path=str(tmp_path)), lambda c: min(0.99, 0.1 + 0.2 * math.log10(c["lr"] / 1e-5)))
    rounds = Counter((c[SEARCH_ROUND], c["residual"]) for c in configs)
    assert set(rounds.values()) == {3 * seeds}  # every arm of every round: per_arm configurations, each x seeds
    record = read_adequacy(str(tmp_path))
    assert record["rounds"] >= 2 and all(a["ranges"]["lr"]["final"][1] > 1e-4 for a in record["arms"])
    assert max(c["lr"] for c in configs) > 1e-4
    assert record["stopped"] in ("every arm adequate", "round cap (4)")


def test_a_searcher_pickled_before_rounds_keeps_one_round() -> None:
    from sweeps.search.searchers import ArmSearcher

    spec = parse_spec({**BASE, "rounds": False})
    searcher = ArmSearcher(spec)
    del searcher.__dict__["_rounds"]  # as an old pickle has it: the class's default, no rounds
    assert len(_drive(searcher, lambda c: 0.5)) == spec.total_trials


def test_configurations_asha_stopped_never_make_the_best_nor_steepen_the_curve() -> None:
    done = [{"params": {"lr": 0.01}, "value": 0.97, "diverged": False},
            {"params": {"lr": 0.02}, "value": 0.975, "diverged": False}]
    stopped = [{"params": {"lr": lr}, "value": 0.3, "diverged": False, "pruned": True} for lr in (0.002, 0.05, 0.09)]
    r = assess(done + stopped, {"lr": LR}, Rounds(), "max", "val/acc")
    assert r["best"]["params"] == {"lr": 0.02} and r["gain_pp"] < 1 and r["adequate"], r["reason"]
    # Counted at their rung scores, the same five would look far from flat.
    assert curve_gain([c["value"] for c in done + stopped]) * 100 > 10
    only_stopped = assess(stopped, {"lr": LR}, Rounds(), "max", "val/acc")
    assert only_stopped["best"] is not None  # none finished: the rung scores are all there is


def test_one_finished_configuration_among_stopped_ones_is_not_a_flat_curve() -> None:
    """long_2core, residual-20 after 8 epochs: ASHA stopped 2 of 3 configurations at epoch 4. Standing in for the
    one that finished, they made the curve flat by construction ("every configuration within 1 pp"); now the arm
    is not judged adequate and gets another round."""
    one = [{"params": {"lr": 0.0125}, "value": 0.974, "diverged": False},
           {"params": {"lr": 0.0013}, "value": 0.70, "diverged": False, "pruned": True},
           {"params": {"lr": 0.0503}, "value": 0.86, "diverged": False, "pruned": True}]
    r = assess(one, {"lr": LR}, Rounds(), "max", "val/acc")
    assert not r["adequate"] and r["where"] == {"lr": "interior"}, r
    assert "1 of 3 configurations finished (the scheduler stopped 2)" in r["reason"]
    # Two finished within 1 pp and one stopped: judged on the curve (stopped = worst finished), not as a plateau.
    two = one + [{"params": {"lr": 0.02}, "value": 0.97, "diverged": False}]
    r2 = assess(two, {"lr": LR}, Rounds(), "max", "val/acc")
    assert r2["adequate"] and r2["where"] == {"lr": "interior"} and "tuning curve flat" in r2["reason"], r2
