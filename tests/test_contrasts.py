"""Contrasts against a reference recipe (pure): scipy's Welch numbers, Holm across every contrast, the headline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from dashboards.stats import holm
from dashboards.verdict.contrasts import contrast_display, contrast_table, judge, parse_reference
from dashboards.verdict.headline import contrast_headline

# Final training error per (depth, recipe) and seed: plain_bn fails at 110, tat closes the gap, tanh is noisy.
TRAIN_ERROR = {(56, "resnet"): [0.030, 0.036, 0.028], (56, "plain_bn"): [0.300, 0.340, 0.320],
               (56, "tat"): [0.040, 0.035, 0.045], (56, "tanh"): [0.05, 0.40, 0.10],
               (110, "resnet"): [0.020, 0.026, 0.031], (110, "plain_bn"): [0.880, 0.900, 0.870],
               (110, "tat"): [0.030, 0.045, 0.038], (110, "tanh"): [0.03, 0.60, 0.20]}


def _frame() -> pd.DataFrame:
    rows = []
    for (depth, recipe), errors in TRAIN_ERROR.items():
        for seed, err in zip((5, 6, 7), errors):
            rows.append({"run_id": f"c{depth}{recipe}{seed}", "stage": "confirm", "depth": depth, "recipe": recipe,
                         "residual": recipe == "resnet", "seed": seed, "init": "kaiming", "outcome": "completed",
                         "train/error": err, "val/acc": 0.9 - err})
    rows.append({**rows[0], "run_id": "s1", "stage": "search", "train/error": 0.99, "seed": 0})  # not counted
    rows.append({**rows[0], "run_id": "div", "outcome": "diverged", "train/error": np.nan, "seed": 8})
    return pd.DataFrame(rows)


def test_contrasts_equal_scipy_and_holm_spans_every_contrast() -> None:
    table = contrast_table(_frame(), ("recipe", "resnet"), ["depth", "recipe"])
    train = table[table["column"] == "train_err_pct"]
    assert len(train) == 6 and set(train["reference"]) == {"resnet"}
    raw = []
    for _, row in train.iterrows():
        depth = int(row["by"].split()[-1])
        ref, arm = (100 * np.array(TRAIN_ERROR[(depth, r)]) for r in ("resnet", row["arm"]))
        test = scipy_stats.ttest_ind(arm, ref, equal_var=False)
        ci = test.confidence_interval(0.95)
        assert row["diff"] == pytest.approx(arm.mean() - ref.mean())
        assert (row["lo"], row["hi"], row["p"]) == pytest.approx((ci.low, ci.high, test.pvalue))
        assert (row["n_arm"], row["n_reference"]) == (3, 3)
        raw.append(test.pvalue)
    np.testing.assert_allclose(train["p_holm"], holm(raw))  # one family: all 6 contrasts of the measure


def test_judgements_and_headline_name_what_closes_the_gap() -> None:
    table = contrast_table(_frame(), ("recipe", "resnet"), ["depth", "recipe"])
    train = table[table["column"] == "train_err_pct"].set_index(["by", "arm"])
    assert judge(train.loc[("depth 110", "plain_bn")]) == "fails"
    assert judge(train.loc[("depth 110", "tat")]) == "closes"
    assert judge(train.loc[("depth 110", "tanh")]) == "inconclusive"
    sentence = contrast_headline(table)
    at110 = sentence[sentence.index("At depth 110"):]
    assert at110.startswith("At depth 110: tat trains to within ")
    assert "plain_bn does not close the gap: its training error is 85.8 pp higher" in at110
    assert "tanh is inconclusive" in at110
    shown = contrast_display(table)
    assert list(shown["Arm"]) == ["plain_bn", "tanh", "tat"] * 2


def test_reference_param_and_a_missing_reference() -> None:
    assert parse_reference("recipe=resnet") == ("recipe", "resnet")
    assert parse_reference(None) is None
    empty = contrast_table(_frame().iloc[0:0], ("recipe", "resnet"), ["depth", "recipe"])
    assert empty.empty and contrast_headline(empty).startswith("No verdict")
