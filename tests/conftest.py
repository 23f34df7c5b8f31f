"""Shared fixtures: a fresh home per test and source folders holding real training scripts."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pgcluster import Cluster, postgres_cluster

from helpers import QUADRATIC

# Each test expects the fork servers its runners started to end with them: no server is kept
# idle for the next test (test_runner_pool checks the idle servers).
os.environ["TUNESMITH_POOL_IDLE"] = "0"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty tunesmith home; ``TUNESMITH_HOME`` points at it for subprocesses too."""
    path = tmp_path / "home"
    monkeypatch.setenv("TUNESMITH_HOME", str(path))
    monkeypatch.delenv("TUNESMITH_STORE", raising=False)
    monkeypatch.setenv("TUNESMITH_STOP_GRACE_SECONDS", "2")
    return path


@pytest.fixture
def script_dir(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a training script (dedented) into a fresh source folder and return the folder."""

    def write(source: str = QUADRATIC, program: str = "train.py") -> Path:
        folder = tmp_path / f"src-{len(list(tmp_path.glob('src-*')))}"
        folder.mkdir()
        (folder / program).write_text(textwrap.dedent(source))
        return folder

    return write


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """One throwaway PostgreSQL server for the whole test session."""
    with postgres_cluster() as cluster:
        yield cluster


@pytest.fixture
def postgres_url(postgres: Cluster) -> str:
    """The URL of a new, empty PostgreSQL database."""
    return postgres.create_database()
