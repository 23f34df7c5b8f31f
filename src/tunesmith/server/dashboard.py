"""The dashboard at ``/ui``: tuning jobs, their training jobs, standalone training jobs, logs and
metric curves, live.

One page (``dashboard/index.html`` with its script and style, nothing fetched from elsewhere)
reads the JSON routes below every two seconds. A tuning job's charts are tunesmith.viz's report,
drawn in the page by the Vega, Vega-Lite and Vega-Embed JavaScript this process serves itself
(``/ui/assets/vega.js``, the bundle the offline HTML reports carry). With access keys
configured, a browser signs in once with a key pair and gets a session cookie: ``<key
id>:<expiry>:<HMAC of both under the key's secret>``, so removing a key from the server ends
its sessions too.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import hmac
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from tunesmith import service
from tunesmith.api import TrainingJob
from tunesmith.model.errors import TunesmithError, ValidationException
from tunesmith.server.endpoint import SageMakerApi
from tunesmith.server.protocol import to_wire
from tunesmith.server.reports import Reports
from tunesmith.server.settings import ServerSettings
from tunesmith.store import Listing
from tunesmith.viz.export import vega_javascript

COOKIE = "tunesmith_session"
SESSION_SECONDS = 12 * 3600
LOG_TAIL_BYTES = 64 << 10
ASSETS = {
    "index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css",
    "icon.svg": "image/svg+xml",
}
VEGA = "vega.js"
SECURITY_POLICY = "default-src 'self'"
"""Nothing from elsewhere, no inline script or style; the charts evaluate Vega expressions with
Vega's interpreter, so the page needs no ``eval`` either."""
CSRF_HEADER = "x-tunesmith-dashboard"
"""Changes need this header: a page of another site cannot send it without the browser asking
this server first, which it refuses."""


class Login(BaseModel):
    access_key_id: str
    secret_access_key: str


def _session_signature(secret: str, key_id: str, expiry: int) -> str:
    return hmac.new(secret.encode(), f"{key_id}:{expiry}".encode(), hashlib.sha256).hexdigest()


def session_token(key_id: str, secret: str, now: float) -> str:
    expiry = int(now) + SESSION_SECONDS
    return f"{key_id}:{expiry}:{_session_signature(secret, key_id, expiry)}"


def session_valid(token: str | None, keys: dict[str, str], now: float) -> bool:
    if token is None:
        return False
    key_id, _, rest = token.partition(":")
    expiry, _, signature = rest.partition(":")
    secret = keys.get(key_id)
    if secret is None or not expiry.isdigit() or int(expiry) < now:
        return False
    return hmac.compare_digest(signature, _session_signature(secret, key_id, int(expiry)))


def _error(status: int, error: TunesmithError) -> JSONResponse:
    return JSONResponse({"__type": error.code, "message": error.message}, status_code=status)


def dashboard_router(settings: ServerSettings, api: Callable[[], SageMakerApi]) -> APIRouter:
    """The ``/ui`` routes over the server's API (``api()``, once the server has started)."""
    router = APIRouter(prefix="/ui")
    keys = dict(settings.access_keys)

    def signed_in(request: Request) -> bool:
        return not keys or session_valid(request.cookies.get(COOKIE), keys, time.time())

    def guarded(read: Callable[[], Any], request: Request) -> Response:
        if not signed_in(request):
            return JSONResponse(
                {
                    "__type": "MissingAuthenticationTokenException",
                    "message": "Sign in with an access key",
                },
                status_code=401,
            )
        try:
            answer = read()
        except TunesmithError as error:
            return _error(400, error)
        return answer if isinstance(answer, Response) else JSONResponse(to_wire(answer))

    def change(act: Callable[[], Any], request: Request) -> Response:
        if request.headers.get(CSRF_HEADER) != "1":
            return _error(403, ValidationException(f"missing header {CSRF_HEADER}"))
        return guarded(act, request)

    @functools.cache
    def reports() -> Reports:
        return Reports(api().context.workspace.store)

    def report_of(name: str, request: Request) -> Response:
        report = reports().get(name)
        etag = f'"{report.version}"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"ETag": etag})
        return Response(report.spec, media_type="application/json",
                        headers={"ETag": etag, "Cache-Control": "no-cache"})

    @router.get("")
    @router.get("/")
    def page() -> Response:
        return _asset("index.html")

    @router.get(f"/assets/{VEGA}")
    def vega(request: Request) -> Response:
        return _vega_response(request)

    @router.get("/assets/{name}")
    def asset(name: str) -> Response:
        if name not in ASSETS:
            return Response(status_code=404)
        return _asset(name)

    @router.get("/api/session")
    def session(request: Request) -> dict[str, bool]:
        return {"signed_in": signed_in(request), "keys_required": bool(keys)}

    @router.post("/api/session")
    def sign_in(login: Login) -> Response:
        secret = keys.get(login.access_key_id)
        if secret is None or not hmac.compare_digest(secret, login.secret_access_key):
            return JSONResponse(
                {
                    "__type": "UnrecognizedClientException",
                    "message": "Unknown access key or wrong secret",
                },
                status_code=403,
            )
        response = JSONResponse({"signed_in": True})
        response.set_cookie(
            COOKIE,
            session_token(login.access_key_id, secret, time.time()),
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            path="/ui",
        )
        return response

    @router.get("/api/jobs")
    def jobs(request: Request) -> Response:
        return guarded(lambda: tuning_jobs(api()), request)

    @router.get("/api/jobs/{name}")
    def job(name: str, request: Request) -> Response:
        return guarded(lambda: tuning_job(api(), name), request)

    @router.get("/api/jobs/{name}/report")
    def report(name: str, request: Request) -> Response:
        return guarded(lambda: report_of(name, request), request)

    @router.get("/api/training-jobs")
    def standalone(request: Request) -> Response:
        return guarded(lambda: standalone_training_jobs(api()), request)

    @router.get("/api/training-jobs/{name}")
    def training_job(name: str, request: Request) -> Response:
        return guarded(lambda: training_job_view(api(), name), request)

    @router.post("/api/jobs/{name}/stop")
    def stop(name: str, request: Request) -> Response:
        def stop_job() -> dict[str, str]:
            service.stop_tuning_job(api().context.workspace.store, name)
            api().reads.clear()
            return {"HyperParameterTuningJobName": name}

        return change(stop_job, request)

    @router.post("/api/training-jobs/{name}/stop")
    def stop_training_job(name: str, request: Request) -> Response:
        def stop_job() -> dict[str, str]:
            api().context.training_jobs.stop(name)
            api().reads.clear()
            return {"TrainingJobName": name}

        return change(stop_job, request)

    return router


def _asset(name: str) -> Response:
    content = resources.files("tunesmith.server").joinpath("dashboard", name).read_bytes()
    return Response(
        content,
        media_type=ASSETS[name],
        headers={"Cache-Control": "no-cache", "Content-Security-Policy": SECURITY_POLICY},
    )


@functools.cache
def _vega_bundle() -> tuple[str, bytes]:
    """The bundle compressed once (it is large), and its entity tag."""
    content = vega_javascript().encode()
    return f'"{hashlib.sha256(content).hexdigest()[:32]}"', gzip.compress(content, 6)


def warm_vega_bundle() -> None:
    """Make the bundle ready before a browser asks for it (building it takes seconds)."""
    _vega_bundle()


def _vega_response(request: Request) -> Response:
    etag, compressed = _vega_bundle()
    headers = {"ETag": etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(compressed, media_type="text/javascript",
                        headers={**headers, "Content-Encoding": "gzip"})
    return Response(vega_javascript(), media_type="text/javascript", headers=headers)


def tuning_jobs(api: SageMakerApi) -> dict[str, Any]:
    """Every tuning job, newest first, with its best objective value."""
    store = api.context.workspace.store
    summaries = service.all_pages(
        lambda token: service.list_tuning_jobs(store, next_token=token),
        "HyperParameterTuningJobSummaries",
    )
    for summary in summaries:
        job = store.get_tuning_job(summary["HyperParameterTuningJobName"])
        best = store.best_training_job(job.name, job.objective_type)
        summary["Objective"] = {"MetricName": job.objective_metric, "Type": job.objective_type}
        summary["BestObjectiveValue"] = None if best is None else best.final_objective
    return {"HyperParameterTuningJobSummaries": summaries}


def tuning_job(api: SageMakerApi, name: str) -> dict[str, Any]:
    """A tuning job's description and every training job summary, in launch order."""
    store = api.context.workspace.store
    described = service.describe_tuning_job(store, name)
    summaries = service.all_pages(
        lambda token: service.list_training_jobs_for_tuning_job(store, name, next_token=token),
        "TrainingJobSummaries",
    )
    return {"Description": described, "TrainingJobSummaries": summaries}


def standalone_training_jobs(api: SageMakerApi) -> dict[str, Any]:
    """The training jobs created on their own (``CreateTrainingJob``), newest first."""
    records = api.context.workspace.store.list_training_jobs(Listing(), standalone=True)
    return {
        "TrainingJobSummaries": [
            {
                "TrainingJobName": r.name,
                "TrainingJobStatus": r.status,
                "SecondaryStatus": r.secondary_status,
                "CreationTime": r.created,
                "TrainingStartTime": r.start_time,
                "TrainingEndTime": r.end_time,
                "FailureReason": r.failure_reason,
            }
            for r in records
        ]
    }


def training_job_view(api: SageMakerApi, name: str) -> dict[str, Any]:
    """A training job's description, every value of its metrics and the end of its log."""
    workspace = api.context.workspace
    described = service.describe_training_job(workspace.store, name)
    record = workspace.store.get_training_job(name)
    metrics = [
        {"Metric": p.metric, "Step": p.step, "Timestamp": p.timestamp, "Value": p.value}
        for p in workspace.store.metric_series(name)
    ]
    return {
        "Description": described,
        "Metrics": metrics,
        "Log": _log_tail(TrainingJob(name, workspace).log_path),
        "TuningJobName": record.tuning_job,
    }


def _log_tail(path: Path) -> str:
    """The last ``LOG_TAIL_BYTES`` of a log, from its first whole line."""
    try:
        with open(path, "rb") as source:
            size = source.seek(0, 2)
            source.seek(max(0, size - LOG_TAIL_BYTES))
            tail = source.read()
    except FileNotFoundError:
        return ""
    if size > LOG_TAIL_BYTES:
        tail = tail.partition(b"\n")[2]
    return tail.decode("utf-8", "replace")
