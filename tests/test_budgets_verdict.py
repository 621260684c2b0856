"""The verdict per depth and training budget (pure): per-budget rows with Holm across them all, the headline naming
its budget, how the gap moves with the budget, whether the largest budget is converged, contrasts per budget, and
the training-error-against-budget figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection

from dashboards.figures.budgets import training_budget_figure
from dashboards.stats import holm
from dashboards.verdict import budgets
from dashboards.verdict.confirm import budgets as budgets_of
from dashboards.verdict.confirm import compact_verdict, confirm_verdict, picks_display, verdict_display
from dashboards.verdict.contrasts import contrast_table
from dashboards.verdict.headline import verdict_headline

# Final training error (%) per (depth, residual, epochs) and seed. Depth 20: the gap closes by 8 epochs; 56: it
# shrinks from 71 to 21.5 pp; 110: it persists (85.5 pp at both budgets).
ERRORS = {(20, False, 2): [5, 6, 7], (20, True, 2): [4, 5, 6], (20, False, 8): [1.0, 1.2, 0.8],
          (20, True, 8): [0.9, 1.1, 1.0], (56, False, 2): [75, 78, 72], (56, True, 2): [4, 5, 3],
          (56, False, 8): [24, 22, 26], (56, True, 8): [2, 3, 2.5], (110, False, 2): [87, 88, 89],
          (110, True, 2): [2, 2.5, 3], (110, False, 8): [87, 88, 89], (110, True, 8): [2.5, 3, 2]}


def budget_frame(errors: dict = ERRORS, recipe: bool = False) -> pd.DataFrame:
    """Completed confirm runs (and one search run that must not count) from {(depth, residual, epochs): errors}."""
    rows = []
    for (depth, residual, epochs), values in errors.items():
        for seed, err in zip((5, 6, 7), values):
            rows.append({"run_id": f"c{depth}{residual}{epochs}{seed}", "stage": "confirm", "depth": depth,
                         "residual": residual, "epochs": epochs, "seed": seed, "init": "kaiming", "lr": 0.02,
                         "outcome": "completed", "pick_rule": "completed", "train/error": err / 100,
                         "val/acc": 0.9 - err / 100, "test/acc": 0.88 - err / 100,
                         **({"recipe": "resnet" if residual else "plain_bn"} if recipe else {})})
    rows.append({**rows[0], "run_id": "s1", "stage": "search", "train/error": 0.99})
    return pd.DataFrame(rows)


def test_one_row_per_depth_and_budget_with_holm_across_all_of_a_measure() -> None:
    verdict = confirm_verdict(budget_frame())
    train = verdict[verdict["column"] == "train_err_pct"]
    assert list(zip(train["depth"], train["epochs"])) == [(d, e) for d in (20, 56, 110) for e in (2, 8)]
    np.testing.assert_allclose(train["p_holm"], holm(list(train["p"])))  # one family: all 6 rows
    at56 = train[(train["depth"] == 56) & (train["epochs"] == 8)].iloc[0]
    assert at56["plain"] == pytest.approx(24.0) and at56["residual"] == pytest.approx(2.5)
    assert budgets_of(verdict) == [2, 8]
    old = confirm_verdict(budget_frame().query("epochs == 8").drop(columns="epochs"))
    assert old["epochs"].isna().all() and len(old[old["column"] == "train_err_pct"]) == 3  # no budget: as before


def test_tables_show_an_epochs_column_only_with_several_budgets() -> None:
    verdict = confirm_verdict(budget_frame())
    assert list(compact_verdict(verdict).columns[:2]) == ["Depth", "Epochs"]
    assert list(verdict_display(verdict).columns[:2]) == ["Depth", "Epochs"]
    single = confirm_verdict(budget_frame().query("epochs == 8"))
    assert "Epochs" not in compact_verdict(single) and "Epochs" not in verdict_display(single)
    assert list(compact_verdict(single)["Depth"]) == [20, 56, 110]
    picks = picks_display(budget_frame())
    assert "Epochs" in picks and len(picks) == 12


def test_headline_names_its_budget_largest_first() -> None:
    text = verdict_headline(budget_frame())
    assert text.startswith("After 8 epochs, residual connections matter from depth 56: at 110 layers")
    assert "After 2 epochs, the plain net's training error is higher at depth 56 and 110" in text
    assert text.index("After 8 epochs") < text.index("After 2 epochs") < text.index("At depth 20 the gap")
    single = verdict_headline(budget_frame().query("epochs == 8"))
    assert single.startswith("After 8 epochs, residual connections matter") and "After 2" not in single
    assert verdict_headline(budget_frame().drop(columns="epochs")).startswith("Residual connections matter")


def test_the_gap_closes_shrinks_or_persists_in_numbers() -> None:
    text = budgets.trend(confirm_verdict(budget_frame()))
    assert "At depth 20 the gap closes: from 1.0 pp after 2 epochs to 0.0 pp after 8, no detectable difference" in text
    assert "at depth 56 the gap shrinks from 71.0 pp after 2 epochs to 21.5 pp after 8" in text
    assert "at depth 110 the gap persists: 85.5 pp after 2 epochs, 85.5 pp after 8" in text
    grows = {**ERRORS, (110, False, 2): [40, 45, 50]}
    assert "at depth 110 the gap grows from 42.5 pp after 2 epochs to 85.5 pp after 8" in budgets.trend(
        confirm_verdict(budget_frame(grows)))
    assert budgets.trend(confirm_verdict(budget_frame().query("epochs == 8"))) == ""


def test_convergence_needs_a_budget_4x_smaller_within_1_pp() -> None:
    text = verdict_headline(budget_frame())
    assert "8 epochs is not shown converged" in text
    assert "it would take a budget 4x larger, or a smaller one within 1 pp, to show it" in text
    assert "plain-56 51.0 pp" in text  # the arm that moved most, in numbers
    flat = {(d, r, e): v for (d, r, e2), v in ERRORS.items() if e2 == 8 for e in (2, 8)}
    converged = budgets.convergence(budget_frame(flat), 8)
    assert converged.startswith("8 epochs is converged: every arm's training error was already within 1 pp")
    near = {(d, r, 4 if e == 2 else e): v for (d, r, e), v in flat.items()}  # 4 is not <= 8 / 4: nothing shows it
    assert budgets.convergence(budget_frame(near), 8).startswith("8 epochs is not shown converged")
    single = verdict_headline(budget_frame().query("epochs == 8"))
    assert single.endswith("8 epochs is not shown converged (a budget counts as converged when 4x more epochs "
                           "move its training error by less than 1 pp): it would take a budget 4x larger, or a "
                           "smaller one within 1 pp, to show it.")


def test_contrasts_group_by_budget_and_read_in_epochs() -> None:
    frame = budget_frame(recipe=True)
    table = contrast_table(frame, ("recipe", "resnet"), ["recipe", "depth", "epochs"])
    train = table[table["column"] == "train_err_pct"]
    assert "depth 56, 8 epochs" in set(train["by"]) and len(train) == 6
    np.testing.assert_allclose(train["p_holm"], holm(list(train["p"])))
    text = verdict_headline(frame, reference=("recipe", "resnet"), factors=["recipe", "depth", "epochs"])
    assert text.startswith("After 8 epochs, at depth 20: ")
    assert text.index("After 8 epochs") < text.index("After 2 epochs, at depth 20: ")
    assert "8 epochs, 8 epochs" not in text and "depth 56, 8 epochs" not in text
    one = verdict_headline(frame.query("epochs == 8"), reference=("recipe", "resnet"), factors=["recipe", "depth"])
    assert one.startswith("After 8 epochs, at depth 20: ")


def test_training_budget_figure_draws_every_seed_per_depth() -> None:
    fig = training_budget_figure(budget_frame())
    assert len(fig.axes) == 3 and fig.axes[0].get_xscale() == "log"
    points = sum(len(c.get_offsets()) for c in fig.axes[1].collections if isinstance(c, PathCollection))
    assert points == 12  # depth 56: 2 arms x 2 budgets x 3 seeds
    with pytest.raises(ValueError, match="one training budget"):
        training_budget_figure(budget_frame().query("epochs == 8"))


def test_a_search_stopped_before_its_confirm_stage_says_so_not_that_it_has_none() -> None:
    from dashboards.verdict.headline import NO_CONFIRM, NOT_CONFIRMED_YET, sweep_headline
    from sweeps.tracking import names

    searched = budget_frame().assign(stage="search")
    assert sweep_headline(searched, {names.CONFIRM_SEEDS: "3"}) == NOT_CONFIRMED_YET
    assert sweep_headline(searched, {}) == NO_CONFIRM


def test_a_gap_the_seeds_cannot_bound_at_the_largest_budget_is_unresolved_not_persisting() -> None:
    """long_2core's plain-56 after 128 epochs: two seeds trained (6 %, 5 %), one stuck (46 %). Not significant and
    an interval far wider than 5 pp: the headline must not say 'no detectable difference' or 'persists'."""
    errors = {**ERRORS, (56, False, 8): [6.3, 5.1, 45.8], (56, True, 8): [0.0, 0.0, 0.0]}
    verdict = confirm_verdict(budget_frame(errors))
    text = budgets.trend(verdict)
    assert "at depth 56 the gap is unresolved after 8: 71.0 pp after 2 epochs, 19.1 pp after 8, where the seeds " \
           "cannot tell it from no gap (95% CI" in text
    assert "persists: 71.0" not in text
    headline = verdict_headline(budget_frame(errors))
    assert "too few seeds to tell at depth 56: the interval is too wide (plain 19.1 pp higher" in headline
    assert "no detectable difference in training error at depth 56" not in headline
    assert "too few seeds to tell at depth 56 (the interval is too wide)" in budgets.brief(verdict, 8)
