"""The module paths of sweeps/ before it had rooms, for sweeps saved then: Tune pickles callbacks, the searcher, the
scheduler, the trainable and the spec by class path into a sweep's folder, and `resume` unpickles them.

`install_old_paths()` (called before a Tuner is restored) registers each old module name as a module holding the
names of its new homes. Nothing else imports an old path; tests/fixtures/legacy_sweep is a sweep saved by that code.
"""

from __future__ import annotations

import importlib
import sys
import types

# old module -> the modules that now hold the names Tune pickled from it
OLD_PATHS = {
    "sweeps.tuning": ("sweeps.trial.trainable",),                            # trainable
    "sweeps.blocked": ("sweeps.search.searchers", "sweeps.search.schedulers"),  # ArmSearcher, PerArmASHA
    "sweeps.live": ("sweeps.engine.live",),                                  # SweepConsole
    "sweeps.study_storage": ("sweeps.storage.studies",),                     # MaskedRDBStorage
    "sweeps.results": ("sweeps.trial.reports",),
    "sweeps.recipes": ("sweeps.spec.recipes",),
    "sweeps.state": ("sweeps.storage.state",),
    "sweeps.arms": ("sweeps.search.arms",),
    # sweeps.spec (SweepSpec, Dimension, ...) and sweeps.tracking (MlflowTracker, TrimKeptResults) are packages
    # now, exporting the same names.
}


def install_old_paths() -> None:
    """Make every old module path importable, holding the names of its new homes (idempotent)."""
    for old, homes in OLD_PATHS.items():
        if old in sys.modules:
            continue
        module = types.ModuleType(old, f"Old path of {', '.join(homes)} (sweeps.engine.legacy)")
        for home in homes:
            module.__dict__.update({k: v for k, v in vars(importlib.import_module(home)).items()
                                    if not k.startswith("__")})
        sys.modules[old] = module
