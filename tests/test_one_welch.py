"""One Welch test (dashboards.stats): the search-stage verdict table and the confirm verdict give the same
difference, interval and p on the same seeds, at zero variance too, and every table shows p one way."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from dashboards.stats import NO_SPREAD, format_p, untestable, welch
from dashboards.verdict.confirm import confirm_verdict, verdict_display
from dashboards.verdict.headline import headline
from dashboards.verdict.search import verdict_display as search_display
from dashboards.verdict.search import verdict_table

DASHBOARDS = Path(__file__).resolve().parents[1] / "dashboards"
CASES = {  # final training error of (plain seeds, residual seeds)
    "spread": ([0.30, 0.34, 0.32], [0.03, 0.036, 0.028]),
    "one arm without spread": ([0.9, 0.9, 0.9], [0.03, 0.036, 0.028]),
    "no spread, means differ": ([0.9, 0.9], [0.1, 0.1]),
    "no spread, means equal": ([0.9, 0.9], [0.9, 0.9]),
    "one seed": ([0.3], [0.1, 0.2]),
}


def _frame(plain: list[float], residual: list[float]) -> pd.DataFrame:
    """Completed confirm runs of one depth, one init and one lr: the same seeds for both verdict paths."""
    return pd.DataFrame([{"run_id": f"{r}{i}", "stage": "confirm", "depth": 56, "residual": r, "init": "kaiming",
                          "seed": i, "lr": 0.1, "outcome": "completed", "pick_rule": "completed", "train/error": e,
                          "val/acc": 1.0 - e} for r, errors in ((False, plain), (True, residual))
                         for i, e in enumerate(errors)])


@pytest.mark.filterwarnings("ignore:Precision loss")  # scipy on a seedless-spread arm; ours needs no filter
@pytest.mark.parametrize("case", list(CASES))
def test_both_paths_give_the_same_difference_interval_and_p(case) -> None:
    frame = _frame(*CASES[case])
    search = verdict_table(frame).iloc[0]
    confirm = confirm_verdict(frame).set_index("column").loc["train_err_pct"]
    from_search = [search[f"train_err_{k}"] for k in ("diff_pp", "diff_lo", "diff_hi", "p")]
    from_confirm = [confirm[k] for k in ("diff", "lo", "hi", "p")]
    assert from_search == pytest.approx(from_confirm, nan_ok=True)
    plain, residual = (100 * np.array(v) for v in CASES[case])
    assert from_confirm == pytest.approx(list(welch(plain, residual)), nan_ok=True)
    assert search["train_err_why"] == confirm["why"] == untestable(plain, residual)
    if not confirm["why"]:  # where a test exists it is scipy's
        test = scipy_stats.ttest_ind(residual, plain, equal_var=False)
        ci = test.confidence_interval(0.95)
        assert from_confirm[1:] == pytest.approx([ci.low, ci.high, test.pvalue])


def test_zero_variance_has_no_interval_no_p_and_says_why() -> None:
    for case in ("no spread, means differ", "no spread, means equal"):
        plain, residual = (100 * np.array(v) for v in CASES[case])
        diff, lo, hi, p = welch(plain, residual)
        assert diff == pytest.approx(residual.mean() - plain.mean()) and np.isnan([lo, hi, p]).all()
        assert untestable(plain, residual) == NO_SPREAD
    assert np.isfinite(welch(*(100 * np.array(v) for v in CASES["one arm without spread"])).p)
    flat = _frame(*CASES["no spread, means differ"])
    confirm_cells = verdict_display(confirm_verdict(flat)).iloc[0]
    search_cells = search_display(verdict_table(flat)).iloc[0]
    assert confirm_cells["p (Welch)"] == search_cells["p (Welch), train error"] == "– (no spread)"
    sentence = headline(confirm_verdict(flat))
    assert "no spread between seeds to test" in sentence and "no detectable difference" not in sentence


def test_every_table_shows_p_with_the_one_formatter() -> None:
    frame = _frame(*CASES["spread"])
    verdict = confirm_verdict(frame).set_index("column").loc["train_err_pct"]
    search = verdict_table(frame).iloc[0]
    assert verdict_display(confirm_verdict(frame)).iloc[0]["p (Welch)"] == format_p(verdict["p"])
    assert search_display(verdict_table(frame)).iloc[0]["p (Welch), train error"] == format_p(search["train_err_p"])
    assert format_p(0.0123) == "0.012" and format_p(0.0123, in_text=True) == "p = 0.012"
    assert format_p(1e-5) == "< 0.001" and format_p(float("nan")) == "–"
    formatters = [f"{path.relative_to(DASHBOARDS)}:{node.name}" for path in DASHBOARDS.rglob("*.py")
                  for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.FunctionDef)
                  and ("format_p" in node.name or node.name.endswith(("_p", "p_cell")))]
    assert formatters == ["stats/inference.py:format_p"]


def test_one_module_makes_the_headline() -> None:
    makers = [f"{path.relative_to(DASHBOARDS)}:{node.name}" for path in DASHBOARDS.rglob("*.py")
              for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.FunctionDef)
              and "headline" in node.name]
    assert makers and {m.split(":")[0] for m in makers} == {"verdict/headline.py"}


def test_an_interval_wider_than_the_possible_range_is_cut_and_says_so() -> None:
    """3 seeds of error rates can give a t-interval past 100 pp; a difference of two rates cannot be."""
    from dashboards.stats import PERCENT_DIFF, compare, format_ci, interval_words

    reference, arm = np.array([10.0, 11.0, 9.0]), np.array([40.0, 95.0, 95.0])
    raw = compare(reference, arm)
    assert raw["hi"] > 100 and not raw["clipped"]  # what the rescue rerun printed: 131 pp
    cut = compare(reference, arm, PERCENT_DIFF)
    assert cut["clipped"] and cut["hi"] == 100.0 and cut["lo"] == raw["lo"] and cut["p"] == raw["p"]
    assert format_ci(cut["diff"], cut["lo"], cut["hi"], cut["clipped"]).endswith("100.0] (cut)")
    assert "too few seeds to bound it" in interval_words(cut["lo"], cut["hi"], cut["clipped"])
    inside = compare(np.array([10.0, 12.0, 11.0]), np.array([20.0, 22.0, 21.0]), PERCENT_DIFF)
    assert not inside["clipped"]
