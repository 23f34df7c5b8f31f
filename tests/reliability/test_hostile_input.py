"""Hostile tuning job documents through the CLI file, the Python API and the server: always a
clear validation error, never a traceback, the store untouched, no name escaping the home."""

from __future__ import annotations

import contextlib
import copy
import http.client
import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_support import record_figures
from serving import start_server

import tunesmith
from helpers import tuning_document, wait_for
from tunesmith import cli, service
from tunesmith.api import Workspace, load_request
from tunesmith.model.errors import TunesmithError, ValidationException
from tunesmith.training import training_job_directory

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
TEN_MB = "x" * (10 * 1024 * 1024)
TRAVERSALS = ["..", "../../etc", "/etc/passwd", "a/../../b", "~/.ssh", "..\\..\\x", "%2e%2e%2f",
              "train/../../../tmp", "./.", "\x00", "a\nb"]
ERROR_TYPES = {"ValidationException", "SerializationException", "ResourceNotFound",
               "ResourceInUse"}

hostile = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**200), max_value=2**200),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0, 2**63, -(2**63) - 1]),
    st.sampled_from(["", " ", TEN_MB, "ＡＢＣ", "😀" * 40, "名前", "\u202e", *TRAVERSALS]),
    st.text(max_size=30),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
)
NAMED = [  # where names live: job, channel, parameter and metric names, the program
    ("HyperParameterTuningJobName",),
    ("TrainingJobDefinition", "InputDataConfig", 0, "ChannelName"),
    ("HyperParameterTuningJobConfig", "ParameterRanges", "ContinuousParameterRanges", 0, "Name"),
    ("TrainingJobDefinition", "AlgorithmSpecification", "MetricDefinitions", 0, "Name"),
    ("TrainingJobDefinition", "StaticHyperParameters", "sagemaker_program"),
]
DUPLICABLE = [
    ("TrainingJobDefinition", "InputDataConfig"),
    ("HyperParameterTuningJobConfig", "ParameterRanges", "ContinuousParameterRanges"),
    ("TrainingJobDefinition", "AlgorithmSpecification", "MetricDefinitions"),
]


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    if isinstance(doc, dict):
        for key, item in doc.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(doc, list):
        for index, item in enumerate(doc):
            found += _paths(item, (*prefix, index))
    return found


def _set(doc: Any, path: tuple, value: Any) -> None:
    for key in path[:-1]:
        doc = doc[key]
    doc[path[-1]] = value


def _get(doc: Any, path: tuple) -> Any:
    for key in path:
        doc = doc[key]
    return doc


@st.composite
def mutations(draw: Any, base: dict) -> dict:
    """The valid document with one field made hostile, a name made hostile, or a list's first
    item repeated (duplicate names)."""
    doc = copy.deepcopy(base)
    kind = draw(st.sampled_from(["field", "name", "duplicate"]))
    if kind == "field":
        _set(doc, draw(st.sampled_from(_paths(base))), draw(hostile))
    elif kind == "name":
        value = draw(st.one_of(st.sampled_from(TRAVERSALS), st.sampled_from(["", TEN_MB]),
                               st.text(min_size=1, max_size=40)))
        _set(doc, draw(st.sampled_from(NAMED)), value)
    else:
        items = _get(doc, draw(st.sampled_from(DUPLICABLE)))
        items.append(copy.deepcopy(items[0]))
    return doc


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("fuzz-source")
    (folder / "train.py").write_text("print('score: 1')\n")
    (folder / "data").mkdir()
    document = tuning_document("fuzzed", folder)
    document["TrainingJobDefinition"]["InputDataConfig"] = [
        {"ChannelName": "train", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": str(folder / "data")}}},
    ]
    document["TrainingJobDefinition"]["RetryStrategy"] = {"MaximumRetryAttempts": 2}
    load_request(document)  # valid as it is
    return document


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    running = start_server(tmp_path_factory.mktemp("fuzz-server") / "home", keys={})
    yield running.port, running.home
    running.stop()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's own home, also the one the ``tunesmith`` command and the Python API use."""
    folder = tmp_path / "home"
    monkeypatch.setenv("TUNESMITH_HOME", str(folder))
    return folder


def _post(port: int, body: bytes) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", "/", body=body, headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "SageMaker.CreateHyperParameterTuningJob",
        })
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def _run_cli(args: list[str]) -> tuple[int, str]:
    """The command line's entry point in this process; its exit code and stderr."""
    stderr = io.StringIO()
    code = 0
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
        old_argv, sys.argv = sys.argv, ["tunesmith", *args]
        try:
            cli.main()
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
        finally:
            sys.argv = old_argv
    return code, stderr.getvalue()


def _differences(base: Any, doc: Any, path: tuple = ()) -> list[str]:
    """Where a mutated document differs from the valid one (for a readable failure)."""
    if isinstance(base, dict) and isinstance(doc, dict):
        return [d for key in base.keys() | doc.keys()
                for d in _differences(base.get(key), doc.get(key), (*path, key))]
    if isinstance(base, list) and isinstance(doc, list) and len(base) == len(doc):
        return [d for i, (b, m) in enumerate(zip(base, doc, strict=True))
                for d in _differences(b, m, (*path, i))]
    return [] if base == doc else [f"{path}: {str(doc)[:80]!r}"]


def _home_files(home: Path) -> set[str]:
    return {str(p.relative_to(home)) for p in home.rglob("*")} if home.exists() else set()


@pytest.mark.slow
def test_hostile_documents_get_a_validation_error_everywhere(
    base: dict, server: tuple[int, Path], home: Path, tmp_path: Path
) -> None:
    port, server_home = server
    Workspace.open(home)  # the store exists before, so "untouched" compares like with like
    outside = {p.name for p in tmp_path.iterdir()}
    before = _home_files(home), _home_files(server_home)
    tried = {"cli_file": 0, "python_api": 0, "server": 0, "accepted_by_the_validator": 0}
    problems: list[str] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(doc=mutations(base))
    def attempt(doc: dict) -> None:
        try:
            request = load_request(doc)
        except TunesmithError:
            pass
        else:
            # Still valid: its names stay within the home, whatever they say.
            tried["accepted_by_the_validator"] += 1
            name = request["HyperParameterTuningJobName"]
            folder = training_job_directory(home, f"{name}-001-0123abcd", name).resolve()
            assert folder.is_relative_to(home.resolve())
            return
        body = json.dumps(doc).encode()
        spec = tmp_path / "spec.json"
        spec.write_bytes(body)
        code, err = _run_cli(["tune", "--detach", str(spec)])
        tried["cli_file"] += 1
        if code == 0 or "Traceback" in err or not err.startswith("error: ValidationException"):
            problems.append(f"cli: {code} {err[:200]}")
        tried["python_api"] += 1
        try:
            tunesmith.create_tuning_job(doc, home=home)
            problems.append("python api accepted it")
        except TunesmithError as error:
            if error.code != "ValidationException" or not error.message:
                problems.append(f"python api: {error.code} {error.message[:200]}")
        except Exception as error:
            problems.append(f"python api: {type(error).__name__}: {error}"[:300])
        tried["server"] += 1
        status, answer = _post(port, body)
        if not 400 <= status < 500 or answer.get("__type") not in ERROR_TYPES \
                or not answer.get("message"):
            problems.append(f"server: {status} {str(answer)[:200]} for {_differences(base, doc)}")

    attempt()
    # A few through the real command, as a user runs it.
    bad = copy.deepcopy(base)
    bad["HyperParameterTuningJobName"] = "../../escape"
    spec = tmp_path / "bad.json"
    spec.write_text(json.dumps(bad))
    real = subprocess.run([sys.executable, "-m", "tunesmith.cli", "tune", "--detach", str(spec)],
                          capture_output=True, text=True, env={**os.environ}, timeout=120)
    record_figures("hostile_input", tried)
    assert problems == []
    assert real.returncode == 1 and real.stderr.startswith("error: ValidationException")
    assert "Traceback" not in real.stderr
    assert (_home_files(home), _home_files(server_home)) == before
    assert {p.name for p in tmp_path.iterdir()} - outside <= {"spec.json", "bad.json"}
    listed = service.list_tuning_jobs(Workspace.open(home).store)
    assert listed["HyperParameterTuningJobSummaries"] == []
    assert min(tried["cli_file"], tried["python_api"], tried["server"]) >= 50


NULL_MEMBERS = [  # optional members of structures, at several depths
    ("WarmStartConfig",),
    ("TrainingJobDefinitions",),
    ("HyperParameterTuningJobConfig", "RandomSeed"),
    ("HyperParameterTuningJobConfig", "TrainingJobEarlyStoppingType"),
    ("HyperParameterTuningJobConfig", "ParameterRanges", "ContinuousParameterRanges", 0,
     "ScalingType"),
    ("TrainingJobDefinition", "RoleArn"),
    ("TrainingJobDefinition", "Environment"),
    ("TrainingJobDefinition", "RetryStrategy"),
]


@pytest.mark.slow
def test_null_in_an_optional_member_means_absent_through_every_interface(
    base: dict, server: tuple[int, Path], home: Path, tmp_path: Path
) -> None:
    port, server_home = server
    absent = copy.deepcopy(base)
    with_nulls = copy.deepcopy(base)
    for path in NULL_MEMBERS:
        _set(with_nulls, path, None)
        with contextlib.suppress(KeyError):
            container = _get(absent, path[:-1])
            del container[path[-1]]

    def stored(store: Any, name: str) -> dict:
        # The job may have completed already; stopping is only to end its engine early.
        with contextlib.suppress(ValidationException):
            service.stop_tuning_job(store, name)
        wait_for(lambda: store.get_tuning_job(name).status in ("Stopped", "Completed"),
                 timeout=60)
        request = dict(store.get_tuning_job(name).request)
        request.pop("HyperParameterTuningJobName")
        return request

    expected = load_request(absent)
    expected.pop("HyperParameterTuningJobName")
    spec = tmp_path / "nulls.json"
    spec.write_text(json.dumps({**with_nulls, "HyperParameterTuningJobName": "from-file"}))
    code, err = _run_cli(["tune", "--detach", str(spec)])
    assert code == 0, err
    tunesmith.create_tuning_job({**with_nulls, "HyperParameterTuningJobName": "from-api"},
                                home=home)
    store = Workspace.open(home).store
    assert stored(store, "from-file") == stored(store, "from-api") == expected
    status, answer = _post(port, json.dumps(
        {**with_nulls, "HyperParameterTuningJobName": "from-server"}).encode())
    assert status == 200, answer
    assert stored(Workspace.open(server_home).store, "from-server") == expected
    # A required member stays required, null or absent.
    required = {**with_nulls, "HyperParameterTuningJobName": None}
    with pytest.raises(TunesmithError, match=r"HyperParameterTuningJobName.*must not be null"):
        load_request(required)
    status, answer = _post(port, json.dumps(required).encode())
    assert status == 400 and "must not be null" in answer["message"]
