"""Run and resume sweeps: check the services, start Ray, open the parent run, hand the stages to Tune, finalize.

Start-up order (a driver may die at any point of it): the state file is written before the parent run is opened,
and again once it names that run; `resume` of a state without a parent run finds it by its `tune_path` tag, or
opens it. So a sweep is either not started (no state file, no run) or resumable, and no parent run is left
RUNNING with nobody to finish it.
"""

from __future__ import annotations

import json
import os
import time

from mlflow import MlflowClient

from ..env import optuna_storage_from, tracking_uri_from
from ..errors import ServiceError, SpecError
from ..spec import SweepSpec
from ..storage.paths import check_storage_path, storage_root
from ..storage.state import Sweep, write_state
from ..tracking import names
from ..trial.provenance import provenance_tags


def check_gpus(spec: SweepSpec, cluster_gpus: float) -> None:
    """A GPU request on a cluster with none fails before any run is created."""
    want = spec.resources_per_trial["gpu"]
    if want > 0 and cluster_gpus < want:
        raise SpecError(f"resources_per_trial.gpu: asks for {want} GPU per trial but the cluster has "
                        f"{cluster_gpus:g}; use gpu: 0 or add GPU nodes")


def check_tracking(tracking_uri: str) -> None:
    """Fail fast, in one line, when the tracking server is unreachable or refuses us: before Ray starts."""
    from ..tracking.sender import configure_client

    configure_client()
    try:
        MlflowClient(tracking_uri).search_experiments(max_results=1)
    except Exception as e:
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        hint = ("set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD" if "401" in first or "403" in first
                else "start the server or pass --tracking-uri")
        raise ServiceError(f"tracking: cannot use MLflow at {tracking_uri} ({first}); {hint}") from None


def start_ray(address: str | None, verbose: bool = True) -> float:
    """Connect to a cluster (address, or RAY_ADDRESS as under Ray Jobs) or start a local Ray; return its GPUs."""
    import logging

    import ray

    address = address or os.environ.get("RAY_ADDRESS")
    quiet = {}
    if not verbose:  # Ray's INFO lines stay in its log files; warnings and errors, workers' too, still show
        from .live import quiet_logs, worker_logging

        quiet_logs()
        quiet = {"logging_level": logging.WARNING, "job_config": worker_logging()}
    if address:
        ray.init(address=address, log_to_driver=True, **quiet)
    else:
        ray.init(include_dashboard=False, log_to_driver=True, **quiet)
    return float(ray.cluster_resources().get("GPU", 0))


def training_experiment(client: MlflowClient, name: str) -> str:
    """The id of experiment `name`, created or reused, marked as model training so the MLflow UI opens on its runs."""
    exp = client.get_experiment_by_name(name)
    if exp is None:  # tagged in the same call, so no page can load it untagged
        return client.create_experiment(name, tags={names.EXPERIMENT_KIND: names.TRAINING_KIND})
    client.set_experiment_tag(exp.experiment_id, names.EXPERIMENT_KIND, names.TRAINING_KIND)  # may predate the tag
    return exp.experiment_id


def parent_params(spec: SweepSpec) -> dict:
    """The sweep's settings as its parent run's params."""
    params = {"search": spec.search, "scheduler": spec.scheduler.kind, "num_samples": spec.num_samples,
              "seeds": spec.seeds, names.METRIC: spec.metric, names.MODE: spec.mode, "search_seed": spec.seed,
              "max_concurrent_trials": spec.max_concurrent_trials, "total_trials": spec.total_trials,
              "resources_per_trial": json.dumps(spec.resources_per_trial)}
    if spec.confirm:
        params |= {names.CONFIRM_SEEDS: spec.confirm.seeds, names.CONFIRM_FACTORS: ",".join(spec.factors),
                   "confirm_arms": spec.arms, "per_arm": spec.per_arm}
        if spec.budgets:
            params["budgets"] = ",".join(map(str, spec.budgets))
        if spec.rounds:
            params |= {"rounds_max": spec.rounds.max_rounds, "rounds_tolerance_pp": spec.rounds.tolerance_pp,
                       "rounds_widen": spec.rounds.widen}
        if spec.confirm.reference:  # dashboards.verdict.contrasts compares every other value of this factor with it
            params[names.CONFIRM_REFERENCE] = "{}={}".format(*spec.confirm.reference)
    return params


def find_parent_run(client: MlflowClient, experiment_id: str, folder: str):
    """The parent run a driver opened for the sweep in `folder` (its tune_path tag), or None."""
    runs = client.search_runs([experiment_id], f"tags.{names.ROLE} = '{names.PARENT}' and "
                              f"tags.{names.TUNE_PATH} = '{folder}'", max_results=1)
    return runs[0] if runs else None


def open_parent_run(spec: SweepSpec, tracking_uri: str, folder: str) -> tuple[str, str]:
    """The sweep's experiment (named after the spec) and its parent run holding the spec and provenance: the one a
    killed driver opened for this folder, else a new one."""
    client = MlflowClient(tracking_uri)
    experiment_id = training_experiment(client, spec.name)
    run = find_parent_run(client, experiment_id, folder)
    if run is None:
        tags = {**provenance_tags(), names.SWEEP: spec.name, names.ROLE: names.PARENT, names.TUNE_PATH: folder}
        run = client.create_run(experiment_id, tags=tags, run_name=os.path.basename(folder))
    try:  # again for an adopted run: the same values, so MLflow takes them as they are
        for key, value in parent_params(spec).items():
            client.log_param(run.info.run_id, key, value)
        client.log_text(run.info.run_id, spec.source, names.SPEC_ARTIFACT)  # the server's artifact store, S3 or disk
    except Exception as e:  # e.g. the server cannot write its artifact store: no half-made run stays behind
        client.set_terminated(run.info.run_id, "FAILED")
        client.delete_run(run.info.run_id)
        first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
        raise ServiceError(f"tracking: MLflow at {tracking_uri} could not store the sweep's spec ({first}); "
                           f"check the server's artifact store") from None
    return experiment_id, run.info.run_id


def prepare_run(spec: SweepSpec, address: str | None, tracking_uri: str, storage_path: str | None,
                optuna_storage: str | None = None, verbose: bool = True) -> Sweep:
    """Everything before training: Ray up, resources checked, the state written, the parent run open, the state
    written again with it (see the module's docstring for why in this order)."""
    import ray

    gpus = start_ray(address, verbose)
    try:
        check_gpus(spec, gpus)
        path = f"{storage_root(storage_path)}/{spec.name}_{time.strftime('%Y%m%d-%H%M%S')}"
        sweep = Sweep(spec, path, tracking_uri, None, None, optuna_storage, verbose=verbose)
        write_state(sweep)  # from here on the sweep is resumable: resume opens (or finds) its parent run
        sweep.experiment_id, sweep.parent_run_id = open_parent_run(spec, tracking_uri, path)
        write_state(sweep)
    except BaseException:
        ray.shutdown()
        raise
    return sweep


def execute(sweep: Sweep, restore: bool, register: str | None = None):
    """Run (or continue) the trials, then close the parent run with the sweep's summary."""
    import ray

    from ..tracking.finalize import finalize
    from .stages import fit_stages

    # Snapshot the experiment (and our tracker's buffer) every 2 s instead of Tune's 10 s or more, so a
    # killed driver resumes trials from their latest checkpoints; the driver's state is small.
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "2")
    from .live import use_output

    use_output(sweep.verbose)
    try:
        results = fit_stages(sweep, restore)
    except Exception:  # a failure of the sweep itself (not of a trial): never leave the parent RUNNING
        MlflowClient(sweep.tracking_uri).set_terminated(sweep.parent_run_id, "FAILED")
        ray.shutdown()
        raise
    try:
        return finalize(sweep, results, register)
    finally:
        ray.shutdown()


def local_gpu_count() -> int:
    import torch

    return torch.cuda.device_count()


def run_sweep(spec: SweepSpec, address: str | None = None, tracking_uri: str | None = None,
              storage_path: str | None = None, register: str | None = None, optuna_storage: str | None = None,
              verbose: bool = True):
    """resnet-sweep run: a new sweep from a validated spec; optuna_storage: the --optuna-storage flag;
    verbose: Tune's own output (the library default) rather than our console (the command line's default)."""
    if not (address or os.environ.get("RAY_ADDRESS")):
        check_gpus(spec, local_gpu_count())  # before Ray starts, for a local run
    check_tracking(tracking_uri_from(tracking_uri))
    check_storage_path(storage_root(storage_path))
    url = optuna_storage_from(optuna_storage, spec.storage) if spec.search != "grid" else None
    if url:
        from ..storage.studies import check_storage  # Optuna loads only when a study database is asked for

        check_storage(url)
    sweep = prepare_run(spec, address, tracking_uri_from(tracking_uri), storage_path, url, verbose)
    return execute(sweep, restore=False, register=register)


def resume_sweep(sweep: Sweep, address: str | None = None, register: str | None = None,
                 optuna_storage: str | None = None, verbose: bool = True):
    """resnet-sweep resume: continue an interrupted sweep (read with read_state(find_sweep(...))) with the same
    runs (and the same study storage)."""
    from ..storage.studies import check_storage, resume_storage

    sweep.verbose = verbose
    check_tracking(sweep.tracking_uri)
    sweep.optuna_storage = resume_storage(sweep.optuna_storage, optuna_storage_from(optuna_storage))
    if sweep.optuna_storage:
        check_storage(sweep.optuna_storage)
    if sweep.parent_run_id is None:  # the first driver died before its state named the parent run
        sweep.experiment_id, sweep.parent_run_id = open_parent_run(sweep.spec, sweep.tracking_uri, sweep.path)
        write_state(sweep)
    else:  # a sweep begun before the tag existed also opens on its runs once resumed
        MlflowClient(sweep.tracking_uri).set_experiment_tag(sweep.experiment_id, names.EXPERIMENT_KIND,
                                                            names.TRAINING_KIND)
    start_ray(address, verbose)
    return execute(sweep, restore=True, register=register)
