"""The report and the MLflow UI in a real headless Chromium (Debian's, driven by Playwright for Python).

The MLflow UI polls the server, so every wait is for an element, never for network idle.
Screenshots go to test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient

from sweeps.tracking.runs import find_parent
from dashboards.report.drawing import FIGURES
from sweeps.tracking.links import ui_link
from sweeps.tracking.names import EXPERIMENT_KIND as EXPERIMENT_KIND_TAG
from sweeps.tracking.names import TRAINING_KIND

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"  # Debian's package, installed by tests/run.sh (no Playwright download here)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parent.parent / "test-artifacts"
UI_TIMEOUT_MS = 60_000  # the first UI load on a busy 2-core machine takes a while


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module."""
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (tests/run.sh does this)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser) -> Iterator:
    """A fresh page in its own context, so no UI state (expanded rows, panels) carries over between tests."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    yield context.new_page()
    context.close()


def _record_errors(page) -> list[str]:
    """A list that fills with the page's console errors and uncaught exceptions."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def _screenshot(page, name: str, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name), full_page=full_page)


def _sweep_runs(sweep) -> tuple:
    """(experiment id, parent run, child runs) of the sweep, from the MLflow API."""
    client = MlflowClient(sweep.tracking_uri)
    parent = find_parent(client, sweep.experiment)
    children = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    return parent.info.experiment_id, parent, children


def _hide_assistant(page) -> None:
    """Close the MLflow Assistant side panel when it is open, so screenshots show the runs."""
    close = page.get_by_role("button", name="Close", exact=True)
    if close.count() == 1 and close.is_visible():
        close.click()


def test_static_report_renders(smoke_sweep_http, page) -> None:
    from playwright.sync_api import expect

    report = smoke_sweep_http.report_dir / "report.html"  # written by `resnet-sweep run` itself
    errors = _record_errors(page)
    page.goto(report.as_uri(), wait_until="load")
    images = page.locator("img")
    expect(images).to_have_count(len(FIGURES))
    widths = images.evaluate_all("els => els.map(e => e.complete ? e.naturalWidth : 0)")
    assert all(w > 0 for w in widths), f"images that did not load: {widths}"
    verdict = page.locator("table.verdict")
    expect(verdict).to_be_visible()
    expect(verdict.locator("tbody tr")).to_have_count(2)  # the smoke sweep's depths 8 and 14
    _screenshot(page, "report.png", full_page=True)
    assert errors == []


def _first_screen(page, url: str) -> str:
    """Open url in a fresh page as a person does; the path of the tab the UI lands on once it has chosen one."""
    from playwright.sync_api import expect

    page.goto(url)
    # The bare experiment page picks its tab from data it loads, then redirects to /runs, /overview/... or /traces.
    expect(page).to_have_url(re.compile(r"#/experiments/\d+/\w+"), timeout=UI_TIMEOUT_MS)
    return page.url.split("#", 1)[1].split("?", 1)[0]


def _expect_training_runs(page, parent, children) -> None:
    """The runs table: the parent run, its trials collapsed under it, then shown by its expander."""
    from playwright.sync_api import expect

    parent_row = page.locator(f'[role="row"][row-id="{parent.info.run_id}"]')
    expect(parent_row.first).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(page.get_by_role("link", name=parent.info.run_name)).to_be_visible()
    expect(page.get_by_text(f"{len(children) + 1} matching runs")).to_be_visible()
    for child in children:  # collapsed under the parent until its expander is clicked
        expect(page.locator(f'[role="row"][row-id="{child.info.run_id}"]')).to_have_count(0)
    parent_row.locator('button[data-component-id*="runnamecellrenderer"]').first.click()
    for child in children:
        expect(page.get_by_role("link", name=child.info.run_name)).to_be_visible()


def test_sweep_experiment_is_tagged_as_model_training(smoke_sweep_http) -> None:
    experiment_id, _, _ = _sweep_runs(smoke_sweep_http)
    tags = MlflowClient(smoke_sweep_http.tracking_uri).get_experiment(experiment_id).tags
    assert tags.get(EXPERIMENT_KIND_TAG) == TRAINING_KIND


def test_bare_experiment_url_lands_on_training_runs(smoke_sweep_http, page) -> None:
    """A person pastes the experiment's URL into a fresh browser: the first screen is the trials, not GenAI.

    MLflow 3.17 ignores the experiment-kind tag here and lands on GenAI unless the browser chose Model training;
    our server app makes that the default. If a newer UI renames its setting, this fails: that is what tells us.
    """
    from playwright.sync_api import expect

    experiment_id, parent, children = _sweep_runs(smoke_sweep_http)
    landed = _first_screen(page, f"{smoke_sweep_http.tracking_uri}/#/experiments/{experiment_id}")
    assert landed == f"/experiments/{experiment_id}/runs", f"the bare experiment URL opened {landed}"
    _expect_training_runs(page, parent, children)
    expect(page.get_by_text("Which run performed best?")).to_have_count(0)  # the assistant not popped open
    _screenshot(page, "mlflow_bare_url.png")


def test_printed_link_lands_on_training_runs(smoke_sweep_http, page) -> None:
    experiment_id, parent, children = _sweep_runs(smoke_sweep_http)
    assert len(children) == 4
    landed = _first_screen(page, ui_link(smoke_sweep_http.tracking_uri, experiment_id))  # what the CLI prints
    assert landed == f"/experiments/{experiment_id}/runs", f"the printed link opened {landed}"
    _expect_training_runs(page, parent, children)
    _hide_assistant(page)
    _screenshot(page, "mlflow_landing.png")


def test_chart_view_plots_val_acc_of_every_trial(smoke_sweep_http, page) -> None:
    from playwright.sync_api import expect

    experiment_id, parent, children = _sweep_runs(smoke_sweep_http)
    client = MlflowClient(smoke_sweep_http.tracking_uri)
    epochs = {c.info.run_id: len(client.get_metric_history(c.info.run_id, "val/acc")) for c in children}
    assert all(epochs.values())
    _first_screen(page, ui_link(smoke_sweep_http.tracking_uri, experiment_id))
    _expect_training_runs(page, parent, children)  # expanded, so the trials are the runs on the charts
    page.locator('label:has(input[name="runs-view-mode"][value="CHART"])').click()
    page.get_by_placeholder("Search metric charts").fill("val/acc")
    card = page.locator('[data-testid="experiment-view-compare-runs-card"]', has=page.locator('h4[title="val/acc"]'))
    expect(card).to_have_count(1, timeout=UI_TIMEOUT_MS)
    plot = card.locator(".js-plotly-plot")
    expect(plot.locator(".scatterlayer .trace path.js-line").first).to_be_visible()
    # Plotly's own record of what it drew: one line (or more) per run, keyed by run id, with its points
    drawn = plot.evaluate("el => el.data.map(d => [d.uuid, (d.y || []).length])")
    assert {run_id for run_id, _ in drawn} == set(epochs)
    assert all(points == epochs[run_id] for run_id, points in drawn)
    _hide_assistant(page)
    card.scroll_into_view_if_needed()  # the search also keeps the parent's best/val/acc chart, above this one
    _screenshot(page, "mlflow_charts.png")


def test_mlflow_ui_shows_report_artifacts(smoke_sweep_http, page) -> None:
    from playwright.sync_api import expect

    experiment_id, parent, _ = _sweep_runs(smoke_sweep_http)
    logged = {a.path for a in MlflowClient(smoke_sweep_http.tracking_uri).list_artifacts(parent.info.run_id, "report")}
    assert {"report/report.html", "report/degradation.png"} <= logged
    # The parent's description sums up the sweep and ends with the link to its report, which opens it.
    link = parent.data.tags["mlflow.note.content"].rsplit(" Report: ", 1)[1]
    assert link == (f"{smoke_sweep_http.tracking_uri}/#/experiments/{experiment_id}/runs/{parent.info.run_id}"
                    "/artifacts/report/report.html")
    page.goto(link)
    expect(page.get_by_text("report.html", exact=True).first).to_be_visible(timeout=UI_TIMEOUT_MS)
    page.goto(f"{smoke_sweep_http.tracking_uri}/#/experiments/{experiment_id}/runs/{parent.info.run_id}/artifacts")
    folder = page.get_by_text("report", exact=True).first
    expect(folder).to_be_visible(timeout=UI_TIMEOUT_MS)
    folder.click()
    for name in ("report.html", "parallel_coordinates.html", *(f"{n}.png" for n, *_ in FIGURES)):
        expect(page.get_by_text(name, exact=True)).to_be_visible()
    page.get_by_text("degradation.png", exact=True).click()
    expect(page.get_by_text("mlflow-artifacts:/", exact=False).first).to_be_visible()  # proxied by the server
    preview = page.locator('img[src^="blob:"]').first  # the UI fetches the PNG and shows it from a blob URL
    expect(preview).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=preview.element_handle())
    _hide_assistant(page)
    _screenshot(page, "mlflow_artifacts.png")


def test_trial_run_shows_its_description_data_set_and_system_metrics(smoke_sweep_http, page) -> None:
    from playwright.sync_api import expect

    experiment_id, _, children = _sweep_runs(smoke_sweep_http)
    run = children[0]
    url = f"{smoke_sweep_http.tracking_uri}/#/experiments/{experiment_id}/runs/{run.info.run_id}"
    page.goto(url)
    expect(page.get_by_text(run.data.tags["mlflow.note.content"], exact=True)).to_be_visible(timeout=UI_TIMEOUT_MS)
    training = next(i.dataset for i in run.inputs.dataset_inputs if i.tags[0].value == "training")
    expect(page.get_by_text(f"{training.name} ({training.digest})", exact=True)).to_be_visible()
    expect(page.get_by_text("System metrics (5)", exact=True)).to_be_visible()
    _hide_assistant(page)
    _screenshot(page, "mlflow_trial_overview.png")
    page.goto(f"{url}/system-metrics")
    for key in ("cpu_utilization_percentage", "process_memory_rss_megabytes"):  # each chart's legend
        expect(page.get_by_text(f"{run.info.run_name} (system/{key})", exact=True)).to_be_visible(
            timeout=UI_TIMEOUT_MS)
    _screenshot(page, "mlflow_system_metrics.png")


def test_registered_model_page_shows_the_champion_alias(smoke_sweep_http, page) -> None:
    from playwright.sync_api import expect

    from conftest import SMOKE_MODEL

    page.goto(f"{smoke_sweep_http.tracking_uri}/#/models/{SMOKE_MODEL}")
    row = page.get_by_role("row", name=re.compile(r"^Version 1 "))
    expect(row.get_by_role("cell", name="champion")).to_be_visible(timeout=UI_TIMEOUT_MS)
    expect(row.get_by_role("status", name="sweep")).to_have_text(re.compile(r"sweep\s*:\s*smoke"))
    _screenshot(page, "mlflow_champion.png")


def test_optuna_dashboard_shows_the_sweeps_study_and_trials(smoke_sweep_http, page, tmp_path) -> None:
    """`resnet-sweep dashboard`: without a study database, a study rebuilt from the MLflow runs, served locally."""
    import subprocess
    import sys

    import optuna
    from playwright.sync_api import expect

    from sweeps.testing.ports import free_port
    from sweeps.testing.procs import wait_until

    _, parent, children = _sweep_runs(smoke_sweep_http)
    port, db = free_port(), tmp_path / "optuna.db"
    server = subprocess.Popen([sys.executable, "-m", "sweeps.cli", "dashboard", "smoke", "--tracking-uri",
                               smoke_sweep_http.tracking_uri, "--port", str(port), "--out", str(db)],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        printed = ""
        while "http://" not in printed and server.poll() is None:
            printed += server.stdout.readline()
        url = next(w for w in printed.split() if w.startswith(f"http://127.0.0.1:{port}/dashboard/studies/"))
        study = optuna.load_study(study_name=parent.info.run_name, storage=f"sqlite:///{db}")
        assert len(study.trials) == len(children) == 4 and study.best_value == parent.data.metrics["best/val/acc"]
        wait_until(lambda: _answers(url), 60, "optuna-dashboard never answered")
        page.goto(url)
        expect(page.get_by_text(f"{parent.info.run_name} (id=", exact=False).first).to_be_visible(
            timeout=UI_TIMEOUT_MS)
        expect(page.get_by_text(f"Best Trial (number={study.best_trial.number})")).to_be_visible()
        for number in range(4):  # every trial has its line among the intermediate values
            expect(page.get_by_text(f"trial #{number}", exact=True)).to_be_attached()
        _screenshot(page, "optuna_dashboard.png")
    finally:
        server.terminate()
        server.wait(timeout=30)


def _answers(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status == 200
    except OSError:
        return False
