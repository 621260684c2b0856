"""Processes the helpers start: the tail of a log file, whether a process group still runs, polling."""

from __future__ import annotations

import glob
import subprocess
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


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


def _as_list(one_or_many) -> list:
    if one_or_many is None:
        return []
    return [one_or_many] if isinstance(one_or_many, (str, subprocess.Popen)) else list(one_or_many)


def wait_until(done: Callable[[], T], timeout_s: float, what: str, every_s: float = 0.5, *,
               process: subprocess.Popen | Sequence[subprocess.Popen] | None = None,
               log_path: str | Sequence[str] | None = None, tail_chars: int = 3000,
               details: Callable[[], str] | None = None) -> T:
    """Poll done() every every_s until it returns something truthy, and return that.

    RuntimeError as soon as a watched process has exited, with the end of its log (log_path, paired with
    process by position); TimeoutError naming `what` after timeout_s, with the end of every log and
    details() (more text for the message, such as a job's driver log)."""
    processes, logs = _as_list(process), _as_list(log_path)
    deadline = time.monotonic() + timeout_s
    while True:
        for i, proc in enumerate(processes):
            if proc.poll() is not None:
                where = f"; {logs[i]} ends:\n{log_tail(logs[i], tail_chars)}" if i < len(logs) else ""
                raise RuntimeError(f"{what}: process {proc.pid} exited with {proc.returncode}{where}")
        value = done()
        if value:
            return value
        left = deadline - time.monotonic()
        if left <= 0:
            extra = [log_tail(path, tail_chars) for path in logs] + ([details()] if details else [])
            raise TimeoutError(f"{what} after {timeout_s:.0f}s" + (":\n" + "\n".join(extra) if extra else ""))
        time.sleep(min(every_s, left))
