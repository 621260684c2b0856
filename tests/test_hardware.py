"""Precision resolution and CPU detection: auto picks bf16 only where it is native; explicit bf16 is refused elsewhere."""

from __future__ import annotations

import dataclasses
import importlib

import pytest
import torch

from resnet_core import ConfigError, TrainConfig, Trainer, hardware
from sweeps.cli import main as cli_main


@pytest.mark.parametrize("device_type, native, expected", [
    ("cuda", True, "bf16"), ("cuda", False, "fp32"), ("cpu", True, "bf16"), ("cpu", False, "fp32")])
def test_auto_picks_bf16_only_where_native(device_type: str, native: bool, expected: str) -> None:
    assert hardware.resolve_precision("auto", device_type, native) == expected


@pytest.mark.parametrize("device_type", ["cpu", "cuda"])
@pytest.mark.parametrize("native", [True, False])
def test_fp32_stays_fp32(device_type: str, native: bool) -> None:
    assert hardware.resolve_precision("fp32", device_type, native) == "fp32"


def test_explicit_bf16_kept_where_native() -> None:
    assert hardware.resolve_precision("bf16", "cpu", True) == "bf16"
    assert hardware.resolve_precision("bf16", "cuda", False) == "bf16"  # the refusal is about emulated CPU bf16


def test_explicit_bf16_refused_on_cpu_without_native_bf16() -> None:
    with pytest.raises(ConfigError) as err:
        hardware.resolve_precision("bf16", "cpu", False, "AVX2")
    message = str(err.value)
    assert "\n" not in message and message.startswith("precision: ")
    assert "AVX2" in message and "auto" in message and "fp32" in message


@pytest.mark.parametrize("features, mkldnn, native", [
    (("AVX2",), False, False), (("AVX512",), False, False), (("AVX512", "AVX512_BF16"), False, True),
    (("AVX512", "AVX512_BF16", "AMX"), False, True), (("DEFAULT",), True, True)])
def test_native_bf16_from_features(features: tuple, mkldnn: bool, native: bool) -> None:
    assert hardware.has_native_bf16(features, mkldnn) is native


@pytest.mark.parametrize("cap, native", [("", True), ("AVX2", False), ("avx512_core", False),
                                         ("AVX512_CORE_BF16", True), ("AVX512_CORE_AMX", True), ("ALL", True)])
def test_onednn_isa_cap_below_bf16_means_emulated(cap: str, native: bool) -> None:
    assert hardware.has_native_bf16(("AVX512", "AVX512_BF16", "AMX"), True, cap.upper()) is native


def test_onednn_isa_cap_is_read_and_named(monkeypatch) -> None:
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "avx2")
    assert hardware.onednn_isa_cap() == "AVX2"
    assert hardware.cpu_capability().endswith(" ONEDNN_MAX_CPU_ISA=AVX2")
    assert hardware.cpu_bf16_native() is False  # auto gives fp32, an explicit bf16 is refused
    assert hardware.precision_for("auto", torch.device("cpu")) == "fp32"
    with pytest.raises(ConfigError, match="ONEDNN_MAX_CPU_ISA=AVX2"):
        hardware.precision_for("bf16", torch.device("cpu"))


def test_cpu_detection_names_model_and_torch_capability() -> None:
    assert hardware.cpu_model().strip()
    assert hardware.cpu_capability().split()[0] == torch.backends.cpu.get_cpu_capability()


@pytest.fixture
def cpu_without_bf16(monkeypatch):
    """This CPU as an AVX2 one without native bf16, whatever the machine really has."""
    monkeypatch.setattr(hardware, "cpu_bf16_native", lambda: False)
    monkeypatch.setattr(hardware, "cpu_capability", lambda: "AVX2")


def test_trainer_refuses_bf16_before_loading_data(tiny: TrainConfig, cpu_without_bf16, monkeypatch) -> None:
    def no_data(*_):
        raise AssertionError("data loaded before the precision check")
    # resnet_core.train is also the name of the train() function the package exports: fetch the module itself.
    monkeypatch.setattr(importlib.import_module("resnet_core.train"), "load_data", no_data)
    with pytest.raises(ConfigError, match=r"precision: bf16 .*AVX2.*use precision auto or fp32"):
        Trainer(dataclasses.replace(tiny, precision="bf16"))


@pytest.mark.parametrize("native, expected", [(False, "fp32"), (True, "bf16")])
def test_trainer_auto_uses_resolved_precision(tiny: TrainConfig, monkeypatch, native: bool, expected: str) -> None:
    monkeypatch.setattr(hardware, "cpu_bf16_native", lambda: native)
    trainer = Trainer(dataclasses.replace(tiny, precision="auto", epochs=1))
    assert trainer.precision == expected
    assert trainer.autocast().__class__.__name__ == ("autocast" if native else "nullcontext")


def test_cli_train_bf16_exits_2_in_one_line(cpu_without_bf16, capsys) -> None:
    code = cli_main(["train", "--dataset", "synthetic", "--depth", "8", "--epochs", "1", "--precision", "bf16",
                     "--device", "cpu"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert err.startswith("resnet-sweep train: error: precision: bf16") and "AVX2" in err
