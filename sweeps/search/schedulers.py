"""Schedulers: ASHA on epochs, with rungs per arm (and budget) in a confirm sweep: a trial is compared only with
its own arm's, at its own budget."""

from __future__ import annotations

from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

from ..spec import SweepSpec


class PerArmASHA(FIFOScheduler):
    """ASHA with rungs per confirm arm: a trial is stopped only for being worse than trials of its own arm."""

    def __init__(self, factors: tuple[str, ...], **asha):
        super().__init__()
        self._factors, self._asha, self._by_arm = tuple(factors), asha, {}
        self._metric = self._mode = None

    def set_search_properties(self, metric, mode, **spec) -> bool:
        self._metric, self._mode = metric or self._metric, mode or self._mode
        return True

    def arm_scheduler(self, trial) -> ASHAScheduler:
        """The ASHA of the trial's arm (made on the arm's first trial); its rungs follow the arm's budget."""
        key = tuple(trial.config.get(f) for f in self._factors)
        if key not in self._by_arm:
            asha = dict(self._asha)
            if "epochs" in self._factors:  # every budget its own rungs, up to its own epochs
                asha["max_t"] = int(trial.config["epochs"])
                asha["grace_period"] = min(asha["grace_period"], asha["max_t"])
            self._by_arm[key] = ASHAScheduler(metric=self._metric, mode=self._mode, **asha)
        return self._by_arm[key]

    def on_trial_add(self, tune_controller, trial) -> None:
        self.arm_scheduler(trial).on_trial_add(tune_controller, trial)

    def on_trial_error(self, tune_controller, trial) -> None:
        self.arm_scheduler(trial).on_trial_error(tune_controller, trial)

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        return self.arm_scheduler(trial).on_trial_result(tune_controller, trial, result)

    def on_trial_complete(self, tune_controller, trial, result: dict) -> None:
        self.arm_scheduler(trial).on_trial_complete(tune_controller, trial, result)

    def on_trial_remove(self, tune_controller, trial) -> None:
        self.arm_scheduler(trial).on_trial_remove(tune_controller, trial)

    def debug_string(self) -> str:
        return "ASHA per arm: " + "; ".join(f"{k}: {s.debug_string()}" for k, s in self._by_arm.items())


def scheduler(spec: SweepSpec):
    """ASHA on epochs (our own counter survives restores), with rungs per arm in a confirm sweep; or none."""
    if spec.scheduler.kind == "none":
        return None
    asha = {"time_attr": "epoch", "max_t": spec.epochs, "grace_period": min(spec.scheduler.grace_period, spec.epochs),
            "reduction_factor": spec.scheduler.reduction_factor}
    if spec.confirm is not None:
        return PerArmASHA(spec.factors, **asha)
    return ASHAScheduler(**asha)
