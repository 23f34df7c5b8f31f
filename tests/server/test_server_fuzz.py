"""Malformed bodies, wrong types, huge and unicode values at every operation: always a 4xx in
the AWS error shape, never a 5xx, and the store unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.model import Shape
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from server_helpers import raw_request, store_snapshot
from serving import RunningServer, boto3_tuning_document

from tunesmith import service
from tunesmith.api import Workspace, load_request
from tunesmith.server.operations import MODEL_CHECKED, OPERATIONS
from tunesmith.server.protocol import CHECKED_PATTERNS, service_model

ERROR_CODES = {
    "ValidationException", "SerializationException", "ResourceNotFound", "ResourceInUse",
    "UnknownOperationException",
}
EXAMPLES = 30

scalars = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70), st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8,
)
WRONG_TYPE = {
    "string": st.one_of(st.integers(), st.booleans(), st.floats(allow_nan=False),
                        st.lists(scalars, max_size=2), st.dictionaries(st.text(max_size=4),
                                                                       scalars, max_size=2)),
    "integer": st.one_of(st.text(max_size=10), st.booleans(),
                         st.floats(allow_nan=False, allow_infinity=False).filter(
                             lambda f: not f.is_integer()),
                         st.integers(min_value=2**63, max_value=2**90), st.lists(scalars,
                                                                                  max_size=2)),
    "double": st.one_of(st.text(max_size=10), st.booleans(), st.lists(scalars, max_size=2),
                        st.dictionaries(st.text(max_size=4), scalars, max_size=2)),
    "boolean": st.one_of(st.integers(), st.text(max_size=10), st.floats(allow_nan=False),
                         st.lists(scalars, max_size=2)),
    "timestamp": st.one_of(st.text(max_size=30), st.booleans(), st.lists(scalars, max_size=2),
                           st.floats(min_value=1e18, max_value=1e300)),
    "structure": st.one_of(scalars, st.lists(scalars, max_size=2)),
    "list": st.one_of(scalars, st.dictionaries(st.text(max_size=4), scalars, max_size=2)),
    "map": st.one_of(scalars, st.lists(scalars, max_size=2)),
}
WRONG_TYPE["long"] = WRONG_TYPE["integer"]
WRONG_TYPE["float"] = WRONG_TYPE["double"]
MAX_DEPTH = 6


def broken_constraints(shape: Shape) -> list[st.SearchStrategy[Any]]:
    """Values of the right type that break one of the shape's constraints."""
    found: list[st.SearchStrategy[Any]] = []
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if shape.type_name == "string":
        if high is not None:
            # Huge values: a unicode piece repeated past the limit.
            found.append(st.tuples(st.text(min_size=1, max_size=20), st.integers(1, 5000)).map(
                lambda p: p[0] * ((high + p[1]) // len(p[0]) + 1)))
        if low:
            found.append(st.text(max_size=low - 1))
        if shape.enum:
            found.append(st.text(max_size=30).filter(lambda v: v not in shape.enum))
        if shape.name in CHECKED_PATTERNS:
            found.append(st.text(min_size=1, max_size=30).map(lambda v: v + "\u00e9_ /"))
    elif shape.type_name in ("integer", "long"):
        if high is not None:
            found.append(st.integers(min_value=high + 1, max_value=2**62))
        if low is not None:
            found.append(st.integers(min_value=-(2**62), max_value=low - 1))
    elif shape.type_name == "list" and high is not None:
        found.append(st.lists(st.just(None), min_size=high + 1, max_size=high + 1))
    return found


@st.composite
def invalid(draw: st.DrawFn, shape: Shape, constraints: bool, depth: int = 0) -> Any:
    """A JSON value the server must refuse for ``shape``."""
    choices: list[st.SearchStrategy[Any]] = [WRONG_TYPE[shape.type_name]]
    if constraints:
        choices += broken_constraints(shape)
    if depth < MAX_DEPTH:
        if shape.type_name == "structure" and shape.members:
            name = draw(st.sampled_from(sorted(shape.members)))
            inner = draw(invalid(shape.members[name], constraints, depth + 1))
            return {name: inner}
        if shape.type_name == "list":
            choices.append(st.lists(invalid(shape.member, constraints, depth + 1), min_size=1,
                                    max_size=2))
        if shape.type_name == "map":
            choices.append(st.dictionaries(st.text(max_size=10),
                                           invalid(shape.value, constraints, depth + 1),
                                           min_size=1, max_size=2))
    return draw(st.one_of(choices))


def malformed_bodies() -> st.SearchStrategy[bytes]:
    """Bodies that are no JSON object (an empty body stands for ``{}``)."""
    def not_an_object(body: bytes) -> bool:
        if not body.strip():
            return False
        try:
            return not isinstance(json.loads(body), dict)
        except (UnicodeError, ValueError, RecursionError):
            return True

    return st.one_of(
        st.binary(max_size=200),
        json_values.map(lambda v: json.dumps(v).encode()),
        st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.integers(min_value=1, max_value=5000).map(lambda n: b"[" * n + b"]" * n),
    ).filter(not_an_object)


def request_bodies(operation: str) -> st.SearchStrategy[bytes]:
    shape = service_model().operation_model(operation).input_shape
    constraints = operation not in MODEL_CHECKED
    documents = [invalid(shape, constraints)]
    if constraints and shape.required_members:
        documents.append(st.dictionaries(
            st.sampled_from(sorted(set(shape.members) - set(shape.required_members)) or ["x"]),
            json_values, max_size=2))
    encoded = st.one_of(documents).map(lambda d: json.dumps(d, ensure_ascii=False).encode())
    return st.one_of(encoded, malformed_bodies())


@pytest.fixture(scope="module")
def populated(running: RunningServer, source: Path, tmp_path_factory: pytest.TempPathFactory
              ) -> RunningServer:
    """The server's store holds a finished tuning job with tags, which nothing may change."""
    store = Workspace.open(running.home).store
    output = tmp_path_factory.mktemp("output")
    arn = service.create_tuning_job_record(
        store, load_request(boto3_tuning_document("kept", source, output)))
    store.update_tuning_job("kept", status="Completed")
    store.add_tags(arn, {"owner": "fuzz"})
    return running


def assert_refused(server: RunningServer, operation: str | None, body: bytes) -> None:
    before = store_snapshot(server.home)
    status, answer = raw_request(server.url, operation, body)
    assert 400 <= status < 500, (status, answer)
    assert set(answer) == {"__type", "message"}, answer
    assert answer["__type"] in ERROR_CODES, answer
    assert "\n" not in answer["message"]
    assert store_snapshot(server.home) == before


@pytest.mark.slow
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_every_operation_refuses_what_it_cannot_accept(populated: RunningServer,
                                                       operation: str) -> None:
    @settings(max_examples=EXAMPLES, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(body=request_bodies(operation))
    def check(body: bytes) -> None:
        assert_refused(populated, operation, body)

    check()


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    # Header values are printable ASCII; anything else never reaches the server.
    target=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60),
    body=json_values.map(lambda v: json.dumps(v).encode()),
)
def test_unknown_targets_are_refused(populated: RunningServer, target: str, body: bytes) -> None:
    assume(target.strip().removeprefix("SageMaker.") not in OPERATIONS)
    assert_refused(populated, target.removeprefix("SageMaker."), body)


def not_a_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return True
    return False


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bound=st.text(max_size=40).filter(not_a_number), which=st.sampled_from(["Min", "Max"]))
def test_a_well_typed_tuning_job_with_a_broken_range_is_refused(
    populated: RunningServer, source: Path, bound: str, which: str
) -> None:
    ranges = {"ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}]}
    ranges["ContinuousParameterRanges"][0][f"{which}Value"] = bound
    document = boto3_tuning_document("broken", source, Path("/nonexistent-output"),
                                     ranges=ranges)
    assert_refused(populated, "CreateHyperParameterTuningJob",
                   json.dumps(document, ensure_ascii=False).encode())
