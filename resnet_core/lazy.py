"""PEP 562 lazy attributes for a package: a name loads its submodule on first use, so importing stays light."""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_getattr(package: str, homes: dict[str, str]) -> Callable[[str], object]:
    """The package's module __getattr__: name -> getattr(import_module(package.homes[name]), name), kept once loaded."""
    def __getattr__(name: str):
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(package)
        value = getattr(importlib.import_module(f".{homes[name]}", package), name)
        setattr(module, name, value)  # later lookups skip this function
        return value
    return __getattr__
