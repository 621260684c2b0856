"""The Optuna sampler of a spec: the one place it is built, for a sweep's study and for each arm's."""

from __future__ import annotations

import warnings

from ..spec import SweepSpec


def make_sampler(spec: SweepSpec, search: str | None = None, seed: int | None = None):
    """The seeded sampler of a spec's search: `optuna` TPE, `random`, or `quasirandom`, a scrambled Sobol sequence
    (Optuna's QMCSampler): low-discrepancy points that spread over each range (in log scale for loguniform) instead
    of clustering, the exploration the Deep Learning Tuning Playbook recommends before any model of the space."""
    import optuna

    search = search or spec.search
    seed = spec.seed if seed is None else seed
    if search == "optuna":
        return optuna.samplers.TPESampler(seed=seed)
    if search == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if search == "quasirandom":
        # A choice dimension has no Sobol coordinate; Optuna samples it independently (seeded), without a warning
        # per trial. Every arm's sampler is seeded alike, so arms are offered the same points (a paired design).
        with warnings.catch_warnings():  # "QMCSampler is experimental": stable since Optuna 3, and ours to test
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.QMCSampler(qmc_type="sobol", scramble=True, seed=seed,
                                              independent_sampler=optuna.samplers.RandomSampler(seed=seed),
                                              warn_independent_sampling=False, warn_asynchronous_seeding=False)
    raise ValueError(f"search: {search!r} has no Optuna sampler")
