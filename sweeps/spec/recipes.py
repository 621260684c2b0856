"""Recipes: named bundles of config fields (e.g. plain + no BN + TAT + delta-orthogonal), one factor of a sweep.

A spec's `recipes` maps a short name to TrainConfig fields. The sweep searches a `recipe` dimension over
those names like any other choice; a trial's config is the spec's fixed fields, then its recipe's fields,
then its other sampled values. Pure: no Ray, MLflow or Optuna here.
"""

from __future__ import annotations

from resnet_core.config import FIELDS, ConfigError, make_config

RECIPE = "recipe"  # the Tune parameter, MLflow param and dashboard column that names a trial's recipe


class RecipeError(ConfigError):
    """A recipe is malformed; the message names the field (sweeps.spec turns it into a SpecError)."""


def _name_ok(name) -> bool:
    return isinstance(name, str) and bool(name) and all(c.isalnum() or c in "-_" for c in name)


def parse_recipes(raw, train: dict) -> dict[str, dict]:
    """The spec's `recipes` mapping, each recipe checked field by field and as a whole config with `train`."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not raw:
        raise RecipeError(f"recipes: must map recipe names to config fields; got {raw!r}")
    out = {}
    for name, fields in raw.items():
        where = f"recipes.{name}"
        if not _name_ok(name):
            raise RecipeError(f"recipes: a recipe name is letters, digits, '-' or '_'; got {name!r}")
        if not isinstance(fields, dict) or not fields:
            raise RecipeError(f"{where}: must map config fields to values; got {fields!r}")
        for key in fields:
            if key not in FIELDS or key == "seed":
                allowed = ", ".join(f for f in FIELDS if f != "seed")
                raise RecipeError(f"{where}.{key}: not a config field; allowed: {allowed}")
            if key in train:
                raise RecipeError(f"{where}.{key}: is also fixed under train; keep it in one place")
        try:
            make_config({**train, **fields})
        except ConfigError as e:
            raise RecipeError(f"{where}: {e}") from None
        out[name] = dict(fields)
    return out


def recipe_fields(recipes: dict[str, dict]) -> set[str]:
    """Every config field some recipe sets: none of them may also be searched."""
    return {k for fields in recipes.values() for k in fields}


def expand(params: dict, recipes: dict[str, dict]) -> dict:
    """A trial's sampled params as config fields: its recipe's fields in place of the recipe's name."""
    rest = {k: v for k, v in params.items() if k != RECIPE}
    if RECIPE not in params:
        return rest
    return {**recipes[params[RECIPE]], **rest}
