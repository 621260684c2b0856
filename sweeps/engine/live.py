"""A sweep's console: a live table of the trials under way (on a TTY), one line per finished trial, no Tune dumps.

On a terminal the trials that are pending or running sit in one table redrawn in place, and each trial
that ends leaves one line above it. In a Jupyter kernel the same lines and table are one output, updated in
place. Elsewhere (pipes, CI, tests) there is no redraw: one line when a trial starts and one when it ends.
`--verbose` silences it and brings Tune's own output back.

A sweep's Tune run always carries one console; what it does is decided when Tune sets it up, from this process's
`use_output(verbose)`, so a resumed sweep (whose callbacks Tune unpickles from the first run) shows what this
invocation asked for without reaching into the restored Tuner.
"""

from __future__ import annotations

import html
import io
import logging
import os
import sys
import time

from ray.tune import Callback
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from resnet_core.config import FIELDS, make_config

from ..tracking.tracker import read_small_file
from ..trial.reports import classify, closing_outcome, error_line, sampled_params, trial_epochs, unpack

ACTIVE = ("PENDING", "RUNNING", "PAUSED")
REFRESH_S = 0.5  # redraw the table at most this often: a step of Tune's loop can take a few milliseconds
# This process's output: Tune's own (verbose) or our console. Set by the engine before each stage's fit.
_OUTPUT = {"verbose": False}


def use_output(verbose: bool) -> None:
    """What the consoles of the stages run from now on in this process show: Tune's output (verbose) or theirs."""
    _OUTPUT["verbose"] = verbose


def _num(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def trial_values(config: dict, keys: list[str]) -> dict[str, str]:
    """The searched values of a trial's Tune config (an arm's picked values in the confirm stage), as text."""
    params = sampled_params(config, FIELDS)
    return {k: _num(params[k]) for k in keys if k in params}


def progress(last: dict | None, epochs: int) -> dict[str, str]:
    """epoch, train/error and val/acc of a trial's latest result, as text ('' where not reported yet)."""
    last = unpack(last or {})  # Tune holds train/error and val/acc packed (sweeps.results.pack_for_tune)
    cells = {"epoch": f"{int(last['epoch'])}/{epochs}" if "epoch" in last else ""}
    for key in ("train/error", "val/acc"):
        cells[key] = f"{last[key]:.3f}" if isinstance(last.get(key), (int, float)) else ""
    return cells


def finished_line(name: str, values: dict, outcome: str, last: dict | None, epochs: int, error: str = "") -> str:
    """One line for a trial that ended: its outcome, searched values, where it got to, and why if it errored."""
    cells = progress(last, epochs)
    parts = [" ".join(f"{k}={v}" for k, v in values.items())] + [f"{k} {v}" for k, v in cells.items() if v]
    return f"trial {name} {outcome}: " + "  ".join(parts) + (f"  error: {error}" if error else "")


def trial_table(title: str, rows: list[tuple[str, dict, dict, str]], keys: list[str]) -> Table:
    """The live table: trial, searched values, epoch, train error, val acc, state."""
    table = Table(title=title, title_justify="left")
    for col in ("trial", *keys, "epoch", "train/error", "val/acc", "state"):
        table.add_column(col, justify="left" if col in ("trial", "state") else "right")
    for name, values, cells, state in rows:
        table.add_row(name, *(values.get(k, "") for k in keys), *cells.values(), state)
    return table


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (IPython with a kernel attached); never imports IPython itself."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    return getattr(shell, "kernel", None) is not None


class NotebookView:
    """One notebook output updated in place: the lines of the trials that ended, then the table of those under
    way (the terminal's content, as text in a <pre>)."""

    def __init__(self):
        from IPython.display import display

        self.lines: list[str] = []
        self.table: Table | None = None
        self.handle = display(self, display_id=True)

    def _text(self) -> str:
        # force_jupyter off: in a kernel rich would display this console's output itself, once per print
        out = Console(file=io.StringIO(), width=140, record=True, color_system=None, soft_wrap=True,
                      force_jupyter=False)
        for line in self.lines:
            out.print(Text(line))
        if self.table is not None:
            out.print(self.table)
        return out.export_text()

    def __repr__(self) -> str:
        return self._text()

    def _repr_html_(self) -> str:
        return f'<pre style="font-size:12px;line-height:1.3">{html.escape(self._text())}</pre>'

    def say(self, line: str) -> None:
        self.lines.append(line)
        self.handle.update(self)

    def update(self, table: Table | None) -> None:
        self.table = table
        self.handle.update(self)


class SweepConsole(Callback):
    """Tune callback that draws the sweep's trials: a live table on a TTY, one updating output in a notebook,
    plain lines elsewhere."""

    def __init__(self, label: str, keys: list[str], epochs: int, live: bool | None = None):
        self.label, self.keys, self.epochs = label, keys, epochs
        self.force_live = live      # None: decided at setup from where this process prints (TTY, notebook, pipe)
        self.silent = False         # verbose: Tune prints its own output and this console nothing
        self.notebook = self.live_mode = False
        self.live: Live | None = None
        self.view: NotebookView | None = None
        self.done: set[str] = set()
        self.started: set[str] = set()
        self.drawn_at = 0.0
        self.mid_step = False  # inside a Tune loop step: an experiment end now means the sweep crashed

    def __getstate__(self) -> dict:  # Tune pickles callbacks with the run config: no live display
        return {**self.__dict__, "live": None, "view": None}

    def _say(self, line: str) -> None:
        if self.silent:
            return
        if self.view is not None:
            self.view.say(line)
        elif self.live is not None:
            self.live.console.print(Text(line))
        else:
            print(line, flush=True)

    def setup(self, total_num_samples: int = 0, **info) -> None:
        from ray.tune.utils.log import set_verbosity

        self.done, self.started = set(), set()
        self.silent = _OUTPUT["verbose"]
        if self.silent:  # Tune's own output, as its RunConfig set it up
            return
        set_verbosity(0)  # Tune quiet for this invocation, also on a run restored from a verbose one
        forced = getattr(self, "force_live", None)  # a console pickled before force_live existed decides anew
        self.notebook = forced is None and in_notebook()
        self.live_mode = sys.stdout.isatty() if forced is None else forced
        if self.notebook:
            self.view = NotebookView()
        # num_samples -1 (Tune's "until the searcher is done"): a search in rounds, whose length is not known
        count = (f"{total_num_samples} trials" if 0 < total_num_samples < 2 ** 31
                 else "rounds of trials until every arm is adequately tuned, or the cap")
        self._say(f"{self.label}: {count}")
        if self.live_mode and self.view is None:
            # soft_wrap: lines printed above the table (ours, the tracker's) stay one line however long
            self.live = Live(Text(""), console=Console(soft_wrap=True), refresh_per_second=4, transient=True)
            self.live.start()

    def _draw(self, trials) -> None:
        shown = None if self.silent else self.view or self.live
        if shown is None or time.monotonic() - self.drawn_at < REFRESH_S:
            return
        rows = [(t.trial_id, trial_values(t.config, self.keys),
                 progress(t.last_result, trial_epochs(t.config, self.epochs)),
                 t.status.lower()) for t in trials if t.status in ACTIVE]
        left = sum(t.status in ACTIVE for t in trials)
        title = f"{self.label}: {len(self.done)} done, {left} to go"
        shown.update(trial_table(title, rows, self.keys))
        self.drawn_at = time.monotonic()

    def on_step_begin(self, iteration, trials, **info) -> None:
        self.mid_step = True

    def on_step_end(self, iteration, trials, **info) -> None:
        self.mid_step = False
        self._draw(trials)

    def on_trial_start(self, iteration, trials, trial, **info) -> None:
        self.started.add(trial.trial_id)
        if self.live is None and self.view is None:
            values = " ".join(f"{k}={v}" for k, v in trial_values(trial.config, self.keys).items())
            self._say(f"trial {trial.trial_id} started: {values}")

    def _finished(self, trial, outcome: str, error: str = "") -> None:
        self.done.add(trial.trial_id)
        self._say(finished_line(trial.trial_id, trial_values(trial.config, self.keys), outcome,
                                trial.last_result, trial_epochs(trial.config, self.epochs), error))

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        self._finished(trial, classify(trial.last_result, trial_epochs(trial.config, self.epochs)))

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self._finished(trial, "errored", error_line(read_small_file(trial.error_file), limit=200))

    def on_experiment_end(self, trials, **info) -> None:
        for trial in trials:  # stopped by the time budget, Ctrl-C or a crash: the same outcome as its MLflow run
            if trial.trial_id in self.started and trial.trial_id not in self.done:
                epochs = trial_epochs(trial.config, self.epochs)
                self._finished(trial, closing_outcome(trial.last_result, epochs, trial.status,
                                                      self.mid_step)[0])
        if self.live is not None:
            self.live.stop()
            self.live = None
        if self.view is not None:  # the table of trials under way goes; the lines of every trial stay
            self.view.update(None)
            self.view = None


def sweep_console(spec, stage: str) -> SweepConsole:
    """The console of one stage of a sweep spec: its searched fields, the budget (with several) and the seed (where
    it varies) as columns."""
    if spec.search != "grid":
        quiet_optuna()
    budget = ["epochs"] if "epochs" in spec.factors else []
    keys = list(spec.search_space) + budget + (["seed"] if spec.seeds > 1 or stage == "confirm" else [])
    return SweepConsole(f"{spec.name} {stage}", keys, make_config(spec.train).epochs)


class _DropPrefix(logging.Filter):
    """Drops log records whose message starts with a prefix."""

    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


def _drop(logger: str, prefix: str) -> None:
    target = logging.getLogger(logger)
    if not any(isinstance(f, _DropPrefix) and f.prefix == prefix for f in target.filters):  # once per process
        target.addFilter(_DropPrefix(prefix))


def worker_logging():
    """A JobConfig whose workers log WARNING and up: no INFO line per checkpoint in the driver's output."""
    import ray

    job = ray.job_config.JobConfig()
    # Workers only: ray.init(logging_config=...) would also re-format the driver's own log lines.
    job.set_py_logging_config(ray.LoggingConfig(log_level="WARNING"))
    return job


def quiet_logs() -> None:
    """Tune's per-trial output and Ray's INFO chatter off in the driver, before Ray starts; warnings stay."""
    # Tune's newer output engine prints its config tables, a final table of every trial and multi-line
    # errors even at verbose 0; the legacy engine at verbose 0 prints none of them (Ray 2.60, tune/tune.py).
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # We snapshot the experiment every 2 s on purpose (runner.execute); Tune warns about that each time.
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    logging.getLogger("ray.tune").setLevel(logging.WARNING)
    # In a notebook Ray says at INFO, on each repr it would draw as a widget, that ipywidgets is missing.
    logging.getLogger("ray.widgets").setLevel(logging.WARNING)
    # One line per error: the console prints the trial's error; Tune's record would add its whole traceback.
    _drop("ray.tune.execution.tune_controller", "Trial task failed")
    # Only the "enabled" notice: the warning that a cluster runs *without* token auth stays.
    _drop("ray._private.authentication.authentication_token_setup", "Token authentication is enabled")


def quiet_optuna() -> None:
    """Optuna's INFO line naming the in-memory study off (optuna is loaded for the search anyway)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
