"""Was every arm tuned well enough? The sweep's adequacy record (`adequacy.json` on its parent run) as a table for
people and as the sentence the headline opens with when an arm is not adequate.

The record is the engine's (its search rounds check, per arm and training budget, where the best configuration
sits in each range and whether the expected-maximum curve still rises); this module only words it. Pure: the
record (a dict, as `sweeps.tracking.runs.load_adequacy` reads it) in, a DataFrame or words out. A sweep without a
record (no confirm stage, or older than search rounds) gets NO_RECORD where the table would be.
"""

from __future__ import annotations

import pandas as pd

from sweeps.tracking import names

from .confirm import epochs_text

NO_RECORD = "No adequacy check (this sweep predates search rounds)."
COLUMNS = ("Arm", "Epochs", "Trials", "Rounds", "Final range", "Best", "Where", "Coverage", "Diverged",
           "Last gain (pp)", "Adequate", "Why")
COMPACT = ("Arm", "Epochs", "Trials", "Rounds", "Best", "Where", "Adequate")
EDGES = ("low edge", "high edge")  # open edges: the range could be widened there


def _num(v) -> str:
    return f"{v:.3g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def arm_label(arm: dict, fallback: str = "") -> str:
    """An arm in the headline's words, e.g. "plain-56" or "tat-110" (other factors but the budget after it)."""
    if "depth" not in arm:
        return fallback or ", ".join(f"{k}={v}" for k, v in arm.items() if k != names.EPOCHS)
    network = arm.get("recipe") or ("residual" if arm.get("residual") in (True, "True", "true") else "plain")
    rest = [f"{k} {v}" for k, v in arm.items() if k not in ("depth", "residual", "recipe", names.EPOCHS)]
    return f"{network}-{int(arm['depth'])}" + (f" ({', '.join(rest)})" if rest else "")


def _epochs(entry: dict, budget: int | None) -> int | None:
    value = entry.get("arm", {}).get(names.EPOCHS, budget)
    return None if value is None else int(value)


def _ranges(entry: dict) -> str:
    """Each dimension's final range, and where it started when the rounds widened it."""
    parts = []
    for dim, r in (entry.get("ranges") or {}).items():
        final, start = r.get("final") or [], r.get("start") or []
        text = f"{dim} {_num(final[0])}–{_num(final[1])}" if len(final) == 2 else dim
        if len(start) == 2 and list(start) != list(final):
            text += f" (widened from {_num(start[0])}–{_num(start[1])})"
        parts.append(text)
    return "; ".join(parts)


def _best(entry: dict) -> str:
    best = entry.get("best") or {}
    params = ", ".join(f"{k} {_num(v)}" for k, v in (best.get("params") or {}).items())
    value = best.get("value")
    return f"{params} → {_num(value)}" if value is not None else params


def _gain(entry: dict) -> str:
    gain = entry.get("gain_pp")
    return "–" if gain is None else f"{gain:+.1f}"


def adequacy_table(record: dict | None, budget: int | None = None) -> pd.DataFrame:
    """One row per arm and budget of the record, for people (COLUMNS); `budget` fills Epochs for records whose arms
    do not name one (a single budget). No record: an empty frame with the columns."""
    rows = []
    for entry in (record or {}).get("arms", []):
        epochs = _epochs(entry, budget)
        rows.append({"Arm": arm_label(entry.get("arm", {}), entry.get("label", "")),
                     "Epochs": "" if epochs is None else epochs, "Trials": int(entry.get("trials", 0)),
                     "Rounds": int(entry.get("rounds", 0)), "Final range": _ranges(entry), "Best": _best(entry),
                     "Where": "; ".join(f"{k} {v}" for k, v in (entry.get("where") or {}).items()),
                     "Coverage": "; ".join(f"{k} {100 * v:.0f}%" for k, v in (entry.get("coverage") or {}).items()),
                     "Diverged": int(entry.get("diverged", 0)), "Last gain (pp)": _gain(entry),
                     "Adequate": "yes" if entry.get("adequate") else "no", "Why": entry.get("reason", "")})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def compact_table(table: pd.DataFrame) -> pd.DataFrame:
    """The terminal's columns of `adequacy_table` (COMPACT)."""
    return table.loc[:, list(COMPACT)]


def stopped(record: dict | None) -> str:
    """How the rounds ended, e.g. "Search rounds: 2 of at most 3, stopped: every arm adequate." ('' without one)."""
    if not record:
        return ""
    rounds, cap = record.get("rounds"), record.get("max_rounds")
    return (f"Search rounds: {rounds}{f' of at most {cap}' if cap else ''}, stopped: {record.get('stopped', '?')} "
            f"(tolerance {_num(record.get('tolerance_pp', '?'))} pp).")


def why_not(entry: dict, tolerance: float | None = None) -> str:
    """Why an arm is not adequate, in words: best value at an open edge, and/or the curve still rising."""
    parts = []
    for dim, where in (entry.get("where") or {}).items():
        if where in EDGES:
            r = (entry.get("ranges") or {}).get(dim, {})
            widened = r.get("start") is not None and list(r.get("start")) != list(r.get("final") or [])
            parts.append(f"best {dim} at the {where} of the {'widened ' if widened else ''}range")
        elif where == "flat at chance":  # sweeps.search.adequacy: learned nothing anywhere in the range
            parts.append(f"no {dim} in the range learned anything")
    gain = entry.get("gain_pp")
    if gain is not None and (tolerance is None or abs(gain) > tolerance):
        parts.append(f"curve still rising {gain:+.1f} pp")
    return "; ".join(parts) or entry.get("reason", "") or "not adequate"


def not_adequate(record: dict | None, budget: int | None = None) -> list[tuple[str, int | None, str]]:
    """(arm, budget, why) for every arm of the record that is not adequately tuned."""
    tolerance = (record or {}).get("tolerance_pp")
    return [(arm_label(e.get("arm", {}), e.get("label", "")), _epochs(e, budget), why_not(e, tolerance))
            for e in (record or {}).get("arms", []) if not e.get("adequate")]


def adequacy_sentence(record: dict | None, budget: int | None = None) -> str:
    """What the headline opens with when an arm the verdict rests on is not adequate, else ''. E.g. "Not adequately
    tuned: plain-56 after 8 epochs (best lr at the high edge of the widened range; curve still rising +3.1 pp). The
    answer below may change with more tuning."."""
    missing = not_adequate(record, budget)
    if not missing:
        return ""
    by_reason: dict[str, list[str]] = {}  # arms with the same reason share it: "a, b and c (why)", first seen first
    for arm, e, why in missing:
        by_reason.setdefault(why, []).append(f"{arm}{'' if e is None else f' after {epochs_text(e)}'}")
    joined = lambda arms: f"{', '.join(arms[:-1])} and {arms[-1]}" if len(arms) > 1 else arms[0]  # noqa: E731
    listed = "; ".join(f"{joined(arms)} ({why})" for why, arms in by_reason.items())
    return f"Not adequately tuned: {listed}. The answer below may change with more tuning."


def summary_words(record: dict | None, confirmed: bool = True) -> str:
    """One line for a summary: how many arms are adequate, or NO_RECORD ('' for a sweep without a confirm stage)."""
    if not record:
        return NO_RECORD if confirmed else ""
    arms = record.get("arms", [])
    bad = len(not_adequate(record))
    head = f"every arm adequate ({len(arms)} arms)" if not bad else f"{bad} of {len(arms)} arms not adequate"
    rounds = stopped(record)
    return f"{head}; {rounds[:1].lower()}{rounds[1:]}"
