"""resnet-sweep: the product's one command line. Heavy imports (Ray, MLflow) happen inside subcommands."""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import typing

from resnet_core.config import CHOICES, FIELDS, ConfigError, TrainConfig, field_help, make_config

from ..env import mlflow_client_defaults


class UserError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> typing.NoReturn:
        # One line naming the problem, not argparse's usage block.
        self.exit(2, f"{self.prog}: error: {message}\n")


def _flag_help(f: dataclasses.Field) -> str:
    """The field's comment in TrainConfig, its allowed values unless the comment names them all, its default."""
    text, choices = field_help()[f.name], CHOICES.get(f.name, ())
    if any(not re.search(rf"\b{c}\b", text) for c in choices):
        text += f" (one of {', '.join(choices)})"
    default = ",".join(map(str, f.default)) if isinstance(f.default, tuple) else f.default
    return f"{text}; default {default}".replace("%", "%%")  # argparse %-formats help


def _config_flags(p: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field, named after it (--batch-size for batch_size)."""
    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        flag, help_text = "--" + f.name.replace("_", "-"), _flag_help(f)
        if hints[f.name] is bool:
            p.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            p.add_argument(flag, dest=f.name, default=None, metavar=f.name.upper(), help=help_text)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Config file values, then flags on top; validated once here."""
    values = {}
    if getattr(args, "config", None):
        import yaml

        with open(args.config) as fh:
            values = yaml.safe_load(fh) or {}
        if not isinstance(values, dict):
            raise ConfigError(f"{args.config} must hold a mapping of config fields")
    values.update({k: v for k, v in vars(args).items() if k in FIELDS and v is not None})
    return make_config(values)


def cmd_train(args: argparse.Namespace) -> int:
    from .console import train_with_progress

    return train_with_progress(config_from_args(args), args.save)


def _csv(text: str, kind=str) -> list:
    try:
        return [kind(v.strip()) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UserError(f"expected a comma-separated list of {kind.__name__}; got {text!r}") from None


def _probe_recipes(args: argparse.Namespace) -> list[dict]:
    """--norm x --activation as config-field recipes; a knob for an activation not asked for is refused."""
    from resnet_core.probe import probe_recipes

    norms, acts = _csv(args.norm), _csv(args.activation)
    for flag, values, field in (("--norm", norms, "norm"), ("--activation", acts, "activation")):
        bad = [v for v in values if v not in CHOICES[field]] or ([] if values else [""])
        if bad:
            raise ConfigError(f"{flag} must be among {', '.join(CHOICES[field])}; got {bad[0]!r}")
    knobs = {}
    for field, owner in (("negative_slope", "leaky_relu"), ("tat_eta", "tat")):
        value = getattr(args, field)
        if value is not None and owner not in acts:
            flag = "--" + field.replace("_", "-")
            raise UserError(f"{flag} applies to activation {owner} only; add {owner} to --activation")
        # Coerced and range-checked as the config field itself, so the error names the field.
        knobs[field] = None if value is None else getattr(make_config(activation=owner, **{field: value}), field)
    return probe_recipes(norms, acts, **knobs)


def cmd_probe(args: argparse.Namespace) -> int:
    from resnet_core.config import check_depth
    from resnet_core.inits import INITS

    from .console import print_probe

    depths, inits = _csv(args.depths, int), _csv(args.inits)
    for d in depths:
        check_depth(d)
    for name in inits:
        if name not in INITS:
            raise ConfigError(f"inits must be among {', '.join(INITS)}; got {name!r}")
    residuals = {"both": [False, True], "on": [True], "off": [False]}[args.residual]
    if args.figure and not args.out:
        raise UserError("--figure needs --out FILE.csv (the figure is drawn from the probe's rows)")
    base = make_config(dataset=args.dataset, seed=args.seed)
    code = print_probe(base, depths, inits, residuals, args.batch_size, args.out, _probe_recipes(args))
    if args.figure:
        from dashboards.report.probe import probe_report

        print(f"figure: {probe_report(args.out, args.figure)}")
    return code


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="resnet-sweep", description="Sweeps that settle whether depth needs residuals.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    t = sub.add_parser("train", help="train one configuration with live progress")
    t.add_argument("--config", help="YAML file of TrainConfig fields (flags override it)")
    t.add_argument("--save", help="write the final checkpoint here")
    _config_flags(t)
    t.set_defaults(func=cmd_train)

    pr = sub.add_parser("probe", help="per-block gradient norms at initialization, without training")
    pr.add_argument("--depths", default="8,20,56,110", help="comma-separated 6n+2 depths")
    pr.add_argument("--inits", default="kaiming", help="comma-separated init names")
    pr.add_argument("--residual", choices=("both", "on", "off"), default="both",
                    help="probe residual nets, plain nets, or both (default both)")
    pr.add_argument("--norm", default="bn", help="comma-separated norms, each probed (bn, none; fixup always "
                    "gets none); default bn")
    pr.add_argument("--activation", default="relu", help="comma-separated activations, each probed "
                    f"({', '.join(CHOICES['activation'])}); default relu")
    pr.add_argument("--negative-slope", help=field_help()["negative_slope"] + "; default 0.01")
    pr.add_argument("--tat-eta", help=field_help()["tat_eta"] + "; default 0.9")
    pr.add_argument("--dataset", default="digits", help=field_help()["dataset"] + "; default digits")
    pr.add_argument("--seed", type=int, default=0, help="seed of the init and the probe batch (default 0)")
    pr.add_argument("--batch-size", type=int, default=128, help="images in the probe batch (default 128)")
    pr.add_argument("--out", help="also write the per-block rows as CSV here")
    pr.add_argument("--figure", metavar="DIR", help="also draw DIR/gradient_flow_probe.png (needs --out)")
    pr.set_defaults(func=cmd_probe)

    from . import commands

    commands.add_sweep_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    mlflow_client_defaults()
    try:
        return args.func(args) or 0
    except (ConfigError, UserError) as e:
        print(f"resnet-sweep {args.command}: error: {e}", file=sys.stderr)
        return 2


