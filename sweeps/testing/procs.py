"""Processes the helpers start: the tail of a log file, whether a process group still runs, polling."""

from __future__ import annotations

import glob
import time
from collections.abc import Callable


def log_tail(path: str, chars: int = 3000) -> str:
    """The end of a log file, for failure messages."""
    with open(path, errors="replace") as fh:
        return fh.read()[-chars:]


def group_alive(pgid: int) -> bool:
    """Whether any process of the group still runs (zombies waiting to be reaped do not count)."""
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as fh:
                state, _, pgrp = fh.read().rsplit(")", 1)[1].split()[:3]
        except OSError:  # gone meanwhile
            continue
        if int(pgrp) == pgid and state != "Z":
            return True
    return False


def wait_until(done: Callable[[], bool], timeout_s: float, what: str, every_s: float = 0.5) -> None:
    """Poll done() until it is true; TimeoutError naming `what` once timeout_s has passed."""
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} after {timeout_s:.0f}s")
        time.sleep(every_s)
