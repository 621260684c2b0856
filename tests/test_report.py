"""The sweep report: built from a real smoke sweep in MLflow, logged on its parent run; notes for missing data."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from dashboards.report import build, drawing, html_parts, probe, sections
from sweeps.tracking.runs import find_parent

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURE_NAMES = [name for name, *_ in drawing.FIGURES]


@pytest.fixture(scope="module")
def built(smoke_sweep_sqlite, tmp_path_factory):
    """build_report on the sqlite smoke sweep: (sweep, out folder, report.html path)."""
    out = tmp_path_factory.mktemp("report")
    path = build.build_report(smoke_sweep_sqlite.experiment, smoke_sweep_sqlite.tracking_uri, str(out))
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


def _sections(trials, history, tmp_path) -> dict[str, html_parts.Section]:
    inp = drawing.Inputs(trials, history, ("depth", "residual"), "val/acc", "max")
    return {s.name: s for s in drawing.write_figures(inp, str(tmp_path))}


def test_missing_data_becomes_notes_not_crashes(tmp_path) -> None:
    sections = _sections(_trials(depths=(20,)), None, tmp_path)  # one depth, no history, one lr
    assert sections["degradation"].path and sections["init_depth"].path
    assert sections["training_curves"].path is None and "history" in sections["training_curves"].text
    assert sections["gradient_flow"].path is None and "grad_norm" in sections["gradient_flow"].text
    assert sections["lr_sensitivity"].path is None and "lr was not swept" in sections["lr_sensitivity"].text


def test_diverged_arm_and_all_diverged(tmp_path) -> None:
    one_arm = _trials(outcome=lambda d, r: "diverged" if (d, r) == (14, False) else "completed")
    assert all(s.path for n, s in _sections(one_arm, None, tmp_path).items() if n in ("degradation", "init_depth"))
    assert "<table" in sections.search_verdict_section(one_arm)
    none_left = _sections(_trials(outcome=lambda d, r: "diverged"), None, tmp_path)
    assert all(s.path is None and "no completed trial" in s.text for n, s in none_left.items() if n != "gradient_flow")
    page = html_parts.render_html("t", list(none_left.values()), dict.fromkeys(
        ("intro", "verdict", "parcoords", "paper", "provenance", "spec"), ""))
    assert page.count('class="note"') == len(drawing.FIGURES) and "<img" not in page


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
    section = sections.search_verdict_section(two_inits)
    assert '<table class="verdict">' in section and "pooled over inits" in section
    cells = re.findall(r"<tr>\s*<td>(\d+)</td>\s*<td>(\w+)</td>", section)
    assert cells == [("8", "all"), ("14", "all"),  # pooled rows first, then per (depth, init)
                     ("8", "kaiming"), ("8", "xavier"), ("14", "kaiming"), ("14", "xavier")]
    one_init = sections.search_verdict_section(_trials())
    assert "<td>all</td>" not in one_init  # with one init a pooled row would only repeat it


def test_paper_table_only_for_cifar10() -> None:
    trials = _trials(depths=(20, 56)).assign(**{"test/acc": 0.9})
    assert sections.paper_section(trials, "synthetic") == ""
    section = sections.paper_section(trials, "cifar10")
    assert "Table 6" in section and "8.75" in section and "ResNet-110" in section


def test_probe_report_renders_csv(tmp_path) -> None:
    rows = [{"depth": d, "residual": r, "init": "kaiming", "block": b, "grad_norm": (1.0 if r else 0.3 ** (4 - b))}
            for d in (8, 20) for r in (False, True) for b in range(5)]
    csv = tmp_path / "probe.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    png = probe.probe_report(str(csv), str(tmp_path / "out"))
    assert open(png, "rb").read().startswith(PNG_MAGIC)
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a probe CSV"):
        probe.probe_report(str(tmp_path / "bad.csv"), str(tmp_path / "out"))


def _headings(page: str) -> list[str]:
    """The page's h1-h4 texts in order, tags stripped."""
    return [re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<h[1-4][^>]*>(.*?)</h[1-4]>", page, re.S)]


def _repeated(headings: list[str]) -> list[str]:
    return [a for a, b in zip(headings, headings[1:]) if a == b]


def _confirm_sweep() -> pd.DataFrame:
    """Search runs at three lrs, then two fresh confirm seeds per arm at each arm's pick."""
    search = _trials(seeds=(0, 1, 2)).assign(stage="search")
    search["lr"] = 0.05 * (1 + search["seed"])
    confirm = _trials(seeds=(5, 6)).assign(stage="confirm", pick_rule="completed", run_id=lambda d: "c" + d["run_id"])
    return pd.concat([search, confirm], ignore_index=True)


def test_no_heading_appears_twice_in_a_row(built, tmp_path) -> None:
    _, _, path = built
    assert _repeated(_headings(open(path, encoding="utf-8").read())) == []
    _, body = sections.confirm_section(_confirm_sweep(), str(tmp_path))
    headings = _headings(body)
    assert headings.count(sections.BUDGET_TITLE) == 1 and _repeated(headings) == []


def test_search_table_speaks_words_and_fits_the_page(built) -> None:
    _, _, path = built
    page = open(path, encoding="utf-8").read()
    table = page[page.index('<table class="verdict">'):]
    headers = re.findall(r"<th[^>]*>(.*?)</th>", table[:table.index("</table>")], re.S)
    assert "Residual − plain train error (pp, 95% CI)" in headers and "Plain train error (%)" in headers
    assert not [h for h in headers if re.search(r"[a-z]+_[a-z]+", h)], headers  # no train_err_plain_pct & co
    assert '<div class="scroll"><table class="verdict">' in page and ".scroll{max-width:100%;overflow-x:auto}" in page


def _title_fits(fig) -> bool:
    """Whether the figure's title, drawn by Agg, lies inside the figure's width."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    box = fig._suptitle.get_window_extent(fig.canvas.get_renderer())
    return box.x0 >= 0 and box.x1 <= fig.bbox.width


def _figures_to_check():
    from dashboards.figures.budget import budget_figure
    from dashboards.figures.confirm import confirm_degradation_figure
    from dashboards.figures.search import degradation_figure, gradient_flow_figure
    from dashboards.verdict.budget import budget_curves

    probe = pd.DataFrame([{"depth": d, "residual": r, "init": "kaiming", "block": b, "grad_norm": 1.0 + b}
                          for d in (8, 20) for r in (False, True) for b in range(5)])
    return {"degradation, one init": lambda: degradation_figure(_trials()),
            "degradation, two inits": lambda: degradation_figure(pd.concat([
                _trials(), _trials(init="xavier").assign(run_id=lambda d: "x" + d["run_id"])])),
            "confirm": lambda: confirm_degradation_figure(_confirm_sweep()),
            "budget, one depth": lambda: budget_figure(budget_curves(_confirm_sweep().query("depth == 8"), ["lr"])),
            "probe": lambda: gradient_flow_figure(probe, title="Gradient norm per block at initialization "
                                                  "(resnet-sweep probe)\nplain (dashed) vs residual (solid)")}


@pytest.mark.parametrize("name", list(_figures_to_check()))
def test_figure_titles_are_not_cut(name) -> None:
    fig = _figures_to_check()[name]()
    assert _title_fits(fig), fig._suptitle.get_text()


def test_a_figure_that_cannot_be_drawn_says_which_and_why(tmp_path) -> None:
    def broken():
        raise ValueError("no search trials with a finite metric")

    section = drawing.draw("tuning_budget", "Tuning budget", broken, "caption", str(tmp_path))
    assert section.path is None
    assert section.text == "Tuning budget not drawn: ValueError: no search trials with a finite metric."
    assert html_parts.figure_html(section).count("<h3>") == 1
