"""A valid CreateHyperParameterTuningJob document around a real script, for the model tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from model_fixtures import tuning_request


@pytest.fixture
def source_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "train.py").write_text("print('accuracy: 0.9')\n")
    return folder


@pytest.fixture
def request_doc(source_dir: Path) -> dict[str, Any]:
    return tuning_request(source_dir)
