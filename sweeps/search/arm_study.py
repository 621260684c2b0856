"""One arm's Optuna studies across search rounds: coverage first, then a model of the space.

A round is one Optuna study over that round's ranges (a widened range is a new distribution, which a study's
sampler cannot take mid-study), holding the arm's earlier configurations so that nothing is forgotten. The first
rounds sample quasi-randomly (scrambled Sobol, Optuna's QMCSampler: spread over each range, in log scale for
loguniform), the Deep Learning Tuning Playbook's exploration; TPE takes over once the arm has TPE_AFTER
configurations, enough for it to model anything (`search: quasirandom` stays quasi-random, `random` random).
Every arm's sampler of a round is seeded alike, so arms are offered the same points (a paired design).
"""

from __future__ import annotations

import math

from ..spec import Dimension, SweepSpec
from .samplers import make_sampler

TPE_AFTER = 6  # configurations an arm has before TPE replaces quasi-random search (under `search: optuna`)


def distributions(dims: dict[str, Dimension], ranges: dict[str, tuple]) -> dict:
    """Optuna distributions of the nuisance dimensions, each range as the round has it."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    out = {}
    for name, dim in dims.items():
        if dim.kind in ("uniform", "loguniform"):
            low, high = ranges.get(name, dim.values)
            out[name] = FloatDistribution(float(low), float(high), log=dim.kind == "loguniform")
        else:
            out[name] = CategoricalDistribution(list(dim.values))
    return out


class ArmStudy:
    """The sampler of one arm: suggest(trial_id) and on_trial_complete(trial_id, result, error) as a Tune searcher's,
    over the Optuna study of the current round."""

    def __init__(self, spec: SweepSpec, storage=None, study_name: str | None = None):
        self._spec, self._storage, self._name = spec, storage, study_name
        self._study, self._dists, self._open = None, {}, {}

    def start_round(self, round_no: int, ranges: dict[str, tuple], history: list[dict]) -> None:
        """A new study over `ranges`, told the arm's earlier configurations (params, value or None for a failure)."""
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        spec = self._spec
        self._dists = distributions(spec.nuisance, ranges)
        if spec.search == "optuna" and len(history) >= TPE_AFTER:
            sampler = optuna.samplers.TPESampler(seed=spec.seed + round_no, n_startup_trials=0)
        elif spec.search == "optuna":
            sampler = make_sampler(spec, "quasirandom", spec.seed + round_no - 1)
        else:
            sampler = make_sampler(spec, spec.search, spec.seed + round_no - 1)
        name = None
        if self._storage is not None:
            name = self._name if round_no == 1 else f"{self._name}/round{round_no}"
        self._study = optuna.create_study(storage=self._storage, study_name=name, sampler=sampler, load_if_exists=True,
                                          direction="maximize" if spec.mode == "max" else "minimize")
        if self._study.trials:  # a resumed driver's study database already holds them
            return
        for h in history:
            params = {k: v for k, v in h["params"].items() if k in self._dists}
            ok = h["value"] is not None and math.isfinite(h["value"])
            self._study.add_trial(optuna.trial.create_trial(
                params=params, distributions={k: self._dists[k] for k in params},
                value=h["value"] if ok else None,
                state=optuna.trial.TrialState.COMPLETE if ok else optuna.trial.TrialState.FAIL))

    def suggest(self, trial_id: str) -> dict:
        trial = self._study.ask(self._dists)
        self._open[trial_id] = trial
        return dict(trial.params)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        import optuna

        trial = self._open.pop(trial_id, None)
        if trial is None:
            return
        value = None if error or not result else result.get(self._spec.metric)
        if value is None or not math.isfinite(value):
            self._study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            self._study.tell(trial, value)
