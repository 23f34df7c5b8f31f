"""AWS Signature Version 4: checking that a request was signed with one of the server's keys.

The server recomputes the signature the way botocore computes it (canonical request, string to
sign, derived signing key) and compares; it answers failures with the codes AWS's JSON services
use, so boto3 raises the same ``ClientError`` codes it would raise against AWS.
"""

from __future__ import annotations

import configparser
import hashlib
import hmac
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from tunesmith.model.errors import TunesmithError, ValidationException

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "sagemaker"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_CLOCK_SKEW_SECONDS = 300
ACCESS_KEYS_ENV = "TUNESMITH_ACCESS_KEYS"
"""``AKID:SECRET[,AKID:SECRET...]``: key pairs the server accepts, besides a keys file."""


class AuthenticationError(TunesmithError):
    """A request whose signature cannot be accepted (HTTP 403)."""

    http_status = 403

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _missing_token() -> AuthenticationError:
    return AuthenticationError(
        "MissingAuthenticationTokenException", "Missing Authentication Token"
    )


def _incomplete(message: str) -> AuthenticationError:
    return AuthenticationError("IncompleteSignatureException", message)


def _invalid(message: str) -> AuthenticationError:
    return AuthenticationError("InvalidSignatureException", message)


SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details."
)


# -- key pairs --------------------------------------------------------------------------------


def parse_access_keys(text: str) -> dict[str, str]:
    """Key pairs from ``AKID:SECRET[,AKID:SECRET...]``."""
    keys: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key_id, sep, secret = item.partition(":")
        if not sep or not key_id or not secret:
            raise ValidationException(
                f"{ACCESS_KEYS_ENV}: '{key_id}' is not of the form ACCESS_KEY_ID:SECRET_ACCESS_KEY"
            )
        keys[key_id] = secret
    return keys


def read_keys_file(path: Path) -> dict[str, str]:
    """Key pairs from a file in the AWS credentials format: sections with
    ``aws_access_key_id`` and ``aws_secret_access_key``."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as source:
            parser.read_file(source)
    except (OSError, configparser.Error) as error:
        raise ValidationException(f"keys file {path}: {error}") from None
    keys: dict[str, str] = {}
    for section in parser.sections():
        key_id = parser[section].get("aws_access_key_id", "").strip()
        secret = parser[section].get("aws_secret_access_key", "").strip()
        if not key_id or not secret:
            raise ValidationException(
                f"keys file {path}: section [{section}] needs aws_access_key_id and "
                "aws_secret_access_key"
            )
        keys[key_id] = secret
    if not keys:
        raise ValidationException(f"keys file {path}: no key pairs found")
    return keys


def load_access_keys(keys_file: Path | None = None) -> dict[str, str]:
    """The key pairs of the keys file and of ``TUNESMITH_ACCESS_KEYS`` together."""
    keys = read_keys_file(keys_file) if keys_file is not None else {}
    keys.update(parse_access_keys(os.environ.get(ACCESS_KEYS_ENV, "")))
    return keys


# -- verification -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SignedRequest:
    """What of an HTTP request the signature covers."""

    method: str
    raw_path: str
    raw_query: str
    headers: Sequence[tuple[str, str]]
    """Every header as received (names in any case, repeated names kept)."""
    body: bytes


@dataclass(frozen=True)
class _Authorization:
    key_id: str
    date: str
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str


def _parse_authorization(value: str) -> _Authorization:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise _incomplete(f"Unsupported authorization algorithm: only {ALGORITHM} is accepted.")
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, field_value = part.strip().partition("=")
        if sep:
            fields[name] = field_value
    required = ("Credential", "SignedHeaders", "Signature")
    missing = [name for name in required if not fields.get(name)]
    if missing:
        raise _incomplete(
            " ".join(f"Authorization header requires '{name}' parameter." for name in missing)
            + f" Authorization={value[:200]}"
        )
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or not all(scope):
        raise _incomplete(
            f"Credential must have exactly 5 slash-delimited elements, e.g. "
            f"keyid/date/region/service/term, got '{fields['Credential'][:200]}'"
        )
    return _Authorization(
        key_id=scope[0], date=scope[1], region=scope[2], service=scope[3], terminator=scope[4],
        signed_headers=tuple(fields["SignedHeaders"].split(";")),
        signature=fields["Signature"],
    )


def _header_map(headers: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    mapping: dict[str, list[str]] = {}
    for name, value in headers:
        mapping.setdefault(name.lower(), []).append(value)
    return mapping


def _canonical_request(request: SignedRequest, auth: _Authorization,
                       headers: Mapping[str, list[str]], payload_hash: str) -> str:
    # The query string is taken as sent (already percent-encoded), sorted, as botocore does.
    query = "&".join(sorted(
        f"{key}={value}" for key, _, value in
        (pair.partition("=") for pair in request.raw_query.split("&") if pair)
    ))
    canonical_headers = "".join(
        f"{name}:{','.join(' '.join(v.split()) for v in headers.get(name, []))}\n"
        for name in sorted(auth.signed_headers)
    )
    return "\n".join([
        request.method.upper(),
        quote(request.raw_path or "/", safe="/~"),
        query,
        canonical_headers,
        ";".join(sorted(auth.signed_headers)),
        payload_hash,
    ])


@lru_cache(maxsize=256)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _request_time(headers: Mapping[str, list[str]]) -> tuple[str, datetime]:
    if "x-amz-date" not in headers:
        raise _incomplete(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
            "header."
        )
    stamp = headers["x-amz-date"][0].strip()
    # Parsed by hand: strptime would be the costliest step of checking a signature.
    digits = stamp[:8] + stamp[9:15]
    try:
        if len(stamp) != 16 or stamp[8] != "T" or stamp[15] != "Z" or not digits.isdigit():
            raise ValueError(stamp)
        parts = [int(digits[i:j]) for i, j in ((0, 4), (4, 6), (6, 8), (8, 10), (10, 12),
                                                (12, 14))]
        return stamp, datetime(*parts, tzinfo=UTC)
    except ValueError:
        raise _incomplete(
            f"Date must be in ISO-8601 'basic format'. Got '{stamp[:40]}'. See "
            "http://en.wikipedia.org/wiki/ISO_8601"
        ) from None


def _check_clock(stamp: str, when: datetime, now: datetime, skew_seconds: float) -> None:
    lag = (now - when).total_seconds()
    if abs(lag) <= skew_seconds:
        return
    minutes = f"{skew_seconds / 60:g} min."
    now_stamp = now.strftime(TIMESTAMP_FORMAT)
    if lag > 0:
        raise _invalid(f"Signature expired: {stamp} is now earlier than the earliest accepted "
                       f"time ({now_stamp} - {minutes})")
    raise _invalid(f"Signature not yet current: {stamp} is still later than the latest "
                   f"accepted time ({now_stamp} + {minutes})")


def verify_signature(
    request: SignedRequest,
    keys: Mapping[str, str],
    *,
    now: datetime | None = None,
    max_clock_skew_seconds: float = MAX_CLOCK_SKEW_SECONDS,
) -> str:
    """Check the request's SigV4 signature against ``keys`` (access key id -> secret) and return
    the access key id that signed it; raise :class:`AuthenticationError` otherwise."""
    headers = _header_map(request.headers)
    if "authorization" not in headers:
        raise _missing_token()
    auth = _parse_authorization(headers["authorization"][0])
    stamp, when = _request_time(headers)
    if "host" not in auth.signed_headers:
        raise _incomplete("'Host' must be a 'SignedHeader' in the AWS Authorization.")
    if "x-amz-date" not in auth.signed_headers:
        raise _incomplete("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
    secret = keys.get(auth.key_id)
    if secret is None:
        raise AuthenticationError(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    _check_clock(stamp, when, now or datetime.now(UTC), max_clock_skew_seconds)
    if auth.date != stamp[:8]:
        raise _invalid(f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version "
                       f"of date from HTTP: '{auth.date[:20]}' != '{stamp[:8]}'")
    if auth.service != SERVICE:
        raise _invalid(f"Credential should be scoped to correct service: '{SERVICE}'.")
    if auth.terminator != "aws4_request":
        raise _invalid("Credential should be scoped with a valid terminator: 'aws4_request'.")
    payload_hash = hashlib.sha256(request.body).hexdigest()
    declared = headers.get("x-amz-content-sha256")
    if declared is not None and declared[0].strip() != payload_hash:
        raise _invalid("The provided 'x-amz-content-sha256' header does not match what was "
                       "computed.")
    canonical = _canonical_request(request, auth, headers, payload_hash)
    scope = f"{auth.date}/{auth.region}/{auth.service}/{auth.terminator}"
    string_to_sign = "\n".join(
        [ALGORITHM, stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = _signing_key(secret, auth.date, auth.region, auth.service)
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, auth.signature):
        raise _invalid(SIGNATURE_MISMATCH)
    return auth.key_id
