"""The sweep report: built from a real smoke sweep in MLflow, logged on its parent run; notes for missing data."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from dashboards import report, verdict
from dashboards.load import find_parent

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURE_NAMES = [name for name, *_ in report.FIGURES]


@pytest.fixture(scope="module")
def built(smoke_sweep_sqlite, tmp_path_factory):
    """build_report on the sqlite smoke sweep: (sweep, out folder, report.html path)."""
    out = tmp_path_factory.mktemp("report")
    path = report.build_report(smoke_sweep_sqlite.experiment, smoke_sweep_sqlite.tracking_uri, str(out))
    return smoke_sweep_sqlite, out, path


def test_build_report_writes_every_figure(built) -> None:
    _, out, path = built
    assert path == str(out / "report.html")
    for name in FIGURE_NAMES:  # the smoke sweep has 2 depths, both arms, an lr range and history
        assert (out / f"{name}.png").read_bytes().startswith(PNG_MAGIC), name
    parcoords = (out / "parallel_coordinates.html").read_text()
    assert "Parcoords" in parcoords or "parcoords" in parcoords
    assert not re.search(r'<script[^>]+src="https?://', parcoords), "plotly.js must be inline, not from a CDN"


def test_report_html_is_self_contained(built) -> None:
    _, _, path = built
    page = open(path, encoding="utf-8").read()
    assert '<table class="verdict">' in page
    assert page.count('src="data:image/png;base64,') == len(FIGURE_NAMES)
    assert not re.search(r'(src|href)="(https?:)?//', page), "no network references in the static report"
    assert "name: smoke" in page and "search_space" in page  # the spec.yaml from the parent run
    for label in ("git commit", "torch", "mlflow", "hardware", "cpu", "precision used", "trial-hours", "outcomes"):
        assert f"<dt>{label}" in page, label
    assert "Table 6" not in page  # the paper comparison is for CIFAR-10 sweeps only
    assert "<dd>fp32 (4 trials)</dd>" in page


def test_report_logged_on_parent_run(built) -> None:
    sweep, _, _ = built
    client = MlflowClient(sweep.tracking_uri)
    parent = find_parent(client, sweep.experiment)
    logged = {a.path for a in client.list_artifacts(parent.info.run_id, "report")}
    expected = {"report/report.html", "report/parallel_coordinates.html", *(f"report/{n}.png" for n in FIGURE_NAMES)}
    assert expected <= logged
    assert client.get_run(parent.info.run_id).info.status == "FINISHED"  # logging did not reopen the run


def _trials(depths=(8, 14), seeds=(0, 1), outcome=lambda d, r: "completed", init="kaiming") -> pd.DataFrame:
    """Hand-built trials: plain error grows with depth, residual error does not; pruned runs keep their values."""
    rows = []
    for d in depths:
        for r in (False, True):
            for s in seeds:
                err = 0.1 + (0.0 if r else 0.01 * d) + 0.01 * s
                ok = outcome(d, r) in ("completed", "pruned")
                rows.append({"run_id": f"{d}{r}{s}", "depth": d, "residual": r, "init": init, "seed": s,
                             "lr": 0.1, "outcome": outcome(d, r), "train/error": err if ok else np.nan,
                             "val/acc": 0.8 - err if ok else np.nan, "best/val/acc": 0.81 - err if ok else np.nan})
    return pd.DataFrame(rows)


def _sections(trials, history, tmp_path) -> dict[str, report.Section]:
    inp = report.Inputs(trials, history, ("depth", "residual"), "val/acc", "max")
    return {s.name: s for s in report.write_figures(inp, str(tmp_path))}


def test_missing_data_becomes_notes_not_crashes(tmp_path) -> None:
    sections = _sections(_trials(depths=(20,)), None, tmp_path)  # one depth, no history, one lr
    assert sections["degradation"].path and sections["init_depth"].path
    assert sections["training_curves"].path is None and "history" in sections["training_curves"].text
    assert sections["gradient_flow"].path is None and "grad_norm" in sections["gradient_flow"].text
    assert sections["lr_sensitivity"].path is None and "lr was not swept" in sections["lr_sensitivity"].text


def test_diverged_arm_and_all_diverged(tmp_path) -> None:
    one_arm = _trials(outcome=lambda d, r: "diverged" if (d, r) == (14, False) else "completed")
    assert all(s.path for n, s in _sections(one_arm, None, tmp_path).items() if n in ("degradation", "init_depth"))
    assert "<table" in verdict.verdict_section(one_arm)
    none_left = _sections(_trials(outcome=lambda d, r: "diverged"), None, tmp_path)
    assert all(s.path is None and "no completed trial" in s.text for n, s in none_left.items() if n != "gradient_flow")
    page = report.render_html("t", list(none_left.values()), dict.fromkeys(
        ("intro", "verdict", "parcoords", "paper", "provenance", "spec"), ""))
    assert page.count('class="note"') == len(report.FIGURES) and "<img" not in page


def test_pruned_runs_still_draw_degradation(tmp_path) -> None:
    """ASHA pruned every plain run, or every run: the degradation figure draws them (hollow); others need completed."""
    plain_pruned = _sections(_trials(outcome=lambda d, r: "completed" if r else "pruned"), None, tmp_path)
    assert plain_pruned["degradation"].path and "hollow" in plain_pruned["degradation"].text
    all_pruned = _sections(_trials(outcome=lambda d, r: "pruned"), None, tmp_path)
    assert all_pruned["degradation"].path
    assert all(s.path is None and "no completed trial" in s.text
               for n, s in all_pruned.items() if n not in ("degradation", "gradient_flow"))


def test_verdict_section_lists_pooled_rows_first() -> None:
    two_inits = pd.concat([_trials(init="kaiming"), _trials(init="xavier").assign(run_id=lambda d: "x" + d["run_id"])])
    section = verdict.verdict_section(two_inits)
    assert '<table class="verdict">' in section and "pooled over inits" in section
    cells = re.findall(r"<tr>\s*<td>(\d+)</td>\s*<td>(\w+)</td>", section)
    assert cells == [("8", "all"), ("14", "all"),  # pooled rows first, then per (depth, init)
                     ("8", "kaiming"), ("8", "xavier"), ("14", "kaiming"), ("14", "xavier")]
    one_init = verdict.verdict_section(_trials())
    assert "<td>all</td>" not in one_init  # with one init a pooled row would only repeat it


def test_paper_table_only_for_cifar10() -> None:
    trials = _trials(depths=(20, 56)).assign(**{"test/acc": 0.9})
    assert report.paper_section(trials, "synthetic") == ""
    section = report.paper_section(trials, "cifar10")
    assert "Table 6" in section and "8.75" in section and "ResNet-110" in section


def test_probe_report_renders_csv(tmp_path) -> None:
    rows = [{"depth": d, "residual": r, "init": "kaiming", "block": b, "grad_norm": (1.0 if r else 0.3 ** (4 - b))}
            for d in (8, 20) for r in (False, True) for b in range(5)]
    csv = tmp_path / "probe.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    png = report.probe_report(str(csv), str(tmp_path / "out"))
    assert open(png, "rb").read().startswith(PNG_MAGIC)
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a probe CSV"):
        report.probe_report(str(tmp_path / "bad.csv"), str(tmp_path / "out"))
