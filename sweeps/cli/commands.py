"""Sweep subcommands of resnet-sweep: run, resume, best, reproduce, report, ui, dashboard (Ray and MLflow load lazily)."""

from __future__ import annotations

import argparse
import subprocess
import sys

from resnet_core.outcomes import OUTCOMES

from ..env import UI_PORT
from ..tracking.links import ui_link
DASHBOARD_PORT = 8080  # optuna-dashboard's own default port


def _print_summary(result) -> None:
    """What run and resume end with: counts, stages, the best run, where to look, and the verdict."""
    from rich.console import Console

    out, summary = Console(), result.summary
    counts = ", ".join(f"{summary[o]} {o}" for o in OUTCOMES)
    out.print(f"[bold]sweep {result.experiment}[/bold]: {summary['trials']} trials ({counts}), "
              f"{summary['trial_hours']:.3f} trial-hours")
    if "stage/confirm/trials" in summary:
        out.print(f"stages: search {summary.get('stage/search/trials', 0):g} trials, "
                  f"confirm {summary['stage/confirm/trials']:g} trials (fresh seeds; the verdict uses these)")
    if summary["best_run_id"]:
        out.print(f"best run {summary['best_run_id']}: {summary['best_value']:.4f}")
    out.print(f"MLflow: {result.tracking_uri}, experiment '{result.experiment}'  (resnet-sweep best "
              f"{result.experiment}; resnet-sweep ui)")
    out.print(f"MLflow UI: {result.ui_url}", soft_wrap=True)
    _print_verdict(out, result)
    if result.report_path:
        print(f"report: {result.report_path}")


def _print_table(out, title: str, rows) -> None:
    """A DataFrame as a borderless rich table, every cell as text."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", box=None, pad_edge=False)
    for column in rows.columns:
        table.add_column(column, justify="right")
    for values in rows.itertuples(index=False):
        table.add_row(*map(str, values))
    out.print(table)


def _print_verdict(out, result) -> None:
    """The answer itself: the training-error verdict table of the confirm runs, whether every arm was tuned well
    enough (the compact adequacy table, when the sweep has a record), and the headline sentence."""
    from dashboards.verdict.adequacy import compact_table

    rows = result.verdict
    if len(rows.columns) and not rows.empty:
        _print_table(out, "Training error, confirm runs", rows)
    adequacy, words = result.adequacy, result.summary.get("adequacy")
    if len(adequacy):
        _print_table(out, "Was every arm tuned well enough?", compact_table(adequacy))
    if words:
        out.print(f"Tuning: {words}" if len(adequacy) else words)
    out.print(result.headline, soft_wrap=True)  # one line: a terminal wraps it, a grep or a copy finds it whole


def cmd_run(args: argparse.Namespace) -> int:
    from ..api import run

    result = run(args.spec, tracking_uri=args.tracking_uri, address=args.address, storage_path=args.storage_path,
                 optuna_storage=args.optuna_storage, register=args.register, report=not args.no_report,
                 verbose=args.verbose)
    _print_summary(result)
    return 0 if result.summary["running"] == 0 else 1


def cmd_resume(args: argparse.Namespace) -> int:
    from ..api import resume

    result = resume(args.sweep, address=args.address, storage_path=args.storage_path,
                    optuna_storage=args.optuna_storage, register=args.register, report=not args.no_report,
                    verbose=args.verbose)
    _print_summary(result)
    return 0 if result.summary["running"] == 0 else 1


def cmd_best(args: argparse.Namespace) -> int:
    from .best import print_best
    from ..env import tracking_uri_from  # not the engine: it loads torch, Ray's glue and more that `best` never uses

    return print_best(args.experiment, tracking_uri_from(args.tracking_uri), args.top)


def cmd_reproduce(args: argparse.Namespace) -> int:
    from ..reproduce import reproduce
    from ..env import tracking_uri_from

    return reproduce(args.target, tracking_uri_from(args.tracking_uri), args.device, args.tolerance)


def cmd_report(args: argparse.Namespace) -> int:
    from dashboards.report.build import build_report

    from ..env import tracking_uri_from

    print(build_report(args.experiment, tracking_uri_from(args.tracking_uri), args.out))
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from mlflow import MlflowClient

    from .mlflow_app import SERVER_ARGS
    from ..env import tracking_uri_from

    uri = tracking_uri_from(args.tracking_uri)
    # Our app (sweeps/cli/mlflow_app.py): MLflow's own server whose UI opens experiments on their training runs.
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri, "--host", "127.0.0.1",
           "--port", str(args.port), *SERVER_ARGS]
    print(f"MLflow UI for {uri} on http://127.0.0.1:{args.port}; experiments on their training runs:")
    for exp in MlflowClient(uri).search_experiments():
        print(f"  {exp.name}: {ui_link(f'http://127.0.0.1:{args.port}', exp.experiment_id)}")
    return subprocess.call(cmd)


def cmd_dashboard(args: argparse.Namespace) -> int:
    from .dashboard import serve_dashboard
    from ..env import tracking_uri_from

    return serve_dashboard(args.experiment, tracking_uri_from(args.tracking_uri), args.optuna_storage, args.port,
                           args.out)


def _tracking(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db)")


def _run_flags(p: argparse.ArgumentParser) -> None:
    """Flags shared by run and resume."""
    p.add_argument("--address", help="Ray cluster address (default: $RAY_ADDRESS, else a local Ray)")
    p.add_argument("--storage-path", help="where Tune keeps trials and checkpoints: a folder, or a URI every "
                   "node reaches such as s3://bucket/sweeps (default $TUNE_STORAGE_PATH, else ./ray_results)")
    p.add_argument("--register", metavar="NAME", help="register the best model under this name")
    p.add_argument("--no-report", action="store_true", help="skip the report at the end")
    p.add_argument("--verbose", action="store_true",
                   help="Tune's full output (every trial's config and results) instead of the compact trial table")
    p.add_argument("--optuna-storage", metavar="URL",
                   help="Optuna study database, may hold a password (default: $OPTUNA_STORAGE, else the spec's "
                        "storage, else in memory); never written to MLflow or the sweep folder")


def add_sweep_commands(sub: argparse._SubParsersAction) -> None:
    """Register the sweep subcommands."""
    r = sub.add_parser("run", help="run a sweep spec (a YAML path or a shipped name: smoke, degradation, ...)")
    r.add_argument("spec", help="sweep spec: a YAML path or a shipped spec name")
    _tracking(r)
    _run_flags(r)
    r.set_defaults(func=cmd_run)

    re = sub.add_parser("resume", help="continue an interrupted sweep (its folder, or its name)")
    re.add_argument("sweep", help="the sweep's folder or URI (s3://bucket/sweeps/NAME_DATE), or its name")
    _run_flags(re)
    re.set_defaults(func=cmd_resume)

    b = sub.add_parser("best", help="the best trials of a sweep, from MLflow")
    b.add_argument("experiment", help="the sweep's MLflow experiment (its spec name)")
    b.add_argument("--top", type=int, default=10, help="how many trials to list (default 10)")
    _tracking(b)
    b.set_defaults(func=cmd_best)

    rp = sub.add_parser("reproduce", help="retrain a run (or a sweep's best) locally and compare")
    rp.add_argument("target", metavar="RUN_ID_OR_EXPERIMENT",
                    help="an MLflow run id, an experiment for its best run, or a registered model "
                         "(models:/NAME@champion, models:/NAME/VERSION) for the trial it came from")
    rp.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where to retrain (default cpu)")
    rp.add_argument("--tolerance", type=float, default=None,
                    help="largest allowed metric difference (default: 0 on the CPU, 0.02 elsewhere)")
    _tracking(rp)
    rp.set_defaults(func=cmd_reproduce)

    rep = sub.add_parser("report", help="figures and report.html for a sweep, also logged on its parent run")
    rep.add_argument("experiment", help="the sweep's MLflow experiment (its spec name)")
    rep.add_argument("--out", default=None, help="output folder (default reports/EXPERIMENT)")
    _tracking(rep)
    rep.set_defaults(func=cmd_report)

    u = sub.add_parser("ui", help="serve the MLflow UI on 127.0.0.1")
    u.add_argument("--port", type=int, default=UI_PORT, help=f"port of the UI on 127.0.0.1 (default {UI_PORT})")
    _tracking(u)
    u.set_defaults(func=cmd_ui)

    d = sub.add_parser("dashboard", help="serve optuna-dashboard on a sweep's study on 127.0.0.1")
    d.add_argument("experiment", help="the sweep's MLflow experiment (its spec name), sweep name or parent run id")
    d.add_argument("--port", type=int, default=DASHBOARD_PORT, help=f"port on 127.0.0.1 (default {DASHBOARD_PORT})")
    d.add_argument("--optuna-storage", metavar="URL", help="the sweep's study database, for its live study "
                   "(default: $OPTUNA_STORAGE, else the spec's storage; else a study rebuilt from MLflow)")
    d.add_argument("--out", default=None, help="where a rebuilt study goes (default reports/EXPERIMENT/optuna.db)")
    _tracking(d)
    d.set_defaults(func=cmd_dashboard)
