"""The test-infrastructure package sweeps.testing: its small helpers, and that the product never imports it."""

from __future__ import annotations

import ast
import signal
import socket
import subprocess
import sys
import time
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


def test_wait_until_returns_what_done_returned() -> None:
    calls = iter([None, {}, {"head": "n1"}])
    assert wait_until(lambda: next(calls), 5, "never", every_s=0.01) == {"head": "n1"}


def test_wait_until_times_out_with_the_log_tail_and_details(tmp_path) -> None:
    (tmp_path / "a.log").write_text("first log\n")
    (tmp_path / "b.log").write_text("second log\n")
    with pytest.raises(TimeoutError, match="the sun after 0s") as raised:
        wait_until(lambda: 0, 0.05, "the sun", every_s=0.01, details=lambda: "more to say",
                   log_path=[str(tmp_path / "a.log"), str(tmp_path / "b.log")])
    assert all(part in str(raised.value) for part in ("first log", "second log", "more to say"))


def test_wait_until_fails_at_once_when_a_watched_process_exits(tmp_path) -> None:
    log_path = tmp_path / "child.log"
    with open(log_path, "w") as log:
        child = subprocess.Popen([sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"], stdout=log)
    child.wait(30)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="the server: process .* exited with 3") as raised:
        wait_until(lambda: False, 60, "the server", process=child, log_path=str(log_path))
    assert "boom" in str(raised.value) and str(log_path) in str(raised.value)
    assert time.monotonic() - start < 5  # not after the 60 s timeout


def test_only_procs_polls() -> None:
    """Every wait in sweeps/testing goes through procs.wait_until: no other module loops around a sleep."""
    offenders = []
    for path in sorted((ROOT / "sweeps" / "testing").glob("*.py")):
        if path.name == "procs.py":
            continue
        for loop in ast.walk(ast.parse(path.read_text())):
            if isinstance(loop, (ast.While, ast.For)) and any(
                    isinstance(call, ast.Call) and "sleep" in ast.unparse(call.func) for call in ast.walk(loop)):
                offenders.append(f"{path.name}:{loop.lineno}")
    assert not offenders, f"polling loops outside procs.wait_until: {offenders}"


def test_log_tail(tmp_path) -> None:
    (tmp_path / "x.log").write_text("a" * 10 + "END")
    assert log_tail(str(tmp_path / "x.log"), 4) == "aEND"


def test_product_code_never_imports_sweeps_testing() -> None:
    offenders = []
    product = [*ROOT.glob("resnet_core/*.py"), *ROOT.glob("sweeps/**/*.py"), *ROOT.glob("dashboards/**/*.py")]
    for path in [p for p in product if "testing" not in p.relative_to(ROOT).parts]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("sweeps.testing") or n == "testing"]
    assert len(list(ROOT.glob("dashboards/**/*.py"))) > 20  # the rooms were read
    assert not offenders
