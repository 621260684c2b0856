"""Pure functions on trial results: which keys are metrics, how a trial ended, what a diverged trial reports."""

from __future__ import annotations

import base64
import json
import math
import struct

from ..spec.recipes import RECIPE

# The key Tune's Repeater (and ArmSearcher) sets to a repeat's index: the trial's seed (trial_seed).
TRIAL_INDEX = "__trial_index__"
SEARCH_ROUND = "__search_round__"  # the search round a confirm sweep's search trial belongs to (ArmSearcher)

# Strings the trainable reports beside the metrics (where and with what it ran, from its worker, whose CPU
# may differ from the driver's); the tracker turns them into tags.
TAG_KEYS = ("hardware", "node_id", "hostname", "resources", "precision_used", "cpu_model", "cpu_capability",
            "gpu_share")
# The data-set splits a trial used (resnet_core.data.describe_splits, as JSON): sent with its first result.
DATASETS_KEY = "datasets"
# A diverged trial's stand-in value for a minimised metric: as bad as a blown-up loss, but finite.
WORST_MIN = 1e3
# Tune keeps running statistics of each number in a result (and copies them into every experiment snapshot):
# about 0.75 kB per key per trial. It needs only the searched metric and `epoch` (ASHA's time). Every other
# metric travels as one string, which Tune stores once and does not aggregate; the tracker unpacks it.
TUNE_KEYS = ("epoch",)
PACKED_KEY = "more_metrics"
# What the driver reads back of the result Tune keeps (trial.last_result) after the callbacks: the live
# console's train/error and val/acc, classify's train/diverged. The tracker and result.json have the rest by
# then; kept, it would be copied into every experiment snapshot (about 1 kB a trial).
KEPT_PACKED = ("train/error", "val/acc", "train/diverged")
# The per-block norms, packed as one list; as base64 float32 when that is exact (the trainer's norms are
# float32): a quarter of their decimal text.
BLOCK_PREFIX, BLOCKS_KEY, BLOCKS_F32_KEY = "grad_norm/block_", "grad_norm/blocks", "grad_norm/blocks_f32"


def _pack_blocks(values: list[float]) -> dict:
    as_f32 = struct.pack(f"<{len(values)}f", *values)
    if list(struct.unpack(f"<{len(values)}f", as_f32)) == values:
        return {BLOCKS_F32_KEY: base64.b64encode(as_f32).decode()}
    return {BLOCKS_KEY: values}


def _unpack_blocks(packed: dict) -> list[float]:
    if BLOCKS_F32_KEY in packed:
        raw = base64.b64decode(packed.pop(BLOCKS_F32_KEY))
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    return packed.pop(BLOCKS_KEY, None) or []


def pack_for_tune(metrics: dict, metric: str) -> dict:
    """The result to hand tune.report: the metric, TUNE_KEYS and strings as they are, other numbers in one string."""
    keep = {k: v for k, v in metrics.items() if k in TUNE_KEYS or k == metric or isinstance(v, str)}
    rest = {k: v for k, v in metrics.items() if k not in keep}
    blocks = sorted((int(k[len(BLOCK_PREFIX):]), v) for k, v in rest.items() if k.startswith(BLOCK_PREFIX))
    if blocks and [i for i, _ in blocks] == list(range(len(blocks))):  # block_0..block_n-1, as the trainer names them
        rest = {k: v for k, v in rest.items() if not k.startswith(BLOCK_PREFIX)}
        rest |= _pack_blocks([float(v) for _, v in blocks])
    return {**keep, PACKED_KEY: json.dumps(rest)} if rest else keep


def unpack(result: dict) -> dict:
    """A Tune result with the packed metrics back as keys of their own (the inverse of pack_for_tune)."""
    if not isinstance(result.get(PACKED_KEY), str):
        return result
    packed = json.loads(result[PACKED_KEY])
    blocks = _unpack_blocks(packed)
    return {**{k: v for k, v in result.items() if k != PACKED_KEY}, **packed,
            **{f"{BLOCK_PREFIX}{i}": v for i, v in enumerate(blocks)}}


def kept_by_tune(result: dict) -> dict:
    """The part of a packed result Tune needs to keep: no tag strings, the packed string cut to KEPT_PACKED."""
    kept = {k: v for k, v in result.items() if k not in TAG_KEYS and k not in (DATASETS_KEY, PACKED_KEY)}
    if isinstance(result.get(PACKED_KEY), str):
        packed = json.loads(result[PACKED_KEY])
        if small := {k: packed[k] for k in KEPT_PACKED if k in packed}:
            kept[PACKED_KEY] = json.dumps(small)
    return kept


def tracked_metrics(result: dict) -> dict[str, float]:
    """Our metrics from a (packed) Tune result: the epoch and every `split/name` key; no Tune bookkeeping."""
    out = {}
    for key, value in unpack(result).items():
        if (key == "epoch" or "/" in key) and isinstance(value, (int, float)) \
                and not isinstance(value, bool) and math.isfinite(value):
            out[key] = float(value)
    return out


def fill_diverged(metrics: dict, metric: str, mode: str) -> dict:
    """Give a diverged trial's final report a bad but finite value for the searched metric (never NaN)."""
    if metrics.get("train/diverged") and metric not in metrics:
        metrics = {**metrics, metric: 0.0 if mode == "max" else WORST_MIN}
    return metrics


def trial_epochs(config: dict, default: int) -> int:
    """A trial's training budget: its config's epochs (a spec with several budgets; a confirm trial has them in its
    `arm`), else the spec's."""
    arm = config.get("arm") if isinstance(config.get("arm"), dict) else {}
    return int(config.get("epochs") or arm.get("epochs") or default)


def classify(last: dict | None, epochs: int, errored: bool = False) -> str:
    """completed, pruned (stopped early by the scheduler or the time budget), diverged or errored."""
    if errored:
        return "errored"
    last = unpack(last) if last else last  # train/diverged travels packed
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
    """A confirm trial's pick rule and source trials (tags on its run); a search trial's round, if it has one."""
    arm = config.get("arm", {})
    tags = {k: str(arm[k]) for k in ("pick_rule", "pick_source") if k in arm}
    if SEARCH_ROUND in config:
        tags["search_round"] = str(config[SEARCH_ROUND])  # sweeps.tracking.names.SEARCH_ROUND
    return tags


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
    return int(config.get("seed", config.get(TRIAL_INDEX, 0)))


def sampled_params(config: dict, fields) -> dict:
    """The config fields of a Tune config dict (drops Tune's private keys), with the trial's seed.

    A confirm trial's config holds its arm's picked fields under "arm" (one grid value per arm). A trial's
    recipe name (sweeps.recipes) is kept too: sweeps.spec.trial_config expands it into its fields.
    """
    flat = {**config.get("arm", {}), **config}
    params = {k: v for k, v in flat.items() if (k in fields or k == RECIPE) and k != "seed"}
    params["seed"] = trial_seed(config)
    return params
