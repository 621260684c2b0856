"""The resnet-sweep command line: train and probe end to end, bad input as one line with exit 2."""

from __future__ import annotations

import csv
import re
import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "sweeps.cli"]


def run(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def test_train_prints_summary() -> None:
    done = run("train", "--dataset", "synthetic", "--depth", "8", "--epochs", "2", "--batch-size", "64")
    assert done.returncode == 0, done.stderr
    assert "val/acc" in done.stdout and "wall time" in done.stdout


def test_train_auto_precision_says_what_it_used() -> None:
    from resnet_core import hardware

    done = run("train", "--dataset", "synthetic", "--depth", "8", "--epochs", "1", "--precision", "auto",
               "--device", "cpu", timeout=600)
    assert done.returncode == 0, done.stderr
    used = "bf16" if hardware.cpu_bf16_native() else "fp32"
    assert re.search(rf"precision used\s*│\s*{used}", done.stdout), done.stdout


def test_train_config_file_and_flag_override(tmp_path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("dataset: synthetic\ndepth: 8\nepochs: 1\nresidual: false\n")
    done = run("train", "--config", str(cfg), "--epochs", "2", "--save", str(tmp_path / "m.pt"))
    assert done.returncode == 0, done.stderr
    assert "plain" in done.stdout and (tmp_path / "m.pt").exists()


@pytest.mark.parametrize("args,field", [
    (["--depth", "51"], "depth must be 6n+2"),
    (["--depth", "21"], "depth must be 6n+2"),
    (["--init", "foo"], "init must be one of kaiming"),
    (["--lr", "-0.1"], "lr must be"),
    (["--lr", "abc"], "lr must be a number"),
    (["--dataset", "mnist"], "dataset must be one of"),
    (["--bogus", "1"], "unrecognized arguments: --bogus"),
])
def test_bad_flags_fail_in_one_line(args: list[str], field: str) -> None:
    done = run("train", *args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0], done.stderr


def test_probe_prints_ratio_table(tmp_path) -> None:
    out = tmp_path / "probe.csv"
    done = run("probe", "--depths", "8,20", "--inits", "kaiming,xavier", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "first/last" in done.stdout and "plain" in done.stdout and "residual" in done.stdout
    assert out.read_text().startswith("depth,residual,init,block,grad_norm")


def test_probe_rejects_bad_depth_and_init() -> None:
    for args, msg in ((["--depths", "20,21"], "depth must be 6n+2"), (["--inits", "nope"], "inits must be among")):
        done = run("probe", *args)
        assert done.returncode == 2 and msg in done.stderr


def test_probe_runs_each_activation_recipe(tmp_path) -> None:
    out = tmp_path / "probe.csv"
    done = run("probe", "--depths", "8,20", "--inits", "delta_orthogonal", "--residual", "off", "--norm", "none",
               "--activation", "tanh,tat", "--tat-eta", "0.9", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "tanh" in done.stdout and "α=0.164" in done.stdout and "first/last" in done.stdout
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0])[:5] == ["depth", "residual", "init", "block", "grad_norm"]
    assert {(r["depth"], r["activation"], r["tat_alpha"][:5]) for r in rows} == {
        ("8", "tanh", ""), ("20", "tanh", ""), ("8", "tat", "0.0"), ("20", "tat", "0.164")}


@pytest.mark.parametrize("args,msg", [
    (["--activation", "nope"], "--activation must be among relu, leaky_relu, tanh, tat; got 'nope'"),
    (["--norm", "gn"], "--norm must be among bn, none; got 'gn'"),
    (["--tat-eta", "0.5"], "--tat-eta applies to activation tat only"),
    (["--activation", "tat", "--tat-eta", "1.5"], "tat_eta must be in (0, 1)"),
])
def test_probe_rejects_bad_recipes_in_one_line(args: list[str], msg: str) -> None:
    done = run("probe", "--depths", "8", *args)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and msg in lines[0], done.stderr


def test_reproduce_of_an_unknown_model_fails_in_one_line(mlflow_http) -> None:
    done = run("reproduce", "models:/nobody@champion", "--tracking-uri", mlflow_http.url)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "model: models:/nobody@champion not found in the registry" in lines[0], done.stderr
