"""One test per AWS rule: the message names the full field path and the rule."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tunesmith.model import (
    ValidationException,
    hyperband_resources,
    hyperparameter_value,
    load_tuning_job_document,
)

CONFIG = "HyperParameterTuningJobConfig"
RANGES = f"{CONFIG}.ParameterRanges"
STATICS = "TrainingJobDefinition.StaticHyperParameters"
SPEC = "TrainingJobDefinition.AlgorithmSpecification"

Edit = Callable[[dict[str, Any]], None]


def config(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["HyperParameterTuningJobConfig"]


def ranges(doc: dict[str, Any]) -> dict[str, Any]:
    return config(doc)["ParameterRanges"]


def statics(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["TrainingJobDefinition"]["StaticHyperParameters"]


def metrics(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"]


def channels(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc["TrainingJobDefinition"].setdefault("InputDataConfig", [])


def channel(name: str, uri: str) -> dict[str, Any]:
    return {"ChannelName": name, "DataSource": {"S3DataSource": {"S3Uri": uri}}}


def hyperband(doc: dict[str, Any], **resources: int) -> None:
    config(doc)["Strategy"] = "Hyperband"
    if resources:
        config(doc)["StrategyConfig"] = {"HyperbandStrategyConfig": resources}


def set_at(path: list[Any], value: Any) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return edit


def delete_at(path: list[Any]) -> Edit:
    def edit(doc: dict[str, Any]) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return edit


def error_for(doc: dict[str, Any], edit: Edit) -> str:
    edited = copy.deepcopy(doc)
    edit(edited)
    with pytest.raises(ValidationException) as info:
        load_tuning_job_document(edited)
    message = str(info.value)
    assert "\n" not in message
    return message


# (id, edit, field path in the message, words of the rule in the message)
RULES: list[tuple[str, Edit, str, str]] = [
    (
        "name-pattern",
        set_at(["HyperParameterTuningJobName"], "rf_digits"),
        "HyperParameterTuningJobName",
        "regular expression pattern",
    ),
    (
        "name-leading-dash",
        set_at(["HyperParameterTuningJobName"], "-rf"),
        "HyperParameterTuningJobName",
        "regular expression pattern",
    ),
    (
        "name-length",
        set_at(["HyperParameterTuningJobName"], "a" * 33),
        "HyperParameterTuningJobName",
        "length less than or equal to 32",
    ),
    (
        "name-with-slash",
        set_at(["HyperParameterTuningJobName"], "a/../b"),
        "HyperParameterTuningJobName",
        "regular expression pattern",
    ),
    (
        "integer-bound-not-integer",
        lambda d: ranges(d)["IntegerParameterRanges"][0].update(MinValue="1.5"),
        f"{RANGES}.IntegerParameterRanges[0].MinValue",
        "MinValue must be an integer",
    ),
    (
        "continuous-bound-not-number",
        lambda d: ranges(d)["ContinuousParameterRanges"][0].update(MaxValue="big"),
        f"{RANGES}.ContinuousParameterRanges[0].MaxValue",
        "MaxValue must be a finite number",
    ),
    (
        "continuous-bound-nan",
        lambda d: ranges(d)["ContinuousParameterRanges"][0].update(MaxValue="nan"),
        f"{RANGES}.ContinuousParameterRanges[0].MaxValue",
        "MaxValue must be a finite number",
    ),
    (
        "min-not-below-max",
        lambda d: ranges(d)["IntegerParameterRanges"][0].update(MinValue="100"),
        f"{RANGES}.IntegerParameterRanges[0].MinValue",
        "MinValue must be less than MaxValue",
    ),
    (
        "logarithmic-needs-positive-min",
        lambda d: ranges(d)["ContinuousParameterRanges"][0].update(MinValue="0"),
        f"{RANGES}.ContinuousParameterRanges[0].MinValue",
        "Logarithmic scaling requires MinValue",
    ),
    (
        "reverse-logarithmic-only-continuous",
        lambda d: ranges(d)["IntegerParameterRanges"][0].update(ScalingType="ReverseLogarithmic"),
        f"{RANGES}.IntegerParameterRanges[0].ScalingType",
        "only to ContinuousParameterRanges",
    ),
    (
        "reverse-logarithmic-below-one",
        lambda d: ranges(d)["ContinuousParameterRanges"][0].update(
            MinValue="0.5", MaxValue="1", ScalingType="ReverseLogarithmic"
        ),
        f"{RANGES}.ContinuousParameterRanges[0].MinValue",
        "0 <= MinValue < MaxValue < 1",
    ),
    (
        "scaling-enum",
        lambda d: ranges(d)["IntegerParameterRanges"][0].update(ScalingType="Log"),
        f"{RANGES}.IntegerParameterRanges[0].ScalingType",
        "enum value set",
    ),
    (
        "categorical-empty",
        lambda d: ranges(d)["CategoricalParameterRanges"][0].update(Values=[]),
        f"{RANGES}.CategoricalParameterRanges[0].Values",
        "length greater than or equal to 1",
    ),
    (
        "categorical-unique",
        lambda d: ranges(d)["CategoricalParameterRanges"][0].update(Values=["gini", "gini"]),
        f"{RANGES}.CategoricalParameterRanges[0].Values",
        "must be unique",
    ),
    (
        "names-unique-across-lists",
        lambda d: ranges(d)["CategoricalParameterRanges"][0].update(Name="lr"),
        f"{RANGES}.CategoricalParameterRanges[0].Name",
        "unique across the three range lists",
    ),
    (
        "tuned-and-static",
        lambda d: statics(d).update(lr="0.1"),
        f"{RANGES}.ContinuousParameterRanges[0].Name",
        "must not also be in",
    ),
    (
        "at-most-30-tuned",
        lambda d: ranges(d)["CategoricalParameterRanges"].extend(
            {"Name": f"c{i}", "Values": ["a"]} for i in range(28)
        ),
        RANGES,
        "at most 30 hyperparameters",
    ),
    (
        "objective-required",
        delete_at([CONFIG, "HyperParameterTuningJobObjective"]),
        f"{CONFIG}.HyperParameterTuningJobObjective",
        "must not be null",
    ),
    (
        "objective-type-enum",
        lambda d: config(d)["HyperParameterTuningJobObjective"].update(Type="Max"),
        f"{CONFIG}.HyperParameterTuningJobObjective.Type",
        "enum value set",
    ),
    (
        "objective-metric-defined",
        lambda d: config(d)["HyperParameterTuningJobObjective"].update(MetricName="loss"),
        f"{CONFIG}.HyperParameterTuningJobObjective.MetricName",
        "MetricDefinitions",
    ),
    (
        "definition-required",
        delete_at(["TrainingJobDefinition"]),
        "TrainingJobDefinition",
        "must not be null",
    ),
    (
        "metric-regex-compiles",
        lambda d: metrics(d)[0].update(Regex="accuracy: ([0-9."),
        f"{SPEC}.MetricDefinitions[0].Regex",
        "valid regular expression",
    ),
    (
        "metric-regex-one-group",
        lambda d: metrics(d)[0].update(Regex="(a)(b)"),
        f"{SPEC}.MetricDefinitions[0].Regex",
        "exactly one capture group",
    ),
    (
        "metric-regex-no-group",
        lambda d: metrics(d)[0].update(Regex="accuracy"),
        f"{SPEC}.MetricDefinitions[0].Regex",
        "exactly one capture group",
    ),
    (
        "metric-names-unique",
        lambda d: metrics(d).append({"Name": "accuracy", "Regex": "a=(.*)"}),
        f"{SPEC}.MetricDefinitions[1].Name",
        "metric names must be unique",
    ),
    (
        "strategy-enum",
        set_at([CONFIG, "Strategy"], "Evolution"),
        f"{CONFIG}.Strategy",
        "enum value set",
    ),
    (
        "grid-only-categorical",
        set_at([CONFIG, "Strategy"], "Grid"),
        f"{RANGES}.IntegerParameterRanges",
        "Grid strategy accepts only CategoricalParameterRanges",
    ),
    (
        "max-jobs-required",
        delete_at([CONFIG, "ResourceLimits", "MaxNumberOfTrainingJobs"]),
        f"{CONFIG}.ResourceLimits.MaxNumberOfTrainingJobs",
        "required unless Strategy is Grid",
    ),
    (
        "max-jobs-at-least-1",
        set_at([CONFIG, "ResourceLimits", "MaxNumberOfTrainingJobs"], 0),
        f"{CONFIG}.ResourceLimits.MaxNumberOfTrainingJobs",
        "greater than or equal to 1",
    ),
    (
        "max-parallel-required",
        delete_at([CONFIG, "ResourceLimits", "MaxParallelTrainingJobs"]),
        f"{CONFIG}.ResourceLimits.MaxParallelTrainingJobs",
        "must not be null",
    ),
    (
        "max-parallel-at-least-1",
        set_at([CONFIG, "ResourceLimits", "MaxParallelTrainingJobs"], 0),
        f"{CONFIG}.ResourceLimits.MaxParallelTrainingJobs",
        "greater than or equal to 1",
    ),
    (
        "strategy-config-only-hyperband",
        set_at([CONFIG, "StrategyConfig"], {"HyperbandStrategyConfig": {"MaxResource": 9}}),
        f"{CONFIG}.StrategyConfig",
        "only valid with Strategy Hyperband",
    ),
    (
        "hyperband-no-early-stopping",
        lambda d: (
            hyperband(d, MaxResource=9),
            config(d).update(TrainingJobEarlyStoppingType="Auto"),
        ),
        f"{CONFIG}.TrainingJobEarlyStoppingType",
        "requires TrainingJobEarlyStoppingType Off",
    ),
    (
        "hyperband-min-at-least-1",
        lambda d: hyperband(d, MinResource=0, MaxResource=9),
        f"{CONFIG}.StrategyConfig.HyperbandStrategyConfig.MinResource",
        "greater than or equal to 1",
    ),
    (
        "hyperband-min-below-max",
        lambda d: hyperband(d, MinResource=9, MaxResource=9),
        f"{CONFIG}.StrategyConfig.HyperbandStrategyConfig.MinResource",
        "less than MaxResource",
    ),
    (
        "hyperband-max-resource-needed",
        lambda d: hyperband(d),
        f"{CONFIG}.StrategyConfig.HyperbandStrategyConfig.MaxResource",
        "epochs",
    ),
    (
        "hyperband-epochs-not-integer",
        lambda d: (hyperband(d), statics(d).update(epochs="ten")),
        f"{CONFIG}.StrategyConfig.HyperbandStrategyConfig.MaxResource",
        "as an integer",
    ),
    (
        "program-required",
        lambda d: statics(d).pop("sagemaker_program"),
        f"{STATICS}.sagemaker_program",
        "entry script",
    ),
    (
        "program-exists",
        lambda d: statics(d).update(sagemaker_program="missing.py"),
        f"{STATICS}.sagemaker_program",
        "does not exist",
    ),
    (
        "program-inside-source",
        lambda d: statics(d).update(sagemaker_program="../train.py"),
        f"{STATICS}.sagemaker_program",
        "relative path inside",
    ),
    (
        "submit-directory-exists",
        lambda d: statics(d).update(sagemaker_submit_directory="/nonexistent/src"),
        f"{STATICS}.sagemaker_submit_directory",
        "does not exist",
    ),
    (
        "submit-directory-s3",
        lambda d: statics(d).update(sagemaker_submit_directory="s3://bucket/src.tar.gz"),
        f"{STATICS}.sagemaker_submit_directory",
        "S3 is not configured",
    ),
    (
        "channel-names-unique",
        lambda d: channels(d).extend([channel("train", "data"), channel("train", "data2")]),
        "TrainingJobDefinition.InputDataConfig[1].ChannelName",
        "channel names must be unique",
    ),
    (
        "channel-name-pattern",
        lambda d: channels(d).append(channel("a/b", "data")),
        "TrainingJobDefinition.InputDataConfig[0].ChannelName",
        "regular expression pattern",
    ),
    (
        "channel-name-dots",
        lambda d: channels(d).append(channel("..", "data")),
        "TrainingJobDefinition.InputDataConfig[0].ChannelName",
        "not . or ..",
    ),
    (
        "channel-s3",
        lambda d: channels(d).append(channel("train", "s3://bucket/train")),
        "TrainingJobDefinition.InputDataConfig[0].DataSource.S3DataSource.S3Uri",
        "S3 is not configured; use a local path or file://",
    ),
    (
        "channel-other-scheme",
        lambda d: channels(d).append(channel("train", "https://x/y")),
        "TrainingJobDefinition.InputDataConfig[0].DataSource.S3DataSource.S3Uri",
        "local path or file:// URI",
    ),
    (
        "output-s3",
        set_at(["TrainingJobDefinition", "OutputDataConfig"], {"S3OutputPath": "s3://b/out"}),
        "TrainingJobDefinition.OutputDataConfig.S3OutputPath",
        "S3 is not configured",
    ),
    (
        "checkpoint-s3",
        set_at(["TrainingJobDefinition", "CheckpointConfig"], {"S3Uri": "s3://b/ckpt"}),
        "TrainingJobDefinition.CheckpointConfig.S3Uri",
        "S3 is not configured",
    ),
    (
        "warm-start-at-least-1-parent",
        set_at(
            ["WarmStartConfig"],
            {"ParentHyperParameterTuningJobs": [], "WarmStartType": "TransferLearning"},
        ),
        "WarmStartConfig.ParentHyperParameterTuningJobs",
        "length greater than or equal to 1",
    ),
    (
        "warm-start-at-most-5-parents",
        set_at(
            ["WarmStartConfig"],
            {
                "ParentHyperParameterTuningJobs": [
                    {"HyperParameterTuningJobName": f"p{i}"} for i in range(6)
                ],
                "WarmStartType": "TransferLearning",
            },
        ),
        "WarmStartConfig.ParentHyperParameterTuningJobs",
        "length less than or equal to 5",
    ),
    (
        "warm-start-parent-name",
        set_at(
            ["WarmStartConfig"],
            {
                "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "../x"}],
                "WarmStartType": "IdenticalDataAndAlgorithm",
            },
        ),
        "WarmStartConfig.ParentHyperParameterTuningJobs[0].HyperParameterTuningJobName",
        "regular expression pattern",
    ),
    (
        "warm-start-type",
        set_at(
            ["WarmStartConfig"],
            {
                "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "p"}],
                "WarmStartType": "Both",
            },
        ),
        "WarmStartConfig.WarmStartType",
        "enum value set",
    ),
    (
        "completion-not-improving-at-least-3",
        set_at(
            [CONFIG, "TuningJobCompletionCriteria"],
            {"BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 2}},
        ),
        f"{CONFIG}.TuningJobCompletionCriteria.BestObjectiveNotImproving"
        ".MaxNumberOfTrainingJobsNotImproving",
        "greater than or equal to 3",
    ),
    (
        "completion-convergence-enum",
        set_at(
            [CONFIG, "TuningJobCompletionCriteria"],
            {"ConvergenceDetected": {"CompleteOnConvergence": "Yes"}},
        ),
        f"{CONFIG}.TuningJobCompletionCriteria.ConvergenceDetected.CompleteOnConvergence",
        "enum value set",
    ),
    (
        "completion-target-finite",
        set_at(
            [CONFIG, "TuningJobCompletionCriteria"], {"TargetObjectiveMetricValue": float("inf")}
        ),
        f"{CONFIG}.TuningJobCompletionCriteria.TargetObjectiveMetricValue",
        "finite number",
    ),
    (
        "random-seed-non-negative",
        set_at([CONFIG, "RandomSeed"], -1),
        f"{CONFIG}.RandomSeed",
        "greater than or equal to 0",
    ),
    (
        "early-stopping-enum",
        set_at([CONFIG, "TrainingJobEarlyStoppingType"], "On"),
        f"{CONFIG}.TrainingJobEarlyStoppingType",
        "enum value set",
    ),
    (
        "unknown-parameter",
        set_at([CONFIG, "MaxJobs"], 3),
        f"{CONFIG}.MaxJobs",
        "Unknown parameter, must be one of: Strategy",
    ),
    (
        "wrong-type",
        set_at([CONFIG, "ResourceLimits", "MaxParallelTrainingJobs"], "many"),
        f"{CONFIG}.ResourceLimits.MaxParallelTrainingJobs",
        "valid integer",
    ),
]


@pytest.mark.parametrize(
    ("edit", "path", "rule"), [r[1:] for r in RULES], ids=[r[0] for r in RULES]
)
def test_rule_names_field_and_rule(
    request_doc: dict[str, Any], edit: Edit, path: str, rule: str
) -> None:
    message = error_for(request_doc, edit)
    assert f"at '{path}' failed to satisfy constraint:" in message
    assert rule in message.split(f"at '{path}' failed to satisfy constraint:", 1)[1]


def test_valid_document_passes(request_doc: dict[str, Any]) -> None:
    request = load_tuning_job_document(request_doc)
    assert request.HyperParameterTuningJobConfig.ResourceLimits.MaxNumberOfTrainingJobs == 10


def test_several_errors_are_joined_as_aws_does(request_doc: dict[str, Any]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        doc["HyperParameterTuningJobName"] = "bad_name"
        config(doc)["ResourceLimits"]["MaxParallelTrainingJobs"] = 0

    message = error_for(request_doc, edit)
    assert message.startswith("2 validation errors detected: Value 'bad_name' at ")
    assert "; Value '0' at 'HyperParameterTuningJobConfig.ResourceLimits." in message


def test_single_error_wording(request_doc: dict[str, Any]) -> None:
    message = error_for(request_doc, set_at([CONFIG, "RandomSeed"], -1))
    assert message.startswith("1 validation error detected: Value '-1' at ")


def test_huge_values_are_truncated_in_messages(request_doc: dict[str, Any]) -> None:
    message = error_for(request_doc, set_at(["HyperParameterTuningJobName"], "x_" * 5000))
    assert len(message) < 400
    assert "..." in message


def test_multi_definition_form_is_refused_clearly(request_doc: dict[str, Any]) -> None:
    def edit(doc: dict[str, Any]) -> None:
        definition = doc.pop("TrainingJobDefinition")
        doc["TrainingJobDefinitions"] = [
            {
                **definition,
                "RoleArn": "arn:aws:iam::000000000000:role/r",
                "StoppingCondition": {},
                "OutputDataConfig": {},
            }
        ]

    message = error_for(request_doc, edit)
    assert "at 'TrainingJobDefinitions'" in message
    assert "only TrainingJobDefinition" in message


def test_strategy_defaults_to_bayesian(request_doc: dict[str, Any]) -> None:
    del config(request_doc)["Strategy"]
    assert (
        load_tuning_job_document(request_doc).HyperParameterTuningJobConfig.Strategy == "Bayesian"
    )


def test_grid_needs_no_max_jobs(request_doc: dict[str, Any]) -> None:
    config(request_doc)["Strategy"] = "Grid"
    del config(request_doc)["ResourceLimits"]["MaxNumberOfTrainingJobs"]
    del ranges(request_doc)["IntegerParameterRanges"]
    del ranges(request_doc)["ContinuousParameterRanges"]
    assert load_tuning_job_document(request_doc).HyperParameterTuningJobConfig.Strategy == "Grid"


def test_max_runtime_replaces_max_jobs(request_doc: dict[str, Any]) -> None:
    limits = config(request_doc)["ResourceLimits"]
    del limits["MaxNumberOfTrainingJobs"]
    limits["MaxRuntimeInSeconds"] = 3600
    assert load_tuning_job_document(request_doc).HyperParameterTuningJobConfig.ResourceLimits


@pytest.mark.parametrize("name", ["epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs"])
def test_hyperband_max_resource_from_epochs(request_doc: dict[str, Any], name: str) -> None:
    hyperband(request_doc)
    statics(request_doc)[name] = "27"
    request = load_tuning_job_document(request_doc)
    assert hyperband_resources(request) == (1, 27)


def test_hyperband_resources_given_and_from_mapping(request_doc: dict[str, Any]) -> None:
    hyperband(request_doc, MinResource=3, MaxResource=81)
    assert hyperband_resources(request_doc) == (3, 81)


def test_hyperband_resources_error_names_max_resource(request_doc: dict[str, Any]) -> None:
    hyperband(request_doc)
    with pytest.raises(ValidationException, match=r"HyperbandStrategyConfig\.MaxResource"):
        hyperband_resources(request_doc)


def test_hyperband_epochs_must_exceed_min_resource(request_doc: dict[str, Any]) -> None:
    hyperband(request_doc, MinResource=5)
    statics(request_doc)["epochs"] = "5"
    message = error_for(request_doc, lambda d: None)
    assert "HyperbandStrategyConfig.MinResource" in message


@pytest.mark.parametrize(
    ("raw", "plain"),
    [
        ('"train.py"', "train.py"),
        ("train.py", "train.py"),
        ('"a', '"a'),
        ('"3"', "3"),
        ("3", "3"),
        ('""', ""),
    ],
)
def test_hyperparameter_value_unquotes(raw: str, plain: str) -> None:
    assert hyperparameter_value(raw) == plain


def test_json_quoted_program_as_the_sdk_sends_it(
    request_doc: dict[str, Any], source_dir: Path
) -> None:
    statics(request_doc)["sagemaker_program"] = '"train.py"'
    statics(request_doc)["sagemaker_submit_directory"] = f'"{source_dir}"'
    request = load_tuning_job_document(request_doc)
    assert request.TrainingJobDefinition.StaticHyperParameters["sagemaker_program"] == '"train.py"'


def test_json_quoted_missing_program_names_the_path(
    request_doc: dict[str, Any], source_dir: Path
) -> None:
    message = error_for(request_doc, lambda d: statics(d).update(sagemaker_program='"gone.py"'))
    assert str(source_dir / "gone.py") in message
