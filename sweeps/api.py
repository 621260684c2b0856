"""The Python API: run, resume and load sweeps from a notebook or a script. The command line is a client of it.

    import sweeps
    r = sweeps.run("smoke", tracking_uri="http://127.0.0.1:5000")
    r.headline, r.verdict, r.trials, r.history("train/error"), r.figures["degradation"], r.reproduce()

Bad input raises SpecError with the one-line message the command line prints, before Ray starts or any
MLflow run is created.
"""

from __future__ import annotations

import functools
import os

from resnet_core.config import ConfigError

from .env import mlflow_client_defaults
from .errors import SpecError, SweepError
from .result import SweepResult
from .spec import SweepSpec


def _one_error(fn):
    """Every error of the API before work starts is a SweepError with its one-line message unchanged: a SpecError for
    bad input, a ServiceError for a service it cannot use; the MLflow client is set up as the command line sets it."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        mlflow_client_defaults()
        try:
            return fn(*args, **kwargs)
        except SweepError:
            raise
        except ConfigError as e:
            raise SpecError(str(e)) from None
    return wrapper


def as_spec(spec: str | os.PathLike | dict | SweepSpec) -> SweepSpec:
    """A validated SweepSpec from a shipped spec name, a YAML path, a plain dict (the YAML's mapping) or a
    SweepSpec; the first bad field raises SpecError naming it."""
    import yaml

    from .spec import load_spec, parse_spec

    if isinstance(spec, SweepSpec):
        return spec
    if isinstance(spec, dict):
        try:
            text = yaml.safe_dump(spec, sort_keys=False)  # what the parent run logs as spec.yaml
        except yaml.YAMLError as e:
            raise SpecError(f"spec: cannot be written as YAML ({str(e).splitlines()[0]})") from None
        return parse_spec(spec, text)
    if isinstance(spec, (str, os.PathLike)):
        return load_spec(os.fspath(spec))
    raise SpecError(f"spec: must be a spec name, a YAML path or a dict; got {type(spec).__name__}")


def _finish(summary: dict, tracking_uri: str, report: bool | str) -> SweepResult:
    result = SweepResult(summary["parent_run_id"], tracking_uri, summary)
    if report:
        result.report(report if isinstance(report, str) else None)
    return result


@_one_error
def run(spec: str | os.PathLike | dict | SweepSpec, *, tracking_uri: str | None = None, address: str | None = None,
        storage_path: str | None = None, optuna_storage: str | None = None, register: str | None = None,
        report: bool | str = True, verbose: bool = False) -> SweepResult:
    """Run a sweep to the end and return it.

    spec: a shipped spec name (smoke, degradation, rescue, he2015_cifar10), a YAML path, or a dict of the
        YAML's fields; validated as `resnet-sweep run` validates it.
    tracking_uri: MLflow (default $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db).
    address: a Ray cluster (default $RAY_ADDRESS, else a local Ray started for the sweep and stopped after).
    storage_path: where Tune keeps trials and checkpoints, a folder or s3://... (default $TUNE_STORAGE_PATH,
        else ./ray_results).
    optuna_storage: the Optuna study database (default $OPTUNA_STORAGE, else the spec's, else in memory).
    register: register the best model under this name (alias champion).
    report: build the HTML report (into reports/EXPERIMENT, or into this folder when a path is given).
    verbose: Tune's own output instead of the live trial table.

    Raises SpecError for bad input and ServiceError for an unusable MLflow, storage or study database, before Ray
    starts or any MLflow run is created.
    """
    from .env import tracking_uri_from

    parsed = as_spec(spec)  # validated before anything starts, or loads (torch, Ray, MLflow)
    from .engine.runner import run_sweep

    uri = tracking_uri_from(tracking_uri)
    return _finish(run_sweep(parsed, address, uri, storage_path, register, optuna_storage, verbose), uri, report)


@_one_error
def resume(sweep: str, *, address: str | None = None, storage_path: str | None = None,
           optuna_storage: str | None = None, register: str | None = None, report: bool | str = True,
           verbose: bool = False) -> SweepResult:
    """Continue an interrupted sweep with the same MLflow runs and return it.

    sweep: the sweep's folder, its URI (s3://bucket/sweeps/NAME_DATE), or its name (the newest such folder under
        storage_path). The other arguments are run's.
    """
    from .engine.runner import resume_sweep
    from .storage.paths import find_sweep
    from .storage.state import read_state

    state = read_state(find_sweep(sweep, storage_path))
    return _finish(resume_sweep(state, address, register, optuna_storage, verbose), state.tracking_uri, report)


@_one_error
def load(experiment: str, *, tracking_uri: str | None = None) -> SweepResult:
    """A sweep that ran here or elsewhere (a cluster's MLflow server), read from MLflow.

    experiment: the sweep's experiment (its spec name; the newest sweep in it), a sweep name or a parent run id.
    tracking_uri: MLflow (default $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db).
    """
    from .env import tracking_uri_from

    return SweepResult(experiment, tracking_uri_from(tracking_uri))
