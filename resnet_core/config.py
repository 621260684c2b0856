"""The one training config: a frozen, validated dataclass built once at the edge."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import io
import math
import re
import tokenize
import typing
from dataclasses import dataclass

DATASETS = ("digits", "synthetic", "cifar10")
SHORTCUTS = ("A", "B")
BLOCKS = ("post", "pre")
NORMS = ("bn", "none")
OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("step", "cosine", "onecycle", "constant")
PRECISIONS = ("fp32", "bf16", "auto")
DEVICES = ("auto", "cpu", "cuda")
# inits imports this module (for ConfigError), so the names are listed here, not imported from it;
# tests/test_imports.py checks that they equal INITS.
INIT_NAMES = ("kaiming", "xavier", "orthogonal", "delta_orthogonal", "fixup", "zero_gamma", "default")

# Likewise for activations (it imports torch); tests/test_activations.py checks these equal ACTIVATIONS.
ACTIVATION_NAMES = ("relu", "leaky_relu", "tanh", "tat")
# Activations Fixup accepts: its branch rescaling assumes a positively homogeneous one (tanh is not).
HOMOGENEOUS = ("relu", "leaky_relu", "tat")

# The fields that take one of a few named values, and those values.
CHOICES = {"dataset": DATASETS, "shortcut": SHORTCUTS, "block": BLOCKS, "norm": NORMS, "init": INIT_NAMES,
           "activation": ACTIVATION_NAMES, "optimizer": OPTIMIZERS, "schedule": SCHEDULES, "precision": PRECISIONS,
           "device": DEVICES}


class ConfigError(ValueError):
    """A config field has a value outside what is allowed; the message names the field."""


@dataclass(frozen=True)
class TrainConfig:
    # data
    dataset: str = "digits"           # digits (offline default), synthetic (tests), cifar10 (downloads)
    data_dir: str = "./data"          # where torchvision keeps CIFAR-10
    cifar_val_split: bool = True      # hold out 5k of the 50k CIFAR-10 training images (the paper's 45k/5k)
    augment: bool = True              # paper's 4-px pad + random crop + horizontal flip (flip off for digits)
    # model
    depth: int = 20                   # 6n+2 layers: 20, 32, 44, 56, 110, 1202
    residual: bool = True             # False gives the "plain" net with identical parameters
    shortcut: str = "A"               # A: zero-padded identity (no params); B: 1x1 conv + BN projection
    block: str = "post"               # post: He 2015 basic block; pre: He 2016 pre-activation
    norm: str = "bn"                  # bn or none (fixup needs none)
    activation: str = "relu"          # relu, leaky_relu, tanh, or tat (leaky ReLU with a depth-tailored slope)
    negative_slope: float = 0.01      # leaky_relu only: slope for negative inputs, in [0, 1)
    tat_eta: float = 0.9              # tat only: target net correlation C^L(0) from input correlation 0, in (0, 1)
    init: str = "kaiming"             # key of resnet_core.inits.INITS
    width: float = 1.0                # channel multiplier on 16/32/64
    # optimisation
    epochs: int = 15                  # passes over the training split
    batch_size: int = 128             # images per step
    optimizer: str = "sgd"            # sgd or adamw
    lr: float = 0.1                   # peak learning rate
    momentum: float = 0.9             # SGD momentum (beta1 for AdamW)
    nesterov: bool = False            # Nesterov momentum for SGD
    weight_decay: float = 1e-4        # L2 penalty (decoupled for AdamW)
    schedule: str = "onecycle"        # step, cosine, onecycle or constant
    milestones: tuple[float, ...] = (0.5, 0.75)  # step schedule: fractions of training where lr /= 10
    warmup_epochs: float = 0.0        # linear warm-up length in epochs (step, cosine, constant)
    label_smoothing: float = 0.0      # cross-entropy label smoothing
    grad_clip: float = 0.0            # max global gradient norm; 0 turns clipping off
    # execution
    precision: str = "fp32"           # fp32 (exact, deterministic), bf16 autocast, or auto (bf16 where native)
    channels_last: bool = True        # NHWC memory format (faster convolutions on CPU and GPU)
    compile: bool = False             # torch.compile the model (pays off on long runs only)
    device: str = "auto"              # auto picks cuda when present
    seed: int = 0                     # fixes init, split, batch order and augmentation
    eval_batch_size: int = 1024       # images per evaluation step (no autograd)
    train_subset: int = 0             # use only the first N training images; 0 uses all

    def __post_init__(self) -> None:
        validate(self)

    @property
    def n_blocks(self) -> int:
        """Basic blocks per stage: depth = 6n + 2."""
        return (self.depth - 2) // 6

    @property
    def tat_alpha(self) -> float | None:
        """TAT's solved leaky slope for this depth and tat_eta; None unless activation is tat."""
        if self.activation != "tat":
            return None
        from .activations import path_activations, tat_slope  # imports torch: only when asked for

        return tat_slope(path_activations(self.depth), self.tat_eta)

    @property
    def activation_slope(self) -> float:
        """The leaky slope the activation uses: negative_slope (leaky_relu), tat_alpha (tat), else 0."""
        if self.activation == "tat":
            return self.tat_alpha
        return self.negative_slope if self.activation == "leaky_relu" else 0.0

    def to_dict(self) -> dict:
        """Plain dict of every field (tuples stay tuples)."""
        return dataclasses.asdict(self)


def _choice(name: str, value, allowed) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(map(str, allowed))}; got {value!r}")


def _positive(name: str, value, allow_zero: bool = False) -> None:
    bad = value < 0 if allow_zero else value <= 0
    if bad or (isinstance(value, float) and not math.isfinite(value)):
        op = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{name} must be a finite number {op}; got {value!r}")


def check_depth(depth: int) -> None:
    """Raise unless depth = 6n+2 with n >= 1."""
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 8 or (depth - 2) % 6:
        raise ConfigError(f"depth must be 6n+2 >= 8 (8, 14, 20, 32, 44, 56, 110, 1202, ...); got {depth!r}")


def validate(cfg: TrainConfig) -> None:
    """Check every field; the first bad one raises ConfigError naming it."""
    _choice("dataset", cfg.dataset, DATASETS)
    check_depth(cfg.depth)
    for name, allowed in CHOICES.items():
        _choice(name, getattr(cfg, name), allowed)
    if cfg.init == "fixup" and cfg.norm != "none":
        raise ConfigError("init 'fixup' needs norm 'none' (Fixup replaces normalization); got norm 'bn'")
    if cfg.init == "fixup" and cfg.block != "post":
        raise ConfigError("init 'fixup' needs block 'post' (its scalar biases sit in the post-activation block); got 'pre'")
    if cfg.init == "fixup" and cfg.activation not in HOMOGENEOUS:
        raise ConfigError(f"init 'fixup' needs activation {', '.join(HOMOGENEOUS)} (its rescaling assumes a "
                          f"positively homogeneous one); got {cfg.activation!r}")
    if cfg.init == "zero_gamma" and cfg.norm != "bn":
        raise ConfigError("init 'zero_gamma' needs norm 'bn' (it zeroes BN gammas); got norm 'none'")
    for name in ("epochs", "batch_size", "eval_batch_size"):
        _positive(name, getattr(cfg, name))
    for name in ("lr", "width"):
        _positive(name, getattr(cfg, name))
    for name in ("momentum", "weight_decay", "warmup_epochs", "label_smoothing", "grad_clip", "train_subset"):
        _positive(name, getattr(cfg, name), allow_zero=True)
    if cfg.momentum >= 1:
        raise ConfigError(f"momentum must be in [0, 1); got {cfg.momentum!r}")
    if cfg.label_smoothing >= 1:
        raise ConfigError(f"label_smoothing must be in [0, 1); got {cfg.label_smoothing!r}")
    _check_activation(cfg)
    if not all(0 < m < 1 for m in cfg.milestones) or list(cfg.milestones) != sorted(cfg.milestones):
        raise ConfigError(f"milestones must be increasing fractions in (0, 1); got {cfg.milestones!r}")


def _check_activation(cfg: TrainConfig) -> None:
    """Ranges of negative_slope and tat_eta; each set away from its default only with its activation."""
    if not (math.isfinite(cfg.negative_slope) and 0 <= cfg.negative_slope < 1):
        raise ConfigError(f"negative_slope must be in [0, 1); got {cfg.negative_slope!r}")
    if not (math.isfinite(cfg.tat_eta) and 0 < cfg.tat_eta < 1):
        raise ConfigError(f"tat_eta must be in (0, 1) (a target correlation); got {cfg.tat_eta!r}")
    # A knob the activation ignores would log two names for one net and split identical trials in a sweep.
    for name, owner in (("negative_slope", "leaky_relu"), ("tat_eta", "tat")):
        if cfg.activation != owner and getattr(cfg, name) != FIELDS[name].default:
            raise ConfigError(f"{name} applies to activation '{owner}' only; got {name} "
                              f"{getattr(cfg, name)!r} with activation {cfg.activation!r}")


FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def _coerce(name: str, value):
    """Turn a value from YAML, a CLI flag or an MLflow param string into the field's type."""
    kind = typing.get_type_hints(TrainConfig)[name]
    if kind is bool:
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "1", "yes", "on"):
            return True
        if str(value).lower() in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"{name} must be true or false; got {value!r}")
    if kind is int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be an integer; got {value!r}") from None
    if kind is float:
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a number; got {value!r}") from None
    if kind == tuple[float, ...]:
        if isinstance(value, str):
            value = [v for v in value.strip("()[] ").split(",") if v.strip()]
        try:
            return tuple(float(v) for v in value)
        except (TypeError, ValueError):
            raise ConfigError(f"{name} must be a list of numbers; got {value!r}") from None
    return str(value)


@functools.cache
def field_help() -> dict[str, str]:
    """Each TrainConfig field's trailing source comment, the one home of its description (CLI help reads it)."""
    helps = {}
    source = inspect.getsource(TrainConfig)
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        name = re.match(r"\s+(\w+)\s*:", tok.line) if tok.type == tokenize.COMMENT else None
        if name and name.group(1) in FIELDS:  # a trailing comment on a field's line, not a section header
            helps[name.group(1)] = tok.string.lstrip("#").strip()
    return helps


def make_config(values: dict | None = None, **overrides) -> TrainConfig:
    """Build a validated TrainConfig from loose values; unknown keys are rejected by name."""
    merged = {**(values or {}), **overrides}
    unknown = sorted(set(merged) - set(FIELDS))
    if unknown:
        raise ConfigError(f"unknown config field {unknown[0]!r}; allowed: {', '.join(FIELDS)}")
    return TrainConfig(**{k: _coerce(k, v) for k, v in merged.items()})
