"""Report figures and statistics on small hand-built sweep frames."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from matplotlib.figure import Figure
from scipy import stats as scipy_stats

from dashboards import figures, stats

DEPTHS = (20, 56, 110)
INITS = ("kaiming", "xavier")
SEEDS = (0, 1, 2)


def _train_error(depth: int, residual: bool, seed: int) -> float:
    """Plain nets degrade with depth, residual nets improve: the He et al. pattern, plus a seed offset."""
    return (0.02 - 0.0001 * depth if residual else 0.02 + 0.001 * depth) + 0.002 * seed


def _trial(depth: int, residual: bool, init: str, seed: int, lr: float = 0.1, outcome: str = "completed") -> dict:
    """One trials row; diverged trials carry no final accuracy."""
    err = _train_error(depth, residual, seed) + (0.05 if lr != 0.1 else 0.0)  # lr 0.1 is the better lr
    ok = outcome == "completed"
    return {
        "run_id": f"d{depth}-{'res' if residual else 'plain'}-{init}-s{seed}-lr{lr}", "trial_id": f"t{seed}",
        "depth": depth, "residual": residual, "init": init, "lr": lr, "seed": seed, "dataset": "cifar10",
        "epochs": 5, "outcome": outcome, "epoch": 5 if ok else 2,
        "train/error": err if ok else np.nan, "train/loss": err * 3 if ok else np.nan,
        "val/acc": 1 - err - 0.05 if ok else np.nan, "best/val/acc": 1 - err - 0.04 if ok else np.nan,
        "test/acc": 1 - err - 0.06 if ok else np.nan,
    }


def make_trials() -> pd.DataFrame:
    """3 depths x plain/residual x 2 inits x 3 seeds; plain-110-xavier all diverged, one pruned extra trial."""
    rows = [_trial(d, r, i, s, outcome="diverged" if (d, r, i) == (110, False, "xavier") else "completed")
            for d in DEPTHS for r in (False, True) for i in INITS for s in SEEDS]
    rows.append(_trial(56, True, "kaiming", 3, outcome="pruned"))
    rows += [_trial(20, r, "kaiming", s, lr=0.01) for r in (False, True) for s in SEEDS]  # a worse lr
    return pd.DataFrame(rows)


def make_history(trials: pd.DataFrame, epochs: int = 4) -> pd.DataFrame:
    """Per-epoch rows for each trial with depth-dependent grad_norm/block_i columns (only run_id + metrics)."""
    rows = []
    for t in trials.itertuples():
        n_blocks = t.depth // 10 + 2  # stem + stages + head; varies with depth like the real logger
        for epoch in range(1, epochs + 1):
            row = {"run_id": t.run_id, "epoch": epoch, "train/error": 0.9 / epoch, "train/loss": 2.0 / epoch,
                   "val/acc": 0.5 + 0.1 * epoch + (0.01 if t.residual else 0.0), "lr": 0.1}
            decay = 1.0 if t.residual else 0.5  # plain nets' gradients vanish towards the stem
            row |= {f"grad_norm/block_{b}": decay ** (n_blocks - b) * epoch for b in range(n_blocks)}
            rows.append(row)
    return pd.DataFrame(rows)


def make_probe() -> pd.DataFrame:
    """A probe frame: depth, residual, init, block, grad_norm for one init."""
    rows = [{"depth": d, "residual": r, "init": "kaiming", "block": b, 
             "grad_norm": (1.0 if r else 0.5) ** (d // 10 - b)}
            for d in DEPTHS for r in (False, True) for b in range(d // 10 + 2)]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def trials() -> pd.DataFrame:
    return make_trials()


@pytest.fixture(scope="module")
def history(trials: pd.DataFrame) -> pd.DataFrame:
    return stats.with_trial_columns(make_history(trials), trials)


def _labelled(ax) -> bool:
    return bool(ax.get_xlabel()) and bool(ax.get_ylabel())


# --- statistics -------------------------------------------------------------------------------------------


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
    table = stats.verdict_table(pd.DataFrame(rows))  # no init column: a single "default" init
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
    row = stats.verdict_table(pd.DataFrame(rows)).iloc[0]
    assert row["train_err_diff_pp"] == pytest.approx(-10.0)
    assert np.isnan(row["train_err_p"]) and np.isnan(row["train_err_diff_lo"]) and np.isnan(row["val_acc_p"])


def test_verdict_table_counts_diverged_and_pruned(trials):
    table = stats.verdict_table(trials).set_index(["depth", "init"])
    dead = table.loc[(110, "xavier")]
    assert dead["plain_diverged"] == 3 and dead["plain_completed"] == 0 and dead["n_plain"] == 0
    assert np.isnan(dead["train_err_diff_pp"]) and np.isnan(dead["train_err_p"])
    assert table.loc[(56, "kaiming"), "residual_pruned"] == 1
    # depth 20 kaiming has two lrs: counts cover both, the difference uses only the better lr (0.1)
    shallow = table.loc[(20, "kaiming")]
    assert shallow["plain_completed"] == 6 and shallow["n_plain"] == 3
    expected = np.mean([_train_error(20, True, s) - _train_error(20, False, s) for s in SEEDS]) * 100
    assert shallow["train_err_diff_pp"] == pytest.approx(expected)
    assert len(table) == len(DEPTHS) * len(INITS)


def test_verdict_html(trials):
    html = figures.verdict_html(stats.verdict_table(trials))
    assert html.startswith('<table class="verdict">') and html.rstrip().endswith("</table>")
    assert "–" in html and "train_err_diff_pp" in html


def test_paper_table6_and_compare(trials):
    paper = stats.paper_table6().set_index("depth")
    assert paper["test_error_pct"].to_dict() == {20: 8.75, 32: 7.51, 44: 7.17, 56: 6.97, 110: 6.43, 1202: 7.93}
    assert "6.61" in paper.loc[110, "note"] and "Fig. 6" in paper.attrs["plain_note"]
    cmp = stats.compare_to_paper(trials).set_index(["depth", "residual", "init"])
    res20 = cmp.loc[(20, True, "kaiming")]
    measured = np.mean([100 * (_train_error(20, True, s) + 0.06) for s in SEEDS])
    assert res20["test_error_pct"] == pytest.approx(measured)
    assert res20["diff_pp"] == pytest.approx(measured - 8.75)
    assert np.isnan(cmp.loc[(20, False, "kaiming"), "paper_test_error_pct"])
    no_test = stats.compare_to_paper(trials.drop(columns="test/acc"))
    assert no_test["test_error_pct"].isna().all() and set(no_test["depth"]) == set(DEPTHS)


def test_with_trial_columns_and_gradflow(trials):
    hist = stats.with_trial_columns(make_history(trials).assign(depth=-1), trials.drop(columns="init"))
    assert (hist["depth"] >= 20).all() and (hist["init"] == "default").all()
    first = stats.history_to_gradflow(stats.with_trial_columns(make_history(trials), trials), "first")
    last = stats.history_to_gradflow(stats.with_trial_columns(make_history(trials), trials), "last")
    assert set(first["epoch"]) == {1} and set(last["epoch"]) == {4}
    blocks = first.groupby("depth")["block"].max().to_dict()
    assert blocks == {d: d // 10 + 1 for d in DEPTHS}  # no NaN blocks borrowed from deeper nets
    assert {"depth", "residual", "init", "block", "grad_norm"} <= set(first.columns)
    with pytest.raises(ValueError, match="first"):
        stats.history_to_gradflow(first, "middle")


def test_param_importance(trials):
    params = ["depth", "residual", "init", "lr", "seed", "dataset"]
    importances = stats.param_importance(trials, params, "val/acc")
    assert set(importances) == set(params) and importances["dataset"] == 0.0
    assert sum(importances.values()) == pytest.approx(1.0)
    assert stats.param_importance(trials.head(1), params, "val/acc") == {}
    flat = trials.assign(**{"val/acc": 0.9})
    assert stats.param_importance(flat, params, "val/acc") == {}
    with pytest.raises(ValueError, match="nope"):
        stats.param_importance(trials, ["nope"], "val/acc")


# --- figures ----------------------------------------------------------------------------------------------


def test_degradation_figure(trials):
    fig = figures.degradation_figure(trials)
    axes = np.array(fig.axes).reshape(2, len(INITS))
    assert isinstance(fig, Figure) and all(len(ax.lines) == 2 for ax in axes.flat)
    assert all(ax.get_ylabel().endswith("(%)") for ax in axes.flat)
    assert all("depth" in ax.get_xlabel() for ax in axes[-1]) and axes[0, 0].get_legend() is not None
    assert "He et al." in fig._suptitle.get_text()
    plain_kaiming_train = axes[0, 0].lines[0].get_ydata()
    assert plain_kaiming_train[0] == pytest.approx(np.mean([100 * _train_error(20, False, s) for s in SEEDS]))
    plain_xavier = axes[0, 1].lines[0].get_ydata()
    assert np.isnan(plain_xavier[-1]) and np.isfinite(plain_xavier[:-1]).all()  # all-diverged arm: a gap


def test_degradation_figure_edge_cases():
    one = pd.DataFrame([_trial(56, r, "x", 0) for r in (False, True)]).drop(columns=["init", "test/acc"])
    fig = figures.degradation_figure(one)  # one depth, one seed, no init, no test/acc
    assert len(fig.axes) == 2 and fig.axes[0].get_title() == "init: default"
    assert all(len(ax.lines) == 2 for ax in fig.axes)


def test_minimal_sweep_through_every_trials_function():
    """One depth, one seed per arm, no init or test/acc column, and a second depth whose plain arm diverged."""
    rows = [_trial(56, r, "x", 0) for r in (False, True)]
    rows += [_trial(110, False, "x", 0, outcome="diverged"), _trial(110, True, "x", 0)]
    minimal = pd.DataFrame(rows).drop(columns=["init", "test/acc"])
    table = stats.verdict_table(minimal)
    assert table["train_err_p"].isna().all() and table["val_acc_diff_lo"].isna().all()
    assert table.set_index("depth").loc[110, "plain_diverged"] == 1
    assert np.isnan(table.set_index("depth").loc[110, "train_err_diff_pp"])
    assert len(figures.lr_sensitivity_figure(minimal).axes) == 1
    assert [t.get_text() for t in figures.init_depth_heatmap(minimal).axes[0].texts] == ["87.4", "n/a"]
    assert stats.compare_to_paper(minimal)["test_error_pct"].isna().all()
    assert set(stats.param_importance(minimal, ["depth", "residual"], "val/acc")) == {"depth", "residual"}
    figures.parallel_coordinates_html(minimal, ["depth", "residual", "init"], "val/acc")


def test_training_curves_figure(history):
    fig = figures.training_curves_figure(history)
    assert len(fig.axes) == 2 and [ax.get_title() for ax in fig.axes] == ["plain", "residual"]
    assert all(len(ax.lines) == len(DEPTHS) for ax in fig.axes)
    assert fig.axes[0].get_ylabel() == "training error (%)" and fig.axes[0].get_xlabel() == "epoch"
    only_xavier = figures.training_curves_figure(history, init="xavier")
    assert len(only_xavier.axes[0].lines) == len(DEPTHS)  # the diverged arm still drew its partial run


def test_gradient_flow_figure_on_probe():
    fig = figures.gradient_flow_figure(make_probe())
    (ax,) = fig.axes
    assert ax.get_yscale() == "log" and _labelled(ax) and len(ax.lines) == 2 * len(DEPTHS)
    assert {line.get_linestyle() for line in ax.lines} == {"--", "-"}


def test_gradient_flow_epochs_figure(history):
    fig = figures.gradient_flow_epochs_figure(history)
    assert len(fig.axes) == 2 * len(INITS)
    assert "first" in fig.axes[0].get_title() and "last" in fig.axes[1].get_title()
    assert all(ax.get_yscale() == "log" and len(ax.lines) == 2 * len(DEPTHS) for ax in fig.axes)


def test_lr_sensitivity_figure(trials):
    fig = figures.lr_sensitivity_figure(trials)
    assert len(fig.axes) == len(INITS) and all(ax.get_xscale() == "log" for ax in fig.axes)
    kaiming, xavier = fig.axes
    assert len(kaiming.lines) == 2 * len(DEPTHS) and len(xavier.lines) == 2 * len(DEPTHS) - 1
    assert "diverged" in [t.get_text() for t in xavier.get_legend().texts]
    assert "diverged" not in [t.get_text() for t in kaiming.get_legend().texts]
    assert kaiming.get_ylabel() == "final validation accuracy (%)" and "learning rate" in kaiming.get_xlabel()


def test_init_depth_heatmap(trials):
    fig = figures.init_depth_heatmap(trials)
    plain, residual, colorbar = fig.axes
    assert _labelled(plain) and "val/acc" in colorbar.get_ylabel()
    texts = [t.get_text() for t in plain.texts]
    assert len(texts) == len(INITS) * len(DEPTHS) and texts.count("n/a") == 1  # plain-110-xavier diverged
    assert "n/a" not in [t.get_text() for t in residual.texts]


def test_parallel_coordinates(trials):
    fig = figures.parallel_coordinates_html(trials, ["depth", "residual", "init", "lr"], "val/acc")
    assert isinstance(fig, go.Figure)
    dims = fig.data[0].dimensions
    assert len(dims) == 5 and list(dims[2].ticktext) == list(INITS) and dims[3].label == "lr (log10)"
    assert "<div" in fig.to_html(full_html=False, include_plotlyjs=False)


def test_importance_figure():
    fig = figures.importance_figure({"lr": 0.7, "depth": 0.2, "seed": 0.1})
    (ax,) = fig.axes
    assert len(ax.patches) == 3 and _labelled(ax)
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "lr"  # largest on top
    empty = figures.importance_figure({})
    assert len(empty.axes[0].patches) == 0 and "no importances" in empty.axes[0].texts[0].get_text()


def test_figures_render_to_png(trials, history, tmp_path):
    for fig in (figures.degradation_figure(trials), figures.gradient_flow_epochs_figure(history),
                figures.init_depth_heatmap(trials), figures.lr_sensitivity_figure(trials)):
        fig.savefig(tmp_path / "f.png", dpi=40)
    assert (tmp_path / "f.png").stat().st_size > 0
