"""Database URLs that may hold a password: detect it, mask it, and find the Optuna storage URL (no imports)."""

from __future__ import annotations

import os
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

STORAGE_ENV = "OPTUNA_STORAGE"
MASK = "***"
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"  # MLflow's own local default, in the working folder


def tracking_uri_from(flag: str | None) -> str:
    """The --tracking-uri flag, else $MLFLOW_TRACKING_URI, else the local default."""
    return flag or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


def _password_keys(query: str) -> list[str]:
    """Query keys that carry a password (libpq accepts ?password=... in a URL too)."""
    return [k for k, _ in parse_qsl(query, keep_blank_values=True) if k.lower() == "password"]


def has_credentials(url: str) -> bool:
    """Whether url holds a password, as user:password@ or as a password= query parameter."""
    parts = urlsplit(url)
    return parts.password is not None or bool(_password_keys(parts.query))


def redact(url: str) -> str:
    """url with any password replaced by ***, safe to log, print or write to a file."""
    parts = urlsplit(url)
    if not has_credentials(url):
        return url  # unchanged: urlunsplit would rewrite sqlite:///x.db as sqlite:/x.db
    netloc, query = parts.netloc, parts.query
    if parts.password is not None:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{userinfo.partition(':')[0]}:{MASK}@{hostport}"
    if _password_keys(query):
        query = urlencode([(k, MASK if k.lower() == "password" else v)
                           for k, v in parse_qsl(query, keep_blank_values=True)], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def optuna_storage_from(flag: str | None, spec_storage: str | None = None) -> str | None:
    """The Optuna storage URL: --optuna-storage, else $OPTUNA_STORAGE, else the spec's (credential-free) one."""
    return flag or os.environ.get(STORAGE_ENV) or spec_storage
