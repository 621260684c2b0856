"""He et al. 2015, Table 6 (CIFAR-10 ResNet test error), and the sweep's measured test error beside it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .arms import add_error_columns, arm_summary, best_lr_group, completed

# He et al. 2015, Table 6 (CIFAR-10): (depth, params in millions, test error %).
PAPER_TABLE6 = (
    (20, 0.27, 8.75), (32, 0.46, 7.51), (44, 0.66, 7.17), (56, 0.85, 6.97), (110, 1.7, 6.43), (1202, 19.4, 7.93)
)
PAPER_PLAIN_NOTE = (
    "He et al. 2015 give plain-net errors only graphically (Fig. 6 left): plain-56 has higher training and "
    "test error than plain-20, the degradation problem; no plain numbers appear in Table 6."
)


def paper_table6() -> pd.DataFrame:
    """He et al. 2015 Table 6 CIFAR-10 test error (%) of ResNets; plain nets are only in Fig. 6 (PAPER_PLAIN_NOTE)."""
    table = pd.DataFrame(PAPER_TABLE6, columns=["depth", "params_m", "test_error_pct"])
    table.insert(0, "model", [f"ResNet-{d}" for d in table["depth"]])
    table["note"] = np.where(table["depth"] == 110, "best of 5 runs; mean 6.61 ± 0.16", "")
    table.attrs["plain_note"] = PAPER_PLAIN_NOTE
    return table


def compare_to_paper(trials: pd.DataFrame) -> pd.DataFrame:
    """Measured test error (1 - test/acc, %, mean and 95% CI over seeds of the best-lr group) beside Table 6.

    The lr is chosen on val/acc, never on test; the paper trains 164 epochs, so shorter sweeps read higher.
    Paper numbers exist for residual arms only; measured columns are NaN when `test/acc` is absent.
    """
    df = add_error_columns(trials)
    summary = arm_summary(best_lr_group(completed(df)), "test_err_pct", df)
    summary = summary.rename(columns={"mean": "test_error_pct", "lo": "test_error_lo", "hi": "test_error_hi"})
    paper = paper_table6()[["depth", "test_error_pct"]].rename(columns={"test_error_pct": "paper_test_error_pct"})
    out = summary.merge(paper, on="depth", how="left")
    out.loc[~out["residual"], "paper_test_error_pct"] = np.nan
    out["diff_pp"] = out["test_error_pct"] - out["paper_test_error_pct"]
    return out
