"""Ray and MLflow glue of a sweep's two stages: the search, then (when the spec asks) the confirm stage.

The confirm stage retrains each arm's picked configuration (`sweeps.search.arms`, pure) with fresh seeds, to the
full epoch count, with no scheduler and no searcher, in its own Tune folder `<sweep>/confirm`, under the
same MLflow parent run. The stage and the plan live in the sweep's state file, so `resume` continues the
stage that was running: a killed search resumes and then confirms; a killed confirm resumes its own runs.
"""

from __future__ import annotations

import json
import signal
import threading

from mlflow import MlflowClient

from ..search.arms import Trial, confirm_seeds, grid_entries, pick_arms
from ..search.searchers import read_adequacy
from ..spec import RECIPE
from ..storage.state import Sweep, write_state
from ..tracking import names
from ..tracking.runs import child_runs, config_of
from .tuners import confirm_tuner, tuner_for


def search_trials(sweep: Sweep) -> list[Trial]:
    """The search stage's trials as the arm picker needs them, from their MLflow runs."""
    client, spec = MlflowClient(sweep.tracking_uri), sweep.spec
    trials = []
    for run in child_runs(client, sweep.experiment_id, sweep.parent_run_id):
        tags = run.data.tags
        if names.stage_of(tags) != names.SEARCH:
            continue
        cfg = config_of(run)
        trials.append(Trial(tags.get(names.TRIAL_ID, run.info.run_id),
                            {name: run.data.params.get(name) if name == RECIPE else getattr(cfg, name)
                             for name in (*spec.search_space, *spec.factors)}, cfg.seed,
                            names.outcome_of(tags), run.data.metrics.get(spec.metric)))
    return trials


def plan_confirm(sweep: Sweep) -> dict:
    """Arms (picked configs with their rule) and fresh seeds; kept in the state file and on the parent run, with
    the search rounds' adequacy record (sweeps.search.adequacy)."""
    trials = search_trials(sweep)
    picks = pick_arms(sweep.spec, trials)
    plan = {"arms": grid_entries(picks), "seeds": confirm_seeds(sweep.spec, trials)}
    client = MlflowClient(sweep.tracking_uri)
    client.log_text(sweep.parent_run_id, json.dumps(plan, indent=1), names.CONFIRM_PLAN_ARTIFACT)
    record = read_adequacy(sweep.path)
    if record is not None:
        client.log_text(sweep.parent_run_id, json.dumps(record, indent=1), names.ADEQUACY_ARTIFACT)
        adequate = sum(bool(a["adequate"]) for a in record["arms"])
        client.log_metric(sweep.parent_run_id, "search/rounds", record["rounds"])
        client.log_metric(sweep.parent_run_id, "search/arms_adequate", adequate)
        client.set_tag(sweep.parent_run_id, "search.stopped", record["stopped"])
        print(f"search: {record['rounds']} round{'s' * (record['rounds'] != 1)}, {adequate} of "
              f"{len(record['arms'])} arms adequately tuned ({record['stopped']})")
    return plan


def fit_noting_interrupt(tuner) -> tuple[object, bool]:
    """tuner.fit(), and whether Ctrl-C (SIGINT) or SIGUSR1 stopped it before it finished.

    Tune takes the first Ctrl-C itself, stops the run gracefully and returns as if it had ended; the trials
    the signal reached in the terminal's process group come back errored, so counting them cannot tell. What
    tells: Tune's handler puts back the SIGINT handler it found, ours, once it has caught the signal.
    """
    if threading.current_thread() is not threading.main_thread():  # Tune installs no handler there either
        return tuner.fit(), False
    previous = signal.getsignal(signal.SIGINT)

    def ours(signum, frame):  # a second Ctrl-C, or the first one where Tune's handler is turned off
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, ours)
    try:
        results = tuner.fit()
        return results, signal.getsignal(signal.SIGINT) is ours
    finally:
        signal.signal(signal.SIGINT, previous)


def fit_stages(sweep: Sweep, restore: bool):
    """Run (or continue) the stage in the state file and any after it; the last stage's results."""
    if sweep.stage == names.SEARCH:
        results, stopped = fit_noting_interrupt(tuner_for(sweep, restore))
        if sweep.spec.confirm is None:
            return results
        if stopped:  # a stopped search is not a finished one: `resume` finishes it, then confirms
            print(f"search interrupted: no confirm stage yet; continue with: resnet-sweep resume {sweep.path}")
            return results
        sweep.plan, sweep.stage, restore = plan_confirm(sweep), names.CONFIRM, False
        write_state(sweep)  # from here on, resume continues the confirm stage with this very plan
    return confirm_tuner(sweep, restore).fit()
