"""Activations as a config field: TAT's slope and scale against checked numbers, every block x norm x
activation trains a step, the config refuses bad combinations, the probe runs recipes, tat runs log alpha."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from resnet_core import ConfigError, TrainConfig, build_model, train
from resnet_core.activations import (
    ACTIVATIONS,
    GAINS,
    ScaledLeakyReLU,
    composed_cmap,
    leaky_relu_cmap,
    path_activations,
    tat_scale,
    tat_slope,
)
from resnet_core.config import ACTIVATION_NAMES
from resnet_core.probe import probe, probe_configs, probe_recipes, summarize
from resnet_core.train import TAT_ALPHA

# Slope alpha solving C^L(0) = 0.9 and its scale sqrt(2 / (1 + alpha^2)), for ResNet-20, -56 and -110.
TAT_CHECKED = [(19, 0.1644, 1.3955), (55, 0.4519, 1.2888), (109, 0.5856, 1.2204)]


def test_activation_names_equal_the_tables() -> None:
    assert ACTIVATION_NAMES == tuple(ACTIVATIONS) == tuple(GAINS)


@pytest.mark.parametrize("layers,alpha,scale", TAT_CHECKED)
def test_tat_slope_and_scale_match_checked_values(layers: int, alpha: float, scale: float) -> None:
    a = tat_slope(layers, 0.9)
    assert a == pytest.approx(alpha, abs=1e-3)
    assert tat_scale(a) == pytest.approx(scale, abs=1e-3)
    assert composed_cmap(0.0, a, layers) == pytest.approx(0.9, abs=1e-9)


def test_tat_alpha_is_solved_for_the_nets_path() -> None:
    assert path_activations(110) == 109
    assert TrainConfig(depth=110, activation="tat").tat_alpha == pytest.approx(0.5856, abs=1e-3)
    assert TrainConfig(depth=110).tat_alpha is None
    assert TrainConfig(depth=8, activation="tat").tat_alpha == 0.0  # too shallow to reach 0.9 even with ReLU


def test_leaky_relu_cmap_fixes_one_and_is_identity_when_linear() -> None:
    for alpha in (0.0, 0.3, 0.9):
        assert leaky_relu_cmap(1.0, alpha) == pytest.approx(1.0)
    assert leaky_relu_cmap(0.0, 0.0) == pytest.approx(1 / math.pi)  # ReLU: E[relu(u) relu(v)] / E[relu^2]
    assert leaky_relu_cmap(0.4, 1.0) == pytest.approx(0.4)
    # A more linear slope keeps correlations nearer where they start: C^L(0) falls as alpha grows.
    values = [composed_cmap(0.0, a, 55) for a in (0.0, 0.2, 0.4, 0.6, 0.8)]
    assert values == sorted(values, reverse=True)


def test_tat_activation_keeps_unit_second_moment() -> None:
    alpha = tat_slope(55, 0.9)
    act = ScaledLeakyReLU(alpha, tat_scale(alpha))
    x = torch.randn(1_000_000, generator=torch.Generator().manual_seed(0))
    assert act(x).square().mean().item() == pytest.approx(1.0, abs=0.01)


# The activation table over both block styles and both norms, on a tiny plain net (the hard case).
TABLE = [{"block": b, "norm": n, "activation": a} for b in ("post", "pre") for n in ("bn", "none") for a in ACTIVATIONS]


@pytest.mark.parametrize("kw", TABLE, ids=lambda kw: "-".join(kw.values()))
@pytest.mark.parametrize("init", ["kaiming", "delta_orthogonal"])
def test_every_activation_trains_a_step(kw: dict, init: str) -> None:
    """Finite outputs, and a finite nonzero gradient for every parameter."""
    torch.manual_seed(0)
    extra = {"negative_slope": 0.2} if kw["activation"] == "leaky_relu" else {}
    model = build_model(TrainConfig(depth=8, width=0.5, residual=False, init=init, **kw, **extra), 3, 10).train()
    out = model(torch.randn(4, 3, 8, 8))
    assert out.shape == (4, 10) and torch.isfinite(out).all()
    torch.nn.functional.cross_entropy(out, torch.tensor([0, 1, 2, 3])).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("block", ["post", "pre"])
def test_the_net_uses_the_chosen_activation_everywhere(block: str) -> None:
    relu = build_model(TrainConfig(depth=8, block=block), 3, 10)
    tat = build_model(TrainConfig(depth=20, block=block, norm="none", activation="tat"), 3, 10)
    kinds = {type(m) for m in relu.modules() if type(m).__module__.startswith("torch.nn.modules.activation")}
    assert kinds == {torch.nn.ReLU}  # relu nets keep nn.ReLU, which calls F.relu: the same forward as before
    acts = [m for m in tat.modules() if isinstance(m, ScaledLeakyReLU)]
    assert len(acts) == 3 * 3 + 1  # one shared by each block's two uses, plus the stem's or the head's
    assert all(m.negative_slope == tat.cfg.tat_alpha and m.scale == tat_scale(m.negative_slope) for m in acts)
    assert not any(isinstance(m, torch.nn.ReLU) for m in tat.modules())


BAD = [
    ({"activation": "gelu"}, "activation must be one of relu, leaky_relu, tanh, tat; got 'gelu'"),
    ({"activation": "tat", "tat_eta": 1.0}, r"tat_eta must be in \(0, 1\)"),
    ({"activation": "tat", "tat_eta": 0.0}, r"tat_eta must be in \(0, 1\)"),
    ({"activation": "tat", "tat_eta": float("nan")}, r"tat_eta must be in \(0, 1\)"),
    ({"activation": "leaky_relu", "negative_slope": -0.1}, r"negative_slope must be in \[0, 1\)"),
    ({"activation": "leaky_relu", "negative_slope": 1.0}, r"negative_slope must be in \[0, 1\)"),
    ({"negative_slope": 0.2}, ("negative_slope applies to activation 'leaky_relu' only; got negative_slope 0.2 "
                               "with activation 'relu'")),
    ({"activation": "leaky_relu", "tat_eta": 0.5}, "tat_eta applies to activation 'tat' only"),
    ({"init": "fixup", "norm": "none", "activation": "tanh"}, "init 'fixup' needs activation relu, leaky_relu, tat"),
]


@pytest.mark.parametrize("values,message", BAD)
def test_bad_activation_fields_rejected_in_one_line(values: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        TrainConfig(**values)
    assert "\n" not in str(err.value)


def test_fixup_takes_positively_homogeneous_activations() -> None:
    for act in ("leaky_relu", "tat"):
        assert TrainConfig(init="fixup", norm="none", activation=act).activation == act


def test_probe_recipes_send_each_knob_to_its_activation_only() -> None:
    recipes = probe_recipes(["none"], ["relu", "leaky_relu", "tat"], negative_slope=0.2, tat_eta=0.8)
    assert recipes == [{"norm": "none", "activation": "relu"},
                       {"norm": "none", "activation": "leaky_relu", "negative_slope": 0.2},
                       {"norm": "none", "activation": "tat", "tat_eta": 0.8}]


def test_probe_configs_validate_before_work_and_drop_repeats() -> None:
    base = TrainConfig(dataset="synthetic")
    with pytest.raises(ConfigError, match="init 'fixup' needs activation"):
        probe_configs(base, [8], ["fixup"], [True], probe_recipes(["none"], ["tanh"]))
    # fixup forces norm none, so the bn and none recipes give one config
    assert len(probe_configs(base, [8], ["fixup"], [True], probe_recipes(["bn", "none"], ["relu"]))) == 1


def test_probe_summarizes_a_row_per_recipe() -> None:
    base = TrainConfig(dataset="synthetic")
    rows = probe(base, [20], ["delta_orthogonal"], [False], 32, probe_recipes(["none"], ["tanh", "tat"]))
    summary = summarize(rows)
    assert [(r["activation"], r["norm"]) for r in summary] == [("tanh", "none"), ("tat", "none")]
    assert summary[0]["tat_alpha"] is None and summary[1]["tat_alpha"] == pytest.approx(0.1644, abs=1e-3)
    assert all(math.isfinite(r["ratio_first_last"]) and r["first"] > 0 for r in summary)


def test_a_tat_run_reports_its_alpha_with_the_first_epoch(tiny: TrainConfig) -> None:
    cfg = dataclasses.replace(tiny, depth=20, norm="none", activation="tat", init="delta_orthogonal",
                              train_subset=64, epochs=2)
    rows = list(train(cfg))
    assert rows[0][TAT_ALPHA] == pytest.approx(0.1644, abs=1e-3) and TAT_ALPHA not in rows[1]
    assert TAT_ALPHA not in next(iter(train(dataclasses.replace(tiny, epochs=1, train_subset=64))))
