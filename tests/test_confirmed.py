"""The confirm verdict (pure): its numbers are scipy's on the same data, Holm across depths, a headline from them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from scipy import stats as scipy_stats

from dashboards.figures.confirm import confirm_degradation_figure
from dashboards.stats import hedges_g, holm
from dashboards.verdict.confirm import confirm_verdict, picks_display, verdict_display
from dashboards.verdict.headline import headline

# Final training error per (depth, residual) and seed: plain degrades with depth, residual does not.
TRAIN_ERROR = {(20, False): [0.050, 0.062, 0.041], (20, True): [0.048, 0.060, 0.052],
               (56, False): [0.300, 0.340, 0.320], (56, True): [0.030, 0.036, 0.028],
               (110, False): [0.880, 0.900, 0.870], (110, True): [0.020, 0.026, 0.031]}


def _frame() -> pd.DataFrame:
    rows = []
    for (depth, residual), errors in TRAIN_ERROR.items():
        for seed, err in zip((5, 6, 7), errors):
            rows.append({"run_id": f"c{depth}{residual}{seed}", "stage": "confirm", "depth": depth,
                         "residual": residual, "seed": seed, "init": "kaiming", "lr": 0.1, "outcome": "completed",
                         "pick_rule": "completed", "train/error": err, "val/acc": 0.9 - err, "test/acc": 0.88 - err})
    # Search runs and unfinished confirm runs must not move the verdict.
    rows.append({**rows[0], "run_id": "s1", "stage": "search", "train/error": 0.99, "seed": 0})
    rows.append({**rows[0], "run_id": "c-div", "outcome": "diverged", "train/error": np.nan, "seed": 8})
    return pd.DataFrame(rows)


def test_verdict_numbers_equal_scipy_on_the_same_data() -> None:
    verdict = confirm_verdict(_frame())
    assert list(verdict["measure"].unique()) == ["training error", "validation accuracy", "test accuracy"]
    train = verdict[verdict["column"] == "train_err_pct"].set_index("depth")
    for depth in (20, 56, 110):
        plain, residual = (100 * np.array(TRAIN_ERROR[(depth, r)]) for r in (False, True))
        test = scipy_stats.ttest_ind(residual, plain, equal_var=False)
        ci = test.confidence_interval(0.95)
        row = train.loc[depth]
        assert row["n_plain"] == row["n_residual"] == 3
        assert row["plain"] == pytest.approx(plain.mean()) and row["residual"] == pytest.approx(residual.mean())
        assert row["diff"] == pytest.approx(residual.mean() - plain.mean())
        assert (row["lo"], row["hi"]) == (pytest.approx(ci.low), pytest.approx(ci.high))
        assert row["p"] == pytest.approx(test.pvalue)
        assert row["g"] == pytest.approx(hedges_g(plain, residual))
    assert list(train["p_holm"]) == pytest.approx(list(holm(list(train["p"]))))
    val = verdict[verdict["column"] == "val_acc_pct"].set_index("depth").loc[110]
    assert val["diff"] == pytest.approx(-100 * (np.mean(TRAIN_ERROR[(110, True)]) - np.mean(TRAIN_ERROR[(110, False)])))


def test_holm_and_hedges_g_by_hand() -> None:
    assert list(holm([0.01, 0.04, 0.03])) == pytest.approx([0.03, 0.06, 0.06])
    assert list(holm([0.5, np.nan, 0.2])) == pytest.approx([0.5, np.nan, 0.4], nan_ok=True)
    a, b = np.array([1.0, 2.0, 3.0]), np.array([3.0, 4.0, 5.0])  # pooled sd 1, d = 2, J = 1 - 3/15
    assert hedges_g(a, b) == pytest.approx(2 * (1 - 3 / 15))


def test_headline_says_where_residuals_matter_and_where_evidence_is_weak() -> None:
    verdict = confirm_verdict(_frame())
    text = headline(verdict)
    deep = verdict[(verdict["column"] == "train_err_pct") & (verdict["depth"] == 110)].iloc[0]
    assert text.startswith("Residual connections matter from depth 56: at 110 layers the plain net's training "
                           f"error is {-deep['diff']:.1f} pp higher (95% CI {-deep['hi']:.1f} to {-deep['lo']:.1f}")
    assert "3 seeds per arm" in text and "no detectable difference in training error at depth 20" in text


def test_headline_without_enough_seeds_gives_no_verdict() -> None:
    one_seed = _frame().groupby(["depth", "residual", "stage"]).head(1)
    assert headline(confirm_verdict(one_seed)).startswith("No verdict")


def test_display_tables_speak_to_people() -> None:
    frame = _frame()
    table = verdict_display(confirm_verdict(frame))
    assert "Residual − plain (pp, 95% CI)" in table and "p (Holm)" in table
    assert not any("_" in c for c in table.columns)
    picks = picks_display(frame)
    assert len(picks) == 6 and set(picks["Picked by"]) == {"best completed search trial of the arm"}
    assert set(picks["Seeds"]) == {"5, 6, 7"} | {"5, 6, 7, 8"}  # the diverged seed 8 is listed, not hidden


def test_confirm_figure_draws_every_seed() -> None:
    fig = confirm_degradation_figure(_frame())
    train_axis = fig.axes[0]
    points = sum(len(c.get_offsets()) for c in train_axis.collections if isinstance(c, PathCollection))
    assert points == 18 and "Confirm runs" in fig._suptitle.get_text()
    with pytest.raises(ValueError, match="no completed confirm run"):
        confirm_degradation_figure(_frame().assign(stage="search"))


def test_report_says_when_confirm_runs_exist_but_none_completed(tmp_path) -> None:
    from dashboards.report.sections import confirm_section

    unfinished = _frame().assign(outcome="pruned")
    headline_html, body = confirm_section(unfinished, str(tmp_path))
    assert "No verdict yet: none of the 19 confirm runs has completed" in headline_html and body == ""
    assert "No confirm stage" in confirm_section(_frame().assign(stage="search"), str(tmp_path))[0]
    strong, body = confirm_section(_frame(), str(tmp_path))
    assert strong.startswith('<p class="headline">Residual connections matter') and "confirm-verdict" in body
