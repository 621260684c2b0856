"""Report statistics and the verdict table on small hand-built sweep frames (numbers checked by hand or scipy)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from sweep_frames import DEPTHS, INITS, SEEDS, make_history, make_trials, pooled_frame, train_error

from dashboards import stats
from dashboards.report.sections import search_verdict_html
from dashboards.study.importance import param_importance
from dashboards.verdict.search import verdict_display, verdict_table
from sweeps.tracking.runs import join_trial_columns, normalise_trials


@pytest.fixture(scope="module")
def trials() -> pd.DataFrame:
    return make_trials()


def test_t_interval_and_welch_match_scipy():
    mean, lo, hi = stats.t_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and hi - mean == pytest.approx(scipy_stats.t.ppf(0.975, 2) * 1.0 / np.sqrt(3))
    assert np.isnan(stats.t_interval([4.0])[1])
    a, b = [1.0, 2.0, 3.5], [2.0, 4.0, 5.0, 7.0]
    diff, lo, hi, p = stats.welch(a, b)
    assert diff == pytest.approx(np.mean(b) - np.mean(a))
    assert p == pytest.approx(scipy_stats.ttest_ind(b, a, equal_var=False).pvalue)
    assert lo < diff < hi


def test_verdict_table_hand_computed():
    rows = [{"run_id": f"{r}{s}", "depth": 20, "residual": r, "seed": s, "outcome": "completed",
             "train/error": e, "val/acc": a}
            for r, errs, accs in ((False, (0.10, 0.12), (0.80, 0.82)), (True, (0.05, 0.07), (0.90, 0.88)))
            for s, (e, a) in enumerate(zip(errs, accs))]
    rows.append({"run_id": "div", "depth": 20, "residual": False, "seed": 9, "outcome": "diverged"})
    table = verdict_table(normalise_trials(pd.DataFrame(rows)))  # no init column: a single "default" init
    row = table.iloc[0]
    assert row["init"] == "default" and (row["n_plain"], row["n_residual"]) == (2, 2)
    assert row["train_err_diff_pp"] == pytest.approx(6.0 - 11.0)
    assert row["val_acc_diff_pp"] == pytest.approx(89.0 - 81.0)
    expected_p = scipy_stats.ttest_ind([5.0, 7.0], [10.0, 12.0], equal_var=False).pvalue
    assert row["train_err_p"] == pytest.approx(expected_p)
    assert row["train_err_diff_lo"] < row["train_err_diff_pp"] < row["train_err_diff_hi"]
    assert (row["plain_completed"], row["plain_diverged"], row["residual_completed"]) == (2, 1, 2)


def test_verdict_table_one_seed_has_no_interval_or_p():
    rows = [{"run_id": str(r), "depth": 56, "residual": r, "outcome": "completed", "train/error": e, "val/acc": 0.9}
            for r, e in ((False, 0.2), (True, 0.1))]
    row = verdict_table(normalise_trials(pd.DataFrame(rows))).iloc[0]
    assert row["train_err_diff_pp"] == pytest.approx(-10.0)
    assert np.isnan(row["train_err_p"]) and np.isnan(row["train_err_diff_lo"]) and np.isnan(row["val_acc_p"])


def test_verdict_table_counts_diverged_and_pruned(trials):
    table = verdict_table(trials).set_index(["depth", "init"])
    dead = table.loc[(110, "xavier")]
    assert dead["plain_diverged"] == 3 and dead["plain_completed"] == 0 and dead["n_plain"] == 0
    assert np.isnan(dead["train_err_diff_pp"]) and np.isnan(dead["train_err_p"])
    assert table.loc[(56, "kaiming"), "residual_pruned"] == 1
    # depth 20 kaiming has two lrs: counts cover both, the difference uses only the better lr (0.1)
    shallow = table.loc[(20, "kaiming")]
    assert shallow["plain_completed"] == 6 and shallow["n_plain"] == 3
    expected = np.mean([train_error(20, True, s) - train_error(20, False, s) for s in SEEDS]) * 100
    assert shallow["train_err_diff_pp"] == pytest.approx(expected)
    assert len(table) == len(DEPTHS) * (len(INITS) + 1)  # per (depth, init), plus one pooled row per depth
    assert list(table.index[: len(DEPTHS)]) == [(d, stats.POOLED) for d in DEPTHS]  # pooled rows first
    pooled = table.loc[(110, stats.POOLED)]  # every init's trials counted, diverged xavier ones included
    assert (pooled["plain_diverged"], pooled["plain_completed"], pooled["residual_completed"]) == (3, 3, 6)
    assert pooled["n_plain"] == 3 and np.isfinite(pooled["train_err_diff_pp"])  # kaiming's plain-110 stands in
    assert table.loc[(56, "kaiming"), "n_residual"] == 4  # the pruned trial's values count in the best-lr group


def test_verdict_pooled_row_compares_arms_no_init_has_together():
    table = verdict_table(pooled_frame())
    assert list(zip(table["depth"], table["init"]))[:2] == [(20, "all"), (56, "all")]
    per_init = table[(table["depth"] == 56) & (table["init"] != "all")]
    assert len(per_init) == 3  # kaiming, orthogonal, xavier: each lacks one arm, so no difference
    assert per_init["train_err_diff_pp"].isna().all() and per_init["val_acc_diff_pp"].isna().all()
    pooled = table.set_index(["depth", "init"]).loc[(56, "all")]
    assert (pooled["n_plain"], pooled["n_residual"]) == (2, 2)  # the best (init, lr) group of each arm
    assert pooled["train_err_diff_pp"] == pytest.approx(1.5 - 86.0)
    assert pooled["val_acc_diff_pp"] == pytest.approx(97.5 - 14.0)
    expected_p = scipy_stats.ttest_ind([1.0, 2.0], [85.0, 87.0], equal_var=False).pvalue
    assert pooled["train_err_p"] == pytest.approx(expected_p)
    assert (pooled["plain_pruned"], pooled["plain_diverged"], pooled["residual_completed"]) == (3, 1, 3)
    assert pooled["plain_pick"] == "xavier, lr 0.1, epoch 4, 2/2 pruned"
    assert pooled["residual_pick"] == "orthogonal, lr 0.1, epoch 20"


def test_verdict_html_speaks_words_not_column_names(trials):
    html = search_verdict_html(verdict_display(verdict_table(trials)))
    assert '<table class="verdict">' in html and html.rstrip().endswith("</table></div>")
    assert "–" in html and "Residual − plain train error (pp, 95% CI)" in html
    headers = re.findall(r"<th[^>]*>([^<]*)</th>", html)
    assert headers and not [h for h in headers if re.search(r"[a-z]+_[a-z]+", h)], headers


def test_paper_table6_and_compare(trials):
    paper = stats.paper_table6().set_index("depth")
    assert paper["test_error_pct"].to_dict() == {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43, 1202: 7.93}
    assert "6.61" in paper.loc[110, "note"] and "Fig. 6" in paper.attrs["plain_note"]
    cmp = stats.compare_to_paper(trials).set_index(["depth", "residual", "init"])
    res20 = cmp.loc[(20, True, "kaiming")]
    measured = np.mean([100 * (train_error(20, True, s) + 0.06) for s in SEEDS])
    assert res20["test_error_pct"] == pytest.approx(measured)
    assert res20["diff_pp"] == pytest.approx(measured - 8.75)
    assert np.isnan(cmp.loc[(20, False, "kaiming"), "paper_test_error_pct"])
    no_test = stats.compare_to_paper(trials.drop(columns="test/acc"))
    assert no_test["test_error_pct"].isna().all() and set(no_test["depth"]) == set(DEPTHS)


def test_trial_columns_and_gradflow(trials):
    hist = join_trial_columns(make_history(trials).assign(depth=-1), normalise_trials(trials.drop(columns="init")))
    assert (hist["depth"] >= 20).all() and (hist["init"] == "default").all()
    first = stats.history_to_gradflow(join_trial_columns(make_history(trials), trials), "first")
    last = stats.history_to_gradflow(join_trial_columns(make_history(trials), trials), "last")
    assert set(first["epoch"]) == {1} and set(last["epoch"]) == {4}
    blocks = first.groupby("depth")["block"].max().to_dict()
    assert blocks == {d: d // 10 + 1 for d in DEPTHS}  # no NaN blocks borrowed from deeper nets
    assert {"depth", "residual", "init", "block", "grad_norm"} <= set(first.columns)
    with pytest.raises(ValueError, match="first"):
        stats.history_to_gradflow(first, "middle")


def test_param_importance(trials):
    params = ["depth", "residual", "init", "lr", "seed", "dataset"]
    importances = param_importance(trials, params, "val/acc")
    assert set(importances) == set(params) and importances["dataset"] == 0.0
    assert sum(importances.values()) == pytest.approx(1.0)
    assert param_importance(trials.head(1), params, "val/acc") == {}
    flat = trials.assign(**{"val/acc": 0.9})
    assert param_importance(flat, params, "val/acc") == {}
    with pytest.raises(ValueError, match="nope"):
        param_importance(trials, ["nope"], "val/acc")
