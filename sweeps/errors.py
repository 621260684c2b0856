"""The one-line errors a user gets before any work starts (printed by the command line, exit code 2)."""

from __future__ import annotations

from resnet_core.config import ConfigError


class SweepError(ConfigError):
    """Bad input or an unusable service, found before Ray starts or any MLflow run is made; the message is one line."""


class SpecError(SweepError):
    """A sweep spec field (or a flag standing for one) is outside what is allowed; the message names the field."""


class ServiceError(SweepError):
    """A service the sweep needs (MLflow, the storage path, the study database, the cluster) is unreachable,
    refuses us, or lacks what was asked of it; the message names it and what to set."""
