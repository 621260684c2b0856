"""The test-infrastructure package sweeps.testing: its small helpers, and that the product never imports it."""

from __future__ import annotations

import ast
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sweeps.testing.ports import free_port_range, free_ports
from sweeps.testing.procs import group_alive, log_tail, wait_until

ROOT = Path(__file__).resolve().parents[1]


def test_free_ports_are_distinct_and_bindable() -> None:
    ports = free_ports(5)
    assert len(set(ports)) == 5
    low, high = free_port_range(4)
    assert high - low == 3 and not set(range(low, high + 1)) & set(ports)
    for port in (*ports, low, high):
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_group_alive_follows_a_real_process_group() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        assert group_alive(child.pid)
    finally:
        child.send_signal(signal.SIGKILL)
    wait_until(lambda: child.poll() is not None, 30, "child not reaped")
    assert not group_alive(child.pid)


def test_wait_until_names_what_it_waited_for() -> None:
    with pytest.raises(TimeoutError, match="the moon after 0s"):
        wait_until(lambda: False, 0.1, "the moon", every_s=0.02)
    calls = iter([False, False, True])
    wait_until(lambda: next(calls), 5, "never", every_s=0.01)


def test_log_tail(tmp_path) -> None:
    (tmp_path / "x.log").write_text("a" * 10 + "END")
    assert log_tail(str(tmp_path / "x.log"), 4) == "aEND"


def test_product_code_never_imports_sweeps_testing() -> None:
    offenders = []
    for path in [*ROOT.glob("resnet_core/*.py"), *ROOT.glob("sweeps/*.py"), *ROOT.glob("dashboards/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("sweeps.testing") or n == "testing"]
    assert not offenders
