"""Run descriptions (MLflow's `mlflow.note.content`): one sentence saying what a run is, from plain values."""

from __future__ import annotations

from resnet_core.config import TrainConfig



def trial_sentence(cfg: TrainConfig, stage: str | None) -> str:
    """What a trial trains: 'ResNet-110, plain, xavier init, lr 0.067 on digits (seed 3, search trial)'."""
    net = "residual" if cfg.residual else "plain"
    role = f", {stage} trial" if stage else ""
    return f"ResNet-{cfg.depth}, {net}, {cfg.init} init, lr {cfg.lr:.3g} on {cfg.dataset} (seed {cfg.seed}{role})"


def ending(outcome: str, epoch: int, epochs: int, error: str = "") -> str:
    """How it ended, in words: 'completed 8 epochs', 'stopped early at epoch 4 of 20', ..."""
    if outcome == "completed":
        return f"completed {epochs} epochs"
    if outcome == "pruned":
        return f"stopped early (scheduler or time budget) at epoch {epoch} of {epochs}"
    if outcome == "diverged":
        return f"diverged (non-finite loss) at epoch {epoch}"
    return f"errored at epoch {epoch}" + (f": {error}" if error else "")


def trial_description(cfg: TrainConfig, stage: str | None, outcome: str | None = None, epoch: int = 0,
                      error: str = "") -> str:
    """A child run's description; with its outcome once it has ended."""
    sentence = trial_sentence(cfg, stage)
    return f"{sentence}; {ending(outcome, epoch, cfg.epochs, error)}." if outcome else f"{sentence}."


def sweep_description(name: str, summary: dict, metric: str, stages: list[str], report_path: str) -> str:
    """The parent run's description: what was searched, how the trials ended, the best value, where the report is."""
    counts = ", ".join(f"{summary.get(o, 0)} {o}" for o in ("completed", "pruned", "diverged", "errored"))
    best = summary.get("best_value")
    best_text = f"best {metric} {best:.4g}" if isinstance(best, (int, float)) else f"no finished trial for {metric}"
    return (f"Sweep {name} ({' then '.join(stages)}): {summary.get('trials', 0)} trials ({counts}); {best_text}. "
            f"Report: `resnet-sweep report {name}` (logged on this run under `{report_path}` once built).")
