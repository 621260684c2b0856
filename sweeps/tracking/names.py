"""The MLflow vocabulary: every tag, param and metric name the project writes and reads, with its default.

Writers (the engine, the tracker, finalize, the model logger) and readers (the run reader, the report, the
command line) take the names from here, and read a tag through the accessors below, so a default is
written once.
"""

from __future__ import annotations

# --- tags of every run the project makes ------------------------------------------------------------------
SWEEP = "sweep"                      # the sweep's spec name (= its experiment's name)
ROLE = "sweep_role"                  # what the run is:
PARENT, TRIAL, REPRODUCTION = "parent", "trial", "reproduction"
NOTE = "mlflow.note.content"         # what the MLflow UI shows as a run's description
PARENT_RUN = "mlflow.parentRunId"    # MLflow's own nesting tag (mlflow.utils.mlflow_tags.MLFLOW_PARENT_RUN_ID)

# --- tags of a trial run -----------------------------------------------------------------------------------
STAGE = "stage"                      # which stage ran the trial
SEARCH, CONFIRM = "search", "confirm"
STAGES = (SEARCH, CONFIRM)
STAGE_DEFAULT = SEARCH               # runs from before the confirm stage existed were all search runs
OUTCOME = "outcome"                  # completed, pruned, diverged or errored (resnet_core.outcomes.OUTCOMES)
OUTCOME_DEFAULT = "running"          # no outcome yet: the tracker tags it when the trial ends
TRIAL_ID = "trial_id"                # Tune's trial id (also a param)
TRIAL_NAME = "trial_name"
SEARCH_ROUND = "search_round"  # a search trial's round (confirm sweeps search in rounds: sweeps.search.adequacy)
PICK_RULE, PICK_SOURCE = "pick_rule", "pick_source"  # how a confirm arm's configuration was picked, and from what
HARDWARE, OLD_HARDWARE = "hardware", "device"        # where it trained (older runs: `device`)
TORCH_THREADS = "torch_threads"
ERROR = "error"                      # an errored trial's last error line
REPRODUCES = "reproduces"            # on a reproduction run: the run it retrained

# --- tags of a parent run ---------------------------------------------------------------------------------
TUNE_PATH = "tune_path"              # the sweep's Tune folder or URI: how `resume` finds a sweep by its parent
BEST_RUN_ID, BEST_TRIAL_ID = "best_run_id", "best_trial_id"
BEST_MODEL_RUN = "best_model_run"    # the trial run whose weights were logged as best_model (logged once)
GIT_COMMIT, HOST_PLATFORM = "git_commit", "host_platform"

# --- experiment tag ---------------------------------------------------------------------------------------
# MLflow's UI keeps the experiment kind here; "custom_model_development" is its model-training kind, so a UI
# that lands by kind opens the training runs rather than an empty GenAI overview (issue 15).
EXPERIMENT_KIND, TRAINING_KIND = "mlflow.experimentKind", "custom_model_development"

# --- registered model -------------------------------------------------------------------------------------
CHAMPION = "champion"                # the alias `--register NAME` gives the sweep's best model version
TRIAL_RUN = "trial_run_id"           # version tag: the trial run `reproduce models:/NAME@champion` retrains

# --- the logged best model (on the parent run) -------------------------------------------------------------
BEST_MODEL = "best_model"            # the logged model's name
MODEL_CARD_ARTIFACT = "MODEL_CARD.md"  # the model card, in the logged model's extra_files/
MODEL_INPUT, RAW_INPUT = "input", "raw"  # MLmodel metadata key and value: takes raw images, normalizes inside
# (models logged before it, without the key, take normalized float32 N x C x H x W)

# --- params of a parent run -------------------------------------------------------------------------------
METRIC, METRIC_DEFAULT = "metric", "val/acc"
MODE, MODE_DEFAULT = "mode", "max"
CONFIRM_SEEDS = "confirm_seeds"      # present exactly when the sweep has a confirm stage
CONFIRM_FACTORS, CONFIRM_FACTORS_DEFAULT = "confirm_factors", "depth"
CONFIRM_REFERENCE = "confirm_reference"

# --- artifacts --------------------------------------------------------------------------------------------
SPEC_ARTIFACT = "spec.yaml"
REPORT_ARTIFACT = "report/report.html"
CONFIRM_PLAN_ARTIFACT = "confirm_plan.json"
ADEQUACY_ARTIFACT = "adequacy.json"  # per arm and budget: how well its search tuned it (sweeps.search.adequacy)
EPOCHS = "epochs"  # the training budget of a trial (a TrainConfig field; an arm factor when a spec names budgets)


def best_metric(metric: str) -> str:
    """The parent run's metric holding the best trial's value of the sweep's metric."""
    return f"best/{metric}"


def stage_of(tags: dict) -> str:
    """A trial run's stage (search for runs older than the tag)."""
    return tags.get(STAGE, STAGE_DEFAULT)


def outcome_of(tags: dict) -> str:
    """A trial run's outcome, or `running` while the tracker has not ended it."""
    return tags.get(OUTCOME, OUTCOME_DEFAULT)


def hardware_of(tags: dict) -> str | None:
    """The hardware a trial trained on: the `hardware` tag, or the `device` tag older runs had."""
    return tags.get(HARDWARE, tags.get(OLD_HARDWARE))


def sweep_metric(params: dict) -> tuple[str, str]:
    """(metric, mode) the sweep optimised, from its parent run's params."""
    return params.get(METRIC, METRIC_DEFAULT), params.get(MODE, MODE_DEFAULT)


def verdict_stage(params: dict) -> str:
    """The stage whose runs the verdict and the best run come from: confirm where the sweep has one."""
    return CONFIRM if CONFIRM_SEEDS in params else SEARCH
