"""The sweep's best model in MLflow: its weights, the logged PyTorch model (raw images in, class probabilities
out, its model card as description), and the registered `champion`."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile

import mlflow
from mlflow import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

from resnet_core.data import SHAPES
from resnet_core.train import load_checkpoint

from . import names
from .model_card import CardFacts, input_format, model_card
from .runs import config_of


def log_best_model(sweep, best, results, register: str | None) -> None:
    """Log the best trial's final weights, and the model that takes raw images (signature, example, card)."""
    import torch

    from resnet_core.build import build_model
    from resnet_core.serving import example_images, wrap

    match = [r for r in results if r.metrics and r.metrics.get("trial_id") == best.data.tags.get(names.TRIAL_ID)]
    if not match or match[0].checkpoint is None:
        return
    cfg = config_of(best)
    (c, _, _), classes = SHAPES[cfg.dataset]
    with match[0].checkpoint.as_directory() as folder:
        state = load_checkpoint(os.path.join(folder, "state.pt"))
    net = build_model(cfg, c, classes)
    net.load_state_dict(state["model"])
    model = wrap(net, cfg).eval()
    card = model_card(cfg, card_facts(MlflowClient(sweep.tracking_uri), sweep, best, register))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "state_dict.pt")
        torch.save({"model": state["model"], "config": cfg.to_dict()}, path)
        mlflow.log_artifact(path, "best_model_weights")  # what reproduce, best and the report read
        info = _log_model(model, cfg, example_images(cfg), card, register, tmp)
    client = MlflowClient(sweep.tracking_uri)
    client.set_logged_model_tags(info.model_id, {names.NOTE: card})  # the UI's description of a logged model
    if register and info.registered_model_version is not None:
        crown(client, register, str(info.registered_model_version), best, card)


def _log_model(model, cfg, example, card: str, register: str | None, tmp: str):
    """mlflow.pytorch.log_model, pickled with resnet_core bundled: loads as the wrapper where only torch is."""
    import numpy as np
    import torch
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    import resnet_core
    from resnet_core.serving import RAW_FORMATS

    fmt = RAW_FORMATS[cfg.dataset]
    signature = ModelSignature(Schema([TensorSpec(np.dtype(fmt.dtype), (-1, *fmt.shape))]),
                               Schema([TensorSpec(np.dtype("float32"), (-1, SHAPES[cfg.dataset][1]))]))
    code = os.path.join(tmp, "code", "resnet_core")
    shutil.copytree(os.path.dirname(resnet_core.__file__), code, ignore=shutil.ignore_patterns("__pycache__"))
    card_path = os.path.join(tmp, names.MODEL_CARD_ARTIFACT)
    with open(card_path, "w") as fh:
        fh.write(card + "\n")
    # Naming the requirements skips MLflow's slow import-tracing inference of the environment; cloudpickle is
    # MLflow's pickle module for torch models. "pickle", not MLflow's default "pt2" (torch.export), so the
    # loaded model is the wrapper module itself, fine-tunable, rather than an exported graph.
    requirements = [f"torch=={torch.__version__.split('+')[0]}", *_pinned("cloudpickle")]
    metadata = {names.MODEL_INPUT: names.RAW_INPUT, "input_format": input_format(cfg.dataset),
                "output": "class probabilities; label = argmax"}
    quiet = logging.getLogger("mlflow.pytorch")  # its caution about pickles: chosen on purpose, said in the README
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        return mlflow.pytorch.log_model(model, name=names.BEST_MODEL, signature=signature, input_example=example,
                                        registered_model_name=register, pip_requirements=requirements,
                                        serialization_format="pickle", code_paths=[code], metadata=metadata,
                                        extra_files=[card_path])
    finally:
        quiet.setLevel(level)


def _pinned(package: str) -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return [f"{package}=={version(package)}"]
    except PackageNotFoundError:
        return []


def card_facts(client: MlflowClient, sweep, best, register: str | None) -> CardFacts:
    """The model card's facts about the best trial run: provenance, test accuracy, split digests."""
    inputs = client.get_run(best.info.run_id).inputs
    digests = {next((t.value for t in i.tags if t.key == MLFLOW_DATASET_CONTEXT), i.dataset.name): i.dataset.digest
               for i in (inputs.dataset_inputs if inputs else [])}
    return CardFacts(sweep=sweep.spec.name, parent_run_id=sweep.parent_run_id,
                     stage=names.stage_of(best.data.tags), trial_id=best.data.tags.get(names.TRIAL_ID, ""),
                     run_id=best.info.run_id, test_acc=best.data.metrics.get("test/acc"),
                     recipe=best.data.params.get("recipe"), digests=digests, registered=register)


def crown(client: MlflowClient, name: str, version: str, best, card: str | None = None) -> None:
    """The sweep's registered best model becomes the `champion`, with tags naming its sweep and trial run, and
    the model card as its description."""
    client.set_registered_model_alias(name, names.CHAMPION, version)
    experiment = client.get_experiment(best.info.experiment_id).name
    tags = {names.SWEEP: experiment, names.TRIAL_ID: best.data.tags.get(names.TRIAL_ID, ""),
            names.TRIAL_RUN: best.info.run_id, "parent_run_id": best.data.tags.get(names.PARENT_RUN, "")}
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    if card:
        client.update_model_version(name, version, description=card)


def takes_raw_input(model_uri: str) -> bool:
    """Whether a logged model normalizes inside (logged by this version); older ones take normalized input."""
    from mlflow.models import get_model_info

    return (get_model_info(model_uri).metadata or {}).get(names.MODEL_INPUT) == names.RAW_INPUT


def old_model_warning(model_uri: str) -> str:
    """The one line a user sees where a model from before raw input is used."""
    return (f"warning: {model_uri} was logged before models took raw images: it expects normalized float32 "
            "N x C x H x W input, (x * scale - mean) / std of the training data (resnet_core.data.normalize)")
