"""The network against the paper: parameter counts, shapes, plain = residual parameters."""

from __future__ import annotations

import pytest
import torch

from resnet_core import TrainConfig, build_model, count_params

# He et al. 2015, Table 6: parameters of the CIFAR-10 ResNets with shortcut option A (millions).
PAPER_PARAMS_M = {20: 0.27, 32: 0.46, 44: 0.66, 56: 0.85, 110: 1.7, 1202: 19.4}


@pytest.mark.parametrize("depth", sorted(PAPER_PARAMS_M))
@pytest.mark.parametrize("residual", [True, False])
def test_golden_parameter_counts(depth: int, residual: bool) -> None:
    n = count_params(build_model(TrainConfig(depth=depth, residual=residual), 3, 10))
    # The paper gives two significant figures (three for 19.4M).
    assert round(n / 1e6, 2 if depth < 100 else 1) == PAPER_PARAMS_M[depth]


@pytest.mark.parametrize("depth", list(range(8, 111, 6)))
@pytest.mark.parametrize("shape,classes", [((1, 8, 8), 10), ((3, 32, 32), 10), ((3, 16, 16), 7)])
def test_forward_shapes(depth: int, shape: tuple, classes: int) -> None:
    model = build_model(TrainConfig(depth=depth), shape[0], classes).eval()
    with torch.no_grad():
        assert model(torch.randn(2, *shape)).shape == (2, classes)


def test_stage_maps_are_32_16_8_for_cifar() -> None:
    model = build_model(TrainConfig(depth=20), 3, 10)
    sizes = []
    hooks = [b.register_forward_hook(lambda m, i, o: sizes.append(o.shape[1:])) for b in model.blocks]
    model(torch.randn(2, 3, 32, 32))
    for h in hooks:
        h.remove()
    assert sizes[0] == (16, 32, 32) and sizes[3] == (32, 16, 16) and sizes[-1] == (64, 8, 8)


@pytest.mark.parametrize("block", ["post", "pre"])
@pytest.mark.parametrize("norm", ["bn", "none"])
def test_plain_and_residual_have_equal_parameters(block: str, norm: str) -> None:
    counts = {r: count_params(build_model(TrainConfig(depth=32, residual=r, block=block, norm=norm), 3, 10))
              for r in (True, False)}
    assert counts[True] == counts[False]


def test_shortcut_b_adds_projections_only_where_shape_changes() -> None:
    a = count_params(build_model(TrainConfig(depth=20, shortcut="A"), 3, 10))
    b = count_params(build_model(TrainConfig(depth=20, shortcut="B"), 3, 10))
    # two projections: 16->32 and 32->64 (1x1 conv + BN scale and shift)
    assert b - a == (16 * 32 + 2 * 32) + (32 * 64 + 2 * 64)


def test_plain_net_ignores_its_input_shortcut() -> None:
    """Without residuals, zeroing every branch must zero the output of each block."""
    cfg = TrainConfig(depth=8, residual=False, init="zero_gamma")
    model = build_model(cfg, 3, 10).eval()
    out = model.blocks(model.stem(torch.randn(2, 3, 8, 8)))
    assert torch.count_nonzero(out) == 0


def test_width_multiplier_scales_channels() -> None:
    model = build_model(TrainConfig(depth=8, width=0.5), 3, 10)
    assert model.fc.in_features == 32


# The model table: every block style x shortcut option x normalisation, residual and plain.
TABLE = [dict(block=b, shortcut=s, norm=n, residual=r)
         for b in ("post", "pre") for s in ("A", "B") for n in ("bn", "none") for r in (True, False)]


@pytest.mark.parametrize("kw", TABLE, ids=lambda kw: "-".join(str(v) for v in kw.values()))
def test_every_combination_trains_a_step(kw: dict) -> None:
    """Builds, runs forward and backward on a tiny batch, and gives a finite, nonzero grad to every parameter."""
    torch.manual_seed(0)
    model = build_model(TrainConfig(depth=8, width=0.5, **kw), 3, 10).train()
    out = model(torch.randn(4, 3, 8, 8))
    assert out.shape == (4, 10)
    torch.nn.functional.cross_entropy(out, torch.tensor([0, 1, 2, 3])).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    has_projection = any(isinstance(m, torch.nn.Conv2d) and m.kernel_size == (1, 1) for m in model.modules())
    assert has_projection == (kw["residual"] and kw["shortcut"] == "B")


@pytest.mark.parametrize("activation", ["leaky_relu", "tanh", "tat"])
@pytest.mark.parametrize("block", ["post", "pre"])
def test_activation_adds_no_parameters(activation: str, block: str) -> None:
    counts = [count_params(build_model(TrainConfig(depth=32, block=block, activation=a), 3, 10))
              for a in ("relu", activation)]
    state = build_model(TrainConfig(depth=32, block=block, activation=activation), 3, 10).state_dict()
    assert counts[0] == counts[1] and set(state) == set(build_model(TrainConfig(depth=32, block=block)).state_dict())
