"""An MLflow server app (`mlflow server --app-name resnet-sweep`) whose UI opens experiments on their runs.

MLflow 3.17's UI ignores the experiment tag `mlflow.experimentKind` when it picks a landing page: it
reads the browser's GenAI / Model training switch (localStorage `mlflow.workflowType_v1`), which
defaults to GenAI, so a sweep's bare experiment URL shows an empty GenAI overview. This app serves the
same MLflow server with one change: a browser that has never chosen a view starts on "Model training"
(and without the assistant panel popping open). A choice the user makes is stored by the UI and kept.
"""

from __future__ import annotations

import json

from flask import Flask, Response, request

APP_NAME = "resnet-sweep"               # its name in pyproject's mlflow.app entry points
SERVER_ARGS = ("--app-name", APP_NAME)  # what `mlflow server` needs to serve it

# The UI's own localStorage settings (useLocalStorage stores `${key}_v${version}` as JSON), each set only
# where the browser holds no value yet: start on Model training, and don't pop the assistant panel open.
DEFAULTS = {
    "mlflow.workflowType_v1": "machine_learning",
    "mlflow.assistant.fab.autoOpenedOnFirstLoad_v1": True,
}
_SET_IF_UNSET = "if(localStorage.getItem({k})===null)localStorage.setItem({k},{v});"
DEFAULT_VIEW_SCRIPT = "<script>try{%s}catch(e){}</script>" % "".join(
    _SET_IF_UNSET.format(k=json.dumps(k), v=json.dumps(json.dumps(v))) for k, v in DEFAULTS.items())


def with_default_view(html: str) -> str:
    """index.html with the default-view script first in <head> (unchanged if already there or no head)."""
    if DEFAULT_VIEW_SCRIPT in html or "<head>" not in html:
        return html
    return html.replace("<head>", "<head>" + DEFAULT_VIEW_SCRIPT, 1)


def _inject(response: Response) -> Response:
    if request.path != "/" or response.status_code != 200 or response.mimetype != "text/html":
        return response
    response.direct_passthrough = False  # send_from_directory streams the file; we need its text
    response.set_data(with_default_view(response.get_data(as_text=True)))
    response.headers.pop("ETag", None)  # the page differs from the file the ETag was computed from
    return response


def training_view_app(flask_app: Flask) -> Flask:
    """Register the index.html rewrite on MLflow's Flask app (once)."""
    if _inject not in flask_app.after_request_funcs.get(None, []):
        flask_app.after_request(_inject)
    return flask_app


def create_app():
    """The `resnet-sweep` app factory: MLflow's own server (FastAPI over its Flask app), training view first."""
    from mlflow.server import app as flask_app

    training_view_app(flask_app)
    from mlflow.server.fastapi_app import app  # wraps that same Flask app

    return app
