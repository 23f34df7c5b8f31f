"""What a server is configured with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tunesmith.runner.backend import Backend
from tunesmith.server.auth import MAX_CLOCK_SKEW_SECONDS
from tunesmith.server.engines import SCAN_SECONDS

MAX_BODY_BYTES = 1 << 20
READ_CACHE_SECONDS = 0.25


@dataclass(frozen=True)
class ServerSettings:
    home: Path | None = None
    """The tunesmith home (``None``: ``TUNESMITH_HOME`` or ``./.tunesmith``)."""
    store: str | None = None
    """The store's URL (``None``: ``TUNESMITH_STORE`` or the home's SQLite file)."""
    backend: Backend | None = None
    """What runs the tuning jobs' training jobs (``None``: ``TUNESMITH_BACKEND`` or local)."""
    access_keys: Mapping[str, str] = field(default_factory=dict)
    """Access key id -> secret access key. Empty: requests are not authenticated."""
    max_body_bytes: int = MAX_BODY_BYTES
    max_clock_skew_seconds: float = MAX_CLOCK_SKEW_SECONDS
    engine_scan_seconds: float = SCAN_SECONDS
    read_cache_seconds: float = READ_CACHE_SECONDS
    """How long a read's answer may be served again (0: never); writes clear it."""
