"""The SageMaker JSON endpoint: ``POST /`` as a plain ASGI layer in front of the application.

Every request passes, in order: the body size limit, the SigV4 signature check, the operation
named by ``X-Amz-Target``, the request shape check, then the operation itself. Anything a client
did wrong is a 4xx answer in the AWS error shape; a 5xx means a fault of the server.

It is a layer of its own rather than a FastAPI route because clients poll it hard (waiters,
dashboards, scripts): the route machinery would cost more than the checks and the read cache.
"""

from __future__ import annotations

import itertools
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool

from tunesmith.model.errors import TunesmithError
from tunesmith.server.auth import SignedRequest, verify_signature
from tunesmith.server.cache import ReadCache
from tunesmith.server.operations import MODEL_CHECKED, OPERATIONS, READS, Context
from tunesmith.server.protocol import (
    CONTENT_TYPE,
    RequestTooLarge,
    check_request,
    decode_body,
    encode,
    error_body,
    operation_model,
)
from tunesmith.server.settings import ServerSettings

log = logging.getLogger("tunesmith.server")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_REQUEST_ID_PREFIX = str(uuid.uuid4())[:24]
_REQUEST_NUMBERS = itertools.count()


def request_id() -> str:
    """A unique request id in UUID form: a per-process random prefix and a counter (no system
    call per request)."""
    return f"{_REQUEST_ID_PREFIX}{next(_REQUEST_NUMBERS) % (1 << 48):012x}"


INLINE_BODY_BYTES = 64 << 10
"""Requests up to this size are checked on the event loop (a worker thread hop costs more)."""


@dataclass(frozen=True)
class Call:
    """A request that passed authentication and its shape check."""

    operation: str
    params: dict[str, Any]
    read_key: tuple[str, str] | None
    """The read cache's key, for operations that change nothing."""


class SageMakerApi:
    """Answers SageMaker JSON requests: :meth:`call` checks one (cheap), :meth:`cached` may
    answer it from memory, :meth:`run` runs it (in a worker thread: it uses the store)."""

    def __init__(self, settings: ServerSettings, context: Context) -> None:
        self.settings = settings
        self.context = context
        self.reads = ReadCache(settings.read_cache_seconds)

    def call(self, request: SignedRequest, target: str | None) -> Call:
        if self.settings.access_keys:
            verify_signature(
                request, self.settings.access_keys,
                max_clock_skew_seconds=self.settings.max_clock_skew_seconds,
            )
        operation = operation_model(target, OPERATIONS)
        name = operation.name
        params = check_request(operation, decode_body(request.body),
                               constraints=name not in MODEL_CHECKED)
        key = (name, json.dumps(params, sort_keys=True, default=str)) if name in READS else None
        return Call(name, params, key)

    def cached(self, call: Call) -> bytes | None:
        return None if call.read_key is None else self.reads.fresh(call.read_key)

    def run(self, call: Call) -> bytes:
        operation = OPERATIONS[call.operation]
        if call.read_key is not None:
            return self.reads.get(call.read_key,
                                  lambda: encode(operation(self.context, call.params)))
        try:
            return encode(operation(self.context, call.params))
        finally:
            self.reads.clear()


class _Disconnected(Exception):
    """The client went away before sending its whole body."""


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    for name, value in scope["headers"]:
        if name == b"content-length" and value.isdigit() and int(value) > limit:
            raise RequestTooLarge(f"The request body is larger than {limit} bytes.")
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        body += message.get("body", b"")
        if len(body) > limit:
            raise RequestTooLarge(f"The request body is larger than {limit} bytes.")
        if not message.get("more_body"):
            return bytes(body)


async def _respond(send: Send, status: int, body: bytes, request_id: str,
                   error_code: str | None = None) -> None:
    headers = [(b"content-type", CONTENT_TYPE.encode()),
               (b"content-length", str(len(body)).encode()),
               (b"x-amzn-requestid", request_id.encode())]
    if error_code is not None:
        headers.append((b"x-amzn-errortype", error_code.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class SageMakerEndpoint:
    """ASGI layer answering ``POST /`` with ``api`` (set once the application has started) and
    passing everything else (lifespan, other paths) to ``app``."""

    def __init__(self, app: ASGIApp, settings: ServerSettings,
                 api: Callable[[], SageMakerApi]) -> None:
        self.app = app
        self.settings = settings
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        answer_id = request_id()
        try:
            payload = await self._answer(scope, receive)
        except _Disconnected:
            return
        except TunesmithError as error:
            await _respond(send, error.http_status, error_body(error.code, error.message),
                           answer_id, error.code)
            return
        except Exception as error:
            log.exception("request %s failed", answer_id)
            await _respond(send, 500, error_body("InternalFailure",
                                                 f"{type(error).__name__}: {error}"),
                           answer_id, "InternalFailure")
            return
        await _respond(send, 200, payload, answer_id)

    async def _answer(self, scope: Scope, receive: Receive) -> bytes:
        body = await _read_body(scope, receive, self.settings.max_body_bytes)
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        signed = SignedRequest(
            method="POST",
            raw_path=scope.get("raw_path", b"/").decode("latin-1"),
            raw_query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            body=body,
        )
        target = next((v for k, v in headers if k.lower() == "x-amz-target"), None)
        api = self.api()
        if len(body) <= INLINE_BODY_BYTES:
            call = api.call(signed, target)
        else:
            call = await run_in_threadpool(api.call, signed, target)
        payload = api.cached(call)
        if payload is None:
            payload = await run_in_threadpool(api.run, call)
        return payload
