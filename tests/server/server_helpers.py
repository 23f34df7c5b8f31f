"""Helpers of the server tests: a tunesmith server on a free loopback port, boto3 clients and
signed raw requests for it, and a view of its store."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import uvicorn
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from sqlalchemy import select

from helpers import tuning_document, wait_for
from tunesmith.api import Workspace
from tunesmith.server import ServerSettings, create_app
from tunesmith.store.schema import metadata, training_jobs

KEY_ID = "AKIDTUNESMITHTEST"
SECRET = "tunesmith-test-secret"
REGION = "us-east-1"


@dataclass
class RunningServer:
    url: str
    port: int
    home: Path
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def start_server(
    home: Path, keys: Mapping[str, str] | None = None, **settings: Any
) -> RunningServer:
    """uvicorn in a thread of this process, on a loopback port chosen by the kernel."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(ServerSettings(
        home=home, access_keys=dict({KEY_ID: SECRET} if keys is None else keys), **settings
    ))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_for(lambda: server.started or not thread.is_alive(), timeout=30)
    assert server.started, "the server did not start"
    return RunningServer(f"http://127.0.0.1:{port}", port, home, server, thread)


def client(url: str, key_id: str = KEY_ID, secret: str = SECRET) -> Any:
    """A plain boto3 SageMaker client for the server (no retries: every answer is seen)."""
    return boto3.client(
        "sagemaker", endpoint_url=url, region_name=REGION, aws_access_key_id=key_id,
        aws_secret_access_key=secret, config=Config(retries={"max_attempts": 1}),
    )


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


def boto3_tuning_document(
    name: str, source_dir: Path, output: Path, **options: Any
) -> dict[str, Any]:
    """A tuning job request with the members boto3 insists on."""
    document = tuning_document(name, source_dir, **options)
    document["TrainingJobDefinition"].update(
        RoleArn="arn:aws:iam::000000000000:role/tunesmith-test",
        OutputDataConfig={"S3OutputPath": str(output)},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
    )
    return document


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
