"""Tune's construction in one place: the Tuner of each stage (new or restored), its RunConfig, tracker and console.

`sweeps.engine.stages` runs the stages with these; `sweeps.engine.runner` opens and closes the sweep around them.
"""

from __future__ import annotations

from ..storage.state import Sweep
from ..tracking import names
from ..trial.provenance import provenance_tags

CONFIRM_FOLDER = "confirm"


def make_tracker(sweep: Sweep, stage: str = names.SEARCH):
    """The MLflow callback of one stage of a new sweep: child runs nested under its parent run, tagged stage."""
    from ..tracking.tracker import MlflowTracker

    spec = sweep.spec
    return MlflowTracker(sweep.tracking_uri, sweep.experiment_id, sweep.parent_run_id, spec.train,
                         {names.SWEEP: spec.name, names.ROLE: names.TRIAL, names.STAGE: stage, **provenance_tags(),
                          names.TORCH_THREADS: str(max(1, int(spec.resources_per_trial["cpu"])))},
                         recipes=spec.recipes)


def sweep_name(sweep: Sweep) -> str:
    """The sweep's folder name, e.g. smoke_20260101-120000: Tune's experiment and the Optuna study's name
    (one study per sweep, so that a shared database, as the cluster's, never mixes two sweeps' trials)."""
    return sweep.path.rstrip("/").rsplit("/", 1)[1]


def saved_by_tune(folder: str) -> bool:
    """Whether Tune saved an experiment state in folder: only then is there a stage to restore. A driver killed
    before (a Tuner writes its tuner.pkl when made, its first state a step later) leaves none: no trial has
    started, so the stage starts afresh (Tune restoring from tuner.pkl alone would start only one trial)."""
    import pyarrow.fs

    from ..storage.paths import filesystem

    fs, path = filesystem(folder)
    listed = fs.get_file_info(pyarrow.fs.FileSelector(path, allow_not_found=True))
    return any(i.base_name.startswith("experiment_state-") for i in listed)


def repoint_search_state(folder: str) -> None:
    """Point Tune's saved search generator at the folder the sweep is in now. Tune restores trials from the folder it
    is given, but creates the searcher's new trials in the folder its saved Experiment names: a sweep moved (or
    unpacked) elsewhere would start them in the old place, where Tune's storage check fails them. Local folders
    only: an s3:// sweep keeps its URI wherever the driver runs."""
    import glob
    import os

    import ray.cloudpickle as cloudpickle

    if "://" in folder:
        return
    parent, name = os.path.split(os.path.abspath(folder).rstrip("/"))
    for path in glob.glob(os.path.join(folder, "search_gen_state-*.json")):
        with open(path, "rb") as fh:
            state = cloudpickle.load(fh)
        storage = getattr(state.get("experiment"), "storage", None)
        if storage is None or (storage.storage_fs_path, storage.experiment_dir_name) == (parent, name):
            continue
        storage.storage_fs_path, storage.experiment_dir_name = parent, name
        with open(path, "wb") as fh:
            cloudpickle.dump(state, fh)


def console_for(sweep: Sweep, stage: str) -> list:
    """The stage's console callback (a list of it); silent when this invocation is verbose (sweeps.engine.live)."""
    from .live import sweep_console

    return [sweep_console(sweep.spec, stage)]


def run_config(sweep: Sweep, folder: str, stage: str, tracker=None):
    """Tune's RunConfig of one stage: its folder, retries, checkpoints kept, the stage's MLflow tracker and
    our console (Tune's own output, verbose=1, with --verbose)."""
    from ray import tune
    from ray.tune.logger import JsonLoggerCallback

    from ..tracking.tracker import TrimKeptResults

    return tune.RunConfig(
        name=folder.rstrip("/").rsplit("/", 1)[1], storage_path=folder.rstrip("/").rsplit("/", 1)[0],
        failure_config=tune.FailureConfig(max_failures=sweep.spec.max_failures),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
        # Our JSON logger before the trim: each trial's result.json keeps every metric (Tune adds its own
        # loggers after ours otherwise, and they would see the trimmed result).
        callbacks=[tracker or make_tracker(sweep, stage), JsonLoggerCallback(), TrimKeptResults(),
                   *console_for(sweep, stage)],
        # In a notebook Tune would pick its Jupyter reporter, which displays an (empty) HTML output even at
        # verbose 0; our console draws the trials, so Tune gets its terminal reporter, silent at verbose 0.
        progress_reporter=None if sweep.verbose else tune.CLIReporter(),
        verbose=1 if sweep.verbose else 0)


def tuner_for(sweep: Sweep, restore: bool, tracker=None):
    """A new Tuner for the spec, or one restored from the sweep's folder (callbacks come back with it)."""
    from ray import tune

    from ..search.schedulers import scheduler
    from ..search.searchers import search_alg
    from ..search.space import param_space
    from ..trial.trainable import tune_trainable
    from .legacy import install_old_paths

    spec = sweep.spec
    if restore and saved_by_tune(sweep.path):
        install_old_paths()  # a sweep saved before sweeps/ had rooms names its classes by their old paths
        repoint_search_state(sweep.path)
        return tune.Tuner.restore(sweep.path, tune_trainable(spec), resume_unfinished=True, resume_errored=True,
                                  param_space=param_space(spec))
    tune_config = tune.TuneConfig(
        metric=spec.metric, mode=spec.mode,
        search_alg=search_alg(spec, sweep.optuna_storage, sweep_name(sweep), sweep.path),
        scheduler=scheduler(spec),
        # With rounds the searcher says when the search is done (every arm adequate, or the cap).
        num_samples=-1 if spec.rounds else spec.total_trials if spec.confirm or spec.search != "grid"
        else spec.num_samples,
        max_concurrent_trials=spec.max_concurrent_trials, time_budget_s=spec.time_budget_s,
        reuse_actors=True)  # a new trial reuses a finished trial's process: no second start-up and torch import
    return tune.Tuner(tune_trainable(spec), param_space=param_space(spec),
                      tune_config=tune_config, run_config=run_config(sweep, sweep.path, names.SEARCH, tracker))


def confirm_path(sweep: Sweep) -> str:
    """The confirm stage's Tune folder, inside the sweep's folder."""
    return f"{sweep.path.rstrip('/')}/{CONFIRM_FOLDER}"


def confirm_tuner(sweep: Sweep, restore: bool):
    """The confirm stage's Tuner: a grid of (arm, seed), or the one restored from its folder."""
    from ray import tune

    from ..trial.trainable import tune_trainable
    from .legacy import install_old_paths

    spec, path = sweep.spec, confirm_path(sweep)
    space = {"arm": tune.grid_search(sweep.plan["arms"]), "seed": tune.grid_search(sweep.plan["seeds"])}
    if restore and saved_by_tune(path):
        install_old_paths()
        return tune.Tuner.restore(path, tune_trainable(spec), resume_unfinished=True, resume_errored=True,
                                  param_space=space)
    # No scheduler and no searcher: every confirm trial trains its full epochs, whatever its early numbers.
    tune_config = tune.TuneConfig(metric=spec.metric, mode=spec.mode, num_samples=1,
                                  max_concurrent_trials=spec.max_concurrent_trials, reuse_actors=True)
    return tune.Tuner(tune_trainable(spec), param_space=space, tune_config=tune_config,
                      run_config=run_config(sweep, path, names.CONFIRM))
