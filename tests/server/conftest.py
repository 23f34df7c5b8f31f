"""Fixtures of the server tests: one server per test module, its client, a script folder."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_helpers import kill_training_processes
from serving import RunningServer, client, start_server

from helpers import QUADRATIC


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server per test module, over a fresh home."""
    home = tmp_path_factory.mktemp("server") / "home"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TUNESMITH_STOP_GRACE_SECONDS", "2")
        patch.delenv("TUNESMITH_STORE", raising=False)
        server = start_server(home)
        yield server
        server.stop()
        kill_training_processes(home)


@pytest.fixture(scope="module")
def sagemaker(running: RunningServer) -> Any:
    return client(running.url)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A source folder with the quadratic training script."""
    folder = tmp_path_factory.mktemp("source")
    (folder / "train.py").write_text(textwrap.dedent(QUADRATIC))
    return folder
