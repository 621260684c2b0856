"""Throwaway databases on this machine's PostgreSQL (127.0.0.1:5432, trust auth), and connection faults."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432"  # this machine's PostgreSQL, trust auth
PG_SQLALCHEMY = "postgresql+psycopg2://postgres@127.0.0.1:5432"  # the same for MLflow (psycopg 3 is absent)


def _pg(sql: str, *args) -> list:
    conn = psycopg2.connect(f"{PG_ADMIN}/postgres")
    conn.autocommit = True  # CREATE/DROP/ALTER DATABASE refuse to run inside a transaction
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


@contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A fresh, uniquely named database; yields its SQLAlchemy URI and drops it (and its sessions) afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    _pg(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_SQLALCHEMY}/{name}"
    finally:
        _pg(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_name(uri: str) -> str:
    """The database part of a PostgreSQL URI."""
    return uri.rsplit("/", 1)[1]


def refuse_connections(uri: str) -> int:
    """Make one database refuse new connections and drop its open ones; returns how many were dropped."""
    name = database_name(uri)
    _pg(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
    return len(_pg("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", name))


def allow_connections(uri: str) -> None:
    """Undo refuse_connections."""
    _pg(f'ALTER DATABASE "{database_name(uri)}" ALLOW_CONNECTIONS true')
