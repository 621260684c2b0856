"""The `resnet-sweep` MLflow server app: MLflow's own page, with the UI's defaults set where the browser has none."""

from __future__ import annotations

import json
import re

from mlflow.utils.plugins import get_entry_points

from sweeps.cli import mlflow_app

PAGE = '<!doctype html><html><head><meta charset="utf-8"/><title>MLflow</title></head><body></body></html>'


def test_app_is_registered_for_mlflow_server() -> None:
    apps = {e.name: e.value for e in get_entry_points("mlflow.app")}
    assert apps.get(mlflow_app.APP_NAME) == "sweeps.cli.mlflow_app:create_app"


def test_script_goes_first_in_head_once() -> None:
    page = mlflow_app.with_default_view(PAGE)
    assert page.startswith("<!doctype html><html><head>" + mlflow_app.DEFAULT_VIEW_SCRIPT + '<meta charset="utf-8"/>')
    assert mlflow_app.with_default_view(page) == page
    assert mlflow_app.with_default_view("not html") == "not html"


def test_script_sets_only_unset_keys_to_the_uis_json_values() -> None:
    script = mlflow_app.DEFAULT_VIEW_SCRIPT
    for key, value in mlflow_app.DEFAULTS.items():
        # useLocalStorage reads JSON.parse(localStorage[key]); a value already chosen is never overwritten
        assert f"if(localStorage.getItem({json.dumps(key)})===null)" in script
        assert f"localStorage.setItem({json.dumps(key)},{json.dumps(json.dumps(value))})" in script
    assert script.count("setItem") == len(mlflow_app.DEFAULTS)


def test_the_installed_ui_still_reads_these_settings() -> None:
    """The keys are MLflow UI internals: fail loudly when an upgrade renames them."""
    import glob
    import os

    import mlflow

    bundle = glob.glob(os.path.join(os.path.dirname(mlflow.__file__), "server/js/build/static/js/main.*.js"))
    text = open(bundle[0]).read()
    for key, value in mlflow_app.DEFAULTS.items():
        name = re.sub(r"_v\d+$", "", key)
        assert f'key:"{name}",version:1' in text, f"the MLflow UI no longer keeps {name}"
    assert '"machine_learning"' in text
