"""The spec room: what a user writes (a YAML sweep spec, recipes), validated into one frozen SweepSpec; no Ray."""

from ..errors import SpecError
from .parse import load_spec, parse_spec, resolve_spec_path, trial_config
from .recipes import RECIPE, RecipeError
from .schema import SPEC_DIR, Confirm, Dimension, Rounds, Scheduler, SweepSpec

__all__ = ["RECIPE", "SPEC_DIR", "Confirm", "Dimension", "RecipeError", "Rounds", "Scheduler", "SpecError", "SweepSpec",
           "load_spec", "parse_spec", "resolve_spec_path", "trial_config"]
