"""Searchers: a sweep's Optuna search, and the blocked search of a confirm sweep, every arm tuned on its own.

`ArmSearcher` hands Tune the trials of all arms round by round (`sweeps.search.arms.search_slots`). Each arm's
nuisance values (init, lr, ...) come from its own sampler (`sweeps.search.arm_study.ArmStudy`: one Optuna study
per arm and round, quasi-random first, all in the sweep's study storage), or the arm's grid points; only that
arm's results ever reach it. `PerArmASHA` keeps one ASHA per arm, so a trial is compared only with trials of its
own arm: a plain net is never stopped for being worse than a residual one.

Rounds: once every configuration of a round has ended, each arm of the round is checked
(`sweeps.search.adequacy.assess`): the arms not adequately tuned (best at an open edge of a range, which is then
widened, or a tuning curve still rising) get another round of per_arm configurations, all of them alike, until
every arm is adequate or the cap (rounds, time) is reached. The record goes to `<sweep>/adequacy-roundN.json` after
each round. Tune saves the searcher with the experiment (every 2 s), so a killed sweep resumes mid-round with each
arm's sampler, ranges and round where they were.
"""

from __future__ import annotations

import json
import math
import pickle
import re
import time

from ray.tune.search import Searcher

from ..spec import SweepSpec
from ..trial.reports import SEARCH_ROUND, TRIAL_INDEX, trial_epochs, unpack
from .adequacy import RANGES, assess
from .arm_study import ArmStudy
from .arms import arm_label, arms, nuisance_points, search_slots
from .samplers import make_sampler

# One file per round, written once when the round has been checked: Tune syncs its experiment folder back from the
# driver's staging copy, which after a resume holds the files as they were at the restore; a file of its own per
# round can only be put back as it was (the same round's record), never an older round over a newer one.
ADEQUACY_FILE = "adequacy-round{}.json"


class ArmSearcher(Searcher):
    """Tune searcher of a confirm sweep: rounds of per_arm configurations (x seeds) for the arms that need them."""

    _rounds = None  # a searcher pickled before rounds existed has one round and no adequacy check
    _round, _stopped = 1, ""

    def __init__(self, spec: SweepSpec, storage=None, study_name: str | None = None, path: str | None = None):
        super().__init__(metric=spec.metric, mode=spec.mode)
        self._spec, self._arms, self._path = spec, arms(spec), path
        self._rounds, self._round, self._started = spec.rounds, 1, time.time()
        self._ranges = [{n: tuple(d.values) for n, d in spec.nuisance.items() if d.kind in RANGES} for _ in self._arms]
        self._records: list[list[dict]] = [[] for _ in self._arms]
        self._count = [0] * len(self._arms)  # configurations each arm has had
        self._next, self._stopped = 0, ""
        self._groups: dict[tuple[int, int], dict] = {}  # (arm, configuration) -> params, primary trial, scores
        self._trial_group: dict[str, tuple[int, int]] = {}
        self._grid = nuisance_points(spec) if spec.search == "grid" else None
        sampled = spec.search != "grid" and spec.nuisance
        self._samplers = [ArmStudy(spec, storage, f"{study_name}/{arm_label(arm)}" if storage else None)
                          if sampled else None for arm in self._arms]
        self._begin(list(range(len(self._arms))))

    def _begin(self, active: list[int]) -> None:
        """Lay out the round's trials: configuration k of every active arm, each with all its seeds, before k + 1."""
        spec = self._spec
        for a in active:
            if self._samplers[a] is not None:
                self._samplers[a].start_round(self._round, self._ranges[a], self._history(a))
        self._slots = search_slots(active, spec.per_arm, spec.seeds, self._count)
        for a in active:
            self._count[a] += spec.per_arm
        self._next = 0

    def _history(self, arm: int) -> list[dict]:
        """The arm's configurations so far: params, mean value over its seeds (None: none scored), diverged, pruned
        (stopped by the scheduler before its budget)."""
        out = []
        for (a, _), g in sorted(self._groups.items()):
            if a != arm or not g["told"]:
                continue
            values = [v for v in g["scores"].values() if v is not None and math.isfinite(v)]
            out.append({"params": g["params"], "value": sum(values) / len(values) if values and not g["diverged"]
                        else None, "diverged": g["diverged"], "pruned": g.get("pruned", False)})
        return out

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        """The spec fixes metric and mode (TuneConfig gets the same); the space comes from the spec, not Tune."""
        return True

    def _ask(self, arm: int, k: int, trial_id: str) -> dict:
        if self._grid is not None:
            return dict(self._grid[k])
        sampler = self._samplers[arm]
        return dict(sampler.suggest(trial_id)) if sampler is not None else {}

    def suggest(self, trial_id: str) -> dict | str | None:
        if self._next >= len(self._slots):
            if self._rounds is None or self._stopped:
                return Searcher.FINISHED
            if not all(g["told"] for g in self._groups.values()):
                return None  # the round is still running: ask again later
            if not self._next_round():
                return Searcher.FINISHED
        arm, k, seed = self._slots[self._next]
        self._next += 1
        if seed == 0:
            self._groups[(arm, k)] = {"params": self._ask(arm, k, trial_id), "primary": trial_id, "scores": {},
                                      "told": False, "diverged": False}
        self._trial_group[trial_id] = (arm, k)
        config = {**self._arms[arm], **self._groups[(arm, k)]["params"], TRIAL_INDEX: seed}
        return config if self._rounds is None else {**config, SEARCH_ROUND: self._round}

    def _next_round(self) -> bool:
        """Check the round's arms, write the record; start the next round if an arm needs it. False: no more."""
        spec, rounds = self._spec, self._rounds
        active = sorted({a for a, _, _ in self._slots})
        again = []
        for a in active:
            dims = {n: (spec.nuisance[n].kind, spec.nuisance[n].values, self._ranges[a][n]) for n in self._ranges[a]}
            record = assess(self._history(a), dims, rounds, spec.mode, spec.metric)
            record["round"] = self._round
            self._records[a].append(record)
            self._ranges[a] = record.pop("ranges")
            record["final_ranges"] = dict(self._ranges[a])
            if not record["adequate"]:
                again.append(a)
        elapsed = time.time() - self._started
        if not again:
            self._stopped = "every arm adequate"
        elif self._round >= rounds.max_rounds:
            self._stopped = f"round cap ({rounds.max_rounds})"
        elif rounds.time_s is not None and elapsed >= rounds.time_s:
            self._stopped = f"time cap ({rounds.time_s:g} s)"
        self._write()
        if self._stopped:
            return False
        self._round += 1
        self._begin(again)
        return True

    def adequacy(self) -> dict:
        """The adequacy record: per arm its last check, trials and rounds spent, start and final ranges."""
        spec, out = self._spec, []
        for a, arm in enumerate(self._arms):
            if not self._records[a]:
                continue
            last = dict(self._records[a][-1])
            ranges = {n: {"kind": spec.nuisance[n].kind, "start": list(spec.nuisance[n].values),
                          "final": list(last.pop("final_ranges")[n])} for n in self._ranges[a]}
            last.pop("round", None)
            out.append({"arm": dict(arm), "label": arm_label(arm), "trials": last["configurations"] * spec.seeds,
                        "rounds": len(self._records[a]), "ranges": ranges, **last})
        return {"tolerance_pp": self._rounds.tolerance_pp, "max_rounds": self._rounds.max_rounds,
                "rounds": self._round, "stopped": self._stopped, "arms": out}

    def _write(self) -> None:
        """The record to <sweep>/adequacy-roundN.json (local or s3://), for plan_confirm to put on the parent run."""
        if not self._path:
            return
        from ..storage.paths import filesystem

        fs, folder = filesystem(self._path)
        fs.create_dir(folder, recursive=True)
        with fs.open_output_stream(f"{folder.rstrip('/')}/{ADEQUACY_FILE.format(self._round)}") as out:
            out.write(json.dumps(self.adequacy(), indent=1, default=str).encode())

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        """Once every seed of a configuration has ended, its arm's sampler is told their mean (or a failure)."""
        key = self._trial_group.get(trial_id)
        if key is None:
            return
        group, spec = self._groups[key], self._spec
        group["scores"][trial_id] = None if error or not result else result.get(self.metric)
        if not error and result and unpack(result).get("train/diverged"):
            group["diverged"] = True
        elif not error and result and int(result.get("epoch", 0)) < trial_epochs(self._arms[key[0]], spec.epochs):
            group["pruned"] = True  # stopped by ASHA before its budget: its final score is unknown
        if group["told"] or len(group["scores"]) < self._spec.seeds:
            return
        group["told"] = True
        sampler = self._samplers[key[0]]
        if sampler is None:
            return
        values = [v for v in group["scores"].values() if v is not None and math.isfinite(v)]
        if values and not group.get("diverged"):
            sampler.on_trial_complete(group["primary"], {self.metric: sum(values) / len(values)})
        else:
            sampler.on_trial_complete(group["primary"], None, error=True)

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as fh:  # the samplers' studies pickle with their storage
            pickle.dump(self.__dict__, fh)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as fh:
            self.__dict__.update(pickle.load(fh))


def read_adequacy(path: str) -> dict | None:
    """The adequacy record an ArmSearcher wrote in the sweep's folder after its last round, or None (no rounds)."""
    import pyarrow.fs

    from ..storage.paths import filesystem

    fs, folder = filesystem(path)
    listed = fs.get_file_info(pyarrow.fs.FileSelector(folder, allow_not_found=True))
    rounds = [int(m.group(1)) for i in listed if (m := re.fullmatch(ADEQUACY_FILE.format(r"(\d+)"), i.base_name))]
    if not rounds:
        return None
    with fs.open_input_stream(f"{folder.rstrip('/')}/{ADEQUACY_FILE.format(max(rounds))}") as fh:
        return json.loads(fh.read().decode())


def search_alg(spec: SweepSpec, storage_url: str | None = None, study_name: str | None = None,
               path: str | None = None):
    """Seeded Optuna TPE (or Optuna's random sampler), repeated over `seeds`; None for a grid.
    storage_url: the study's database (from --optuna-storage, OPTUNA_STORAGE or the spec), else in memory;
    study_name: its name there (default the spec's name). A confirm sweep searches every arm on its own
    (ArmSearcher: one study per arm, named study_name/ARM), grids included; path: the sweep's folder, where the
    adequacy record of its rounds is written."""
    from ..storage.studies import open_storage

    if spec.confirm is not None:
        storage = open_storage(storage_url) if storage_url and spec.search != "grid" else None
        return ArmSearcher(spec, storage, study_name or spec.name, path)
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
