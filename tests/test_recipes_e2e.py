"""A rescue-shaped study end to end: recipes as one confirm factor, contrasts against a reference recipe,
on a real local Ray and a real `mlflow server` over HTTP."""

from __future__ import annotations

import re
import subprocess
from collections import Counter

import numpy as np
import pytest
from scipy import stats as scipy_stats
from test_sweep_e2e import CLI, write_spec

from dashboards.stats import holm
from sweeps.testing.runs import runs_of

pytestmark = pytest.mark.slow
SEEDS = 2
RECIPES = {"resnet": {"residual": True, "norm": "bn", "init": "kaiming"},
           "plain": {"residual": False, "norm": "bn", "init": "kaiming"},
           "fixup": {"residual": True, "norm": "none", "init": "fixup"}}


@pytest.fixture(scope="module")
def study(mlflow_http, tmp_path_factory):
    """Depth 8 x 3 recipes, one lr trial per arm, then 2 confirm seeds per arm, with its report."""
    folder = tmp_path_factory.mktemp("recipes")
    spec = write_spec(str(folder), name="rsmoke", dataset="synthetic",
                      train={"epochs": 2, "batch_size": 64, "width": 0.5}, recipes=RECIPES,
                      search_space={"depth": {"choice": [8]}, "lr": {"loguniform": [0.02, 0.2]}},
                      search="optuna", scheduler="none", per_arm=1, max_concurrent_trials=2, checkpoint_every=1,
                      confirm={"seeds": SEEDS, "factors": ["depth", "recipe"], "reference": {"recipe": "resnet"}},
                      rounds=False)  # one search round: its trials are counted (rounds: test_rounds_e2e)
    done = subprocess.run([*CLI, "run", spec, "--tracking-uri", mlflow_http.url], cwd=folder,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return mlflow_http.url, folder, done.stdout


def test_every_recipe_arm_is_searched_and_confirmed_with_its_own_fields(study) -> None:
    uri, _, _ = study
    parents, children = runs_of(uri, "rsmoke")
    by_stage = Counter((r.data.tags["stage"], r.data.params["recipe"]) for r in children)
    assert by_stage == {**{("search", n): 1 for n in RECIPES}, **{("confirm", n): SEEDS for n in RECIPES}}
    for run in children:  # the recipe's fields are the run's config, logged like any other param
        fields = RECIPES[run.data.params["recipe"]]
        assert {k: run.data.params[k] for k in fields} == {k: str(v) for k, v in fields.items()}
    assert parents[0].data.params["confirm_reference"] == "recipe=resnet"


def test_contrasts_equal_scipy_on_the_same_runs(study) -> None:
    from dashboards.verdict.contrasts import contrast_table
    from sweeps.tracking.runs import load_sweep

    uri, _, _ = study
    _, children = runs_of(uri, "rsmoke")
    errors = {n: np.array([100 * r.data.metrics["train/error"] for r in children
                           if r.data.tags["stage"] == "confirm" and r.data.params["recipe"] == n]) for n in RECIPES}
    table = contrast_table(load_sweep("rsmoke", uri).trials, ("recipe", "resnet"), ["depth", "recipe"])
    train = table[table["column"] == "train_err_pct"].set_index("arm")
    assert sorted(train.index) == ["fixup", "plain"] and set(train["by"]) == {"depth 8"}
    raw = []
    for arm in ("fixup", "plain"):
        test = scipy_stats.ttest_ind(errors[arm], errors["resnet"], equal_var=False)
        ci = test.confidence_interval(0.95)
        row = train.loc[arm]
        assert row["diff"] == pytest.approx(errors[arm].mean() - errors["resnet"].mean())
        assert (row["lo"], row["hi"], row["p"]) == pytest.approx((ci.low, ci.high, test.pvalue))
        raw.append(test.pvalue)
    assert list(train.loc[["fixup", "plain"], "p_holm"]) == pytest.approx(list(holm(raw)))


def test_terminal_and_report_show_the_contrasts(study) -> None:
    _, folder, stdout = study
    assert "Training error, confirm runs" in stdout and "Arm − resnet (pp, 95% CI)" in stdout, stdout[-3000:]
    # The headline, after the table: one configuration per arm is never adequate tuning, so it opens by saying so,
    # then gives its contrasts at depth 8 after its budget.
    headline = stdout[stdout.index("Arm − resnet (pp, 95% CI)"):]
    opening = "\nNot adequately tuned: "
    assert opening in headline, headline[-2000:]
    assert "may change with more tuning. After 2 epochs, at depth 8: " in headline[headline.index(opening):]
    page = (folder / "reports" / "rsmoke" / "report.html").read_text()
    shown = re.search(r'class="headline">(.*?)<', page, re.S)
    assert "Arm − reference (pp, 95% CI)" in page and shown and shown.group(1).startswith("Not adequately tuned: ")
    assert "may change with more tuning. After 2 epochs, at depth 8: " in shown.group(1)
    for name in ("recipe_curves", "recipe_gradflow", "tuning_budget"):
        assert f'id="fig-{name}"' in page and (folder / "reports" / "rsmoke" / f"{name}.png").exists()
