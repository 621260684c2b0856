"""The model card: what the logged best model is, where it came from, what it scored, what it takes and how
to check it. A pure function of plain facts; `models` sets it where MLflow users look (the logged model's and
the registered version's description, and MODEL_CARD.md beside the model)."""

from __future__ import annotations

from typing import NamedTuple

from resnet_core.config import TrainConfig
from resnet_core.data import SHAPES, SOURCES
from resnet_core.serving import RAW_FORMATS


class CardFacts(NamedTuple):
    """What the card says beyond the trial's config: its provenance and score."""
    sweep: str                  # the sweep's name (its experiment)
    parent_run_id: str
    stage: str                  # search or confirm
    trial_id: str
    run_id: str                 # the trial run whose final weights these are
    test_acc: float | None      # the run's logged test/acc
    recipe: str | None          # the trial's recipe, where the sweep has recipes
    digests: dict[str, str]     # split context (training, validation, testing) -> digest of its examples
    registered: str | None      # the registered model's name, where the sweep registered one


def input_format(dataset: str) -> str:
    """One line: the raw input the model takes for a data set."""
    fmt = RAW_FORMATS[dataset]
    return f"{fmt.dtype} array of shape (N, {', '.join(map(str, fmt.shape))}), as {fmt.source}"


def model_card(cfg: TrainConfig, facts: CardFacts) -> str:
    """The card in Markdown (MLflow renders descriptions as Markdown)."""
    kind = "residual" if cfg.residual else "plain"
    classes = SHAPES[cfg.dataset][1]
    acc = "not logged" if facts.test_acc is None else f"{facts.test_acc:.4f}"
    digests = ", ".join(f"{k} `{v}`" for k, v in facts.digests.items()) or "not logged"
    uri = f"models:/{facts.registered}@champion" if facts.registered else f"runs:/{facts.parent_run_id}/best_model"
    check = uri if facts.registered else facts.run_id  # reproduce takes a registered model or the trial run
    return "\n".join([
        f"# ResNet-{cfg.depth} ({kind}) on {cfg.dataset}: best of sweep `{facts.sweep}`",
        "",
        f"- **What**: CIFAR ResNet, depth {cfg.depth}, {kind}, {cfg.block} blocks, norm {cfg.norm}, "
        f"activation {cfg.activation}, shortcut {cfg.shortcut}, width {cfg.width:g}; recipe {facts.recipe or '-'}; "
        f"init {cfg.init}; {cfg.optimizer} at lr {cfg.lr:.4g} ({cfg.schedule}), {cfg.epochs} epochs, "
        f"batch {cfg.batch_size}, seed {cfg.seed}.",
        f"- **From**: sweep `{facts.sweep}` (parent run `{facts.parent_run_id}`), stage {facts.stage}, "
        f"trial `{facts.trial_id}` (run `{facts.run_id}`).",
        f"- **Test accuracy**: {acc} (the run's test/acc).",
        f"- **Data**: {cfg.dataset} ({SOURCES[cfg.dataset]}); split digests: {digests}.",
        f"- **Input**: {input_format(cfg.dataset)}. The training normalization is inside the model.",
        f"- **Output**: float32 (N, {classes}) class probabilities; the label is their argmax.",
        "",
        "```python",
        "import mlflow",
        f'model = mlflow.pyfunc.load_model("{uri}")',
        "labels = model.predict(images).argmax(axis=1)  # images in the input format above",
        "```",
        "",
        "`mlflow.pytorch.load_model` gives the torch module: `forward` returns probabilities, `logits(raw)` the "
        "scores to fine-tune on, `.net` the ResNet. Serve it with "
        f"`mlflow models serve -m {uri} --env-manager local` and POST "
        '`{"inputs": images.tolist()}` as JSON to /invocations: `{"predictions": probabilities}` comes back.',
        "",
        f"**Check it**: `resnet-sweep reproduce {check}` retrains the run with its seed and compares every epoch.",
    ])
