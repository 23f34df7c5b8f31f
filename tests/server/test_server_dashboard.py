"""The dashboard's HTTP side: offline assets, the session from a key pair, the JSON views and
the Stop button's route."""

from __future__ import annotations

import gzip
import http.cookiejar
import json
import re
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from server_helpers import training_job_request
from serving import KEY_ID, SECRET, RunningServer, boto3_tuning_document

from helpers import wait_for
from tunesmith.server.dashboard import ASSETS, session_token, session_valid

SLOW = """
import time
print("score: 0.25", flush=True)
time.sleep(120)
"""


class Browser:
    """Requests with a cookie jar, as a browser keeps its session."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={"content-type": "application/json", **(headers or {})})
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def json(self, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        status, _, payload = self.request(method, path, body, **kwargs)
        return status, json.loads(payload)

    def sign_in(self) -> None:
        status, _ = self.json("POST", "/ui/api/session",
                              {"access_key_id": KEY_ID, "secret_access_key": SECRET})
        assert status == 200


@pytest.fixture(scope="module")
def finished_job(sagemaker: Any, source: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    output = tmp_path_factory.mktemp("output")
    sagemaker.create_hyper_parameter_tuning_job(
        **boto3_tuning_document("shown", source, output, max_jobs=3, parallel=2))
    wait_for(lambda: sagemaker.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="shown")["HyperParameterTuningJobStatus"] == "Completed",
        timeout=90)
    return "shown"


def test_the_page_and_its_assets_load_nothing_from_elsewhere(running: RunningServer) -> None:
    browser = Browser(running.url)
    status, headers, page = browser.request("GET", "/ui")
    assert status == 200 and b"<title>tunesmith</title>" in page
    assert headers["content-security-policy"] == "default-src 'self'"
    for name in ASSETS:
        status, _, content = browser.request("GET", f"/ui/assets/{name}")
        assert status == 200, name
        text = content.decode()
        # Only the SVG namespace names another site, and nothing fetches it.
        outside = set(re.findall(r"https?://[^\s\"'`)]+", text)) - {"http://www.w3.org/2000/svg"}
        assert not outside, (name, outside)
    assert browser.request("GET", "/ui/assets/secrets.txt")[0] == 404


def test_the_views_need_a_session_from_a_configured_key_pair(running: RunningServer) -> None:
    browser = Browser(running.url)
    assert browser.json("GET", "/ui/api/session")[1] == {"signed_in": False,
                                                           "keys_required": True}
    assert browser.json("GET", "/ui/api/jobs")[0] == 401
    status, answer = browser.json("POST", "/ui/api/session",
                                  {"access_key_id": KEY_ID, "secret_access_key": "wrong"})
    assert (status, answer["__type"]) == (403, "UnrecognizedClientException")
    assert browser.json("GET", "/ui/api/jobs")[0] == 401
    browser.sign_in()
    assert browser.json("GET", "/ui/api/session")[1]["signed_in"] is True
    assert browser.json("GET", "/ui/api/jobs")[0] == 200


def test_session_tokens_expire_and_cannot_be_forged() -> None:
    keys = {KEY_ID: SECRET}
    now = time.time()
    token = session_token(KEY_ID, SECRET, now)
    assert session_valid(token, keys, now)
    assert not session_valid(token, keys, now + 13 * 3600)
    assert not session_valid(token, {KEY_ID: "rotated"}, now)
    key_id, expiry, signature = token.split(":")
    assert not session_valid(f"{key_id}:{int(expiry) + 3600}:{signature}", keys, now)
    assert not session_valid("garbage", keys, now)


def test_jobs_job_and_training_job_views(running: RunningServer, finished_job: str) -> None:
    browser = Browser(running.url)
    browser.sign_in()
    status, jobs = browser.json("GET", "/ui/api/jobs")
    summary = next(j for j in jobs["HyperParameterTuningJobSummaries"]
                   if j["HyperParameterTuningJobName"] == finished_job)
    assert summary["HyperParameterTuningJobStatus"] == "Completed"
    assert isinstance(summary["BestObjectiveValue"], float)
    assert summary["Objective"] == {"MetricName": "score", "Type": "Maximize"}

    status, job = browser.json("GET", f"/ui/api/jobs/{finished_job}")
    assert status == 200
    assert len(job["TrainingJobSummaries"]) == 3
    best = job["Description"]["BestTrainingJob"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == \
        summary["BestObjectiveValue"]
    assert isinstance(job["Description"]["CreationTime"], float)

    status, training = browser.json("GET", f"/ui/api/training-jobs/{best['TrainingJobName']}")
    assert status == 200 and training["TuningJobName"] == finished_job
    scores = [p for p in training["Metrics"] if p["Metric"] == "score"]
    assert scores[-1]["Value"] == best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    assert scores[-1]["Timestamp"] >= training["Description"]["TrainingStartTime"]
    assert "score:" in training["Log"]
    status, missing = browser.json("GET", "/ui/api/jobs/nothing-here")
    assert (status, missing["__type"]) == (400, "ResourceNotFound")


def test_the_report_is_the_viz_report_sent_again_only_when_it_changed(
    running: RunningServer, finished_job: str
) -> None:
    browser = Browser(running.url)
    assert browser.request("GET", f"/ui/api/jobs/{finished_job}/report")[0] == 401
    browser.sign_in()
    status, headers, body = browser.request("GET", f"/ui/api/jobs/{finished_job}/report")
    assert status == 200
    spec = json.loads(body)
    assert spec["title"]["text"] == f"Tuning report: {finished_job} (Random)"
    assert len(spec["datasets"]["trials"]) == 3
    etag = headers["etag"]
    status, _, body = browser.request("GET", f"/ui/api/jobs/{finished_job}/report",
                                      headers={"if-none-match": etag})
    assert (status, body) == (304, b"")
    status, answer = browser.json("GET", "/ui/api/jobs/nothing-here/report")
    assert (status, answer["__type"]) == (400, "ResourceNotFound")


def test_the_vega_bundle_is_served_by_the_server(running: RunningServer) -> None:
    browser = Browser(running.url)
    status, headers, script = browser.request("GET", "/ui/assets/vega.js")
    assert status == 200 and headers["content-type"].startswith("text/javascript")
    assert b"window.vegaEmbed=" in script
    assert browser.request("GET", "/ui/assets/vega.js",
                           headers={"if-none-match": headers["etag"]})[0] == 304
    _, zipped, compressed = browser.request("GET", "/ui/assets/vega.js",
                                            headers={"accept-encoding": "gzip"})
    assert zipped["content-encoding"] == "gzip"
    assert gzip.decompress(compressed) == script


@pytest.mark.slow
def test_the_stop_button_stops_a_running_job(running: RunningServer, sagemaker: Any,
                                             tmp_path: Path) -> None:
    source = tmp_path / "slow"
    source.mkdir()
    (source / "train.py").write_text(textwrap.dedent(SLOW))
    sagemaker.create_hyper_parameter_tuning_job(
        **boto3_tuning_document("stoppable", source, tmp_path / "output", max_jobs=2,
                                parallel=1))
    browser = Browser(running.url)
    browser.sign_in()
    wait_for(lambda: browser.json("GET", "/ui/api/jobs/stoppable")[1]["Description"]
             ["TrainingJobStatusCounters"]["InProgress"] == 1, timeout=60)
    status, answer = browser.json("POST", "/ui/api/jobs/stoppable/stop")
    assert status == 403 and "x-tunesmith-dashboard" in answer["message"]
    status, _ = browser.json("POST", "/ui/api/jobs/stoppable/stop",
                             headers={"x-tunesmith-dashboard": "1"})
    assert status == 200
    wait_for(lambda: sagemaker.describe_hyper_parameter_tuning_job(
        HyperParameterTuningJobName="stoppable")["HyperParameterTuningJobStatus"] == "Stopped",
        timeout=60)


@pytest.mark.slow
def test_a_standalone_training_job_has_a_stop_button_and_a_log(
    running: RunningServer, sagemaker: Any, tmp_path: Path, finished_job: str
) -> None:
    source = tmp_path / "slow"
    source.mkdir()
    (source / "train.py").write_text(textwrap.dedent(SLOW))
    sagemaker.create_training_job(**training_job_request("alone", source, tmp_path / "output"))
    browser = Browser(running.url)
    browser.sign_in()
    # The log line is written as it comes; its metric value is recorded a moment later.
    view = wait_for(lambda: (lambda v: v if "score: 0.25" in v["Log"] and v["Metrics"] else None)(
        browser.json("GET", "/ui/api/training-jobs/alone")[1]), timeout=60)
    assert view["TuningJobName"] is None
    assert [p["Value"] for p in view["Metrics"]] == [0.25]
    # The list page shows the training jobs created on their own, not a tuning job's.
    status, listed = browser.json("GET", "/ui/api/training-jobs")
    assert status == 200
    assert [s["TrainingJobName"] for s in listed["TrainingJobSummaries"]] == ["alone"]
    assert listed["TrainingJobSummaries"][0]["TrainingJobStatus"] == "InProgress"

    _, job = browser.json("GET", f"/ui/api/jobs/{finished_job}")
    member = job["TrainingJobSummaries"][0]["TrainingJobName"]
    status, refused = browser.json("POST", f"/ui/api/training-jobs/{member}/stop",
                                   headers={"x-tunesmith-dashboard": "1"})
    assert (status, refused["__type"]) == (400, "ValidationException")
    assert "stop the tuning job instead" in refused["message"]

    status, _ = browser.json("POST", "/ui/api/training-jobs/alone/stop",
                             headers={"x-tunesmith-dashboard": "1"})
    assert status == 200
    wait_for(lambda: sagemaker.describe_training_job(TrainingJobName="alone")
             ["TrainingJobStatus"] == "Stopped", timeout=60)
