"""The analytics DataFrames: the SDK's columns, built from training job summaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from tunesmith.sagemaker.analytics import RESULT_COLUMNS, summaries_dataframe

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def summary(name: str, status: str, value: float | None, **tuned: str) -> dict:
    document = {
        "TrainingJobName": name,
        "TuningJobName": "random-1",
        "TrainingJobStatus": status,
        "TunedHyperParameters": tuned,
        "TrainingStartTime": START,
    }
    if value is not None:
        document["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "MetricName": "f1",
            "Value": value,
        }
        document["TrainingEndTime"] = START + timedelta(seconds=12.5)
    return document


def test_one_row_per_training_job_with_the_sdks_columns() -> None:
    frame = summaries_dataframe(
        [
            summary(
                "random-1-001-aaaa",
                "Completed",
                0.9,
                **{"n-estimators": "57", "max-features": '"sqrt"'},
            ),
            summary(
                "random-1-002-bbbb",
                "InProgress",
                None,
                **{"n-estimators": "3", "max-features": "log2"},
            ),
        ]
    )
    assert list(frame.columns) == ["n-estimators", "max-features", *RESULT_COLUMNS]
    first, second = frame.iloc[0], frame.iloc[1]
    assert first["n-estimators"] == 57.0  # numbers become floats, as in the SDK
    assert first["max-features"] == "sqrt"  # JSON-quoted framework values lose their quotes
    assert second["max-features"] == "log2"
    assert first["FinalObjectiveValue"] == 0.9 and pd.isna(second["FinalObjectiveValue"])
    assert first["TrainingElapsedTimeSeconds"] == 12.5 and pd.isna(
        second["TrainingElapsedTimeSeconds"]
    )
    assert first["TrainingStartTime"] == START
    assert set(frame["TuningJobName"]) == {"random-1"}
    assert list(frame["TrainingJobStatus"]) == ["Completed", "InProgress"]


def test_no_training_jobs_yet_still_has_the_columns() -> None:
    frame = summaries_dataframe([])
    assert frame.empty and list(frame.columns) == list(RESULT_COLUMNS)
