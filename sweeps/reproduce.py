"""resnet-sweep reproduce: retrain a logged run locally with its seed, compare, and check the logged model."""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import dataclass

import mlflow
from mlflow import MlflowClient
from rich.console import Console
from rich.table import Table

from mlflow.exceptions import MlflowException

from resnet_core.config import ConfigError
from resnet_core.train import Trainer, load_checkpoint

from .errors import ServiceError
from .tracking import names
from .tracking.best_run import best_run
from .tracking.models import old_model_warning, takes_raw_input
from .tracking.runs import child_runs, config_of, current_name, find_parent
from .trial.provenance import provenance_tags

SKIP = ("time/", "throughput/")  # wall-clock numbers differ by nature


def model_trial_run(client: MlflowClient, uri: str):
    """The trial run behind a registered model: models:/NAME@ALIAS or models:/NAME/VERSION."""
    ref = uri[len("models:/"):]
    try:
        if "@" in ref:
            version = client.get_model_version_by_alias(*ref.rsplit("@", 1))
        else:
            version = client.get_model_version(*ref.rsplit("/", 1))
    except Exception as e:  # MLflow's own error names what is missing; keep it to one line
        raise ConfigError(f"model: {uri} not found in the registry ({str(e).splitlines()[0][:200]})") from None
    if names.TRIAL_RUN not in version.tags:
        raise ConfigError(f"model: {uri} has no {names.TRIAL_RUN} tag; register one with resnet-sweep run --register")
    return client.get_run(version.tags[names.TRIAL_RUN])


def resolve_run(client: MlflowClient, target: str):
    """A trial run by id or behind a registered model (models:/...), or the best trial of a sweep named by
    experiment, sweep or parent run (sweeps.tracking.best_run: the run the sweep itself names best)."""
    if target.startswith("models:/"):
        return model_trial_run(client, target)
    try:
        run = client.get_run(target)
        if run.data.tags.get(names.ROLE) != names.PARENT:
            return run
    except MlflowException as e:  # no such run: a sweep reference; an unreachable server is not that
        if e.error_code not in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "BAD_REQUEST"):
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            raise ServiceError(f"tracking: MLflow could not look up run {target!r} ({first})") from None
    parent = find_parent(client, target)
    best = best_run(child_runs(client, parent.info.experiment_id, parent.info.run_id), parent.data.params)
    if best is None:
        raise ConfigError(f"experiment: sweep {target!r} has no finished trial to reproduce")
    return best


def logged_history(client: MlflowClient, run) -> dict[int, dict[str, float]]:
    """epoch -> {metric: value} as logged for the run."""
    out: dict[int, dict[str, float]] = {}
    for key in run.data.metrics:
        if not key.startswith(SKIP):
            for m in client.get_metric_history(run.info.run_id, key):
                out.setdefault(m.step, {})[current_name(key)] = m.value
    return out


def compare(logged: dict[int, dict], reproduced: dict[int, dict]) -> dict[str, float]:
    """Largest absolute difference per metric over the epochs both have."""
    worst: dict[str, float] = {}
    for epoch in sorted(set(logged) & set(reproduced)):
        for key in set(logged[epoch]) & set(reproduced[epoch]):
            worst[key] = max(worst.get(key, 0.0), abs(logged[epoch][key] - reproduced[epoch][key]))
    return worst


def logged_model_test_acc(client: MlflowClient, run, trainer: Trainer) -> float | None:
    """Test accuracy of the sweep's logged best model (weights loaded with weights_only=True), if this run is it."""
    parent_id = run.data.tags.get(names.PARENT_RUN)
    if not parent_id or client.get_run(parent_id).data.tags.get(names.BEST_MODEL_RUN) != run.info.run_id:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = client.download_artifacts(parent_id, "best_model_weights/state_dict.pt", tmp)
        trainer.model.load_state_dict(load_checkpoint(path)["model"])
    return trainer.evaluate(trainer.data.test)[1] if trainer.data.test is not None else None


@dataclass(frozen=True)
class Reproduction:
    """A logged run retrained locally: per-epoch metrics as logged and as reproduced, their largest differences."""
    run_id: str
    logged: dict[int, dict[str, float]]      # epoch -> {metric: value}, as logged in MLflow
    reproduced: dict[int, dict[str, float]]  # the same, retrained here
    worst: dict[str, float]                  # metric -> largest |logged - reproduced| over the epochs both have
    tolerance: float
    model_test_acc: float | None             # test/acc of the sweep's logged best model, when this run is it
    logged_test_acc: float | None

    @property
    def max_abs_diff(self) -> float:
        """The largest difference of any metric at any epoch (0.0 means bit-identical metrics)."""
        return max(self.worst.values(), default=0.0)

    @property
    def model_matches(self) -> bool:
        """Whether the logged model scores the logged test/acc (True when this run has no logged model)."""
        if self.model_test_acc is None:
            return True
        return self.logged_test_acc is not None and abs(self.model_test_acc - self.logged_test_acc) <= max(
            self.tolerance, 1e-9)

    @property
    def ok(self) -> bool:
        """Reproduced: every metric within the tolerance at every epoch, and the logged model matches."""
        return bool(self.worst) and self.max_abs_diff <= self.tolerance and self.model_matches

    def __repr__(self) -> str:
        word = "reproduced" if self.ok else "NOT reproduced"
        return (f"<Reproduction of run {self.run_id}: {word}, largest difference {self.max_abs_diff:.3g} "
                f"(tolerance {self.tolerance:g})>")


def reproduce_run(target: str, tracking_uri: str, device: str = "cpu", tolerance: float | None = None) -> Reproduction:
    """Retrain a run (an id, a sweep's best, or a registered model's trial) here with its seed, log the retraining
    as a `reproduction` run, and compare it epoch by epoch with what was logged."""
    import torch

    client = MlflowClient(tracking_uri)
    run = resolve_run(client, target)
    cfg = dataclasses.replace(config_of(run), device=device)
    torch.set_num_threads(int(run.data.tags.get(names.TORCH_THREADS, torch.get_num_threads())))
    logged = logged_history(client, run)
    last_epoch = max(logged, default=cfg.epochs)
    same_kind = (names.hardware_of(run.data.tags) or "cpu").startswith("cpu") == (device == "cpu")
    tol = tolerance if tolerance is not None else (0.0 if same_kind and device == "cpu" else 0.02)
    reproduced: dict[int, dict] = {}
    mlflow.set_tracking_uri(tracking_uri)
    with mlflow.start_run(experiment_id=run.info.experiment_id, run_name=f"reproduce-{run.info.run_id[:8]}",
                          tags={**provenance_tags(), names.REPRODUCES: run.info.run_id, names.ROLE: names.REPRODUCTION}):
        mlflow.log_params(cfg.to_dict())
        trainer = Trainer(cfg)
        for metrics in trainer:
            mlflow.log_metrics(metrics, step=int(metrics["epoch"]))
            reproduced[int(metrics["epoch"])] = {k: v for k, v in metrics.items() if not k.startswith(SKIP)}
            if metrics["epoch"] >= last_epoch:
                break
        worst = compare(logged, reproduced)
        model_acc = logged_model_test_acc(client, run, trainer)
        mlflow.log_metric("reproduce/max_abs_diff", max(worst.values(), default=0.0))
    return Reproduction(run.info.run_id, logged, reproduced, worst, tol, model_acc, run.data.metrics.get("test/acc"))


def model_input_warning(target: str, tracking_uri: str) -> str | None:
    """The one-line warning for a registered model logged before models took raw images; None otherwise."""
    if not target.startswith("models:/"):
        return None
    mlflow.set_tracking_uri(tracking_uri)
    try:
        raw = takes_raw_input(target)
    except MlflowException:  # not in the registry: resolve_run says so in one line
        return None
    return None if raw else old_model_warning(target)


def reproduce(target: str, tracking_uri: str, device: str, tolerance: float | None) -> int:
    """resnet-sweep reproduce: retrain, print the comparison; exit code 0 when reproduced."""
    warning = model_input_warning(target, tracking_uri)
    if warning:
        print(warning)
    result = reproduce_run(target, tracking_uri, device, tolerance)
    print_reproduction(result)
    return 0 if result.ok else 1


def print_reproduction(r: Reproduction) -> None:
    """The logged-versus-reproduced table at the last common epoch, the logged model's check, and the verdict."""
    epoch = max(set(r.logged) & set(r.reproduced), default=None)
    table = Table(title=f"run {r.run_id}: logged vs reproduced (epoch {epoch})")
    for col in ("metric", "logged", "reproduced", "max |diff| over epochs"):
        table.add_column(col, justify="right")
    for key in sorted(r.worst):
        if not key.startswith("grad_norm/block_"):
            table.add_row(key, f"{r.logged[epoch].get(key, float('nan')):.6g}",
                          f"{r.reproduced[epoch].get(key, float('nan')):.6g}", f"{r.worst[key]:.3g}")
    Console(width=120).print(table)
    if r.model_test_acc is not None:
        logged = "none" if r.logged_test_acc is None else f"{r.logged_test_acc:.4f}"
        print(f"logged model: test/acc {r.model_test_acc:.4f} (logged {logged}) "
              f"{'matches' if r.model_matches else 'DIFFERS'}")
    print(f"{'reproduced' if r.ok else 'NOT reproduced'}: largest difference {r.max_abs_diff:.3g} "
          f"(tolerance {r.tolerance:g})")
