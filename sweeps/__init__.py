"""Ray Tune + Optuna + MLflow glue around resnet_core, the sweep specs and the resnet-sweep command line.

The Python API (see docs/api.md):

    import sweeps
    r = sweeps.run("smoke", tracking_uri="http://127.0.0.1:5000")   # or resume(...), load(...)
    print(r.headline)
    r.verdict, r.trials, r.history("train/error"), r.figures, r.best(), r.reproduce(), r.report(), r.ui_url

The names below load on first use (PEP 562): `import sweeps` costs no torch, Ray, Optuna or MLflow import.
"""

from resnet_core.lazy import lazy_getattr

_HOME = {"run": "api", "resume": "api", "load": "api", "as_spec": "api", "SweepResult": "result",
         "SweepError": "errors", "SpecError": "errors", "ServiceError": "errors", "SweepSpec": "spec",
         "Reproduction": "reproduce"}

__all__ = list(_HOME)


__getattr__ = lazy_getattr(__name__, _HOME)


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
