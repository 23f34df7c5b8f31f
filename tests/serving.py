"""A tunesmith server for tests: uvicorn in a thread of the test's process on a free loopback
port, a boto3 client for it, and a tuning job request as boto3 sends it."""

from __future__ import annotations

import socket
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import uvicorn
from botocore.config import Config

from helpers import tuning_document, wait_for
from tunesmith.server import ServerSettings, create_app

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
