"""Environment, not config: where the services are (MLflow, the Optuna study database, Tune's storage, the UI a
browser opens), read from flags and environment variables, and URLs that may hold a password (detect, mask).
No imports beyond the standard library: every room may use it."""

from __future__ import annotations

import os
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRACKING_ENV = "MLFLOW_TRACKING_URI"
OPTUNA_STORAGE_ENV = "OPTUNA_STORAGE"  # the Optuna study database's URL
TUNE_STORAGE_ENV = "TUNE_STORAGE_PATH"  # where Tune keeps a sweep's state; set by docker-compose.yml and deploy/kuberay
DEFAULT_TUNE_STORAGE = "ray_results"
MASK = "***"
DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"  # MLflow's own local default, in the working folder
UI_PORT = 5000  # MLflow's own default port, where `resnet-sweep ui` serves a local store
# Where people open the UI when that is not the tracking URI: a driver in a container tracks to http://mlflow:5000,
# which only the compose network resolves, while the browser on the host opens http://127.0.0.1:5000.
UI_URL_ENV = "RESNET_SWEEP_UI_URL"


def tracking_uri_from(flag: str | None) -> str:
    """The --tracking-uri flag, else $MLFLOW_TRACKING_URI, else the local default."""
    return flag or os.environ.get(TRACKING_ENV) or DEFAULT_TRACKING_URI


def mlflow_client_defaults() -> None:
    """The MLflow client settings of the command line and the API (each only where the user set none)."""
    # MLflow draws a progress bar for every artifact download (the spec, the report's inputs): noise in a terminal.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # A server that keeps artifacts on S3 hands MLflow 3 clients presigned S3 URLs for downloads. Those name
    # the server's own S3 endpoint (http://minio:9000 in docker-compose.yml), which a laptop or a job pod
    # often cannot reach; stream downloads through the server, which can. Set it to true for direct S3.
    os.environ.setdefault("MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD", "false")


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
    return flag or os.environ.get(OPTUNA_STORAGE_ENV) or spec_storage


def tune_storage_from(flag: str | None) -> str:
    """The storage path: --storage-path, else $TUNE_STORAGE_PATH, else ./ray_results (made absolute)."""
    root = flag or os.environ.get(TUNE_STORAGE_ENV) or DEFAULT_TUNE_STORAGE
    return root.rstrip("/") if "://" in root else os.path.abspath(root)


def ui_server(tracking_uri: str) -> str:
    """Where a tracking URI's UI is: $RESNET_SWEEP_UI_URL, else the server itself, else `resnet-sweep ui`'s port."""
    if os.environ.get(UI_URL_ENV):
        return os.environ[UI_URL_ENV].rstrip("/")
    return tracking_uri.rstrip("/") if tracking_uri.startswith(("http://", "https://")) else f"http://127.0.0.1:{UI_PORT}"
