"""The adequacy record in words (pure): its table, the headline that names a not-adequate arm first and replaces
the old "still rising" caveat, the report's sections, the terminal's table, and reading the record from MLflow."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pandas as pd
import pytest
from test_budgets_verdict import budget_frame

from dashboards.report import sections
from dashboards.verdict import adequacy
from dashboards.verdict.headline import verdict_headline


def _arm(depth: int, residual: bool, adequate: bool, where: str = "interior", gain: float | None = 0.4,
         final=(0.005, 0.03)) -> dict:
    return {"arm": {"depth": depth, "residual": residual, "epochs": 8},
            "label": f"depth={depth},residual={residual},epochs=8", "trials": 6, "configurations": 6, "rounds": 2,
            "diverged": 1 if residual else 0,
            "ranges": {"lr": {"kind": "loguniform", "start": [0.005, 0.03], "final": list(final)}},
            "coverage": {"lr": 0.83}, "best": {"params": {"lr": 0.021}, "value": 0.985}, "where": {"lr": where},
            "gain_pp": gain, "adequate": adequate, "reason": "best lr interior; tuning curve flat"}


def record(plain56_adequate: bool = True) -> dict:
    arms = [_arm(d, r, True) for d in (20, 56, 110) for r in (False, True) if (d, r) != (56, False)]
    arms.insert(2, _arm(56, False, plain56_adequate, "high edge" if not plain56_adequate else "interior",
                        3.1 if not plain56_adequate else 0.2, (0.005, 0.18)))
    return {"tolerance_pp": 1.0, "max_rounds": 3, "rounds": 2 if plain56_adequate else 3,
            "stopped": "every arm adequate" if plain56_adequate else "round cap (3)", "arms": arms}


def test_table_for_people_has_every_column_and_reads_in_words() -> None:
    table = adequacy.adequacy_table(record(False))
    assert list(table.columns) == list(adequacy.COLUMNS) == [
        "Arm", "Epochs", "Trials", "Rounds", "Final range", "Best", "Where", "Coverage", "Diverged",
        "Last gain (pp)", "Adequate", "Why"]
    row = table.set_index("Arm").loc["plain-56"]
    assert row["Final range"] == "lr 0.005–0.18 (widened from 0.005–0.03)" and row["Where"] == "lr high edge"
    assert (row["Epochs"], row["Coverage"], row["Last gain (pp)"], row["Adequate"]) == (8, "lr 83%", "+3.1", "no")
    assert row["Best"] == "lr 0.021 → 0.985"
    assert list(adequacy.compact_table(table).columns) == list(adequacy.COMPACT)
    none = adequacy.adequacy_table(None)
    assert none.empty and list(none.columns) == list(adequacy.COLUMNS)
    single = {**record(), "arms": [{**_arm(20, True, True), "arm": {"depth": 20, "residual": True}}]}
    assert adequacy.adequacy_table(single, budget=8)["Epochs"].tolist() == [8]  # one budget: the trials'


def test_headline_names_a_not_adequate_arm_first_plainly() -> None:
    text = verdict_headline(budget_frame(), adequacy=record(False))
    assert text.startswith("Not adequately tuned: plain-56 after 8 epochs (best lr at the high edge of the widened "
                           "range; curve still rising +3.1 pp). The answer below may change with more tuning. "
                           "After 8 epochs, residual connections matter")
    assert not verdict_headline(budget_frame(), adequacy=record(True)).startswith("Not adequately")
    assert adequacy.adequacy_sentence(record(True)) == ""


def _search_rising() -> pd.DataFrame:
    """Search trials whose plain arms' expected best still rises (the old caveat's trigger), beside confirm runs."""
    rows = [{"run_id": f"s{d}{r}{i}", "stage": "search", "depth": d, "residual": r, "epochs": 8, "lr": 0.01 * (i + 1),
             "outcome": "completed", "val/acc": v, "train/error": 0.5}
            for d in (20, 56, 110) for r in (False, True) for i, v in enumerate((0.2, 0.4, 0.9) if not r else
                                                                                 (0.9, 0.9, 0.9))]
    return pd.concat([budget_frame().query("stage == 'confirm'"), pd.DataFrame(rows)], ignore_index=True)


def test_a_record_replaces_the_old_still_rising_caveat() -> None:
    trials = _search_rising()
    assert "More tuning could change this answer" in verdict_headline(trials)  # no record: the old note stays
    with_record = verdict_headline(trials, adequacy=record(True))
    assert "More tuning could change" not in with_record and "still rising" not in with_record
    assert verdict_headline(trials, adequacy=record(False)).count("still rising") == 1  # one home


def test_report_section_with_and_without_a_record(tmp_path) -> None:
    trials = budget_frame()
    headline, body = sections.confirm_section(trials, str(tmp_path), adequacy=record(False))
    assert "<h3>Was every arm tuned well enough?</h3>" in body and 'class="dataframe adequacy"' in body
    assert "stopped: round cap (3)" in body and headline.startswith('<p class="headline">Not adequately tuned')
    assert 'id="fig-training_budgets"' in body and (tmp_path / "training_budgets.png").exists()
    assert "<th>Epochs</th>" in body  # the per-budget verdict
    (tmp_path / "one").mkdir()
    _, old = sections.confirm_section(trials.query("epochs == 8"), str(tmp_path / "one"))
    assert adequacy.NO_RECORD in old and 'class="dataframe adequacy"' not in old
    assert "fig-training_budgets" not in old and "<th>Epochs</th>" not in old
    assert sections.confirm_section(trials.assign(stage="search"), str(tmp_path))[1] == ""  # no confirm: nothing


def test_terminal_prints_the_compact_table_before_the_headline() -> None:
    from rich.console import Console

    from sweeps.cli.commands import _print_verdict

    def printed(rec) -> str:
        result = SimpleNamespace(verdict=pd.DataFrame({"Depth": [56]}), headline="THE HEADLINE",
                                 adequacy=adequacy.adequacy_table(rec),
                                 summary={"adequacy": adequacy.summary_words(rec)})
        buffer = io.StringIO()
        _print_verdict(Console(file=buffer, width=200), result)
        return buffer.getvalue()

    text = printed(record(False))
    assert text.index("Was every arm tuned well enough?") < text.index("plain-56") < text.index("THE HEADLINE")
    assert "Final range" not in text and "1 of 6 arms not adequate" in text
    old = printed(None)
    assert adequacy.NO_RECORD in old and "Was every arm" not in old


def test_load_adequacy_reads_the_parent_runs_record(tmp_path) -> None:
    from mlflow import MlflowClient

    from sweeps.tracking.runs import load_adequacy, with_epochs

    client = MlflowClient(f"sqlite:///{tmp_path}/m.db")
    experiment = client.create_experiment("a", artifact_location=str(tmp_path / "artifacts"))
    with_record, without = client.create_run(experiment), client.create_run(experiment)
    client.log_dict(with_record.info.run_id, record(False), "adequacy.json")
    assert load_adequacy(client, with_record.info.run_id) == record(False)
    assert load_adequacy(client, without.info.run_id) is None
    filled = with_epochs(pd.DataFrame({"epochs": [2, None], "depth": [20, 20]}), {"train": {"epochs": 8}})
    assert filled["epochs"].tolist() == [2, 8] and filled["epochs"].dtype.kind == "i"
    assert with_epochs(pd.DataFrame({"depth": [20]}), {})["epochs"].tolist() == [15]  # TrainConfig's default


@pytest.mark.parametrize("rec, words", [(None, adequacy.NO_RECORD), (record(True), "every arm adequate (6 arms)")])
def test_summary_words(rec, words) -> None:
    assert adequacy.summary_words(rec).startswith(words)
    assert adequacy.summary_words(None, confirmed=False) == ""


def test_arms_with_the_same_reason_share_it_in_the_headline() -> None:
    """long_2core's headline named '1 of 6 configurations finished …' five times; arms that share a reason are
    listed together, in the order first seen, and an arm with its own reason keeps it."""
    rec = record(False)
    for arm in rec["arms"]:
        if arm["arm"]["depth"] in (20, 110) and not arm["arm"]["residual"]:
            arm.update(adequate=False, where={"lr": "high edge"}, gain_pp=3.1)
    text = adequacy.adequacy_sentence(rec)
    assert text.startswith("Not adequately tuned: plain-20 after 8 epochs and plain-110 after 8 epochs (best lr at "
                           "the high edge of the range; curve still rising +3.1 pp); plain-56 after 8 epochs (best lr "
                           "at the high edge of the widened range; "), text  # plain-56's range was widened: its own
    assert text.count("best lr at the high edge of the range") == 1
