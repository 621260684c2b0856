"""Sweep specs: a YAML file validated at the edge into one frozen SweepSpec; the first bad field raises SpecError
naming it and what is allowed."""

from __future__ import annotations

import math
import os

import yaml

from resnet_core.config import FIELDS, ConfigError, TrainConfig, make_config
from resnet_core.metric_names import EPOCH_METRICS

from ..env import OPTUNA_STORAGE_ENV, has_credentials, redact
from ..errors import SpecError
from .recipes import RECIPE, RecipeError, expand, parse_recipes, recipe_fields
from .schema import (DISTRIBUTIONS, MODES, PER_ARM, SCHEDULERS, SEARCHES, SPEC_DIR, TOP_KEYS, Confirm, Dimension,
                     Scheduler, SweepSpec)
from .tuning import parse_budgets, parse_rounds


def _fail(where: str, message: str) -> SpecError:
    return SpecError(f"{where}: {message}")


def _int(where: str, value, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise _fail(where, f"must be an integer >= {low}; got {value!r}")
    return value


def _check_value(train: dict, name: str, value, where: str) -> None:
    """Validate one value of a swept field by building the config it would give."""
    try:
        make_config({**train, name: value})
    except ConfigError as e:
        raise _fail(where, str(e)) from None


def parse_dimension(train: dict, name: str, raw, search: str) -> Dimension:
    """One search_space entry, e.g. {choice: [20, 56]} or {loguniform: [0.01, 0.5]}."""
    where = f"search_space.{name}"
    if name not in FIELDS or name == "seed":
        allowed = ", ".join(f for f in FIELDS if f != "seed")
        raise _fail(where, f"not a config field (seeds come from `seeds`); allowed: {allowed}")
    if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in DISTRIBUTIONS:
        raise _fail(where, f"must be one of {{{', '.join(d + ': ...' for d in DISTRIBUTIONS)}}}; got {raw!r}")
    kind, values = next(iter(raw.items()))
    if not isinstance(values, list) or not values:
        raise _fail(where, f"{kind} needs a non-empty list; got {values!r}")
    if kind in ("uniform", "loguniform"):
        if len(values) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise _fail(where, f"{kind} needs [low, high] numbers; got {values!r}")
        low, high = (float(v) for v in values)
        if not low < high or (kind == "loguniform" and low <= 0):
            raise _fail(where, f"{kind} needs {'0 < ' if kind == 'loguniform' else ''}low < high; got {values!r}")
        values = [low, high]
    if kind == "grid" and search != "grid":
        raise _fail(where, f"grid values need `search: grid` (optuna and random sample); use choice; got {kind}")
    if search == "grid" and kind in ("uniform", "loguniform"):
        raise _fail(where, f"`search: grid` needs choice or grid values; got {kind}")
    for v in values:
        _check_value(train, name, v, where)
    return Dimension(kind, tuple(values))


def parse_reference(raw, factors: list[str], space: dict[str, Dimension]) -> tuple | None:
    """confirm.reference, e.g. {recipe: resnet}: one factor and one of its values, or None."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or len(raw) != 1:
        raise _fail("confirm.reference", f"must name one factor and its reference value, e.g. {{recipe: resnet}}; "
                                         f"got {raw!r}")
    name, value = next(iter(raw.items()))
    if name not in factors:
        raise _fail("confirm.reference", f"{name!r} is not a confirm factor; allowed: {', '.join(factors)}")
    values = space[name].values
    if value not in values or isinstance(value, bool) != any(isinstance(v, bool) for v in values):
        raise _fail(f"confirm.reference.{name}", f"{value!r} is not among the factor's values; allowed: "
                                                 f"{', '.join(map(str, values))}")
    return name, value


def recipe_dimension(raw, recipes: dict[str, dict], search: str) -> Dimension:
    """search_space.recipe: a choice (or grid) over the spec's recipe names; all of them when not given."""
    where = f"search_space.{RECIPE}"
    if not recipes:
        raise _fail(where, "needs `recipes` (named bundles of config fields) in the spec")
    kinds = ("choice", "grid") if search == "grid" else ("choice",)
    if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in kinds:
        raise _fail(where, f"must be {{{next(iter(kinds))}: [recipe names]}}; got {raw!r}")
    kind, values = next(iter(raw.items()))
    if not isinstance(values, list) or not values or len(set(map(str, values))) != len(values):
        raise _fail(where, f"{kind} needs a list of distinct recipe names; got {values!r}")
    for v in values:
        if v not in recipes:
            raise _fail(where, f"{v!r} is not a recipe; allowed: {', '.join(recipes)}")
    return Dimension(kind, tuple(values))


def parse_confirm(raw, space: dict[str, Dimension]) -> Confirm | None:
    """The confirm stage, e.g. {seeds: 3, factors: [depth, residual]}; factors must be searched choices."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _fail("confirm", f"must be a mapping with seeds and factors; got {raw!r}")
    unknown = sorted(set(raw) - {"seeds", "factors", "reference"})
    if unknown:
        raise _fail(f"confirm.{unknown[0]}", "unknown key; allowed: factors, reference, seeds")
    seeds = _int("confirm.seeds", raw.get("seeds", Confirm.seeds), 2)
    factors = raw.get("factors", list(Confirm.factors))
    if not isinstance(factors, list) or not factors or not all(isinstance(f, str) for f in factors):
        raise _fail("confirm.factors", f"must be a non-empty list of searched fields; got {factors!r}")
    for name in factors:
        if name not in space:
            raise _fail("confirm.factors", f"{name!r} is not a searched dimension; allowed: {', '.join(space)}")
        if space[name].kind not in ("choice", "grid"):
            raise _fail("confirm.factors", f"{name!r} is {space[name].kind}; a factor needs choice or grid values")
    if len(set(factors)) != len(factors):
        raise _fail("confirm.factors", f"lists a field twice; got {factors!r}")
    return Confirm(seeds, tuple(factors), parse_reference(raw.get("reference"), factors, space))


def nuisance_grid_size(space: dict[str, Dimension], confirm: Confirm) -> int:
    """Configurations a grid search holds per confirm arm: the product of the nuisance dimensions' values."""
    return math.prod(len(d.values) for name, d in space.items() if name not in confirm.factors)


def parse_budget(data: dict, search: str, space: dict[str, Dimension], confirm: Confirm | None) -> tuple[int, int]:
    """(num_samples, per_arm): a confirm sweep's search budget is per arm, every other sweep's is num_samples."""
    if confirm is None:
        if "per_arm" in data:
            raise _fail("per_arm", "needs a confirm stage (it is the search budget of each confirm arm); "
                                   "without confirm use num_samples")
        return _int("num_samples", data.get("num_samples", 1 if search == "grid" else 8), 1), 0
    if "num_samples" in data:
        raise _fail("num_samples", "a confirm sweep tunes every arm on its own with the same budget: give it as "
                                   "per_arm (search configurations per arm) instead")
    grid = nuisance_grid_size(space, confirm)
    per_arm = data.get("per_arm", grid if search == "grid" else PER_ARM)
    if isinstance(per_arm, bool) or not isinstance(per_arm, int) or per_arm < 1:
        raise _fail("per_arm", f"must be an integer >= 1 (search configurations per arm); got {per_arm!r}")
    if search == "grid" and per_arm > grid:
        raise _fail("per_arm", f"the grid holds {grid} configuration{'s' * (grid != 1)} per arm; got {per_arm}")
    return 1, per_arm


def parse_scheduler(raw) -> Scheduler:
    if isinstance(raw, str) or raw is None:
        raw = {"type": raw or "none"}
    if not isinstance(raw, dict):
        raise _fail("scheduler", f"must be asha, none or a mapping with type; got {raw!r}")
    unknown = set(raw) - {"type", "grace_period", "reduction_factor"}
    if unknown:
        raise _fail(f"scheduler.{sorted(unknown)[0]}", "unknown key; allowed: type, grace_period, reduction_factor")
    kind = raw.get("type", "asha")
    if kind not in SCHEDULERS:
        raise _fail("scheduler.type", f"must be one of {', '.join(SCHEDULERS)}; got {kind!r}")
    grace = _int("scheduler.grace_period", raw.get("grace_period", 2), 1)
    factor = raw.get("reduction_factor", 3.0)
    if not isinstance(factor, (int, float)) or factor <= 1:
        raise _fail("scheduler.reduction_factor", f"must be a number > 1; got {factor!r}")
    return Scheduler(kind, grace, float(factor))


def parse_resources(raw) -> dict:
    if not isinstance(raw, dict) or set(raw) - {"cpu", "gpu"}:
        raise _fail("resources_per_trial", f"must be a mapping with cpu and gpu; got {raw!r}")
    cpu, gpu = raw.get("cpu", 1), raw.get("gpu", 0)
    for key, v in (("cpu", cpu), ("gpu", gpu)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise _fail(f"resources_per_trial.{key}", f"must be a number >= 0; got {v!r}")
    if gpu > 1 and gpu != int(gpu):
        raise _fail("resources_per_trial.gpu", f"a fraction must be below 1 (e.g. 0.25), else whole GPUs; got {gpu}")
    return {"cpu": cpu, "gpu": gpu}


def parse_spec(data: dict, source: str = "") -> SweepSpec:
    """Validate a loaded YAML mapping; the first bad field raises SpecError naming it."""
    if not isinstance(data, dict):
        raise _fail("spec", "must be a YAML mapping")
    unknown = sorted(set(data) - TOP_KEYS)
    if unknown:
        raise _fail(unknown[0], f"unknown key; allowed: {', '.join(sorted(TOP_KEYS))}")
    name = data.get("name")
    if not isinstance(name, str) or not name or not all(c.isalnum() or c in "-_." for c in name):
        raise _fail("name", f"must be a non-empty name of letters, digits, '-', '_' or '.'; got {name!r}")
    train = dict(data.get("train") or {})
    if "dataset" in data:
        train["dataset"] = data["dataset"]
    try:
        make_config(train)
    except ConfigError as e:
        raise _fail("train", str(e)) from None
    search = data.get("search", "optuna")
    if search not in SEARCHES:
        raise _fail("search", f"must be one of {', '.join(SEARCHES)}; got {search!r}")
    raw_space = data.get("search_space")
    if not isinstance(raw_space, dict) or not raw_space:
        raise _fail("search_space", "must map at least one config field to a distribution")
    try:
        recipes = parse_recipes(data.get("recipes"), train)
    except RecipeError as e:
        raise SpecError(str(e)) from None
    space = {k: parse_dimension(train, k, v, search) for k, v in raw_space.items() if k != RECIPE}
    if RECIPE in raw_space or recipes:
        space[RECIPE] = recipe_dimension(raw_space.get(RECIPE, {"choice": list(recipes)}), recipes, search)
    overlap = sorted(set(space) & set(train))
    if overlap:
        raise _fail(f"search_space.{overlap[0]}", "is also fixed under train; keep it in one place")
    overlap = sorted(set(space) & recipe_fields(recipes))
    if overlap:
        raise _fail(f"search_space.{overlap[0]}", "is also set by a recipe; keep it in one place")
    mode = data.get("mode", "max")
    if mode not in MODES:
        raise _fail("mode", f"must be one of {', '.join(MODES)}; got {mode!r}")
    metric = data.get("metric", "val/acc")
    if metric not in EPOCH_METRICS:
        raise _fail("metric", f"must be one the trainer reports every epoch: {', '.join(EPOCH_METRICS)}; "
                              f"got {metric!r}")
    budget = data.get("time_budget_s")
    if budget is not None and (isinstance(budget, bool) or not isinstance(budget, (int, float)) or budget <= 0):
        raise _fail("time_budget_s", f"must be a number of seconds > 0 or null; got {budget!r}")
    storage = data.get("storage")
    if storage is not None and (not isinstance(storage, str) or "://" not in storage):
        raise _fail("storage", f"must be an Optuna storage URL such as postgresql://host/db; got {storage!r}")
    if storage is not None and has_credentials(storage):  # the spec text is logged and saved: never echo it
        raise _fail("storage", f"holds a password ({redact(storage)}); the spec is logged to MLflow and saved "
                               f"with the sweep, so pass the URL with --optuna-storage or {OPTUNA_STORAGE_ENV} instead")
    confirm = parse_confirm(data.get("confirm"), space)
    num_samples, per_arm = parse_budget(data, search, space, confirm)
    budgets = parse_budgets(data.get("budgets"), train, space, confirm)  # sets train.epochs to the largest
    return SweepSpec(
        name=name, train=train, search_space=space, search=search, storage=storage,
        scheduler=parse_scheduler(data.get("scheduler", "asha")), num_samples=num_samples, per_arm=per_arm,
        max_concurrent_trials=_int("max_concurrent_trials", data.get("max_concurrent_trials", 2), 1),
        seeds=_int("seeds", data.get("seeds", 1), 1), seed=_int("seed", data.get("seed", 0)),
        resources_per_trial=parse_resources(data.get("resources_per_trial", {"cpu": 1, "gpu": 0})),
        metric=metric, mode=mode, time_budget_s=budget,
        max_failures=_int("max_failures", data.get("max_failures", 2)),
        checkpoint_every=_int("checkpoint_every", data.get("checkpoint_every", 1), 1),
        confirm=confirm, recipes=recipes, budgets=budgets,
        rounds=parse_rounds(data.get("rounds"), search, space, confirm), source=source)


def resolve_spec_path(name_or_path: str) -> str:
    """A path as given, or the name of a shipped spec (smoke, degradation, he2015_cifar10)."""
    if os.path.exists(name_or_path):
        return name_or_path
    shipped = os.path.join(SPEC_DIR, f"{name_or_path}.yaml")
    if os.path.exists(shipped):
        return shipped
    names = sorted(f[:-5] for f in os.listdir(SPEC_DIR) if f.endswith(".yaml"))
    raise SpecError(f"spec: no file {name_or_path!r} and no shipped spec of that name; shipped: {', '.join(names)}")


def load_spec(name_or_path: str) -> SweepSpec:
    """Read and validate a spec file (or a shipped spec by name)."""
    path = resolve_spec_path(name_or_path)
    with open(path) as fh:
        text = fh.read()
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise SpecError(f"spec: {path} is not valid YAML ({str(e).splitlines()[0]})") from None
    return parse_spec(data, text)


def trial_config(spec: SweepSpec, params: dict) -> TrainConfig:
    """The TrainConfig of one trial: fixed settings plus the sampled params (and its seed)."""
    return make_config({**spec.train, **expand(params, spec.recipes)})
