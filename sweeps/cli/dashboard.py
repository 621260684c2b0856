"""resnet-sweep dashboard: optuna-dashboard on a sweep's study, the live one or one rebuilt from MLflow."""

from __future__ import annotations

import os

from mlflow import MlflowClient

from dashboards.study.rebuild import rebuild_study
from dashboards.stats import swept_params

from ..env import optuna_storage_from
from ..tracking.names import sweep_metric
from ..tracking.runs import sweep_spec, sweep_trials


def live_studies(names: set[str], sweep: str) -> list[str]:
    """The sweep's studies among names: its one study, or one per arm (sweep/ARM) for a confirm sweep's search."""
    return [sweep] if sweep in names else sorted(n for n in names if n.startswith(f"{sweep}/"))


def study_source(ref: str, tracking_uri: str, storage_flag: str | None, out: str | None):
    """(Optuna storage, study names, what they are): the sweep's live studies (one, or one per arm) where its
    database holds them, else one study rebuilt from the sweep's MLflow runs into a sqlite file (out, default
    reports/EXPERIMENT/optuna.db)."""
    from ..storage.studies import open_storage

    client = MlflowClient(tracking_uri)
    parent, runs, trials = sweep_trials(client, ref)
    name = parent.info.run_name  # the sweep's folder name, which names its study (sweeps.runner.sweep_name)
    spec = sweep_spec(tracking_uri, parent.info.run_id)[1]
    url = optuna_storage_from(storage_flag, spec.get("storage"))
    if url:
        storage = open_storage(url)
        live = live_studies({s.study_name for s in storage.get_all_studies()}, name)
        if live:
            return storage, live, "the sweep's live study" if len(live) == 1 else "the sweep's live study of each arm"
    path = os.path.abspath(out or os.path.join("reports", client.get_experiment(parent.info.experiment_id).name,
                                               "optuna.db"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    params = parent.data.params
    rebuild_study(trials, swept_params(spec, trials), *sweep_metric(params),
                  f"sqlite:///{path}", name)
    return open_storage(f"sqlite:///{path}"), [name], f"rebuilt from its {len(runs)} MLflow runs into {path}"


def serve_dashboard(ref: str, tracking_uri: str, storage_flag: str | None, port: int, out: str | None) -> int:
    """Serve optuna-dashboard on 127.0.0.1:port until Ctrl-C; prints the study's address first."""
    from optuna_dashboard import run_server

    storage, names, what = study_source(ref, tracking_uri, storage_flag, out)
    links = "\n".join(f"  {n}: http://127.0.0.1:{port}/dashboard/studies/{storage.get_study_id_from_name(n)}"
                      for n in names)
    print(f"optuna-dashboard ({what}):\n{links}\n  (Ctrl-C stops it)", flush=True)
    run_server(storage, host="127.0.0.1", port=port)
    return 0
