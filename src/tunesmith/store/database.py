"""Opening a store: the database engine, its connection settings, and schema migrations.

SQLite runs in WAL mode so readers never wait for the writer, and every write transaction starts
with ``BEGIN IMMEDIATE``: a deferred transaction that later upgrades to a write lock can fail with
"database is locked" no matter the busy timeout, which is what several engines sharing one home
would otherwise hit.

PostgreSQL (``postgresql://…``, driver psycopg 3) runs every transaction at READ COMMITTED: writers
lock the rows they read before changing them (``SELECT … FOR UPDATE``, see the repository) instead
of taking the whole database as SQLite's ``BEGIN IMMEDIATE`` does, so engines of different tuning
jobs never wait for each other. Migrations hold an advisory lock, so engines starting together
on an empty database create the schema once.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool

from tunesmith.model.errors import ValidationException
from tunesmith.store.schema import SCHEMA_VERSION, metadata, schema_version

BUSY_TIMEOUT_MS = 60_000
MIGRATION_LOCK = 0x74756E65  # advisory lock key held while PostgreSQL migrates
KEPT_CONNECTIONS = 4
WAL_RETRY_SECONDS = 0.01


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
    if url.startswith(("postgresql:", "postgres:", "postgresql+")):
        return _open_postgresql(url)
    raise ValidationException(
        f"The store URL {_safe(url)} is not supported: use sqlite:///PATH or postgresql://…"
    )


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


def _open_postgresql(url: str) -> Engine:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise ValidationException(
            "A postgresql:// store needs the PostgreSQL driver: pip install 'tunesmith[postgres]'"
        ) from None
    parsed = make_url(url)
    # postgresql:// means psycopg 3 here, not SQLAlchemy's default psycopg2.
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = create_engine(
        parsed, pool_pre_ping=True, pool_size=8, max_overflow=16, isolation_level="READ COMMITTED"
    )
    migrate(engine)
    return engine


def enable_wal(cursor: Any) -> None:
    """Put the database file in WAL mode (a property of the file: later connections find it so).

    Processes opening a new file together each try to switch it: one of them may be refused
    at once, without the busy handler, as SQLite does where waiting could deadlock. It tries
    again until the switch is made or the busy timeout has passed.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(WAL_RETRY_SECONDS)


def _open_sqlite(url: str) -> Engine:
    path = url.removeprefix("sqlite:///")
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    # Connections are kept and reused, each by one checkout at a time: opening one costs its
    # PRAGMAs, and closing the last one checkpoints and removes the WAL, a disk flush per
    # transaction. The pool never blocks a checkout (nested reads inside a write included);
    # connections beyond the kept ones are closed when returned.
    engine = create_engine(
        url,
        poolclass=QueuePool,
        pool_size=KEPT_CONNECTIONS,
        max_overflow=-1,
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        enable_wal(cursor)
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
    # 3: what ran a tuning job's training jobs, for the engines that resume it.
    3: ["ALTER TABLE tuning_jobs ADD COLUMN backend TEXT"],
}


def migrate(engine: Engine) -> None:
    """Create the schema, or bring an older one up to :data:`SCHEMA_VERSION`."""
    with engine.connect().execution_options(write=True) as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
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
        # Indexes only speed reads up: a store made before one existed gets it here.
        for table in metadata.sorted_tables:
            for index in table.indexes:
                index.create(conn, checkfirst=True)
