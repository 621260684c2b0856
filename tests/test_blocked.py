"""The blocked search of a confirm sweep, driven by hand as Tune drives it: budget, samplers, rungs, save/restore."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import pytest

from ray.tune.schedulers import ASHAScheduler, TrialScheduler
from ray.tune.search import Searcher

from sweeps.search.schedulers import PerArmASHA
from sweeps.search.searchers import ArmSearcher
from sweeps.spec import parse_spec

SPEC = {"name": "blocked", "dataset": "synthetic", "train": {"epochs": 4}, "seeds": 2, "per_arm": 3,
        "search_space": {"residual": {"choice": [True, False]}, "lr": {"loguniform": [0.01, 0.5]},
                         "init": {"choice": ["kaiming", "xavier"]}},
        "confirm": {"seeds": 3, "factors": ["residual"]}, "rounds": False}


def _drain(searcher: ArmSearcher, start: int = 0, stop: int | None = None) -> dict[str, dict]:
    """Suggest trials t<start>.. until FINISHED, or None (wait for the round: Tune asks again later), or stop, as Tune
    would; trial id -> config."""
    out, i = {}, start
    while stop is None or i < stop:
        config = searcher.suggest(f"t{i}")
        if config == Searcher.FINISHED or config is None:
            break
        out[f"t{i}"] = config
        i += 1
    return out


def test_every_arm_gets_exactly_its_budget_and_then_the_search_ends() -> None:
    spec = parse_spec(SPEC)
    searcher = ArmSearcher(spec)
    configs = _drain(searcher)
    assert len(configs) == spec.total_trials == 2 * 3 * 2
    assert Counter(c["residual"] for c in configs.values()) == {True: 6, False: 6}
    for arm in (True, False):  # 3 configurations per arm, each with seeds 0 and 1
        mine = [c for c in configs.values() if c["residual"] is arm]
        assert Counter((c["lr"], c["init"]) for c in mine) == dict.fromkeys({(c["lr"], c["init"]) for c in mine}, 2)
        assert sorted(c["__trial_index__"] for c in mine) == [0, 0, 0, 1, 1, 1]
    assert searcher.suggest("late") is None  # the round is still running: its check waits for every trial
    for tid in configs:
        searcher.on_trial_complete(tid, {"val/acc": 0.5, "epoch": 4})
    assert searcher.suggest("late") == Searcher.FINISHED  # one round (rounds: false), checked


def test_each_arm_sampler_hears_only_its_own_trials() -> None:
    spec = parse_spec({**SPEC, "seeds": 1})
    searcher = ArmSearcher(spec)
    configs = _drain(searcher)
    for tid, config in configs.items():  # residual trials score 0.9, plain ones 0.1
        searcher.on_trial_complete(tid, {"val/acc": 0.9 if config["residual"] else 0.1})
    for sampler, value in zip(searcher._samplers, (0.9, 0.1)):
        told = [t.value for t in sampler._study.trials]
        assert told == [value] * 3  # its own 3 trials, never the other arm's


def test_a_configuration_is_told_once_all_its_seeds_end_with_their_mean() -> None:
    searcher = ArmSearcher(parse_spec(SPEC))
    configs = _drain(searcher, stop=2)  # one configuration of the first arm, seeds 0 and 1
    first, second = configs
    searcher.on_trial_complete(first, {"val/acc": 0.4})
    assert not searcher._samplers[0]._study.trials[0].state.is_finished()
    searcher.on_trial_complete(second, {"val/acc": 0.8})
    assert searcher._samplers[0]._study.trials[0].value == pytest.approx(0.6)


def test_saved_and_restored_the_search_goes_on_exactly_as_before(tmp_path) -> None:
    spec = parse_spec(SPEC)
    straight = ArmSearcher(spec)
    whole = _drain(straight)
    interrupted = ArmSearcher(spec)
    before = _drain(interrupted, stop=5)
    interrupted.save(str(tmp_path / "searcher.pkl"))
    restored = ArmSearcher(spec)
    restored.restore(str(tmp_path / "searcher.pkl"))
    after = _drain(restored, start=5)
    assert {**before, **after} == whole and len(after) == len(whole) - 5


def test_a_grid_confirm_sweep_gives_every_arm_the_same_grid_points() -> None:
    spec = parse_spec({**SPEC, "search": "grid", "seeds": 1, "per_arm": 2,
                       "search_space": {"residual": {"grid": [True, False]}, "lr": {"grid": [0.05, 0.1, 0.2]}}})
    configs = list(_drain(ArmSearcher(spec)).values())
    assert [(c["residual"], c["lr"]) for c in configs] == [(True, 0.05), (False, 0.05), (True, 0.1), (False, 0.1)]


def _trial(tid: str, residual: bool):
    return SimpleNamespace(trial_id=tid, config={"residual": residual})


def _feed(scheduler, results: list[tuple[str, bool, float]]) -> list[str]:
    """Each trial's first-rung result (epoch 1) in order; the scheduler's decision for each."""
    trials = {tid: _trial(tid, arm) for tid, arm, _ in results}
    for trial in trials.values():
        scheduler.on_trial_add(None, trial)
    return [scheduler.on_trial_result(None, trials[tid], {"epoch": 1, "val/acc": value})
            for tid, _, value in results]


ORDER = [("r0", True, 0.9), ("r1", True, 0.95), ("p0", False, 0.2), ("p1", False, 0.1), ("p2", False, 0.3)]


def test_a_plain_trial_is_stopped_only_by_its_own_arm_rungs() -> None:
    asha = {"time_attr": "epoch", "max_t": 4, "grace_period": 1, "reduction_factor": 2}
    per_arm = PerArmASHA(("residual",), **asha)
    per_arm.set_search_properties("val/acc", "max")
    decisions = _feed(per_arm, ORDER)
    # p0 is its arm's first trial at the rung: it goes on; p1 is below p0, p2 above the plain arm's median
    assert decisions == [TrialScheduler.CONTINUE, TrialScheduler.CONTINUE, TrialScheduler.CONTINUE,
                         TrialScheduler.STOP, TrialScheduler.CONTINUE]
    shared = _feed(ASHAScheduler(metric="val/acc", mode="max", **asha), ORDER)
    assert shared[2:] == [TrialScheduler.STOP] * 3  # one shared ASHA stops every plain trial for the residual ones


def test_dashboard_finds_one_live_study_or_one_per_arm() -> None:
    """`resnet-sweep dashboard` serves a confirm sweep's per-arm studies (SWEEP/ARM), not a rebuilt one."""
    from sweeps.cli.dashboard import live_studies

    assert live_studies({"s", "s/depth=20", "t"}, "s") == ["s"]
    assert live_studies({"s/depth=56-plain", "s/depth=20-plain", "so/x", "t"}, "s") == ["s/depth=20-plain",
                                                                                    "s/depth=56-plain"]
    assert live_studies({"t"}, "s") == []
