"""Whatever a document holds, loading it ends in a document or a ValidationException."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from model_fixtures import tuning_request

from tunesmith.model import ValidationException, load_tuning_job_document

SOURCE = Path(__file__).resolve().parent  # any existing folder: the program check only reads it

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**200), max_value=2**200),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.text(min_size=3000, max_size=3000, alphabet="x_/"),
    st.sampled_from(
        [
            "s3://b/k",
            "file://",
            "..",
            "\x00",
            "ＡＢＣ",
            "😀",
            "Bayesian",
            "Grid",
            "Hyperband",
            "1e400",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), inner, max_size=4),
    ),
    max_leaves=12,
)


def paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(doc, dict):
        for key, item in doc.items():
            found += paths(item, (*prefix, key))
    elif isinstance(doc, list):
        for index, item in enumerate(doc):
            found += paths(item, (*prefix, index))
    return found


BASE = tuning_request(SOURCE / "no-such-folder")
PATHS = paths(BASE)


def replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    doc = copy.deepcopy(doc)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(path=st.sampled_from(PATHS), value=values)
def test_any_value_anywhere_gives_validation_exception(path: tuple[Any, ...], value: Any) -> None:
    try:
        load_tuning_job_document(replace(BASE, path, value))
    except ValidationException as error:
        assert "\n" not in str(error)


@settings(max_examples=60, deadline=None)
@given(document=values)
def test_any_document_gives_validation_exception(document: Any) -> None:
    try:
        load_tuning_job_document(document if isinstance(document, dict) else {"x": document})
    except ValidationException as error:
        assert "\n" not in str(error)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=200))
def test_any_file_content_gives_validation_exception(tmp_path: Path, text: str) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_tuning_job_document(path)
    except ValidationException as error:
        assert "\n" not in str(error)


@settings(max_examples=50, deadline=None)
@given(path=st.sampled_from(PATHS), value=values)
def test_json_file_with_any_value(path: tuple[Any, ...], value: Any) -> None:
    try:
        text = json.dumps(replace(BASE, path, value))
    except (ValueError, TypeError):
        return
    try:
        load_tuning_job_document(json.loads(text))
    except ValidationException as error:
        assert "\n" not in str(error)
