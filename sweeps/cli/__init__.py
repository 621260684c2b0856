"""The command-line room: `resnet-sweep` (argparse and its subcommands), its terminal printing, the MLflow server
app that `resnet-sweep ui` serves, and the optuna-dashboard command. A client of sweeps.api and dashboards."""


def main(argv: list[str] | None = None) -> int:
    """resnet-sweep's entry point (pyproject's console script)."""
    from .resnet_sweep import main as run

    return run(argv)
