"""SweepResult: one sweep as read back from MLflow, for a notebook or a script (what `sweeps.run` returns)."""

from __future__ import annotations

import html
import os
from functools import cached_property

import pandas as pd

from .env import ui_server
from .tracking import names
from .tracking.links import ui_link


class SweepResult:
    """A sweep in MLflow: its trials, per-epoch histories, confirm verdict and headline, figures and report.

    Made by `sweeps.run`, `sweeps.resume` or `sweeps.load`; everything is read from the tracking server, so a
    result loaded in another process (or on another machine) holds the same trials and the same verdict.
    """

    def __init__(self, ref: str, tracking_uri: str, summary: dict | None = None):
        """Load the sweep `ref` (a parent run id, an experiment name for its newest sweep, or a sweep name)."""
        from .tracking.runs import load_sweep

        self.tracking_uri = tracking_uri
        self._data = load_sweep(ref, tracking_uri)
        self._summary = summary
        self._history: dict[str, pd.DataFrame] = {}
        self.report_path: str | None = None  # set by report(), and by run/resume unless report=False

    @property
    def parent_run_id(self) -> str:
        """The MLflow run that holds the sweep: its spec, summary, report and best model; trials are its children."""
        return self._data.parent.info.run_id

    @property
    def experiment(self) -> str:
        """The sweep's MLflow experiment, named after its spec."""
        return self._data.parent.data.tags.get(names.SWEEP, "")

    @property
    def experiment_id(self) -> str:
        return self._data.parent.info.experiment_id

    @property
    def params(self) -> dict[str, str]:
        """The sweep's settings as logged on its parent run (metric, mode, search, confirm_seeds, ...)."""
        return dict(self._data.parent.data.params)

    @property
    def spec(self) -> dict:
        """The sweep spec as logged on the parent run (spec.yaml, parsed)."""
        return dict(self._data.spec)

    @cached_property
    def trials(self) -> pd.DataFrame:
        """One row per trial run: run_id, trial_id, stage (search or confirm), outcome, config fields, and the
        final value of every metric (plus best/val/acc), ordered by start time."""
        front = ["run_id", "trial_id", "stage", "outcome"]
        t = self._data.trials
        if not len(t):
            return pd.DataFrame(columns=front)
        t = t.sort_values(["start_time", "run_id"], kind="stable").reset_index(drop=True)
        return t[front + [c for c in t.columns if c not in front]]

    def history(self, metric: str = "train/error") -> pd.DataFrame:
        """Per-epoch values of one metric, one row per (trial run, epoch): run_id, epoch, the metric, and the
        trial's depth, residual, init, seed, lr, recipe, stage and epochs (its training budget)."""
        if metric not in self._history:
            from mlflow import MlflowClient

            from .tracking.runs import history_frame, join_trial_columns

            frame = history_frame(MlflowClient(self.tracking_uri), list(self.trials["run_id"]), [metric])
            if metric not in frame:
                raise KeyError(f"metric: no trial of sweep {self.experiment!r} logged {metric!r}")
            frame = join_trial_columns(frame, self._data.trials)
            self._history[metric] = frame.sort_values(["run_id", "epoch"]).reset_index(drop=True)
        return self._history[metric].copy()

    @cached_property
    def _adequacy_record(self) -> dict | None:
        """The adequacy record on the parent run (None: no confirm stage, or the sweep predates search rounds)."""
        from mlflow import MlflowClient

        from .tracking.runs import load_adequacy

        return load_adequacy(MlflowClient(self.tracking_uri), self.parent_run_id)

    @cached_property
    def _answer(self) -> tuple[pd.DataFrame, str]:
        from dashboards.verdict.headline import answer

        return answer(self._data.trials, self._data.parent.data.params, self._adequacy_record)

    @property
    def adequacy(self) -> pd.DataFrame:
        """Was every arm tuned well enough? Per arm and training budget: trials, rounds, final range, best value and
        where it sits, coverage, diverged trials, the tuning curve's last gain, adequate yes/no and why; an empty
        frame with these columns for a sweep without an adequacy record."""
        from dashboards.verdict.adequacy import adequacy_table
        from dashboards.verdict.budgets import largest_budget

        return adequacy_table(self._adequacy_record, largest_budget(self._data.trials))

    def _adequacy_words(self) -> str:
        from dashboards.verdict.adequacy import summary_words
        from dashboards.verdict.headline import has_confirm

        return summary_words(self._adequacy_record, has_confirm(self._data.trials))

    @property
    def verdict(self) -> pd.DataFrame:
        """The compact confirm verdict: per depth (or arm), each side's training error, the difference with its 95%
        interval, and p (Holm); empty for a sweep without a confirm stage."""
        return self._answer[0].copy()

    @property
    def headline(self) -> str:
        """The verdict in one sentence, as the report and the terminal give it."""
        return self._answer[1]

    @property
    def summary(self) -> dict:
        """Counts by outcome, trial-hours, the best run, and whether every arm was tuned well enough (adequacy):
        what the sweep ended with."""
        if self._summary is not None:
            return {**self._summary, "adequacy": self._adequacy_words()}
        from resnet_core.outcomes import OUTCOMES

        t, metrics = self._data.trials, self._data.parent.data.metrics
        outcome = t["outcome"] if len(t) else pd.Series(dtype=str)
        best = self._data.parent.data.tags.get(names.BEST_RUN_ID)
        return {"trials": len(t), **{o: int((outcome == o).sum()) for o in OUTCOMES},
                "trial_hours": metrics.get("trial_hours", 0.0), "best_run_id": best,
                "best_value": metrics.get(names.best_metric(names.sweep_metric(self.params)[0])),
                "running": int((t["status"] == "RUNNING").sum()) if len(t) else 0,
                "parent_run_id": self.parent_run_id, "experiment_id": self.experiment_id,
                "adequacy": self._adequacy_words()}

    def best(self) -> pd.Series:
        """The best trial's row of `trials`: the one the sweep picked (its best_run_id), else the one the same rule
        picks now (sweeps.tracking.best_run: the verdict stage's best completed run by the sweep's metric)."""
        from .tracking.best_run import Candidate, best_candidate

        t = self.trials
        picked = self._data.parent.data.tags.get(names.BEST_RUN_ID)
        if picked not in set(t["run_id"]):
            metric, mode = names.sweep_metric(self.params)
            values = t[metric] if metric in t else pd.Series(None, index=t.index, dtype=float)
            picked = best_candidate([Candidate(r, s, o, None if pd.isna(v) else float(v))
                                     for r, s, o, v in zip(t["run_id"], t["stage"], t["outcome"], values)],
                                    names.verdict_stage(self.params), mode)
        if picked is None:
            from .errors import SpecError

            raise SpecError(f"experiment: sweep {self.experiment!r} has no finished trial with "
                            f"{names.sweep_metric(self.params)[0]}")
        return t[t["run_id"] == picked].iloc[0]

    def reproduce(self, run_id: str | None = None, device: str = "cpu", tolerance: float | None = None):
        """Retrain a trial (default: the best) here with its seed and compare it epoch by epoch with MLflow; the
        retraining is logged as a `reproduction` run. Returns a Reproduction (.max_abs_diff, .ok)."""
        from .reproduce import reproduce_run

        return reproduce_run(run_id or self.best()["run_id"], self.tracking_uri, device, tolerance)

    def report(self, out: str | None = None) -> str:
        """Write the HTML report and its figures into out (default reports/EXPERIMENT), log them on the parent
        run under report/, and return the page's path."""
        from dashboards.report.build import build_report

        self.report_path = build_report(self.parent_run_id, self.tracking_uri,
                                        out or os.path.join("reports", self.experiment))
        return self.report_path

    @cached_property
    def figures(self) -> dict[str, object]:
        """The report's figures as matplotlib Figures by name (degradation, training_curves, gradient_flow, ...,
        confirm_degradation and tuning_budget for a sweep with a confirm stage, and training_budgets when it trained
        at several budgets); each one shows inline."""
        from .tracking.runs import load_sweep
        from dashboards.report.build import report_figures

        return report_figures(load_sweep(self.parent_run_id, self.tracking_uri, history=True))

    @property
    def ui_url(self) -> str:
        """The MLflow UI page of the sweep's experiment, on its training runs (a local store: `resnet-sweep ui`)."""
        return ui_link(ui_server(self.tracking_uri), self.experiment_id)

    def __repr__(self) -> str:
        return f"<SweepResult {self.experiment}: {len(self.trials)} trials, parent run {self.parent_run_id}>"

    def _repr_html_(self) -> str:
        """In Jupyter: the headline, the verdict table, the adequacy table (or why there is none) and the MLflow
        link."""
        table = self.verdict.to_html(index=False, border=0) if len(self.verdict) else ""
        adequacy, words = self.adequacy, self._adequacy_words()
        if len(adequacy):
            table += f"<p>Tuning: {html.escape(words)}</p>" + adequacy.to_html(index=False, border=0)
        elif words:
            table += f"<p>{html.escape(words)}</p>"
        return (f"<div><p><b>Sweep {html.escape(self.experiment)}</b>: {len(self.trials)} trials, parent run "
                f"<code>{self.parent_run_id}</code></p><p><b>{html.escape(self.headline)}</b></p>{table}"
                f'<p>MLflow: <a href="{html.escape(self.ui_url)}" target="_blank">{html.escape(self.ui_url)}</a></p>'
                "</div>")
