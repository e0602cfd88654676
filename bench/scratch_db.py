"""Throwaway PostgreSQL databases for the benchmarks (psycopg 3; no Django)."""

from urllib.parse import urlparse, urlunparse


def bench_url(base: str, name: str) -> str:
    """``base`` (a postgres:// URL) pointing at database ``name``."""
    return urlunparse(urlparse(base)._replace(path=f"/{name}"))


def recreate_database(base_url: str, name: str) -> None:
    """Drop ``name`` (closing its sessions) and create it empty."""
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_exists(base_url: str, name: str) -> bool:
    import psycopg

    with psycopg.connect(base_url, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is not None
