"""Streaming metric extraction: SageMaker's regex semantics on every line."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tunesmith.metrics import MetricExtractor, compile_metric_regex, required_literal
from tunesmith.model.errors import ValidationException
from tunesmith.runner.base import MetricDefinition, MetricValue


def extractor(**regexes: str) -> MetricExtractor:
    return MetricExtractor([MetricDefinition(name, regex) for name, regex in regexes.items()])


def test_every_definition_applies_to_every_line_with_search_semantics() -> None:
    e = extractor(loss=r"loss=([0-9.e-]+)", acc=r"acc: (\S+)")
    values = e.feed("epoch 3 loss=0.25 acc: 0.9", 12.5)
    assert values == [MetricValue("loss", 0.25, 12.5), MetricValue("acc", 0.9, 12.5)]
    assert e.feed("epoch 4 loss=1e-3", 13.0) == [MetricValue("loss", 0.001, 13.0)]
    assert e.feed("nothing here", 14.0) == []


def test_first_match_of_a_line_counts() -> None:
    assert extractor(loss=r"loss=(\d+)").feed("loss=1 loss=2", 0.0) == [
        MetricValue("loss", 1.0, 0.0)
    ]


@pytest.mark.parametrize("text", ["abc", "nan", "NaN", "inf", "-Infinity", "1,5", ""])
def test_text_that_is_no_finite_number_is_no_value_but_a_note(text: str) -> None:
    e = extractor(**{"valid-f1": r"f1=(\S*)"})
    assert e.feed(f"f1={text}", 1.0) == []
    assert e.feed("f1=0.5", 2.0) == [MetricValue("valid-f1", 0.5, 2.0)]
    e.feed("f1=later", 3.0)
    assert e.rejected == {"valid-f1": text}
    assert e.notes() == (f"metric valid-f1: regex matched {text!r}, which is not a number",)


def test_an_optional_group_that_did_not_take_part_is_ignored() -> None:
    e = extractor(loss=r"loss(?:=(\d+))?")
    assert e.feed("loss", 0.0) == []
    assert e.notes() == ()


def test_feed_lines_matches_feed_line_by_line_in_order() -> None:
    lines = ["a loss=1", "b acc: 2", "c", "loss=3 acc: 4"]
    burst = extractor(loss=r"loss=(\d+)", acc=r"acc: (\d+)").feed_lines(lines, 5.0)
    one = extractor(loss=r"loss=(\d+)", acc=r"acc: (\d+)")
    assert burst == [v for line in lines for v in one.feed(line, 5.0)]
    assert [v.value for v in burst] == [1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize(
    ("regex", "literal"),
    [
        (r"score:\s*(-?[0-9.]+)", "score:"),
        (r".*\[INFO\].*loss=([0-9\.]+)", "[INFO]"),
        (r"(total_loss)=", "total_loss"),
        (r"(?i)loss=(.*)", None),
        (r"(?:ab|cd)(\d)", None),
    ],
)
def test_required_literal(regex: str, literal: str | None) -> None:
    assert required_literal(re.compile(regex)) == literal


@given(
    st.lists(st.text(alphabet="lossacc=:0123456789. \t[]INFO", max_size=30), min_size=1),
)
def test_burst_precheck_never_loses_a_value(lines: list[str]) -> None:
    regexes = {"loss": r".*\[INFO\].*loss=([0-9.]+)", "acc": r"acc:\s*([0-9.]+)"}
    burst = extractor(**regexes).feed_lines(lines, 0.0)
    one = extractor(**regexes)
    assert burst == [v for line in lines for v in one.feed(line, 0.0)]


@pytest.mark.parametrize(
    ("regex", "message"),
    [
        (r"loss=(\d+", "Regex of metric m is invalid"),
        (r"loss=\d+", "must have exactly one capture group, it has 0"),
        (r"(a)=(\d+)", "must have exactly one capture group, it has 2"),
    ],
)
def test_invalid_regex_is_a_validation_error_naming_the_metric(regex: str, message: str) -> None:
    with pytest.raises(ValidationException, match=re.escape(message)):
        compile_metric_regex(MetricDefinition("m", regex))
    with pytest.raises(ValidationException):
        MetricExtractor([MetricDefinition("m", regex)])
