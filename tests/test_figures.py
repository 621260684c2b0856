"""Report figures on small hand-built sweep frames (`sweep_frames`): what each panel draws, not how it looks."""

from __future__ import annotations

import matplotlib
import matplotlib.image

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from sweep_frames import DEPTHS, INITS, SEEDS, make_history, make_probe, make_trials, train_error, trial

from dashboards import stats
from dashboards.figures import search as figures
from dashboards.figures import search_space
from dashboards.study.importance import param_importance
from dashboards.verdict.search import verdict_table
from sweeps.tracking.runs import join_trial_columns, normalise_trials


@pytest.fixture(scope="module")
def trials() -> pd.DataFrame:
    return make_trials()


@pytest.fixture(scope="module")
def history(trials: pd.DataFrame) -> pd.DataFrame:
    return join_trial_columns(make_history(trials), trials)


def _labelled(ax) -> bool:
    return bool(ax.get_xlabel()) and bool(ax.get_ylabel())


def _top_crosses(ax) -> list[float]:
    """x of the diverged crosses a degradation panel pins to its top edge (y in axes units)."""
    pinned = [c for c in ax.collections if c.get_offset_transform() is ax.get_xaxis_transform()]
    return sorted(float(x) for c in pinned for x, _ in c.get_offsets())


def _point_faces(ax, colour: str) -> np.ndarray:
    """Face colours (RGBA per depth) of the arm points a degradation panel draws with edges in colour."""
    (points,) = [c for c in ax.collections if c.get_offset_transform() is ax.transData and len(c.get_edgecolors())
                 and tuple(c.get_edgecolors()[0]) == to_rgba(colour)]
    return points.get_facecolors()


def test_degradation_figure(trials):
    fig = figures.degradation_figure(trials)
    axes = np.array(fig.axes).reshape(2, len(INITS) + 1)  # "all inits" first, then one column per init
    assert isinstance(fig, Figure) and all(len(ax.lines) == 2 for ax in axes.flat)
    assert all(ax.get_ylabel().endswith("(%)") for ax in axes.flat)
    assert all("depth" in ax.get_xlabel() for ax in axes[-1]) and len(fig.legends) == 1
    assert [ax.get_title() for ax in axes[0]] == ["all inits (best init, lr per arm)", *(f"init: {i}" for i in INITS)]
    assert "He et al." in fig._suptitle.get_text() and "hollow: stopped early by ASHA" in fig._suptitle.get_text()
    legend = [t.get_text() for t in fig.legends[0].texts]
    assert legend[:2] == ["plain", "residual"] and "stopped early by ASHA" in legend[2] and "diverged" in legend[3]
    plain_kaiming_train = axes[0, 1].lines[0].get_ydata()
    assert plain_kaiming_train[0] == pytest.approx(np.mean([100 * train_error(20, False, s) for s in SEEDS]))
    plain_xavier = axes[0, 2].lines[0].get_ydata()
    assert np.isnan(plain_xavier[-1]) and np.isfinite(plain_xavier[:-1]).all()  # all-diverged arm: a gap
    assert _top_crosses(axes[0, 2]) == _top_crosses(axes[1, 2]) == [110] and _top_crosses(axes[0, 1]) == []
    pooled_plain = axes[0, 0].lines[0].get_ydata()  # plain-110 pooled: kaiming's runs fill xavier's gap
    assert pooled_plain[-1] == pytest.approx(np.mean([100 * train_error(110, False, s) for s in SEEDS]))
    assert np.isfinite(pooled_plain).all() and _top_crosses(axes[0, 0]) == [110]


def test_degradation_figure_draws_pruned_only_arm_hollow():
    """ASHA pruned every plain-56 run: its point is still drawn, hollow and tagged with the epoch reached."""
    rows = [trial(d, r, i, s, outcome="pruned" if (d, r) == (56, False) else "completed")
            for d in (20, 56) for r in (False, True) for i in INITS for s in SEEDS]
    fig = figures.degradation_figure(pd.DataFrame(rows))
    axes = np.array(fig.axes).reshape(2, len(INITS) + 1)
    plain, residual = (figures.ARM_STYLE[r]["color"] for r in (False, True))
    for ax in axes.flat:  # the pooled column and each init, training and validation error
        plain_faces = _point_faces(ax, plain)
        assert tuple(plain_faces[0]) == to_rgba(plain) and tuple(plain_faces[1]) == to_rgba("white")
        assert all(tuple(face) == to_rgba(residual) for face in _point_faces(ax, residual))
        assert [t.get_text() for t in ax.texts] == ["ep 2"]
    expected = np.mean([100 * train_error(56, False, s) for s in SEEDS])
    assert all(ax.lines[0].get_ydata()[1] == pytest.approx(expected) for ax in axes[0])
    assert not any("diverged" in t.get_text() for t in fig.legends[0].texts)


def test_degradation_figure_edge_cases():
    one = pd.DataFrame([trial(56, r, "x", 0) for r in (False, True)]).drop(columns=["init", "test/acc"])
    fig = figures.degradation_figure(normalise_trials(one))  # one depth, one seed, no init, no test/acc
    assert len(fig.axes) == 2 and fig.axes[0].get_title() == "init: default"
    assert all(len(ax.lines) == 2 for ax in fig.axes)


def test_minimal_sweep_through_every_trials_function():
    """One depth, one seed per arm, no init or test/acc column, and a second depth whose plain arm diverged."""
    rows = [trial(56, r, "x", 0) for r in (False, True)]
    rows += [trial(110, False, "x", 0, outcome="diverged"), trial(110, True, "x", 0)]
    minimal = normalise_trials(pd.DataFrame(rows).drop(columns=["init", "test/acc"]))  # as load_sweep returns it
    table = verdict_table(minimal)
    assert table["train_err_p"].isna().all() and table["val_acc_diff_lo"].isna().all()
    assert table.set_index("depth").loc[110, "plain_diverged"] == 1
    assert np.isnan(table.set_index("depth").loc[110, "train_err_diff_pp"])
    assert len(figures.lr_sensitivity_figure(minimal).axes) == 1
    assert [t.get_text() for t in figures.init_depth_heatmap(minimal).axes[0].texts] == ["87.4", "n/a"]
    assert stats.compare_to_paper(minimal)["test_error_pct"].isna().all()
    assert set(param_importance(minimal, ["depth", "residual"], "val/acc")) == {"depth", "residual"}
    coords = search_space.parallel_coordinates_html(minimal, ["depth", "residual", "init"], "val/acc")
    dims = {d.label: d for d in coords.data[0].dimensions}  # the diverged plain-110 trial is left out
    assert list(dims) == ["depth", "residual", "init", "val/acc"] and list(dims["init"].ticktext) == ["default"]
    assert list(dims["depth"].ticktext) == ["56", "110"] and list(dims["depth"]["values"]) == [0, 0, 1]
    assert list(dims["val/acc"]["values"]) == pytest.approx(sorted(minimal["val/acc"].dropna()))


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
    assert [t.get_text() for t in fig.legends[0].texts] == [f"{d} {n}" for d in DEPTHS for n in ("plain", "residual")]


def test_gradient_flow_figure_gives_each_recipe_sharing_an_init_its_own_panel():
    """`resnet-sweep probe --figure` with two activations and one init: two panels, not one merged line set."""
    import pandas as pd

    probe = pd.concat([make_probe().assign(activation="relu"), make_probe().assign(activation="tat")])
    merged = figures.gradient_flow_figure(probe)
    assert len(merged.axes) == 1  # the old behaviour: one panel per init, both recipes' medians in one line
    fig = figures.gradient_flow_figure(probe, panel_by=("init", "norm", "activation"))
    assert [ax.get_title() for ax in fig.axes] == ["init kaiming, activation relu", "init kaiming, activation tat"]
    assert all(len(ax.lines) == 2 * len(DEPTHS) for ax in fig.axes)


def test_gradient_flow_epochs_figure(history):
    fig = figures.gradient_flow_epochs_figure(history)
    assert len(fig.axes) == 2 * len(INITS)
    assert "first" in fig.axes[0].get_title() and "last" in fig.axes[1].get_title()
    assert all(ax.get_yscale() == "log" and len(ax.lines) == 2 * len(DEPTHS) for ax in fig.axes)
    assert all(ax.get_legend() is None for ax in fig.axes) and len(fig.legends) == 1  # one legend for all panels


def test_gradient_flow_legend_lists_lines_of_every_panel(history):
    """Lines missing from the first panel (no depth-110 history for kaiming) are still in the shared legend."""
    partial = history[~(((history["depth"] == 110) & (history["init"] == "kaiming"))
                        | ((history["depth"] == 20) & (history["init"] == "xavier")))]
    fig = figures.gradient_flow_epochs_figure(partial)
    assert len(fig.axes[0].lines) == len(fig.axes[-1].lines) == 2 * (len(DEPTHS) - 1)
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.texts] == [f"{d} {n}" for d in DEPTHS for n in ("plain", "residual")]


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
    fig = search_space.parallel_coordinates_html(trials, ["depth", "residual", "init", "lr"], "val/acc")
    assert isinstance(fig, go.Figure)
    dims = fig.data[0].dimensions
    assert len(dims) == 5 and list(dims[2].ticktext) == list(INITS) and dims[3].label == "lr (log10)"
    assert "<div" in fig.to_html(full_html=False, include_plotlyjs=False)


def test_importance_figure():
    fig = search_space.importance_figure({"lr": 0.7, "depth": 0.2, "seed": 0.1})
    (ax,) = fig.axes
    assert len(ax.patches) == 3 and _labelled(ax)
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "lr"  # largest on top
    empty = search_space.importance_figure({})
    assert len(empty.axes[0].patches) == 0 and "no importances" in empty.axes[0].texts[0].get_text()


@pytest.mark.parametrize("draw", ["degradation_figure", "gradient_flow_epochs_figure", "init_depth_heatmap",
                                  "lr_sensitivity_figure"])
def test_figures_render_to_png(draw, trials, history, tmp_path):
    fig = getattr(figures, draw)(history if draw == "gradient_flow_epochs_figure" else trials)
    fig.savefig(tmp_path / f"{draw}.png", dpi=40)
    image = matplotlib.image.imread(tmp_path / f"{draw}.png")
    width, height = (fig.get_size_inches() * 40).round()
    assert image.shape[:2] == (height, width)
    assert image[..., :3].std() > 0.05  # drawn on, not a blank canvas
