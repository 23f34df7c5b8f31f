import pandas as pd

import tunesmith
from helpers import tuning_document
from tunesmith.job_analytics import METRIC_COLUMNS, RESULT_COLUMNS


def test_dataframe_has_the_sdk_columns_typed_by_range(home, script_dir) -> None:
    ranges = {
        "ContinuousParameterRanges": [{"Name": "x", "MinValue": "0", "MaxValue": "1"}],
        "IntegerParameterRanges": [{"Name": "n", "MinValue": "1", "MaxValue": "5"}],
        "CategoricalParameterRanges": [{"Name": "kind", "Values": ["a", "b"]}],
    }
    document = tuning_document("frame", script_dir(), max_jobs=3, parallel=2, ranges=ranges)
    tunesmith.create_tuning_job(document, home=home, detach=False).wait(120)
    frame = tunesmith.analytics("frame", home=home).dataframe()
    assert list(frame.columns) == ["n", "x", "kind", *RESULT_COLUMNS]
    assert len(frame) == 3
    assert all(isinstance(v, int) for v in frame["n"])
    assert frame["x"].dtype == float and set(frame["kind"]) <= {"a", "b"}
    assert frame["FinalObjectiveValue"].notna().all()
    assert (frame["TrainingElapsedTimeSeconds"] > 0).all()
    assert isinstance(frame["TrainingStartTime"].dtype, pd.DatetimeTZDtype)
    assert set(frame["TuningJobName"]) == {"frame"}

    metrics = tunesmith.analytics("frame", home=home).metrics()
    assert list(metrics.columns) == list(METRIC_COLUMNS)
    assert set(metrics["TrainingJobName"]) == set(frame["TrainingJobName"])
    assert (metrics["Step"] == 0).all() and set(metrics["MetricName"]) == {"score"}
