"""What a sweep spec is: the frozen SweepSpec and its parts, and the names each field allows (no Ray here).

sweeps.spec.parse validates a YAML mapping into one of these."""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field

from resnet_core.config import TrainConfig

SEARCHES = ("optuna", "random", "grid", "quasirandom")
SCHEDULERS = ("asha", "none")
MODES = ("max", "min")
DISTRIBUTIONS = ("choice", "grid", "uniform", "loguniform")
PER_ARM = 4  # a sampled confirm sweep's default search configurations per arm
SPEC_DIR = os.path.join(os.path.dirname(__file__), "specs")


@dataclass(frozen=True)
class Dimension:
    kind: str                      # one of DISTRIBUTIONS
    values: tuple                  # the choices, or (low, high) for a range


@dataclass(frozen=True)
class Scheduler:
    kind: str = "asha"             # asha or none
    grace_period: int = 2          # epochs every trial gets before ASHA may stop it
    reduction_factor: float = 3.0  # ASHA keeps 1/reduction_factor of trials at each rung


@dataclass(frozen=True)
class Confirm:
    seeds: int = 3                                 # fresh seeds each picked arm configuration is retrained with
    factors: tuple[str, ...] = ("depth", "residual")  # dimensions under study; other searched fields are nuisance
    reference: tuple | None = None                 # (factor, value) every other value is compared with, e.g. (recipe, resnet)


@dataclass(frozen=True)
class Rounds:
    """Search rounds of a confirm sweep: after each, every (arm, budget) is checked for adequate tuning
    (sweeps.search.adequacy); the ones that are not get another round of per_arm configurations."""
    max_rounds: int = 3                  # rounds at most (1: one round, checked and reported, never extended)
    time_s: float | None = None          # start no new round after this many seconds of search
    tolerance_pp: float = 1.0            # expected-best gain (pp of the metric) from n/2 to n configurations: rising
    widen: bool = True                   # widen a range whose best sits at an open edge
    limits: dict = field(default_factory=dict)  # dimension -> (low, high): hard limits widening stays within


@dataclass(frozen=True)
class SweepSpec:
    name: str                                      # experiment name in MLflow and Tune's folder name
    train: dict                                    # fixed TrainConfig fields (dataset included)
    search_space: dict[str, Dimension]             # TrainConfig field -> distribution
    search: str = "optuna"                         # optuna (TPE), random or grid
    storage: str | None = None                     # Optuna storage URL without a password (sqlite:///optuna.db)
    scheduler: Scheduler = field(default_factory=Scheduler)
    num_samples: int = 8                           # sampled configurations x `seeds` (grid: repeats, default 1); not with confirm
    per_arm: int = 0                               # confirm sweeps: search configurations each arm gets (x `seeds`), 0 without
    max_concurrent_trials: int = 2                 # trials running at once
    seeds: int = 1                                 # repeats of each configuration with seeds 0..k-1 (error bars)
    seed: int = 0                                  # seeds the search algorithm
    resources_per_trial: dict = field(default_factory=lambda: {"cpu": 1, "gpu": 0})  # fractional GPUs allowed
    metric: str = "val/acc"                        # the metric the search and scheduler optimise
    mode: str = "max"                              # max or min
    time_budget_s: float | None = None             # stop the whole sweep after this many seconds
    max_failures: int = 2                          # retries of a failed trial, from its last checkpoint
    checkpoint_every: int = 1                      # epochs between trial checkpoints (and one at the end)
    confirm: Confirm | None = None                 # retrain each arm's best config with fresh seeds, or no stage
    recipes: dict = field(default_factory=dict)    # recipe name -> config fields; searched as the `recipe` dimension
    budgets: tuple[int, ...] = ()                  # training budgets (epochs), each its own arm; () = train.epochs only
    rounds: Rounds | None = None                   # search rounds with adequacy checks (confirm sweeps), or one round
    source: str = ""                               # the spec's YAML text, logged with the parent run

    @property
    def epochs(self) -> int:
        return int(self.train.get("epochs", TrainConfig().epochs))

    @property
    def factors(self) -> tuple[str, ...]:
        """What names an arm: the confirm factors, and `epochs` when the spec names several training budgets."""
        if self.confirm is None:
            return ()
        return self.confirm.factors + (("epochs",) if len(self.budgets) > 1 else ())

    @property
    def total_trials(self) -> int:
        """Search trials of the first round: per_arm x seeds per arm (confirm), a grid's size (x seeds), or
        num_samples x seeds. A confirm sweep with rounds may add rounds for the arms not yet adequately tuned."""
        if self.confirm is not None:
            return self.arms * self.per_arm * self.seeds
        if self.search == "grid":
            return math.prod(len(d.values) for d in self.search_space.values()) * self.seeds * self.num_samples
        return self.num_samples * self.seeds

    @property
    def arms(self) -> int:
        """Combinations of the confirm factors' values (0 without a confirm stage)."""
        if self.confirm is None:
            return 0
        return math.prod(len(self.search_space[f].values) for f in self.confirm.factors) * max(1, len(self.budgets))

    @property
    def nuisance(self) -> dict[str, Dimension]:
        """The searched dimensions that are not confirm factors: what each arm tunes on its own."""
        factors = self.confirm.factors if self.confirm else ()
        return {name: dim for name, dim in self.search_space.items() if name not in factors}


TOP_KEYS = {f.name for f in dataclasses.fields(SweepSpec)} - {"source"} | {"dataset"}
