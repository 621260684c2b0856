"""Pure planning of the tracker's MLflow writes: which queued ops of one trial go out together, and how
they split into `log_batch` requests within MLflow's limits.

Ops are the tracker's tuples: ("create", trial, params, tags, start_ms), ("tags", trial, tags),
("metrics", trial, step, metrics, timestamp_ms), ("inputs", trial, splits) and ("end", trial, outcome, status,
end_ms).
"""

from __future__ import annotations

from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

from . import names

# MLflow's limits per log_batch request (mlflow.utils.validation): 1,000 metrics, 100 params, 100 tags,
# 1,000 entities in all and 1 MB of request body; the byte budget leaves room for the JSON framing.
LIMITS = {"metrics": 1000, "params": 100, "tags": 100, "entities": 1000, "bytes": 900_000}
MAX_OPS = 64  # at most this many queued ops in one unit: bounds what a failed unit sends again


def take_unit(queue) -> list:
    """The ops at the head of one trial's queue to apply together: a create only first, up to one end."""
    unit: list = []
    for op in queue:
        if (op[0] == "create" and unit) or len(unit) >= MAX_OPS:
            break
        unit.append(op)
        if op[0] == "end":
            break
    return unit


def unit_entities(unit: list, stored: set) -> tuple[list, list, list, list, int]:
    """(metrics, params, tags, steps sent, epochs skipped) of a unit, leaving out epochs already stored.

    Each epoch's `epoch` metric comes last among its metrics: a split batch that fails midway leaves that
    epoch without it, so the stored-step check (which reads `epoch`) sends the whole epoch again.
    """
    metrics, params, tags, steps, skipped = [], [], {}, [], 0
    for op in unit:
        kind = op[0]
        if kind == "create":
            params = [Param(k, str(v)) for k, v in op[2].items()]
        elif kind == "tags":
            tags.update({k: str(v) for k, v in op[2].items()})
        elif kind == "end":
            tags[names.OUTCOME] = op[2]
        elif kind == "metrics":
            step, values, timestamp = op[2], op[3], op[4]
            if step in stored or step in steps:
                skipped += 1
                continue
            keys = sorted(values, key=lambda k: k == "epoch")
            metrics += [Metric(k, values[k], timestamp, step) for k in keys]
            steps.append(step)
    return metrics, params, [RunTag(k, v) for k, v in tags.items()], steps, skipped


def _size(entity) -> int:
    """Bytes the entity adds to the request's JSON, generously."""
    if isinstance(entity, Metric):
        return len(entity.key) + 96
    return len(entity.key) + len(entity.value) + 48


def split_batch(metrics: list, params: list, tags: list, limits: dict = LIMITS) -> list[tuple[list, list, list]]:
    """(metrics, params, tags) requests in order, each within MLflow's limits; params and tags go first."""
    chunks: list[tuple[list, list, list]] = []
    current: tuple[list, list, list] = ([], [], [])
    size = 0
    for kind, entity in [("params", p) for p in params] + [("tags", t) for t in tags] + \
                        [("metrics", m) for m in metrics]:
        slot = {"metrics": 0, "params": 1, "tags": 2}[kind]
        full = (len(current[slot]) >= limits[kind] or sum(map(len, current)) >= limits["entities"]
                or size + _size(entity) > limits["bytes"])
        if full and any(current):
            chunks.append(current)
            current, size = ([], [], []), 0
        current[slot].append(entity)
        size += _size(entity)
    if any(current):
        chunks.append(current)
    return chunks


def dataset_inputs(splits: list[dict]) -> list[DatasetInput]:
    """MLflow dataset inputs of a run from resnet_core.data.describe_splits (MLflow skips ones it already has)."""
    return [DatasetInput(Dataset(s["name"], s["digest"], "code", s["source"],
                                 profile=f'{{"num_rows": {s["rows"]}}}'),
                         [InputTag(MLFLOW_DATASET_CONTEXT, s["context"])]) for s in splits]
