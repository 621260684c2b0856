"""Searchers: a sweep's Optuna search, and the blocked search of a confirm sweep, every arm tuned on its own.

`ArmSearcher` hands Tune the trials of all arms round by round (`sweeps.search.arms.search_slots`). Each arm's
nuisance values (init, lr, ...) come from its own sampler: one Optuna study per arm (TPE or random, all in
the sweep's study storage), or the arm's grid points; only that arm's results ever reach it. `PerArmASHA`
keeps one ASHA per arm, so a trial is compared only with trials of its own arm: a plain net is never
stopped for being worse than a residual one. Tune saves the searcher with the experiment (every 2 s), so
a killed sweep resumes with each arm's sampler where it was.
"""

from __future__ import annotations

import math
import pickle

from ray.tune.search import Searcher

from ..spec import SweepSpec
from ..trial.reports import TRIAL_INDEX
from .arms import arm_label, arms, nuisance_points, search_slots
from .samplers import make_sampler
from .space import tune_domain


def _optuna_arm(spec: SweepSpec, storage, study_name: str | None):
    """One arm's OptunaSearch over the nuisance dimensions, seeded with the sweep's seed.

    Every arm's sampler starts from the same seed, so with the same budget every arm is offered the same
    first candidates (a paired design); from then on each arm's TPE follows its own results only."""
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # not one "new study created" line per arm
    space = OptunaSearch.convert_search_space({n: tune_domain(d) for n, d in spec.nuisance.items()})
    return OptunaSearch(space=space, metric=spec.metric, mode=spec.mode, sampler=make_sampler(spec), storage=storage,
                        study_name=study_name)


class ArmSearcher(Searcher):
    """Tune searcher of a confirm sweep: per_arm configurations (x seeds) for every arm, each from its own sampler."""

    def __init__(self, spec: SweepSpec, storage=None, study_name: str | None = None):
        super().__init__(metric=spec.metric, mode=spec.mode)
        self._spec, self._arms = spec, arms(spec)
        self._slots = search_slots(len(self._arms), spec.per_arm, spec.seeds)
        self._next = 0
        self._groups: dict[tuple[int, int], dict] = {}  # (arm, configuration) -> params, primary trial, scores
        self._trial_group: dict[str, tuple[int, int]] = {}
        self._grid = nuisance_points(spec) if spec.search == "grid" else None
        sampled = spec.search != "grid" and spec.nuisance
        self._samplers = [_optuna_arm(spec, storage, f"{study_name}/{arm_label(arm)}" if storage else None)
                          if sampled else None for arm in self._arms]

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        """The spec fixes metric and mode (TuneConfig gets the same); the space comes from the spec, not Tune."""
        return True

    def _ask(self, arm: int, k: int, trial_id: str) -> dict:
        if self._grid is not None:
            return dict(self._grid[k])
        sampler = self._samplers[arm]
        return dict(sampler.suggest(trial_id)) if sampler is not None else {}

    def suggest(self, trial_id: str) -> dict | str:
        if self._next >= len(self._slots):
            return Searcher.FINISHED
        arm, k, seed = self._slots[self._next]
        self._next += 1
        if seed == 0:
            self._groups[(arm, k)] = {"params": self._ask(arm, k, trial_id), "primary": trial_id, "scores": {},
                                      "told": False}
        self._trial_group[trial_id] = (arm, k)
        return {**self._arms[arm], **self._groups[(arm, k)]["params"], TRIAL_INDEX: seed}

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        """Once every seed of a configuration has ended, its arm's sampler is told their mean (or a failure)."""
        key = self._trial_group.get(trial_id)
        if key is None:
            return
        group = self._groups[key]
        group["scores"][trial_id] = None if error or not result else result.get(self.metric)
        if group["told"] or len(group["scores"]) < self._spec.seeds:
            return
        group["told"] = True
        sampler = self._samplers[key[0]]
        if sampler is None:
            return
        values = [v for v in group["scores"].values() if v is not None and math.isfinite(v)]
        if values:
            sampler.on_trial_complete(group["primary"], {self.metric: sum(values) / len(values)})
        else:
            sampler.on_trial_complete(group["primary"], None, error=True)

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as fh:  # the samplers' studies pickle as OptunaSearch.save pickles them
            pickle.dump(self.__dict__, fh)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as fh:
            self.__dict__.update(pickle.load(fh))


def search_alg(spec: SweepSpec, storage_url: str | None = None, study_name: str | None = None):
    """Seeded Optuna TPE (or Optuna's random sampler), repeated over `seeds`; None for a grid.
    storage_url: the study's database (from --optuna-storage, OPTUNA_STORAGE or the spec), else in memory;
    study_name: its name there (default the spec's name). A confirm sweep searches every arm on its own
    (ArmSearcher: one study per arm, named study_name/ARM), grids included."""
    from ..storage.studies import open_storage

    if spec.confirm is not None:
        storage = open_storage(storage_url) if storage_url and spec.search != "grid" else None
        return ArmSearcher(spec, storage, study_name or spec.name)
    if spec.search == "grid":
        return None
    from ray.tune.search import Repeater
    from ray.tune.search.optuna import OptunaSearch

    storage = open_storage(storage_url) if storage_url else None
    # metric and mode come from TuneConfig, which hands them to the searcher and the scheduler.
    searcher = OptunaSearch(sampler=make_sampler(spec), storage=storage,
                            study_name=(study_name or spec.name) if storage else None)
    if spec.seeds > 1:  # Optuna is told the mean over the seeds of each configuration
        searcher = Repeater(searcher, repeat=spec.seeds, set_index=True)
    return searcher
