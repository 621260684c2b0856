"""The winning model as MLflow users use it: raw images in, class probabilities out, its card, and serving.

Unit tests of the wrapper (resnet_core.serving) and the card; slow tests run a tiny digits sweep with
--register against a real `mlflow server`, load the champion in a process that cannot import this project,
serve it with `mlflow models serve`, and check an old-style model still reproduces (with its warning).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch
import yaml
from mlflow import MlflowClient

from resnet_core import TrainConfig, build_model
from resnet_core.data import (CIFAR_MEAN, CIFAR_STD, SHAPES, DataSet, Split, load_data, load_digits_data,
                              normalize)
from resnet_core.serving import RAW_FORMATS, RawInputClassifier, example_images, raw_images, wrap
from sweeps.testing.ports import free_port
from sweeps.testing.procs import wait_until
from sweeps.tracking.model_card import CardFacts, model_card
from sweeps.tracking.runs import config_of

CLI = [sys.executable, "-m", "sweeps.cli"]
MODEL = "digits-winner"
TOLERANCE = 0.005  # 0.5 pt: the logged test/acc against the raw-input model's, through pyfunc or served


def tiny_net(cfg: TrainConfig) -> torch.nn.Module:
    (c, _, _), classes = SHAPES[cfg.dataset]
    torch.manual_seed(0)
    return build_model(cfg, c, classes)


def fake_cifar(n: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10-shaped uint8 images (N x 3 x 32 x 32, as resnet_core.data holds them): no download."""
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, 256, (n, 3, 32, 32), generator=g, dtype=torch.uint8), torch.zeros(n, dtype=torch.int64)


@pytest.mark.parametrize("dataset", sorted(RAW_FORMATS))
def test_wrapper_gives_the_nets_logits_on_raw_input(dataset: str) -> None:
    """logits(raw) == net(normalize(ds, x)) bit for bit, for raw images in each data set's delivered format."""
    cfg = TrainConfig(dataset=dataset, depth=8, width=0.5, device="cpu")
    net = tiny_net(cfg).eval()
    model = wrap(net, cfg).eval()
    if dataset == "cifar10":  # built as load_cifar10 builds it, without the download
        x, y = fake_cifar()
        mean, std = torch.tensor(CIFAR_MEAN).view(1, 3, 1, 1), torch.tensor(CIFAR_STD).view(1, 3, 1, 1)
        ds = DataSet(Split(x, y), Split(x, y), None, 10, 1 / 255, mean, std, True)
    else:
        ds = load_data(cfg)
        x, y = ds.test.x[:16], ds.test.y[:16]
    raw = raw_images(Split(x, y), dataset)
    fmt = RAW_FORMATS[dataset]
    assert raw.dtype == np.dtype(fmt.dtype) and raw.shape[1:] == fmt.shape
    with torch.no_grad():
        expected = net(normalize(ds, x))
        got = model.logits(torch.from_numpy(raw))
        probs = model(torch.from_numpy(raw))
    assert torch.equal(got, expected)
    assert torch.allclose(probs, torch.softmax(expected, 1)) and torch.allclose(probs.sum(1), torch.ones(len(x)))


def test_digits_raw_format_is_load_digits_images() -> None:
    """The digits test split in raw format is float64 N x 8 x 8, each image a row of load_digits().images."""
    from sklearn.datasets import load_digits

    images = load_digits().images
    raw = raw_images(load_digits_data(3).test, "digits")
    assert raw.dtype == images.dtype and raw.shape[1:] == images.shape[1:]
    rows = {img.tobytes() for img in images}
    assert all(img.tobytes() in rows for img in raw)
    assert example_images(TrainConfig(dataset="digits", seed=3), 4).shape == (4, 8, 8)


def test_wrapper_state_dict_round_trip_and_fine_tunes() -> None:
    """The buffers travel in the state dict; .train() and a gradient step through logits() work."""
    cfg = TrainConfig(dataset="digits", depth=8, width=0.5, device="cpu")
    model = wrap(tiny_net(cfg), cfg)
    assert {"scale", "mean", "std"} <= set(model.state_dict())
    copy = RawInputClassifier(tiny_net(cfg), "NHW", 1.0, torch.zeros(1), torch.ones(1))
    copy.load_state_dict(model.state_dict())
    ds = load_data(cfg)
    raw = torch.from_numpy(raw_images(ds.train, "digits")[:32])
    model.eval(), copy.eval()
    with torch.no_grad():
        assert torch.equal(model(raw), copy(raw))
    copy.train()
    opt = torch.optim.SGD(copy.parameters(), lr=0.1)
    before = copy.net.fc.weight.detach().clone()
    loss = torch.nn.functional.cross_entropy(copy.logits(raw), ds.train.y[:32])
    loss.backward()
    opt.step()
    assert not torch.equal(before, copy.net.fc.weight) and torch.equal(copy.mean, model.mean)


def test_model_card_says_what_where_score_input_and_check() -> None:
    cfg = TrainConfig(dataset="digits", depth=20, residual=False, lr=0.0123, epochs=8, init="kaiming")
    facts = CardFacts("degradation", "p123", "confirm", "abc_00007", "r456", 0.953, None,
                      {"training": "aaaa", "testing": "bbbb"}, "deg-best")
    card = model_card(cfg, facts)
    for text in ("ResNet-20 (plain) on digits", "init kaiming", "lr 0.0123", "8 epochs", "stage confirm",
                 "`abc_00007`", "`r456`", "0.9530", "training `aaaa`", "float64 array of shape (N, 8, 8)",
                 "load_digits().images", "argmax", "resnet-sweep reproduce models:/deg-best@champion"):
        assert text in card, text


# --- a real digits sweep, its champion loaded elsewhere and served ------------------------------------------

@pytest.fixture(scope="module")
def digits_winner(mlflow_http, tmp_path_factory):
    """A tiny digits sweep (2 trials of ResNet-8, 4 epochs) registered as MODEL: (tracking uri, champion's run)."""
    folder = tmp_path_factory.mktemp("digits-winner")
    spec = {"name": "digits_winner", "dataset": "digits", "train": {"epochs": 4, "batch_size": 32, "depth": 8},
            "search_space": {"lr": {"grid": [0.02, 0.05]}}, "search": "grid", "scheduler": "none",
            "max_concurrent_trials": 2, "checkpoint_every": 4}
    path = folder / "digits_winner.yaml"
    path.write_text(yaml.safe_dump(spec))
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "MLFLOW_TRACKING_URI")}
    done = subprocess.run([*CLI, "run", str(path), "--tracking-uri", mlflow_http.url, "--no-report",
                           "--register", MODEL], cwd=folder, env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    client = MlflowClient(mlflow_http.url)
    version = client.get_model_version_by_alias(MODEL, "champion")
    return mlflow_http.url, client.get_run(version.tags["trial_run_id"])


def raw_test_split(run, folder) -> tuple[str, np.ndarray]:
    """The run's digits test images as load_digits gives them (saved to images.npy) and their labels."""
    test = load_digits_data(config_of(run).seed).test
    path = os.path.join(folder, "images.npy")
    np.save(path, raw_images(test, "digits"))
    return path, test.y.numpy()


# Runs in a fresh interpreter that cannot import this project (no repo root on sys.path, no editable finder).
FRESH = r"""
import json, sys
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
sys.path_hooks[:] = [h for h in sys.path_hooks if "__editable__" not in getattr(h, "__module__", "")]
sys.path[:] = [p for p in sys.path if p not in ("", ".", REPO) and "__editable__" not in p]
sys.path_importer_cache.clear()
try:
    import resnet_core
    raise SystemExit("resnet_core is importable here: " + resnet_core.__file__)
except ImportError:
    pass
import mlflow, numpy as np
probs = mlflow.pyfunc.load_model(URI).predict(np.load(IMAGES))
module = mlflow.pytorch.load_model(URI)
print(json.dumps({"labels": probs.argmax(1).tolist(), "sums": probs.sum(1).tolist(),
                  "module": type(module).__module__ + "." + type(module).__name__, "training": module.training}))
"""


@pytest.mark.slow
def test_champion_predicts_raw_digits_where_only_mlflow_and_torch_are(digits_winner, tmp_path) -> None:
    """pyfunc on load_digits' raw images scores the run's logged test/acc, in a process without this project."""
    uri, run = digits_winner
    images, labels = raw_test_split(run, tmp_path)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = FRESH.replace("REPO", repr(repo)).replace("URI", repr(f"models:/{MODEL}@champion")).replace(
        "IMAGES", repr(images))
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, "MLFLOW_TRACKING_URI": uri}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    acc = float(np.mean(np.array(out["labels"]) == labels))
    logged = run.data.metrics["test/acc"]
    print(f"\nraw digits through pyfunc (fresh process): {acc:.4f}; run's logged test/acc {logged:.4f}")
    assert abs(acc - logged) <= TOLERANCE
    assert np.allclose(out["sums"], 1.0, atol=1e-5)
    assert out["module"] == "resnet_core.serving.RawInputClassifier" and out["training"] is False


@pytest.mark.slow
def test_registered_champion_carries_its_card(digits_winner, tmp_path) -> None:
    """The version keeps its tags, and the version and the logged model describe the model; metadata says raw."""
    import mlflow
    from mlflow.models import get_model_info

    uri, run = digits_winner
    client = MlflowClient(uri)
    version = client.get_model_version_by_alias(MODEL, "champion")
    assert {"sweep", "trial_id", "trial_run_id", "parent_run_id"} <= set(version.tags)
    card = version.description
    for text in ("ResNet-8 (residual) on digits", "stage search", run.data.tags["trial_id"], run.info.run_id,
                 f"{run.data.metrics['test/acc']:.4f}", "load_digits().images",
                 f"resnet-sweep reproduce models:/{MODEL}@champion"):
        assert text in card, text
    model_id = version.model_id or version.source.rsplit("/", 1)[-1]  # over REST: source is models:/<model_id>
    assert client.get_logged_model(model_id).tags["mlflow.note.content"] == card
    mlflow.set_tracking_uri(uri)
    info = get_model_info(f"models:/{MODEL}@champion")
    assert info.metadata["input"] == "raw" and info.signature.inputs.to_dict()[0]["tensor-spec"] == {
        "dtype": "float64", "shape": (-1, 8, 8)}
    folder = mlflow.artifacts.download_artifacts(f"models:/{MODEL}@champion", dst_path=str(tmp_path))
    with open(os.path.join(folder, "extra_files", "MODEL_CARD.md")) as fh:
        assert fh.read().strip() == card.strip()


def _post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def _ping(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/ping", timeout=2) as resp:
            return resp.status == 200
    except (OSError, urllib.error.URLError):
        return False


@pytest.mark.slow
def test_mlflow_models_serve_answers_raw_digits(digits_winner, tmp_path) -> None:
    """`mlflow models serve` on the champion answers raw load_digits images with the run's test accuracy."""
    uri, run = digits_winner
    images, labels = raw_test_split(run, tmp_path)
    port = free_port()
    log = tmp_path / "serve.log"
    bin_dir = os.path.dirname(sys.executable)  # it runs `uvicorn` from PATH, as in an activated environment
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    start = time.monotonic()
    with open(log, "w") as fh:
        proc = subprocess.Popen([os.path.join(bin_dir, "mlflow"), "models", "serve", "-m", f"models:/{MODEL}@champion",
                                 "--env-manager", "local", "--host", "127.0.0.1", "-p", str(port)], cwd=tmp_path,
                                env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _ping(base), 180, "mlflow models serve /ping", process=proc, log_path=str(log))
        answer = _post(f"{base}/invocations", {"inputs": np.load(images).tolist()})
        first = time.monotonic() - start
        probs = np.array(answer["predictions"])
        acc = float(np.mean(probs.argmax(1) == labels))
        logged = run.data.metrics["test/acc"]
        print(f"\nraw digits through `mlflow models serve`: {acc:.4f}; logged test/acc {logged:.4f}; "
              f"first answer {first:.1f} s after start")
        assert probs.shape == (len(labels), 10) and abs(acc - logged) <= TOLERANCE
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.slow
def test_old_style_model_reproduces_with_a_warning(digits_winner) -> None:
    """A model logged the old way (the plain net, normalized float32 signature) still reproduces, with a warning."""
    import mlflow
    from mlflow.models import infer_signature

    from sweeps.reproduce import model_input_warning

    uri, run = digits_winner
    cfg = config_of(run)
    net = tiny_net(cfg).eval()
    example = np.zeros((2, 1, 8, 8), dtype=np.float32)
    with torch.no_grad():
        signature = infer_signature(example, net(torch.from_numpy(example)).numpy())
    mlflow.set_tracking_uri(uri)
    with mlflow.start_run(experiment_id=run.info.experiment_id, run_name="old-style-model"):
        info = mlflow.pytorch.log_model(net, name="best_model", signature=signature, input_example=example,
                                        registered_model_name=f"{MODEL}-old", pip_requirements=["torch"])
    client = MlflowClient(uri)
    old = f"models:/{MODEL}-old@champion"
    client.set_registered_model_alias(f"{MODEL}-old", "champion", str(info.registered_model_version))
    client.set_model_version_tag(f"{MODEL}-old", str(info.registered_model_version), "trial_run_id", run.info.run_id)
    assert model_input_warning(f"models:/{MODEL}@champion", uri) is None
    done = subprocess.run([*CLI, "reproduce", old, "--tracking-uri", uri], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    warnings = [line for line in done.stdout.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "expects normalized float32" in warnings[0] and old in warnings[0]
    assert "reproduced" in done.stdout
