"""The statistics room: which runs an arm compares, the one Welch test, intervals, Holm, Hedges' g, p's words."""

from .arms import (ARM_KEYS, LOG_PARAMS, MEASURED, POOLED, add_error_columns, arm_names, arm_points, arm_summary,
                   best_lr_group, chosen_rows, column_or_nan, completed, confirm_rows, measured, outcome_counts,
                   pools_inits, swept_fields, swept_params, with_pooled)
from .gradflow import BLOCK_COLUMN, block_columns, history_to_gradflow
from .inference import (FEW_SEEDS, NO_SPREAD, PERCENT_DIFF, Welch, bounded, compare, finite, format_ci, format_num,
                        format_p, hedges_g, holm, interval_words, t_interval, untestable, welch)
from .paper import PAPER_PLAIN_NOTE, PAPER_TABLE6, compare_to_paper, paper_table6

__all__ = ["ARM_KEYS", "BLOCK_COLUMN", "FEW_SEEDS", "LOG_PARAMS", "MEASURED", "NO_SPREAD", "PAPER_PLAIN_NOTE",
           "PERCENT_DIFF", "bounded", "interval_words",
           "PAPER_TABLE6", "POOLED", "Welch", "add_error_columns", "arm_names", "arm_points", "arm_summary",
           "best_lr_group", "block_columns", "chosen_rows", "column_or_nan", "compare", "compare_to_paper",
           "completed", "confirm_rows", "finite", "format_ci", "format_num", "format_p", "hedges_g",
           "history_to_gradflow", "holm", "measured", "outcome_counts", "paper_table6", "pools_inits", "swept_fields",
           "swept_params", "t_interval", "untestable", "welch", "with_pooled"]
