"""The HTTP server: the SageMaker JSON API at ``POST /`` for boto3 and the AWS CLI and the
dashboard at ``/ui``, over the store of a tunesmith home, with the engines of the tuning jobs
created through it."""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from tunesmith.api import Workspace
from tunesmith.model.errors import ValidationException
from tunesmith.runner.backend import Backend
from tunesmith.server.auth import ACCESS_KEYS_ENV, MAX_CLOCK_SKEW_SECONDS, load_access_keys
from tunesmith.server.dashboard import dashboard_router, warm_vega_bundle
from tunesmith.server.endpoint import SageMakerApi, SageMakerEndpoint, request_id
from tunesmith.server.engines import EngineSupervisor
from tunesmith.server.operations import Context
from tunesmith.server.protocol import (
    CONTENT_TYPE,
    UnknownOperationException,
    error_body,
    service_model,
)
from tunesmith.server.settings import MAX_BODY_BYTES, ServerSettings
from tunesmith.server.training_jobs import StandaloneTrainingJobs

log = logging.getLogger("tunesmith.server")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def create_app(settings: ServerSettings) -> SageMakerEndpoint:
    """The ASGI application: the SageMaker endpoint in front of a FastAPI application whose
    lifespan starts the engine watchdog and the standalone training jobs' runner, and stops
    them."""
    state: dict[str, SageMakerApi] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Loaded now rather than by the first request, which would wait for it.
        await run_in_threadpool(service_model)
        threading.Thread(target=warm_vega_bundle, name="tunesmith-vega", daemon=True).start()
        workspace = Workspace.open(settings.home, settings.store)
        engines = EngineSupervisor(
            workspace, backend=settings.backend, scan_seconds=settings.engine_scan_seconds
        )
        training_jobs = StandaloneTrainingJobs(workspace)
        training_jobs.fail_lost()
        engines.start()
        state["api"] = SageMakerApi(settings, Context(workspace, engines, training_jobs))
        try:
            yield
        finally:
            engines.close()
            await run_in_threadpool(training_jobs.close)

    app = FastAPI(title="tunesmith", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.include_router(dashboard_router(settings, lambda: state["api"]))

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> Response:
        # Paths and methods other than POST / (404, 405) answer in the AWS shape too.
        failure = UnknownOperationException(f"{error.detail}: the SageMaker API is POST /")
        return Response(
            error_body(failure.code, failure.message), status_code=error.status_code,
            media_type=CONTENT_TYPE,
            headers={"x-amzn-RequestId": request_id(), "x-amzn-ErrorType": failure.code},
        )

    return SageMakerEndpoint(app, settings, lambda: state["api"])


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or address) only reaches this machine."""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(
        ipaddress.ip_address(address.split("%")[0]).is_loopback for address in addresses
    )


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    home: str | os.PathLike[str] | None = None,
    keys_file: str | os.PathLike[str] | None = None,
    *,
    store: str | None = None,
    backend: Backend | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_clock_skew_seconds: float = MAX_CLOCK_SKEW_SECONDS,
    log_level: str = "info",
) -> None:
    """Serve the SageMaker API on ``host:port`` until interrupted, over ``store`` (default:
    ``TUNESMITH_STORE`` or the home's SQLite file); the engines it starts run their training
    jobs on ``backend`` (default: ``TUNESMITH_BACKEND`` or local processes).

    Access keys come from ``keys_file`` (AWS credentials format) and ``TUNESMITH_ACCESS_KEYS``
    (``AKID:SECRET,...``). Without any, requests are not authenticated, which is only allowed
    on a loopback address.
    """
    import uvicorn

    keys = load_access_keys(Path(keys_file) if keys_file is not None else None)
    # The engines and training scripts this server starts inherit its environment; the
    # secrets are the server's alone.
    os.environ.pop(ACCESS_KEYS_ENV, None)
    if not keys and not is_loopback(host):
        raise ValidationException(
            f"refusing to serve on {host} without access keys: anyone who can reach it could "
            f"run programs on this machine. Give --keys-file or set {ACCESS_KEYS_ENV}, or bind "
            "127.0.0.1"
        )
    settings = ServerSettings(
        home=Path(home) if home is not None else None, store=store, backend=backend,
        access_keys=keys,
        max_body_bytes=max_body_bytes, max_clock_skew_seconds=max_clock_skew_seconds,
    )
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s: %(message)s")
    if keys:
        log.info("requests must be signed with one of %d access key(s)", len(keys))
    else:
        log.warning("no access keys configured: requests are not authenticated (loopback only)")
    log.info("SageMaker API at http://%s:%d (AWS_ENDPOINT_URL_SAGEMAKER), dashboard at "
             "http://%s:%d/ui", host, port, host, port)
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level,
                access_log=False, proxy_headers=False)


__all__ = ["ServerSettings", "create_app", "is_loopback", "serve"]
