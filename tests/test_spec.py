"""Sweep specs: the shipped ones load, bad ones fail in one line with exit 2 before Ray or MLflow start."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from sweeps.cli import main
from sweeps.spec import SPEC_DIR, SpecError, load_spec, parse_spec, trial_config

GOOD = {
    "name": "ok", "dataset": "synthetic", "train": {"epochs": 2},
    "search_space": {"depth": {"choice": [8, 14]}, "lr": {"loguniform": [0.01, 0.5]}},
}


def _with(**changes) -> dict:
    spec = yaml.safe_load(yaml.safe_dump(GOOD))
    for key, value in changes.items():
        if value is None:
            spec.pop(key, None)
        else:
            spec[key] = value
    return spec


BAD = [
    (_with(colour="red"), "colour: unknown key"),
    (_with(search_space={"depth": {"choice": []}}), "search_space.depth: choice needs a non-empty list"),
    (_with(search_space={"depth": {"choice": [20, 50 + 1]}}), "search_space.depth: depth must be 6n+2"),
    (_with(search_space={"lr": {"loguniform": [0.0, 0.1]}}), "search_space.lr: loguniform needs 0 < low < high"),
    (_with(search_space={"lr": {"choice": [-0.1]}}), "search_space.lr: lr must be a finite number > 0"),
    (_with(search_space={"init": {"choice": ["kaiming", "lecun"]}}), "search_space.init: init must be one of"),
    (_with(search_space={"colour": {"choice": [1]}}), "search_space.colour: not a config field"),
    (_with(search_space={"depth": {"normal": [20, 1]}}), "search_space.depth: must be one of {choice"),
    (_with(search="bayes"), "search: must be one of optuna, random, grid"),
    (_with(scheduler={"type": "hyperband"}), "scheduler.type: must be one of asha, none"),
    (_with(scheduler={"type": "asha", "reduction_factor": 1}), "scheduler.reduction_factor: must be a number > 1"),
    (_with(num_samples=0), "num_samples: must be an integer >= 1"),
    (_with(resources_per_trial={"cpu": 1, "gpu": -1}), "resources_per_trial.gpu: must be a number >= 0"),
    (_with(resources_per_trial={"cpu": 1, "gpu": 1.5}), "resources_per_trial.gpu: a fraction must be below 1"),
    (_with(mode="maximise"), "mode: must be one of max, min"),
    (_with(metric="val/accuracy"), "metric: must be one the trainer reports every epoch: train/loss, "),
    (_with(metric="test/acc"), "metric: must be one the trainer reports every epoch"),  # last epoch only
    (_with(train={"epochs": 0}), "train: epochs must be a finite number > 0"),
    (_with(dataset="imagenet"), "train: dataset must be one of"),
    (_with(name="bad name!"), "name: must be a non-empty name"),
    (_with(search_space={"depth": {"grid": [20, 56]}}), "search_space.depth: grid values need `search: grid`"),
    (_with(search_space=None), "search_space: must map at least one config field"),
    (_with(storage="not a url"), "storage: must be an Optuna storage URL"),
    (_with(time_budget_s=-5), "time_budget_s: must be a number of seconds > 0"),
    (_with(confirm={"seeds": 3, "factors": ["residual"]}), "confirm.factors: 'residual' is not a searched dimension"),
    (_with(confirm={"seeds": 1, "factors": ["depth"]}), "confirm.seeds: must be an integer >= 2"),
    (_with(confirm={"seeds": 3, "factors": ["lr"]}), "confirm.factors: 'lr' is loguniform; a factor needs choice"),
    (_with(confirm={"seeds": 3, "factors": ["depth"], "arms": 2}), "confirm.arms: unknown key"),
    (_with(confirm={"seeds": 3, "factors": []}), "confirm.factors: must be a non-empty list"),
    (_with(confirm=[3]), "confirm: must be a mapping with seeds and factors"),
    (_with(train={"epochs": 2, "activation": "swish"}), "train: activation must be one of relu, leaky_relu, tanh, tat"),
    (_with(recipes={"a": {"activation": "swish"}}), "recipes.a: activation must be one of relu, leaky_relu, tanh, tat"),
    (_with(recipes={"resnet": {"residual": True, "colour": "red"}}), "recipes.resnet.colour: not a config field"),
    (_with(recipes={"fix": {"init": "fixup", "norm": "bn"}}), "recipes.fix: init 'fixup' needs norm 'none'"),
    (_with(recipes={"a": {"depth": 20}}), "search_space.depth: is also set by a recipe"),
    (_with(recipes={"a": {"epochs": 3}}), "recipes.a.epochs: is also fixed under train"),
    (_with(search_space={"recipe": {"choice": ["a"]}}), "search_space.recipe: needs `recipes`"),
    (_with(recipes={"a": {"residual": True}}, search_space={"recipe": {"choice": ["a", "b"]}, "lr": {"choice": [0.1]}}),
     "search_space.recipe: 'b' is not a recipe; allowed: a"),
    (_with(recipes={"a": {"residual": True}, "b": {"residual": False}},
           confirm={"seeds": 2, "factors": ["depth", "recipe"], "reference": {"recipe": "resnet"}}),
     "confirm.reference.recipe: 'resnet' is not among the factor's values; allowed: a, b"),
    (_with(recipes={"a": {"residual": True}, "b": {"residual": False}},
           confirm={"seeds": 2, "factors": ["depth", "recipe"], "reference": {"lr": 0.1}}),
     "confirm.reference: 'lr' is not a confirm factor; allowed: depth, recipe"),
]


@pytest.mark.parametrize("spec,message", BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_bad_spec_fails_in_one_line_with_exit_2(spec, message, tmp_path, capsys, monkeypatch) -> None:
    import ray

    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "mlflow.db"
    code = main(["run", str(path), "--tracking-uri", f"sqlite:///{db}", "--storage-path", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and message in err[0], err
    assert not ray.is_initialized()
    assert not db.exists() and not (tmp_path / "runs").exists()  # no MLflow run, no Tune folder


def test_gpu_request_without_gpus_fails_before_ray(tmp_path) -> None:
    path = tmp_path / "gpu.yaml"
    path.write_text(yaml.safe_dump(_with(resources_per_trial={"cpu": 1, "gpu": 0.25})))
    done = subprocess.run([sys.executable, "-m", "sweeps.cli", "run", str(path), "--tracking-uri",
                           f"sqlite:///{tmp_path / 'm.db'}"], capture_output=True, text=True, cwd=tmp_path,
                          timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "resnet-sweep run: error: resources_per_trial.gpu: asks for 0.25 GPU per trial but the cluster has 0; "
        "use gpu: 0 or add GPU nodes"]
    assert not (tmp_path / "m.db").exists()


def test_unknown_spec_name_lists_shipped_specs(capsys) -> None:
    assert main(["run", "no-such-spec"]) == 2
    assert "shipped: degradation, he2015_cifar10, long, long_2core, rescue, smoke" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(f[:-5] for f in os.listdir(SPEC_DIR) if f.endswith(".yaml")))
def test_shipped_specs_load(name: str) -> None:
    spec = load_spec(name)
    assert spec.name == name and spec.source


def test_shipped_specs_say_what_the_issue_asks() -> None:
    deg, paper = load_spec("degradation"), load_spec("he2015_cifar10")
    assert deg.train["dataset"] == "digits" and deg.search == "optuna"
    assert deg.scheduler.kind == "none"  # every search trial to its budget: the tuning curve compares final scores
    assert set(deg.search_space["depth"].values) == {20, 56}  # He et al. Figure 1; depth 110: the long spec
    assert deg.confirm.seeds >= 3 and deg.confirm.factors == ("depth", "residual") and deg.arms == 4 * len(deg.budgets)
    assert deg.search_space["lr"].kind == "loguniform" and deg.per_arm >= 3 and deg.total_trials == deg.arms * deg.per_arm
    assert len(deg.budgets) >= 2 and deg.budgets[-1] >= 4 * deg.budgets[0] and deg.rounds.max_rounds >= 2
    assert paper.train["epochs"] == 164 and paper.train["milestones"] == [0.5, 0.75]
    assert paper.total_trials == 5 * 2 * paper.seeds


def test_confirm_parses_into_the_frozen_spec() -> None:
    space = {"depth": {"choice": [8, 14]}, "residual": {"choice": [True, False]}, "lr": {"loguniform": [0.01, 0.5]}}
    spec = parse_spec(_with(search_space=space, confirm={"seeds": 4, "factors": ["depth", "residual"]}))
    assert spec.confirm.seeds == 4 and spec.confirm.factors == ("depth", "residual") and spec.arms == 4
    assert parse_spec(_with()).confirm is None and parse_spec(_with()).arms == 0


CONFIRMED = {"search_space": {"depth": {"choice": [8, 14]}, "residual": {"choice": [True, False]},
                              "lr": {"loguniform": [0.01, 0.5]}}, "confirm": {"seeds": 3, "factors": ["depth", "residual"]}}
GRID_CONFIRMED = {"search": "grid", "search_space": {"residual": {"grid": [True, False]}, "lr": {"grid": [0.05, 0.1]}},
                  "confirm": {"factors": ["residual"]}}


@pytest.mark.parametrize("changes, message", [
    ({**CONFIRMED, "per_arm": 0}, "per_arm: must be an integer >= 1 (search configurations per arm); got 0"),
    ({**CONFIRMED, "per_arm": -2}, "per_arm: must be an integer >= 1"),
    ({**CONFIRMED, "per_arm": "four"}, "per_arm: must be an integer >= 1"),
    ({**GRID_CONFIRMED, "per_arm": 3}, "per_arm: the grid holds 2 configurations per arm; got 3"),
    ({**CONFIRMED, "num_samples": 10}, "num_samples: a confirm sweep tunes every arm on its own with the same budget"),
    ({"per_arm": 3}, "per_arm: needs a confirm stage"),
])
def test_a_bad_per_arm_budget_fails_in_one_line(changes: dict, message: str) -> None:
    with pytest.raises(SpecError) as err:
        parse_spec(_with(**changes))
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_a_bad_per_arm_budget_exits_2_before_ray(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_with(**CONFIRMED, per_arm=0)))
    done = subprocess.run([sys.executable, "-m", "sweeps.cli", "run", str(path)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "per_arm: must be an integer >= 1" in lines[0]
    assert not (tmp_path / "ray_results").exists() and not (tmp_path / "mlflow.db").exists()


def test_a_confirm_sweep_budget_is_per_arm() -> None:
    spec = parse_spec(_with(**CONFIRMED, per_arm=3, seeds=2))
    assert spec.per_arm == 3 and spec.total_trials == 4 * 3 * 2 and list(spec.nuisance) == ["lr"]
    assert parse_spec(_with(**CONFIRMED)).per_arm == 4  # the default for a sampled search
    assert parse_spec(_with(**GRID_CONFIRMED)).per_arm == 2  # a grid: its whole nuisance grid


def test_grid_size_counts_seeds() -> None:
    spec = parse_spec(_with(search="grid", seeds=3, search_space={"depth": {"grid": [8, 14]},
                                                                 "residual": {"choice": [True, False]}}))
    assert spec.total_trials == 2 * 2 * 3


def test_unreachable_tracking_server_fails_before_ray(tmp_path, capsys, monkeypatch) -> None:
    import ray

    from sweeps.testing.ports import free_port

    monkeypatch.chdir(tmp_path)
    for name, value in (("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1"), ("MLFLOW_HTTP_REQUEST_TIMEOUT", "15")):
        monkeypatch.setenv(name, value)  # what the driver sets; restored after this test
    code = main(["run", "smoke", "--tracking-uri", f"http://127.0.0.1:{free_port()}",
                 "--storage-path", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "tracking: cannot use MLflow at http://127.0.0.1:" in err[0]
    assert not ray.is_initialized() and not (tmp_path / "runs").exists()


def test_a_recipe_expands_into_its_fields_and_is_a_factor() -> None:
    spec = parse_spec(_with(recipes={"resnet": {"residual": True, "norm": "bn"}, "fixup": {"residual": True,
                                                                                         "norm": "none", "init": "fixup"}},
                            confirm={"seeds": 2, "factors": ["depth", "recipe"], "reference": {"recipe": "resnet"}}))
    assert spec.search_space["recipe"].values == ("resnet", "fixup") and spec.arms == 4
    assert spec.confirm.reference == ("recipe", "resnet") and set(spec.nuisance) == {"lr"}
    cfg = trial_config(spec, {"depth": 8, "recipe": "fixup", "lr": 0.1})
    assert (cfg.norm, cfg.init, cfg.residual, cfg.lr) == ("none", "fixup", True, 0.1)
