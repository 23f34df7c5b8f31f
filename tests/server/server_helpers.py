"""Helpers of the server tests: a tunesmith server on a free loopback port, boto3 clients and
signed raw requests for it, and a view of its store."""

from __future__ import annotations

import http.client
import json
import os
import signal
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from serving import KEY_ID, REGION, SECRET
from sqlalchemy import select

from tunesmith.api import Workspace
from tunesmith.store.schema import metadata, training_jobs


def raw_request(
    url: str, operation: str | None, body: bytes, *, sign: bool = True,
    key_id: str = KEY_ID, secret: str = SECRET, headers: Mapping[str, str] | None = None,
    tamper: Callable[[dict[str, str], bytes], bytes] | None = None,
) -> tuple[int, dict[str, Any]]:
    """POST a body as botocore would (signed with SigV4), optionally altered after signing;
    returns the status and the decoded JSON answer."""
    all_headers = {"Content-Type": "application/x-amz-json-1.1", **(headers or {})}
    if operation is not None:
        all_headers["X-Amz-Target"] = f"SageMaker.{operation}"
    request = AWSRequest(method="POST", url=url + "/", data=body, headers=all_headers)
    if sign:
        SigV4Auth(Credentials(key_id, secret), "sagemaker", REGION).add_auth(request)
    prepared = request.prepare()
    sent_headers = dict(prepared.headers.items())
    if tamper is not None:
        body = tamper(sent_headers, body)
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("POST", "/", body=body, headers=sent_headers)
        response = connection.getresponse()
        payload = response.read()
    finally:
        connection.close()
    return response.status, json.loads(payload) if payload else {}


def store_snapshot(home: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the home's store."""
    with Workspace.open(home).store.read() as conn:
        return {
            table.name: sorted(map(tuple, conn.execute(select(table)).all()), key=repr)
            for table in metadata.sorted_tables
        }


def training_job_request(name: str, source_dir: Path, output: Path, **hyperparameters: str
                         ) -> dict[str, Any]:
    """A CreateTrainingJob request running ``train.py`` of ``source_dir``."""
    return {
        "TrainingJobName": name,
        "HyperParameters": {"sagemaker_program": "train.py",
                            "sagemaker_submit_directory": str(source_dir), **hyperparameters},
        "AlgorithmSpecification": {
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "score", "Regex": r"score:\s*(-?[0-9.]+)"}],
        },
        "RoleArn": "arn:aws:iam::000000000000:role/tunesmith-test",
        "OutputDataConfig": {"S3OutputPath": str(output)},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def kill_training_processes(home: Path) -> None:
    """End the training processes the store still lists as running (a test's leftovers)."""
    with Workspace.open(home).store.read() as conn:
        pids = conn.execute(
            select(training_jobs.c.pid).where(
                training_jobs.c.status.in_(["InProgress", "Stopping"]),
                training_jobs.c.pid.is_not(None),
            )
        ).scalars().all()
    for pid in pids:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
