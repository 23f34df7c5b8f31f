"""SigV4 authentication: botocore-signed requests pass; unsigned, wrong-key, tampered and stale
ones get 403 in the AWS error shape; no keys means loopback only."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from server_helpers import raw_request
from serving import KEY_ID, REGION, SECRET, RunningServer, client, start_server

from tunesmith.model.errors import ValidationException
from tunesmith.server.app import is_loopback, serve
from tunesmith.server.auth import (
    AuthenticationError,
    SignedRequest,
    parse_access_keys,
    read_keys_file,
    verify_signature,
)

KEYS = {KEY_ID: SECRET}
BODY = json.dumps({"HyperParameterTuningJobName": "anything"}).encode()


def signed(body: bytes = BODY, key_id: str = KEY_ID, secret: str = SECRET,
           service: str = "sagemaker") -> SignedRequest:
    request = AWSRequest(
        method="POST", url="http://127.0.0.1:8765/", data=body,
        headers={"Content-Type": "application/x-amz-json-1.1",
                 "X-Amz-Target": "SageMaker.DescribeHyperParameterTuningJob"},
    )
    SigV4Auth(Credentials(key_id, secret), service, REGION).add_auth(request)
    prepared = request.prepare()
    # The HTTP client adds Host from the URL, as botocore's signer assumes.
    headers = [("Host", "127.0.0.1:8765"), *prepared.headers.items()]
    return SignedRequest("POST", "/", "", headers, body)


def auth_error(request: SignedRequest, **options: Any) -> str:
    with pytest.raises(AuthenticationError) as caught:
        verify_signature(request, KEYS, **options)
    assert caught.value.http_status == 403
    return caught.value.code


def test_a_botocore_signature_is_accepted() -> None:
    assert verify_signature(signed(), KEYS) == KEY_ID


def test_signature_failures_have_the_aws_codes() -> None:
    good = signed()
    assert auth_error(signed(secret="not-the-secret")) == "InvalidSignatureException"
    assert auth_error(signed(key_id="AKIDUNKNOWN")) == "UnrecognizedClientException"
    assert auth_error(signed(service="s3")) == "InvalidSignatureException"
    tampered_body = SignedRequest(good.method, good.raw_path, good.raw_query, good.headers,
                                  BODY.replace(b"anything", b"something"))
    assert auth_error(tampered_body) == "InvalidSignatureException"
    other_target = [(k, "SageMaker.DeleteHyperParameterTuningJob" if k == "X-Amz-Target" else v)
                    for k, v in good.headers]
    assert auth_error(SignedRequest("POST", "/", "", other_target, BODY)
                      ) == "InvalidSignatureException"
    with_query = SignedRequest("POST", "/", "a=b", good.headers, BODY)
    assert auth_error(with_query) == "InvalidSignatureException"
    unsigned = [(k, v) for k, v in good.headers if k.lower() != "authorization"]
    assert auth_error(SignedRequest("POST", "/", "", unsigned, BODY)
                      ) == "MissingAuthenticationTokenException"
    garbled = [(k, "AWS4-HMAC-SHA256 Credential=x" if k.lower() == "authorization" else v)
               for k, v in good.headers]
    assert auth_error(SignedRequest("POST", "/", "", garbled, BODY)
                      ) == "IncompleteSignatureException"
    undated = [(k, v) for k, v in good.headers if k.lower() != "x-amz-date"]
    assert auth_error(SignedRequest("POST", "/", "", undated, BODY)
                      ) == "IncompleteSignatureException"


def test_the_clock_skew_limit_refuses_stale_and_future_signatures() -> None:
    request = signed()
    now = datetime.now(UTC)
    assert verify_signature(request, KEYS, now=now + timedelta(minutes=4)) == KEY_ID
    assert auth_error(request, now=now + timedelta(minutes=6)) == "InvalidSignatureException"
    assert auth_error(request, now=now - timedelta(minutes=6)) == "InvalidSignatureException"
    with pytest.raises(AuthenticationError, match="Signature expired"):
        verify_signature(request, KEYS, now=now + timedelta(hours=1))


def test_the_server_refuses_bad_signatures_with_403(running: RunningServer) -> None:
    def code_and_status(sagemaker: Any) -> tuple[str, int]:
        with pytest.raises(ClientError) as caught:
            sagemaker.list_hyper_parameter_tuning_jobs()
        response = caught.value.response
        return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]

    assert code_and_status(client(running.url, secret="wrong")) == ("InvalidSignatureException",
                                                                     403)
    assert code_and_status(client(running.url, key_id="AKIDNOBODY")) == (
        "UnrecognizedClientException", 403)
    unsigned = boto3.client("sagemaker", endpoint_url=running.url, region_name=REGION,
                            config=Config(signature_version=UNSIGNED,
                                          retries={"max_attempts": 1}))
    assert code_and_status(unsigned) == ("MissingAuthenticationTokenException", 403)
    assert client(running.url).list_hyper_parameter_tuning_jobs()[
        "HyperParameterTuningJobSummaries"] == []


def test_a_request_altered_after_signing_is_refused(running: RunningServer) -> None:
    def swap_body(_: dict[str, str], body: bytes) -> bytes:
        return body.replace(b"MaxResults\": 10", b"MaxResults\": 99")

    status, answer = raw_request(running.url, "ListTrainingJobs", b'{"MaxResults": 10}',
                                 tamper=swap_body)
    assert (status, answer["__type"]) == (403, "InvalidSignatureException")
    assert "signature" in answer["message"]

    def swap_target(headers: dict[str, str], body: bytes) -> bytes:
        headers["X-Amz-Target"] = "SageMaker.ListHyperParameterTuningJobs"
        return body

    status, answer = raw_request(running.url, "ListTrainingJobs", b"{}", tamper=swap_target)
    assert (status, answer["__type"]) == (403, "InvalidSignatureException")

    def cut_signature(headers: dict[str, str], body: bytes) -> bytes:
        headers["Authorization"] = headers["Authorization"].split(", Signature=")[0]
        return body

    status, answer = raw_request(running.url, "ListTrainingJobs", b"{}", tamper=cut_signature)
    assert (status, answer["__type"]) == (403, "IncompleteSignatureException")


def test_without_keys_a_loopback_server_accepts_any_request(tmp_path: Path) -> None:
    server = start_server(tmp_path / "home", keys={})
    try:
        unsigned = boto3.client("sagemaker", endpoint_url=server.url, region_name=REGION,
                                config=Config(signature_version=UNSIGNED))
        assert unsigned.list_training_jobs()["TrainingJobSummaries"] == []
    finally:
        server.stop()


def test_serving_beyond_loopback_without_keys_is_refused(monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    monkeypatch.delenv("TUNESMITH_ACCESS_KEYS", raising=False)
    with pytest.raises(ValidationException, match="without access keys"):
        serve(host="0.0.0.0", port=0, home=tmp_path)
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0")


def test_keys_come_from_a_credentials_file_and_the_environment(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text(
        "[alice]\naws_access_key_id = AKIDALICE\naws_secret_access_key = alice-secret\n\n"
        "[bob]\naws_access_key_id=AKIDBOB\naws_secret_access_key=bob-secret\n"
    )
    assert read_keys_file(keys) == {"AKIDALICE": "alice-secret", "AKIDBOB": "bob-secret"}
    assert parse_access_keys("AKID1:one, AKID2:two") == {"AKID1": "one", "AKID2": "two"}
    with pytest.raises(ValidationException, match="ACCESS_KEY_ID:SECRET_ACCESS_KEY"):
        parse_access_keys("AKIDONLY")
    keys.write_text("[carol]\naws_access_key_id = AKIDCAROL\n")
    with pytest.raises(ValidationException, match=r"\[carol\]"):
        read_keys_file(keys)
