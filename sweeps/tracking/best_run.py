"""The one rule for "the best run of a sweep", used by finalize (the parent's best_model_run and the registered
champion), `resnet-sweep reproduce EXPERIMENT` and `SweepResult.best`.

The best run is a run of the verdict's stage (confirm where the sweep has one: fresh seeds, free of the
search's winner's curse), completed, with the best final value of the sweep's metric; where no run of that
stage completed, the best of its runs that logged the metric. Ties go to the run id first in sorted order.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import NamedTuple

from .names import outcome_of, stage_of, sweep_metric, verdict_stage


class Candidate(NamedTuple):
    """What the rule reads of one trial run."""
    run_id: str
    stage: str
    outcome: str
    value: float | None   # final value of the sweep's metric; None when not logged


def best_candidate(candidates: Iterable[Candidate], stage: str, mode: str) -> str | None:
    """The run id the rule picks among candidates, or None when no run of `stage` logged the metric."""
    scored = [c for c in candidates if c.stage == stage and c.value is not None and not math.isnan(c.value)]
    done = [c for c in scored if c.outcome == "completed"] or scored
    if not done:
        return None
    sign = 1.0 if mode == "max" else -1.0
    return max(sorted(done, key=lambda c: c.run_id), key=lambda c: sign * c.value).run_id


def candidates_of_runs(runs: list, metric: str) -> list[Candidate]:
    """Candidates from MLflow Run objects."""
    return [Candidate(r.info.run_id, stage_of(r.data.tags), outcome_of(r.data.tags), r.data.metrics.get(metric))
            for r in runs]


def best_run(runs: list, params: dict):
    """The best of a sweep's trial runs (MLflow Run objects), by the parent's params; None if none scored."""
    metric, mode = sweep_metric(params)
    picked = best_candidate(candidates_of_runs(runs, metric), verdict_stage(params), mode)
    return next((r for r in runs if r.info.run_id == picked), None)
