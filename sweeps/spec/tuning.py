"""How a confirm sweep tunes its arms: the training budgets (`budgets`) and the search rounds (`rounds`).

Validated here, at the edge, into `SweepSpec.budgets` and `SweepSpec.rounds`; the first bad field raises SpecError
naming it and what is allowed. What the rounds do is `sweeps.search.adequacy`'s (pure) and
`sweeps.search.searchers.ArmSearcher`'s.
"""

from __future__ import annotations

from ..errors import SpecError
from .schema import Confirm, Dimension, Rounds

ROUND_KEYS = ("max", "time_s", "tolerance", "widen", "limits")


def _fail(where: str, message: str) -> SpecError:
    return SpecError(f"{where}: {message}")


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def parse_budgets(raw, train: dict, space: dict[str, Dimension], confirm: Confirm | None) -> tuple[int, ...]:
    """`budgets: [2, 8]`: training budgets in epochs, increasing; each (arm, budget) is searched and confirmed on
    its own, since the best learning rate moves with the budget. Sets train.epochs to the largest."""
    if raw is None:
        return ()
    if confirm is None:
        raise _fail("budgets", "needs a confirm stage (every arm is tuned and confirmed at every budget); "
                               "without confirm set train.epochs")
    if not isinstance(raw, list) or not raw or not all(isinstance(b, int) and not isinstance(b, bool) and b >= 1
                                                       for b in raw):
        raise _fail("budgets", f"must be a list of epoch counts (integers >= 1), e.g. [2, 8]; got {raw!r}")
    if any(b >= c for b, c in zip(raw, raw[1:])):
        raise _fail("budgets", f"must be increasing, each budget once; got {raw!r}")
    if "epochs" in train:
        raise _fail("train.epochs", "the spec names budgets: give the training budget in one place (budgets)")
    if "epochs" in space:
        raise _fail("search_space.epochs", "the spec names budgets: epochs is an arm of its own, not searched")
    train["epochs"] = raw[-1]
    return tuple(raw)


def _limits(raw, space: dict[str, Dimension], factors: tuple[str, ...]) -> dict:
    """rounds.limits: {lr: [1e-5, 1.0]}: hard limits each range may be widened to, holding its spec range."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _fail("rounds.limits", f"must map a searched range to [low, high]; got {raw!r}")
    ranges = [n for n, d in space.items() if n not in factors and d.kind in ("uniform", "loguniform")]
    out = {}
    for name, pair in raw.items():
        where = f"rounds.limits.{name}"
        if name not in ranges:
            raise _fail(where, f"not a searched range (uniform or loguniform nuisance dimension); allowed: "
                               f"{', '.join(ranges) or 'none'}")
        dim = space[name]
        if not isinstance(pair, list) or len(pair) != 2 or not all(_number(v) for v in pair):
            raise _fail(where, f"needs [low, high] numbers; got {pair!r}")
        low, high = float(pair[0]), float(pair[1])
        if not (low <= dim.values[0] and high >= dim.values[1]) or (dim.kind == "loguniform" and low <= 0):
            raise _fail(where, f"must hold the searched range {list(dim.values)}"
                               f"{' with low > 0' if dim.kind == 'loguniform' else ''}; got {pair!r}")
        out[name] = (low, high)
    return out


def parse_rounds(raw, search: str, space: dict[str, Dimension], confirm: Confirm | None) -> Rounds | None:
    """`rounds:` of a confirm sweep with a sampled search: on by default (Rounds()); `false` gives one round
    (still checked and reported); a mapping sets max, time_s, tolerance (pp), widen and limits."""
    if confirm is None or search == "grid":  # `rounds: false` is harmless there: nothing to round
        if raw is not None and raw is not False:
            raise _fail("rounds", "needs a confirm stage and a sampled search (optuna, random or quasirandom)")
        return None
    if raw is None or raw is True:
        return Rounds()
    if raw is False:
        return Rounds(max_rounds=1)
    if not isinstance(raw, dict):
        raise _fail("rounds", f"must be a mapping with {', '.join(ROUND_KEYS)}, or false; got {raw!r}")
    unknown = sorted(set(raw) - set(ROUND_KEYS))
    if unknown:
        raise _fail(f"rounds.{unknown[0]}", f"unknown key; allowed: {', '.join(ROUND_KEYS)}")
    top = raw.get("max", Rounds.max_rounds)
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise _fail("rounds.max", f"must be an integer >= 1 (search rounds at most); got {top!r}")
    time_s = raw.get("time_s")
    if time_s is not None and (not _number(time_s) or time_s <= 0):
        raise _fail("rounds.time_s", f"must be a number of seconds > 0 or null; got {time_s!r}")
    tolerance = raw.get("tolerance", Rounds.tolerance_pp)
    if not _number(tolerance) or tolerance <= 0:
        raise _fail("rounds.tolerance", f"must be a number of percentage points > 0; got {tolerance!r}")
    widen = raw.get("widen", True)
    if not isinstance(widen, bool):
        raise _fail("rounds.widen", f"must be true or false; got {widen!r}")
    return Rounds(top, None if time_s is None else float(time_s), float(tolerance), widen,
                  _limits(raw.get("limits"), space, confirm.factors))
