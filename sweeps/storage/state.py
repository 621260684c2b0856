"""A sweep's own state: where it lives and which stage runs, kept in a small JSON file beside Tune's."""

from __future__ import annotations

import json
from dataclasses import dataclass

from ..env import redact
from ..spec import SweepSpec, parse_spec
from ..tracking.names import STAGE_DEFAULT
from .paths import STATE_FILE, filesystem


@dataclass
class Sweep:
    """Where a sweep lives: its Tune folder, MLflow server, experiment and parent run."""
    spec: SweepSpec
    path: str
    tracking_uri: str
    experiment_id: str | None          # None until the parent run is open (the first write of a new sweep)
    parent_run_id: str | None
    optuna_storage: str | None = None  # the study's URL; in memory only (the state file gets it masked)
    stage: str = STAGE_DEFAULT         # the stage running now: search, then confirm (sweeps.tracking.names.STAGES)
    plan: dict | None = None           # the confirm stage's arms and seeds, fixed once the search ends
    verbose: bool = True               # Tune's own output; the command line's default is our console; never saved


def write_state(sweep: Sweep) -> None:
    """The sweep's own state beside Tune's: the spec, the MLflow server, experiment and parent run."""
    fs, folder = filesystem(sweep.path)
    fs.create_dir(folder, recursive=True)
    state = {"spec": sweep.spec.source, "tracking_uri": sweep.tracking_uri,
             "experiment_id": sweep.experiment_id, "parent_run_id": sweep.parent_run_id,
             "optuna_storage": redact(sweep.optuna_storage) if sweep.optuna_storage else None,
             "stage": sweep.stage, "plan": sweep.plan}
    with fs.open_output_stream(f"{folder}/{STATE_FILE}") as fh:  # one small write: all or nothing
        fh.write(json.dumps(state, indent=1).encode())


def read_state(path: str) -> Sweep:
    import yaml

    fs, folder = filesystem(path)
    with fs.open_input_stream(f"{folder}/{STATE_FILE}") as fh:
        state = json.loads(fh.read())
    spec = parse_spec(yaml.safe_load(state["spec"]), state["spec"])
    return Sweep(spec, path, state["tracking_uri"], state["experiment_id"], state["parent_run_id"],
                 state.get("optuna_storage"), state.get("stage", STAGE_DEFAULT), state.get("plan"))
