"""DescribeHyperParameterTuningJob under load while a tuning job runs: tunesmith's server
against moto's, on loopback.

Starts ``tunesmith serve`` (as ``tunesmith.server.serve``) and moto's server as processes of
their own, runs a small tuning job once without load (its baseline duration) and once while a
bounded open-loop load generator sends Describe requests at a fixed rate, then sends moto the
same requests at the same rate. Latency is measured from each request's scheduled time, so a
server that falls behind pays for its queue. The generator replays one SigV4-signed request
(valid for minutes, as with AWS) so that the client's signing cost stays out of the numbers;
the server still checks every signature.

Prints a table against the goals (≥ 500 requests/s, p99 ≤ 50 ms, no errors, the job's duration
unaffected) and writes it under benchmarks/results/.

    python benchmarks/server_load.py [--rate 500] [--seconds 10] [--connections 16]
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

GOAL_RATE = 500.0
GOAL_P99_MS = 50.0
KEY_ID, SECRET, REGION = "AKIDBENCHMARK", "benchmark-secret", "us-east-1"
TRAIN = """
import argparse, time
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float, default=0.0)
args, _ = parser.parse_known_args()
time.sleep(0.5)
print(f"score: {-(args.x - 0.3) ** 2:.6f}", flush=True)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sagemaker_client(url: str) -> Any:
    return boto3.client("sagemaker", endpoint_url=url, region_name=REGION,
                        aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
                        config=Config(retries={"max_attempts": 1}))


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)
    return value


def answering(url: str) -> bool:
    try:
        sagemaker_client(url).list_training_jobs(MaxResults=1)
    except Exception:  # not listening yet
        return False
    return True


def start_tunesmith(home: Path, port: int) -> subprocess.Popen[bytes]:
    code = f"from tunesmith.server import serve; serve(port={port}, home={str(home)!r})"
    return subprocess.Popen(
        [sys.executable, "-c", code],
        env={**os.environ, "TUNESMITH_ACCESS_KEYS": f"{KEY_ID}:{SECRET}"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def start_moto(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def tuning_request(name: str, source: Path, output: Path, jobs: int) -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "score"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": jobs, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]},
            "RandomSeed": 7,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {"sagemaker_program": "train.py",
                                      "sagemaker_submit_directory": str(source)},
            "AlgorithmSpecification": {
                "TrainingImage": "local", "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "score", "Regex": r"score:\s*(-?[0-9.]+)"}],
            },
            "RoleArn": "arn:aws:iam::000000000000:role/benchmark",
            "OutputDataConfig": {"S3OutputPath": str(output)},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1,
                               "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        },
    }


def job_seconds(sagemaker: Any, name: str) -> tuple[float, int]:
    """Wait for the tuning job to end; its duration and completed training jobs."""
    def ended() -> dict[str, Any] | None:
        described = sagemaker.describe_hyper_parameter_tuning_job(
            HyperParameterTuningJobName=name)
        return described if "HyperParameterTuningEndTime" in described else None

    described = wait_until(ended, 600, f"tuning job {name}")
    seconds = (described["HyperParameterTuningEndTime"] - described["CreationTime"]).total_seconds()
    return seconds, described["TrainingJobStatusCounters"]["Completed"]


@dataclass
class Load:
    sent: int
    seconds: float
    latencies_ms: list[float]
    errors: Counter[int]

    @property
    def rate(self) -> float:
        return self.sent / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def signed_describe(url: str, name: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"HyperParameterTuningJobName": name}).encode()
    request = AWSRequest(method="POST", url=url + "/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "SageMaker.DescribeHyperParameterTuningJob",
    })
    SigV4Auth(Credentials(KEY_ID, SECRET), "sagemaker", REGION).add_auth(request)
    return body, dict(request.prepare().headers.items())


def generate_load(url: str, name: str, rate: float, seconds: float, connections: int) -> Load:
    """Send ``rate * seconds`` Describe requests on schedule over keep-alive connections."""
    body, headers = signed_describe(url, name)
    host, port = url.removeprefix("http://").split(":")
    # The generator's threads take turns on one interpreter lock: switching often keeps a
    # thread whose answer has arrived from adding its wait to the measured latency.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    total = int(rate * seconds)
    latencies: list[float | None] = [None] * total
    errors: Counter[int] = Counter()
    schedule = itertools.count()
    start = time.perf_counter() + 0.2

    def worker() -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        while (k := next(schedule)) < total:
            due = start + k / rate
            if (delay := due - time.perf_counter()) > 0:
                time.sleep(delay)
            try:
                connection.request("POST", "/", body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection(host, int(port), timeout=30)
                status = 599
            latencies[k] = (time.perf_counter() - due) * 1000
            if status != 200:
                errors[status] += 1
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    sys.setswitchinterval(switch_interval)
    return Load(total, elapsed, [v for v in latencies if v is not None], errors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=GOAL_RATE, help="requests per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each load")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--training-jobs", type=int, default=40)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        source = root / "source"
        source.mkdir()
        (source / "train.py").write_text(textwrap.dedent(TRAIN))
        port, moto_port = free_port(), free_port()
        tunesmith_server = start_tunesmith(root / "home", port)
        moto_server = start_moto(moto_port)
        try:
            url, moto_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{moto_port}"
            wait_until(lambda: answering(url), 120, "the tunesmith server")
            wait_until(lambda: answering(moto_url), 120, "the moto server")
            sagemaker = sagemaker_client(url)

            sagemaker.create_hyper_parameter_tuning_job(
                **tuning_request("baseline", source, root / "out", args.training_jobs))
            baseline_seconds, baseline_done = job_seconds(sagemaker, "baseline")

            sagemaker.create_hyper_parameter_tuning_job(
                **tuning_request("loaded", source, root / "out", args.training_jobs))
            wait_until(lambda: sagemaker.list_training_jobs_for_hyper_parameter_tuning_job(
                HyperParameterTuningJobName="loaded")["TrainingJobSummaries"], 60,
                "the first training job")
            ours = generate_load(url, "loaded", args.rate, args.seconds, args.connections)
            still_running = sagemaker.describe_hyper_parameter_tuning_job(
                HyperParameterTuningJobName="loaded")["HyperParameterTuningJobStatus"]
            loaded_seconds, loaded_done = job_seconds(sagemaker, "loaded")

            sagemaker_client(moto_url).create_hyper_parameter_tuning_job(
                **tuning_request("loaded", source, root / "out", args.training_jobs))
            theirs = generate_load(moto_url, "loaded", args.rate, args.seconds,
                                   args.connections)
        finally:
            for process in (tunesmith_server, moto_server):
                process.terminate()
                process.wait(timeout=60)

    def row(label: str, load: Load) -> str:
        return (f"{label:<10} {load.rate:>9.1f} {statistics.median(load.latencies_ms):>9.1f} "
                f"{load.percentile(0.99):>9.1f} {load.percentile(0.999):>9.1f} "
                f"{sum(load.errors.values()):>7}")

    met = (ours.rate >= GOAL_RATE * 0.99 and ours.percentile(0.99) <= GOAL_P99_MS
           and not ours.errors)
    lines = [
        f"DescribeHyperParameterTuningJob at {args.rate:g} requests/s for {args.seconds:g} s, "
        f"{args.connections} connections, while a tuning job runs "
        f"({args.training_jobs} training jobs of 0.5 s, 2 at a time)",
        "",
        f"{'server':<10} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'p99.9 ms':>9} {'errors':>7}",
        row("tunesmith", ours),
        row("moto", theirs),
        "",
        f"ratios tunesmith/moto: throughput {ours.rate / theirs.rate:.2f}, "
        f"p99 latency {ours.percentile(0.99) / theirs.percentile(0.99):.4f}",
        f"goal ≥ {GOAL_RATE:g} req/s, p99 ≤ {GOAL_P99_MS:g} ms, no errors: "
        f"{'met' if met else 'NOT met'} (p99 ratio to goal "
        f"{ours.percentile(0.99) / GOAL_P99_MS:.2f})",
        f"tuning job: {baseline_seconds:.1f} s alone, {loaded_seconds:.1f} s under load "
        f"(ratio {loaded_seconds / baseline_seconds:.2f}); training jobs completed "
        f"{baseline_done} and {loaded_done}; status when the load ended: {still_running}",
    ]
    table = "\n".join(lines)
    print(table)
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / "server_load.txt").write_text(table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
