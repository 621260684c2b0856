"""Pure functions on trial results: which keys are metrics, how a trial ended, what a diverged trial reports."""

from __future__ import annotations

import math

# Strings the trainable reports beside the metrics (where and with what it ran, from its worker, whose CPU
# may differ from the driver's); the tracker turns them into tags.
TAG_KEYS = ("hardware", "node_id", "hostname", "resources", "precision_used", "cpu_model", "cpu_capability")
# A diverged trial's stand-in value for a minimised metric: as bad as a blown-up loss, but finite.
WORST_MIN = 1e3


def tracked_metrics(result: dict) -> dict[str, float]:
    """Our metrics from a Tune result: the epoch and every `split/name` key; no Tune bookkeeping."""
    out = {}
    for key, value in result.items():
        if (key == "epoch" or "/" in key) and isinstance(value, (int, float)) \
                and not isinstance(value, bool) and math.isfinite(value):
            out[key] = float(value)
    return out


def fill_diverged(metrics: dict, metric: str, mode: str) -> dict:
    """Give a diverged trial's final report a bad but finite value for the searched metric (never NaN)."""
    if metrics.get("train/diverged") and metric not in metrics:
        metrics = {**metrics, metric: 0.0 if mode == "max" else WORST_MIN}
    return metrics


def classify(last: dict | None, epochs: int, errored: bool = False) -> str:
    """completed, pruned (stopped early by the scheduler or the time budget), diverged or errored."""
    if errored:
        return "errored"
    if last and last.get("train/diverged"):
        return "diverged"
    if last and int(last.get("epoch", 0)) >= epochs:
        return "completed"
    return "pruned"


def closing_outcome(last: dict | None, epochs: int, trial_status: str, sweep_crashed: bool) -> tuple[str, str]:
    """(outcome tag, MLflow run status) of a trial still open when the sweep ends.

    Open trials are normally ones the time budget stopped (pruned, KILLED). But when the sweep itself dies
    in an exception (e.g. while processing a trial's result), Tune still ends the experiment and hands us
    the open trials: they ended in that exception, so they are errored, not pruned.
    """
    if sweep_crashed or trial_status == "ERROR":
        return classify(last, epochs, errored=True), "FAILED"
    return classify(last, epochs), "KILLED"


def pick_tags(config: dict) -> dict[str, str]:
    """A confirm trial's pick rule and source trials (tags on its run); empty for a search trial."""
    arm = config.get("arm", {})
    return {k: str(arm[k]) for k in ("pick_rule", "pick_source") if k in arm}


def error_line(trace: str | None, limit: int = 500) -> str:
    """The last 'SomeError: message' line of a trial's error trace (what the user needs), or ''."""
    lines = [ln.strip() for ln in (trace or "").splitlines() if ln.strip()]
    for line in reversed(lines):
        head = line.split(":", 1)[0]
        if ":" in line and (head.endswith("Error") or head.endswith("Exception")):
            return line[:limit]
    return (lines[-1] if lines else "")[:limit]


def trial_seed(config: dict) -> int:
    """The trial's seed: the grid's seed value, or the Repeater's index for repeated samples."""
    return int(config.get("seed", config.get("__trial_index__", 0)))


def sampled_params(config: dict, fields) -> dict:
    """The config fields of a Tune config dict (drops Tune's private keys), with the trial's seed.

    A confirm trial's config holds its arm's picked fields under "arm" (one grid value per arm).
    """
    flat = {**config.get("arm", {}), **config}
    params = {k: v for k, v in flat.items() if k in fields and k != "seed"}
    params["seed"] = trial_seed(config)
    return params
