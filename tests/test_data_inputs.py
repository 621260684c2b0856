"""The data sets a run used, as MLflow dataset inputs: digests of the exact splits, their source and context."""

from __future__ import annotations

from resnet_core.data import describe_splits, load_digits_data, make_synthetic
from sweeps.tracking.batching import dataset_inputs


def test_digests_name_the_exact_split_which_the_seed_picks() -> None:
    a, b, again = (describe_splits(load_digits_data(seed), "digits") for seed in (0, 1, 0))
    assert [s["context"] for s in a] == ["training", "validation", "testing"]
    assert a == again  # the same seed, the same examples
    assert a[0]["digest"] != b[0]["digest"]  # another seed draws other training examples
    assert sum(s["rows"] for s in a) == 1797 and a[0]["source"] == "sklearn.datasets.load_digits"
    assert len({s["digest"] for s in a}) == 3 and all(len(s["digest"]) == 16 for s in a)


def test_inputs_carry_name_digest_source_and_context() -> None:
    inputs = dataset_inputs(describe_splits(make_synthetic(0), "synthetic"))
    assert [(i.dataset.name, i.tags[0].key, i.tags[0].value) for i in inputs] == [
        ("synthetic", "mlflow.data.context", "training"), ("synthetic", "mlflow.data.context", "validation"),
        ("synthetic", "mlflow.data.context", "testing")]
    assert inputs[0].dataset.source.startswith("resnet_core.data.make_synthetic")
    assert '"num_rows": 512' in inputs[0].dataset.profile
