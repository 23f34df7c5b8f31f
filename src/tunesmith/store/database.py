"""Opening a store: the database engine, its connection settings, and schema migrations.

SQLite runs in WAL mode so readers never wait for the writer, and every write transaction starts
with ``BEGIN IMMEDIATE``: a deferred transaction that later upgrades to a write lock can fail with
"database is locked" no matter the busy timeout, which is what several engines sharing one home
would otherwise hit.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, insert, inspect, select
from sqlalchemy.pool import NullPool

from tunesmith.store.schema import SCHEMA_VERSION, metadata, schema_version

BUSY_TIMEOUT_MS = 60_000


def default_home() -> Path:
    return Path(os.environ.get("TUNESMITH_HOME") or ".tunesmith")


def store_url(home: Path | None = None) -> str:
    """``TUNESMITH_STORE`` if set, else the SQLite file under the home folder."""
    if url := os.environ.get("TUNESMITH_STORE"):
        return url
    home = (home or default_home()).resolve()
    return f"sqlite:///{home / 'tunesmith.db'}"


def open_database(url: str) -> Engine:
    if url.startswith("sqlite"):
        return _open_sqlite(url)
    engine = create_engine(url, pool_pre_ping=True)
    migrate(engine)
    return engine


def _open_sqlite(url: str) -> Engine:
    path = url.removeprefix("sqlite:///")
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # One connection per checkout: SQLite connections are cheap, and a pooled connection
    # shared across threads would serialise the runner's writers behind one lock anyway.
    engine = create_engine(
        url,
        poolclass=NullPool,
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:  # type: ignore[no-untyped-def]
        mode = "IMMEDIATE" if connection.get_execution_options().get("write") else "DEFERRED"
        connection.exec_driver_sql(f"BEGIN {mode}")

    migrate(engine)
    return engine


MIGRATIONS: dict[int, list[str]] = {
    # version -> statements that bring version-1 to version; version 1 is the initial schema.
    # 2: where a training job's unread output starts, and whether its failure may be retried.
    2: [
        "ALTER TABLE training_jobs ADD COLUMN log_offset INTEGER",
        "ALTER TABLE training_jobs ADD COLUMN retryable INTEGER",
    ],
}


def migrate(engine: Engine) -> None:
    """Create the schema, or bring an older one up to :data:`SCHEMA_VERSION`."""
    with engine.connect().execution_options(write=True) as conn, conn.begin():
        if not inspect(conn).has_table("schema_version"):
            metadata.create_all(conn)
            conn.execute(insert(schema_version).values(version=SCHEMA_VERSION))
            return
        current = conn.execute(select(schema_version.c.version)).scalar_one()
        if current > SCHEMA_VERSION:
            raise RuntimeError(
                f"the store has schema version {current}, newer than this tunesmith "
                f"({SCHEMA_VERSION}); upgrade tunesmith"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version]:
                conn.exec_driver_sql(statement)
            conn.execute(schema_version.update().values(version=version))
