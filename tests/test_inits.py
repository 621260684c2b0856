"""Each initialization's signature, and the error for an unknown name."""

from __future__ import annotations

import pytest
import torch

from resnet_core import INITS, ConfigError, TrainConfig, build_model
from resnet_core.inits import activation_gain, apply_init
from resnet_core.model import BasicBlock


def _model(init: str, **kw):
    torch.manual_seed(0)
    kw.setdefault("norm", "none" if init == "fixup" else "bn")
    return build_model(TrainConfig(depth=20, init=init, **kw), 3, 10)


def _blocks(model):
    return [m for m in model.modules() if isinstance(m, BasicBlock)]


@pytest.mark.parametrize("init", list(INITS))
def test_every_init_gives_a_finite_forward(init: str) -> None:
    out = _model(init)(torch.randn(4, 3, 32, 32))
    assert torch.isfinite(out).all()


def test_kaiming_is_he_normal_fan_out() -> None:
    w = _model("kaiming").blocks[5].conv1.weight
    fan_out = w.shape[0] * 9
    assert w.std().item() == pytest.approx((2 / fan_out) ** 0.5, rel=0.05)


def test_xavier_is_glorot_uniform() -> None:
    w = _model("xavier").blocks[5].conv1.weight
    bound = (6 / (2 * w.shape[0] * 9)) ** 0.5
    assert w.abs().max().item() <= bound and w.abs().max().item() > 0.9 * bound


def test_orthogonal_rows_are_orthogonal() -> None:
    w = _model("orthogonal").blocks[5].conv1.weight.flatten(1)  # 32 x 288: orthonormal rows x gain
    gram = w @ w.T / 2.0
    assert torch.allclose(gram, torch.eye(w.shape[0]), atol=1e-4)


def test_delta_orthogonal_has_only_an_orthogonal_centre_tap() -> None:
    for b in _blocks(_model("delta_orthogonal")):
        w = b.conv2.weight
        mask = torch.ones_like(w, dtype=torch.bool)
        mask[:, :, 1, 1] = False
        assert torch.count_nonzero(w[mask]) == 0
        centre = w[:, :, 1, 1]
        assert torch.allclose(centre @ centre.T / 2.0, torch.eye(centre.shape[0]), atol=1e-4)


def test_fixup_zeroes_branch_ends_and_classifier_and_rescales() -> None:
    fix, ref = _model("fixup"), _model("kaiming", norm="none")
    blocks = _blocks(fix)
    for b in blocks:
        assert torch.count_nonzero(b.conv2.weight) == 0
        assert b.scale.item() == 1 and b.bias1a.item() == 0
    assert torch.count_nonzero(fix.fc.weight) == 0 and torch.count_nonzero(fix.fc.bias) == 0
    ratio = fix.blocks[3].conv1.weight.std() / ref.blocks[3].conv1.weight.std()
    assert ratio.item() == pytest.approx(len(blocks) ** -0.5, rel=0.1)


@pytest.mark.parametrize("init", ["fixup", "zero_gamma"])
def test_net_starts_with_zero_branches_so_blocks_pass_their_shortcut(init: str) -> None:
    """Each residual branch outputs 0 at init, so each block gives relu(shortcut(x))."""
    model = _model(init).eval()
    inputs = []
    hooks = [b.register_forward_hook(lambda m, i, o: inputs.append((m, i[0], o))) for b in _blocks(model)]
    with torch.no_grad():
        model(torch.randn(2, 3, 8, 8))
        for block, x, out in inputs:
            assert torch.count_nonzero(block.branch(x)) == 0
            assert torch.equal(out, torch.relu(block.shortcut(x)))
    for h in hooks:
        h.remove()
    assert len(inputs) == 9 and any(x.abs().sum() > 0 for _, x, _ in inputs)


def test_a_kaiming_net_has_nonzero_branches() -> None:
    """The check above can fail: without a zeroing init the branches are not zero."""
    model = _model("kaiming").eval()
    block = _blocks(model)[0]
    with torch.no_grad():
        assert torch.count_nonzero(block.branch(model.stem(torch.randn(2, 3, 8, 8)))) > 0


def test_zero_gamma_zeroes_the_last_bn_of_each_block() -> None:
    for block_style in ("post", "pre"):
        for b in _blocks(_model("zero_gamma", block=block_style)):
            assert torch.count_nonzero(b.bn2.weight) == 0
            assert torch.count_nonzero(b.bn1.weight) == b.bn1.weight.numel()


def test_unknown_init_lists_valid_names() -> None:
    with pytest.raises(ConfigError, match="init must be one of kaiming, xavier"):
        apply_init(_model("kaiming"), "lecun")
    with pytest.raises(ConfigError, match="init must be one of"):
        TrainConfig(init="lecun")


GAINS = [("relu", {}, 2 ** 0.5), ("leaky_relu", {"negative_slope": 0.2}, (2 / 1.04) ** 0.5),
         ("tanh", {}, 1.0), ("tat", {}, 1.0)]  # tat's sqrt(2 / (1 + alpha^2)) sits in the activation


@pytest.mark.parametrize("activation,kw,gain", GAINS)
def test_activation_gain_per_activation(activation: str, kw: dict, gain: float) -> None:
    assert activation_gain(TrainConfig(depth=56, activation=activation, **kw)) == pytest.approx(gain)


@pytest.mark.parametrize("activation,kw,gain", GAINS)
def test_delta_orthogonal_centre_tap_is_orthonormal_where_channels_grow(activation: str, kw: dict,
                                                                        gain: float) -> None:
    model = _model("delta_orthogonal", norm="none", activation=activation, **kw)
    grow = model.blocks[3].conv1.weight[:, :, 1, 1]  # the 16 -> 32 conv: orthonormal columns x gain
    assert grow.shape == (32, 16)
    assert torch.allclose(grow.T @ grow, gain ** 2 * torch.eye(16), atol=1e-5)
    square = model.blocks[3].conv2.weight[:, :, 1, 1]
    assert torch.allclose(square @ square.T, gain ** 2 * torch.eye(32), atol=1e-5)


# The second moment a conv with as many inputs as outputs passes on from white-noise input, per unit of gain^2:
# kaiming (fan_out = fan_in here), orthogonal (rows of norm gain) and delta_orthogonal (an orthogonal centre tap)
# pass gain^2; fixup's first branch conv is kaiming scaled by L^(-1/2) (9 branches at depth 20); zero_gamma is kaiming.
WITH_GAIN = {"kaiming": 1.0, "orthogonal": 1.0, "delta_orthogonal": 1.0, "fixup": 1 / 9, "zero_gamma": 1.0}
WITHOUT_GAIN = ("xavier", "default")  # Glorot's gain 1 and PyTorch's own: defined whatever the activation


def _forward_ratio(init: str, activation: str, kw: dict) -> float:
    """E[y^2] / E[x^2] of block 1's first conv (16 -> 16 channels) on white-noise input, at initialization."""
    model = _model(init, norm="bn" if init == "zero_gamma" else "none", activation=activation, **kw)
    conv = model.blocks[1].conv1
    x = torch.randn(256, 16, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = conv(x)[:, :, 1:-1, 1:-1]  # away from the zero padding
    return (y.pow(2).mean() / x.pow(2).mean()).item()


@pytest.mark.parametrize("init", [*WITH_GAIN, *WITHOUT_GAIN])
@pytest.mark.parametrize("activation,kw,gain", GAINS)
def test_each_init_scales_the_forward_signal_for_the_net_s_activation(init: str, activation: str, kw: dict,
                                                                      gain: float) -> None:
    if init == "fixup" and activation == "tanh":
        pytest.skip("fixup refuses tanh (its rescaling assumes a homogeneous activation)")
    ratio = _forward_ratio(init, activation, kw)
    if init in WITH_GAIN:
        assert ratio == pytest.approx(WITH_GAIN[init] * gain ** 2, rel=0.15)
    else:  # the same signal whatever the activation: these inits have no gain to take
        assert ratio == pytest.approx(_forward_ratio(init, "relu", {}), rel=1e-6)


def test_kaiming_for_relu_is_torch_s_kaiming_normal_bit_for_bit() -> None:
    model = _model("kaiming")
    torch.manual_seed(0)
    ref = build_model(TrainConfig(depth=20, init="default"), 3, 10)  # the RNG where _model's init starts
    for m in [m for m in ref.modules() if isinstance(m, torch.nn.Conv2d)]:
        torch.nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    for a, b in zip(model.modules(), ref.modules()):
        if isinstance(a, torch.nn.Conv2d):
            assert torch.equal(a.weight, b.weight)
