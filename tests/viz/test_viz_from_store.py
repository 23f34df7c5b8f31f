"""Reports of real tuning jobs, named as users name them."""

from __future__ import annotations

import json
import re
import subprocess

import pytest

import tunesmith
from helpers import tunesmith_command, tuning_document
from tunesmith.viz import tuning_job_data, visualize_tuning_job, write_report


@pytest.fixture
def two_jobs(home, script_dir):
    source = script_dir()
    for name, strategy in (("rnd", "Random"), ("grd", "Random")):
        tunesmith.create_tuning_job(
            tuning_document(name, source, strategy=strategy, max_jobs=3), home=home, detach=False
        ).wait(120)
    return ["rnd", "grd"]


def test_names_and_handles_give_the_same_report(home, two_jobs) -> None:
    by_name = visualize_tuning_job(two_jobs, advanced=True, home=home).to_dict()
    handles = [tunesmith.tuning_job(n, home=home) for n in two_jobs]
    by_handle = visualize_tuning_job(handles, advanced=True).to_dict()
    assert json.dumps(by_name, sort_keys=True, default=str) == json.dumps(
        by_handle, sort_keys=True, default=str
    )
    data = tuning_job_data(tunesmith.tuning_job("rnd", home=home).workspace.store, "rnd")
    assert len(data.trials) == 3 and data.objective_name == "score"


def test_report_command_writes_offline_html_and_png(home, two_jobs, tmp_path) -> None:
    html = tmp_path / "report.html"
    result = subprocess.run(
        [*tunesmith_command(), "report", *two_jobs, "-o", str(html)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    text = html.read_text()
    assert "rnd" in text and "grd" in text
    assert not re.search(r"<script[^>]+src=[\"']https?://", text)
    png = write_report(two_jobs, tmp_path / "report.png", home=home)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_unsupported_suffix_and_unknown_job_give_one_line(home, two_jobs, tmp_path) -> None:
    for args in (["report", "rnd", "-o", str(tmp_path / "r.docx")], ["report", "ghost"]):
        result = subprocess.run(
            [*tunesmith_command(), *args], capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 1
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert result.stderr.startswith("error: ")
