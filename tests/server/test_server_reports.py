"""The dashboard's reports: built from tunesmith.viz, rebuilt only when the tuning job changed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import tunesmith
from helpers import tuning_document
from tunesmith.model.errors import ResourceNotFound
from tunesmith.server import reports
from tunesmith.server.reports import Reports


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.slow
def test_a_report_is_rebuilt_when_its_job_changes_and_not_more_often(
    home: Path, script_dir, monkeypatch: pytest.MonkeyPatch
) -> None:
    tunesmith.create_tuning_job(
        tuning_document("charted", script_dir(), max_jobs=2), home=home, detach=False
    ).wait(120)
    store = tunesmith.tuning_job("charted", home=home).workspace.store
    builds: list[str] = []
    build = reports.build_spec
    monkeypatch.setattr(reports, "build_spec", lambda s, n: builds.append(n) or build(s, n))
    clock = Clock()
    kept = Reports(store, min_age=2.0, clock=clock)

    first = kept.get("charted")
    spec = json.loads(first.spec)
    assert len(spec["datasets"]["trials"]) == 2 and builds == ["charted"]
    clock.now = 10.0
    assert kept.get("charted").version == first.version and builds == ["charted"]

    # A training job's end changes the job: a new report, but not within min_age of the last.
    record = store.training_jobs("charted")[0]
    store.update_training_job(record.name, end_time=(record.end_time or time.time()) + 1)
    clock.now = 11.0
    assert kept.get("charted").version == first.version and builds == ["charted"]
    clock.now = 12.5
    assert kept.get("charted").version != first.version and builds == ["charted"] * 2

    with pytest.raises(ResourceNotFound):
        kept.get("absent")
