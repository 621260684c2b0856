"""Free TCP ports on 127.0.0.1: one, several distinct, or a consecutive range below the ephemeral range."""

from __future__ import annotations

import random
import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct ports nobody listens on now (held open together, so no two are the same)."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for s in socks:
            s.bind((host, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


_HANDED_OUT: set[int] = set()  # ranges given out before: a node's worker ports and MLflow never overlap


def free_port_range(count: int) -> tuple[int, int]:
    """`count` consecutive free ports below the kernel's ephemeral range, where free_ports() never lands."""
    for _ in range(200):
        base = random.randrange(10000, 30000 - count)
        if _HANDED_OUT & set(range(base, base + count)):
            continue
        socks = []
        try:
            for port in range(base, base + count):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            _HANDED_OUT.update(range(base, base + count))
            return base, base + count - 1
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no {count} consecutive free ports")
