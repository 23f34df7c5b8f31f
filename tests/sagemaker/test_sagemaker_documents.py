"""The request documents tunesmith.sagemaker builds: SDK v2's shapes, every argument visible,
every document accepted by tunesmith's validator; unsupported arguments refused by name."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tunesmith.api import load_request
from tunesmith.sagemaker import (
    CategoricalParameter,
    ContinuousParameter,
    Estimator,
    HyperbandStrategyConfig,
    HyperparameterTuner,
    IntegerParameter,
    Session,
    SKLearn,
    StrategyConfig,
    TrainingInput,
    TuningJobCompletionCriteriaConfig,
    WarmStartConfig,
    WarmStartTypes,
    get_execution_role,
)
from tunesmith.sagemaker.estimator import UNSUPPORTED_ARGUMENTS
from tunesmith.sagemaker.names import base_from_name, training_job_name, tuning_job_name

METRICS = [
    {"Name": "valid-precision", "Regex": r"pre:\s+(-?[0-9.]+)"},
    {"Name": "valid-f1", "Regex": r"f1:\s+(-?[0-9.]+)"},
]
RANGES = {
    "n-estimators": IntegerParameter(1, 200),
    "max-features": CategoricalParameter(["auto", "sqrt", "log2"]),
    "min-weight-fraction-leaf": ContinuousParameter(0.0, 0.5),
}
NAME_RULE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")


@pytest.fixture
def session(tmp_path: Path) -> Session:
    return Session(home=tmp_path / "home")


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "train.py").write_text("print('f1: 0.5')\n")
    return folder


def sklearn(source: Path, session: Session, **kwargs: Any) -> SKLearn:
    arguments: dict[str, Any] = {
        "source_dir": str(source),
        "role": get_execution_role(),
        "instance_type": "ml.m5.large",
        "instance_count": 1,
        "framework_version": "0.23-1",
        "metric_definitions": METRICS,
        "hyperparameters": {"n-estimators": 100, "max-depth": 10, "max-features": "auto"},
        "sagemaker_session": session,
        **kwargs,
    }
    return SKLearn("train.py", **arguments)


def tuner(estimator: SKLearn, **kwargs: Any) -> HyperparameterTuner:
    arguments: dict[str, Any] = {
        "estimator": estimator,
        "objective_metric_name": "valid-f1",
        "hyperparameter_ranges": RANGES,
        "metric_definitions": METRICS,
        "strategy": "Random",
        "max_jobs": 4,
        "max_parallel_jobs": 2,
        **kwargs,
    }
    return HyperparameterTuner(**arguments)


def validated(request: dict[str, Any]) -> dict[str, Any]:
    """The request as tunesmith's validator returns it (it must accept it)."""
    return load_request(request)


def test_sklearn_tuner_sends_the_sdks_script_mode_document(
    source: Path, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    request = tuner(sklearn(source, session))._tuning_job_request({"train": "data"}, "random-1")
    definition = validated(request)["TrainingJobDefinition"]
    static = definition["StaticHyperParameters"]
    assert "n-estimators" not in static and "max-features" not in static  # tuned, not static
    assert static["max-depth"] == "10"
    assert static["sagemaker_program"] == '"train.py"'
    assert json.loads(static["sagemaker_submit_directory"]) == str(source)
    assert static["sagemaker_container_log_level"] == "20"
    assert static["sagemaker_region"] == '"us-east-1"'
    assert json.loads(static["sagemaker_job_name"]).startswith("sagemaker-scikit-learn-")
    assert static["sagemaker_estimator_class_name"] == '"SKLearn"'
    assert json.loads(static["sagemaker_estimator_module"]) == "tunesmith.sagemaker.estimator"
    ranges = request["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert ranges["CategoricalParameterRanges"] == [
        {"Name": "max-features", "Values": ['"auto"', '"sqrt"', '"log2"']}
    ]
    assert ranges["IntegerParameterRanges"] == [
        {"Name": "n-estimators", "MinValue": "1", "MaxValue": "200", "ScalingType": "Auto"}
    ]
    assert ranges["ContinuousParameterRanges"] == [
        {
            "Name": "min-weight-fraction-leaf",
            "MinValue": "0.0",
            "MaxValue": "0.5",
            "ScalingType": "Auto",
        }
    ]
    channel = request["TrainingJobDefinition"]["InputDataConfig"][0]
    assert channel["ChannelName"] == "train"
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == str(tmp_path / "data")
    assert request["TrainingJobDefinition"]["AlgorithmSpecification"] == {
        "TrainingInputMode": "File",
        "MetricDefinitions": METRICS,
    }


def test_every_tuner_argument_shows_in_the_document(source: Path, session: Session) -> None:
    estimator = sklearn(source, session, tags={"team": "digits"})
    ranges = {**RANGES, "learning-rate": ContinuousParameter(1e-4, 1e-1, "Logarithmic")}
    request = tuner(
        estimator,
        hyperparameter_ranges=ranges,
        strategy="Hyperband",
        objective_type="Minimize",
        max_jobs=7,
        max_parallel_jobs=3,
        max_runtime_in_seconds=600,
        early_stopping_type="Off",
        random_seed=42,
        strategy_config=StrategyConfig(HyperbandStrategyConfig(max_resource=9, min_resource=1)),
        completion_criteria_config=TuningJobCompletionCriteriaConfig(
            max_number_of_training_jobs_not_improving=5,
            complete_on_convergence=True,
            target_objective_metric_value=0.05,
        ),
        warm_start_config=WarmStartConfig(WarmStartTypes.TRANSFER_LEARNING, ["a-1", "b-2"]),
        tags=[{"Key": "project", "Value": "seed"}],
    )._tuning_job_request(None, "hb-1")
    config = validated(request)["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Hyperband"
    assert config["HyperParameterTuningJobObjective"] == {
        "Type": "Minimize",
        "MetricName": "valid-f1",
    }
    assert config["ResourceLimits"] == {
        "MaxNumberOfTrainingJobs": 7,
        "MaxParallelTrainingJobs": 3,
        "MaxRuntimeInSeconds": 600,
    }
    assert config["RandomSeed"] == 42
    assert config["TrainingJobEarlyStoppingType"] == "Off"
    assert config["StrategyConfig"] == {
        "HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 9}
    }
    assert config["TuningJobCompletionCriteria"] == {
        "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 5},
        "TargetObjectiveMetricValue": 0.05,
        "ConvergenceDetected": {"CompleteOnConvergence": "Enabled"},
    }
    assert {
        "Name": "learning-rate",
        "MinValue": "0.0001",
        "MaxValue": "0.1",
        "ScalingType": "Logarithmic",
    } in config["ParameterRanges"]["ContinuousParameterRanges"]
    assert request["WarmStartConfig"] == {
        "WarmStartType": "TransferLearning",
        "ParentHyperParameterTuningJobs": [
            {"HyperParameterTuningJobName": "a-1"},
            {"HyperParameterTuningJobName": "b-2"},
        ],
    }
    assert request["Tags"] == [
        {"Key": "project", "Value": "seed"},
        {"Key": "team", "Value": "digits"},
    ]


def test_early_stopping_auto_and_identical_data_warm_start(source: Path, session: Session) -> None:
    request = tuner(
        sklearn(source, session),
        strategy="Bayesian",
        early_stopping_type="Auto",
        warm_start_config=WarmStartConfig(WarmStartTypes.IDENTICAL_DATA_AND_ALGORITHM, ["p-1"]),
    )._tuning_job_request(None, "b-1")
    document = validated(request)
    assert document["HyperParameterTuningJobConfig"]["TrainingJobEarlyStoppingType"] == "Auto"
    assert document["WarmStartConfig"]["WarmStartType"] == "IdenticalDataAndAlgorithm"


def test_every_estimator_argument_shows_in_the_document(
    source: Path, session: Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    estimator = sklearn(
        source,
        session,
        role="MyRole",
        instance_type="ml.g4dn.xlarge",
        instance_count=2,
        max_run=3600,
        use_spot_instances=True,
        max_wait=7200,
        checkpoint_s3_uri="checkpoints",
        checkpoint_local_path="/opt/ml/checkpoints",
        output_path="out",
        output_kms_key="key-1",
        volume_size=50,
        volume_kms_key="key-2",
        subnets=["subnet-1"],
        security_group_ids=["sg-1"],
        encrypt_inter_container_traffic=True,
        environment={"OMP_NUM_THREADS": "1"},
        max_retry_attempts=2,
        input_mode="FastFile",
        image_uri="123.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:0.23-1-cpu-py3",
        container_log_level=10,
    )
    inputs = {
        "train": TrainingInput("data", content_type="text/csv", distribution="ShardedByS3Key")
    }
    definition = validated(tuner(estimator)._tuning_job_request(inputs, "e-1"))[
        "TrainingJobDefinition"
    ]
    assert definition["RoleArn"] == "arn:aws:iam::000000000000:role/MyRole"
    assert definition["ResourceConfig"] == {
        "InstanceType": "ml.g4dn.xlarge",
        "InstanceCount": 2,
        "VolumeSizeInGB": 50,
        "VolumeKmsKeyId": "key-2",
    }
    assert definition["StoppingCondition"] == {
        "MaxRuntimeInSeconds": 3600,
        "MaxWaitTimeInSeconds": 7200,
    }
    assert definition["EnableManagedSpotTraining"] is True
    assert definition["CheckpointConfig"] == {
        "S3Uri": str(tmp_path / "checkpoints"),
        "LocalPath": "/opt/ml/checkpoints",
    }
    assert definition["OutputDataConfig"] == {
        "S3OutputPath": str(tmp_path / "out"),
        "KmsKeyId": "key-1",
    }
    assert definition["VpcConfig"] == {"Subnets": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}
    assert definition["EnableInterContainerTrafficEncryption"] is True
    assert definition["Environment"] == {"OMP_NUM_THREADS": "1"}
    assert definition["RetryStrategy"] == {"MaximumRetryAttempts": 2}
    assert definition["AlgorithmSpecification"]["TrainingInputMode"] == "FastFile"
    assert definition["AlgorithmSpecification"]["TrainingImage"].endswith("0.23-1-cpu-py3")
    assert definition["StaticHyperParameters"]["sagemaker_container_log_level"] == "10"
    assert definition["InputDataConfig"] == [
        {
            "ChannelName": "train",
            "ContentType": "text/csv",
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": str(tmp_path / "data"),
                    "S3DataDistributionType": "ShardedByS3Key",
                }
            },
        }
    ]


def test_defaults_run_locally_and_write_under_the_sessions_bucket(
    source: Path, session: Session
) -> None:
    estimator = SKLearn("train.py", source_dir=source, sagemaker_session=session)
    definition = tuner(estimator)._tuning_job_request("data", "d-1")["TrainingJobDefinition"]
    assert definition["ResourceConfig"]["InstanceType"] == "local"
    assert definition["ResourceConfig"]["InstanceCount"] == 1
    assert definition["OutputDataConfig"] == {"S3OutputPath": str(session.home / "bucket")}
    assert definition["InputDataConfig"][0]["ChannelName"] == "training"
    assert "EnableManagedSpotTraining" not in definition
    assert "CheckpointConfig" not in definition


def test_fit_request_of_a_training_job(source: Path, session: Session) -> None:
    estimator = sklearn(
        source,
        session,
        keep_alive_period_in_seconds=60,
        enable_sagemaker_metrics=True,
        tags={"k": "v"},
    )
    request = estimator._training_job_request({"train": "s3://bucket/data"}, "train-1")
    assert request["TrainingJobName"] == "train-1"
    assert request["HyperParameters"]["n-estimators"] == "100"
    assert request["HyperParameters"]["max-features"] == '"auto"'
    assert request["HyperParameters"]["sagemaker_job_name"] == '"train-1"'
    assert request["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 60
    assert request["AlgorithmSpecification"]["EnableSageMakerMetricsTimeSeries"] is True
    assert request["AlgorithmSpecification"]["MetricDefinitions"] == METRICS
    assert request["Tags"] == [{"Key": "k", "Value": "v"}]
    assert (
        request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://bucket/data"
    )


def test_generic_estimator_encodes_hyperparameters_as_the_sdk_does(
    source: Path, session: Session
) -> None:
    plain = Estimator(
        entry_point=str(source / "train.py"),
        hyperparameters={"kind": "a", "n": 2},
        sagemaker_session=session,
    )
    assert plain.hyperparameters() == {"kind": "a", "n": "2"}
    assert (plain.entry_point, plain.source_dir) == ("train.py", str(source))
    quoted = Estimator(
        entry_point="train.py",
        source_dir=str(source),
        hyperparameters={"kind": "a", "n": 2},
        sagemaker_session=session,
    )
    assert quoted.hyperparameters() == {"kind": '"a"', "n": "2"}
    categorical = tuner(plain, hyperparameter_ranges={"kind": CategoricalParameter(["a", "b"])})
    assert categorical.hyperparameter_ranges()["CategoricalParameterRanges"] == [
        {"Name": "kind", "Values": ["a", "b"]}
    ]
    request = categorical._tuning_job_request(None, "g-1")
    assert (
        "sagemaker_estimator_class_name"
        not in request["TrainingJobDefinition"]["StaticHyperParameters"]
    )
    with_metadata = categorical._tuning_job_request(None, "g-2", include_cls_metadata=True)
    assert (
        with_metadata["TrainingJobDefinition"]["StaticHyperParameters"][
            "sagemaker_estimator_class_name"
        ]
        == '"Estimator"'
    )
    validated(request)


def test_grid_search_leaves_the_training_job_count_to_the_grid(
    source: Path, session: Session
) -> None:
    grid = tuner(
        sklearn(source, session),
        strategy="Grid",
        max_jobs=None,
        hyperparameter_ranges={"max-features": CategoricalParameter(["auto", "sqrt"])},
    )
    limits = grid._tuning_job_request(None, "grid-1")["HyperParameterTuningJobConfig"][
        "ResourceLimits"
    ]
    assert limits == {"MaxParallelTrainingJobs": 2}
    assert tuner(sklearn(source, session), max_jobs=None).max_jobs == 1  # the SDK's default


@pytest.mark.parametrize("argument", sorted(UNSUPPORTED_ARGUMENTS))
def test_unsupported_estimator_arguments_are_refused_by_name(
    argument: str, source: Path, session: Session
) -> None:
    with pytest.raises(ValueError, match=f"'{argument}'"):
        sklearn(source, session, **{argument: "something"})


@pytest.mark.parametrize(
    ("build", "argument"),
    [
        (lambda est: tuner(est, estimator_name="a"), "estimator_name"),
        (lambda est: tuner(est, autotune=True), "autotune"),
        (
            lambda est: tuner(est, hyperparameters_to_keep_static=["x"]),
            "hyperparameters_to_keep_static",
        ),
        (lambda est: tuner(est).fit("data", estimator_kwargs={"a": {}}), "estimator_kwargs"),
        (lambda est: tuner(est).fit("data", wait=False, logs=True), "logs"),
        (
            lambda est: est.fit("data", experiment_config={"ExperimentName": "e"}),
            "experiment_config",
        ),
        (
            lambda est: SKLearn(
                "train.py",
                source_dir=est.source_dir,
                enable_network_isolation=True,
                sagemaker_session=est.sagemaker_session,
            ),
            "enable_network_isolation",
        ),
        (
            lambda est: SKLearn(
                "train.py",
                source_dir=est.source_dir,
                disable_output_compression=True,
                sagemaker_session=est.sagemaker_session,
            ),
            "disable_output_compression",
        ),
        (lambda est: TrainingInput("data", compression="Gzip"), "compression"),
        (lambda est: TrainingInput("data", input_mode="Pipe"), "input_mode"),
        (
            lambda est: SKLearn(
                "train.py",
                source_dir=est.source_dir,
                input_mode="Pipe",
                sagemaker_session=est.sagemaker_session,
            ),
            "input_mode",
        ),
        (lambda est: Session(sagemaker_runtime_client=object()), "sagemaker_runtime_client"),
    ],
)
def test_unsupported_arguments_are_refused_by_name(
    build: Any, argument: str, source: Path, session: Session
) -> None:
    with pytest.raises(ValueError, match=argument):
        build(sklearn(source, session))


def test_unknown_arguments_are_type_errors(source: Path, session: Session) -> None:
    with pytest.raises(TypeError, match="instance_typo"):
        sklearn(source, session, instance_typo="ml.m5.large")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"instance_type": "m5.large"}, "instance_type"),
        ({"instance_count": 0}, "instance_count"),
        ({"use_spot_instances": True}, "max_wait"),
        ({"use_spot_instances": True, "max_run": 100, "max_wait": 50}, "max_wait"),
        ({"max_wait": 100}, "use_spot_instances"),
        ({"checkpoint_local_path": "/opt/ml/checkpoints"}, "checkpoint_s3_uri"),
        ({"subnets": ["s-1"]}, "security_group_ids"),
        ({"source_dir": "s3://bucket/code.tar.gz"}, "source_dir"),
    ],
)
def test_invalid_estimator_values_are_refused(
    arguments: dict[str, Any], message: str, source: Path, session: Session
) -> None:
    with pytest.raises(ValueError, match=message):
        sklearn(source, session, **arguments)


def test_a_missing_entry_point_is_refused(source: Path, session: Session) -> None:
    with pytest.raises(ValueError, match=r"No file named 'missing\.py'"):
        SKLearn("missing.py", source_dir=source, sagemaker_session=session)


def test_tuner_needs_ranges_and_an_objective(source: Path, session: Session) -> None:
    with pytest.raises(ValueError, match="hyperparameter ranges"):
        tuner(sklearn(source, session), hyperparameter_ranges={})
    with pytest.raises(ValueError, match="IntegerParameter"):
        tuner(sklearn(source, session), hyperparameter_ranges={"n": (1, 2)}).hyperparameter_ranges()


def test_tuning_job_names_are_unique_stamped_and_valid() -> None:
    first, second = tuning_job_name("bayesian"), tuning_job_name("bayesian")
    assert first != second
    for name in (first, second, tuning_job_name("a-very-long-base-name-for-a-tuning-job")):
        assert len(name) <= 32 and NAME_RULE.match(name), name
    assert first.startswith("bayesian-")
    assert base_from_name(first) == "bayesian"
    assert base_from_name("plain-name") == "plain-name"
    training = training_job_name("sagemaker-scikit-learn")
    assert re.fullmatch(r"sagemaker-scikit-learn-\d{4}(-\d{2}){5}-\d{3}", training)
    assert base_from_name(training) == "sagemaker-scikit-learn"


def test_parameter_classes() -> None:
    integer = IntegerParameter(1, 10, scaling_type="Logarithmic")
    assert integer.as_tuning_range("n") == {
        "Name": "n",
        "MinValue": "1",
        "MaxValue": "10",
        "ScalingType": "Logarithmic",
    }
    assert integer.is_valid(5) and not integer.is_valid(11)
    assert IntegerParameter.cast_to_type("3") == 3
    assert ContinuousParameter.cast_to_type("0.5") == 0.5
    categorical = CategoricalParameter(["a", 1])
    assert categorical.values == ["a", "1"]
    assert categorical.is_valid("1") and not categorical.is_valid("b")
    assert categorical.as_json_range("c") == {"Name": "c", "Values": ['"a"', '"1"']}
    assert CategoricalParameter("only").values == ["only"]


def test_warm_start_config_round_trips() -> None:
    config = WarmStartConfig(WarmStartTypes.IDENTICAL_DATA_AND_ALGORITHM, ["b", "a", "b"])
    assert config.parents == ["b", "a"]
    again = WarmStartConfig.from_job_desc(config.to_input_req())
    assert again is not None and again.type is config.type and again.parents == config.parents
    with pytest.raises(ValueError, match="parents"):
        WarmStartConfig(WarmStartTypes.TRANSFER_LEARNING, [])
    with pytest.raises(ValueError, match="type"):
        WarmStartConfig("IdenticalDataAndAlgorithm", ["a"])  # type: ignore[arg-type]
    criteria = TuningJobCompletionCriteriaConfig(complete_on_convergence=False)
    assert criteria.to_input_req() == {"ConvergenceDetected": {"CompleteOnConvergence": "Disabled"}}
    assert (
        TuningJobCompletionCriteriaConfig.from_job_desc(
            criteria.to_input_req()
        ).complete_on_convergence
        is False
    )


def test_attach_rebuilds_the_tuner_that_made_the_document(source: Path, session: Session) -> None:
    original = tuner(
        sklearn(source, session),
        random_seed=3,
        max_runtime_in_seconds=900,
        completion_criteria_config=TuningJobCompletionCriteriaConfig(
            target_objective_metric_value=0.99
        ),
        warm_start_config=WarmStartConfig(WarmStartTypes.IDENTICAL_DATA_AND_ALGORITHM, ["p-1"]),
    )
    request = original._tuning_job_request({"train": str(source)}, "random-260101-120000-abc")
    attached = HyperparameterTuner.attach(
        request["HyperParameterTuningJobName"],
        sagemaker_session=session,
        job_details=validated(request),
    )
    assert isinstance(attached.estimator, SKLearn)
    assert attached.latest_tuning_job is not None
    assert attached.latest_tuning_job.name == "random-260101-120000-abc"
    assert attached.base_tuning_job_name == "random"
    assert attached.estimator._hyperparameters == {"max-depth": 10}
    assert attached.estimator.metric_definitions == METRICS
    again = attached._tuning_job_request(
        {"train": str(source)}, request["HyperParameterTuningJobName"]
    )
    assert again["HyperParameterTuningJobConfig"] == request["HyperParameterTuningJobConfig"]
    assert again["WarmStartConfig"] == request["WarmStartConfig"]

    def without_job_name(document: dict[str, Any]) -> dict[str, Any]:
        definition = dict(document["TrainingJobDefinition"])
        definition["StaticHyperParameters"] = {
            k: v
            for k, v in definition["StaticHyperParameters"].items()
            if k != "sagemaker_job_name"
        }
        return definition

    assert without_job_name(again) == without_job_name(request)


def test_warm_start_tuners_descend_from_the_latest_tuning_job(
    source: Path, session: Session
) -> None:
    parent = tuner(sklearn(source, session), random_seed=5)
    with pytest.raises(ValueError, match="No tuning job"):
        parent.identical_dataset_and_algorithm_tuner()
    request = parent._tuning_job_request(None, "random-1")
    parent = HyperparameterTuner.attach("random-1", sagemaker_session=session, job_details=request)
    child = parent.identical_dataset_and_algorithm_tuner(additional_parents=["bayesian-1"])
    assert child.warm_start_config is not None
    assert child.warm_start_config.type is WarmStartTypes.IDENTICAL_DATA_AND_ALGORITHM
    assert child.warm_start_config.parents == ["random-1", "bayesian-1"]
    assert (child.strategy, child.max_jobs, child.random_seed) == ("Random", 4, 5)
    other = SKLearn("train.py", source_dir=source, sagemaker_session=session)
    transfer = parent.transfer_learning_tuner(estimator=other)
    assert transfer.estimator is other
    assert transfer.warm_start_config is not None
    assert transfer.warm_start_config.type is WarmStartTypes.TRANSFER_LEARNING
    document = transfer._tuning_job_request(None, "transfer-1")
    assert validated(document)["WarmStartConfig"]["ParentHyperParameterTuningJobs"] == [
        {"HyperParameterTuningJobName": "random-1"}
    ]


def botocore_errors(operation: str, request: dict[str, Any]) -> str:
    """What boto3 would refuse in ``request`` before sending it (empty when nothing)."""
    import botocore.session
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model("sagemaker")
    report = ParamValidator().validate(request, model.operation_model(operation).input_shape)
    return report.generate_report() if report.has_errors() else ""


def test_documents_pass_boto3s_own_validation(source: Path, session: Session) -> None:
    """A server session sends the same documents through boto3, which checks them first."""
    estimator = sklearn(
        source,
        session,
        use_spot_instances=True,
        max_wait=86400,
        checkpoint_s3_uri="checkpoints",
        max_retry_attempts=1,
        environment={"A": "1"},
        tags={"k": "v"},
        keep_alive_period_in_seconds=30,
    )
    tuning = tuner(
        estimator,
        completion_criteria_config=TuningJobCompletionCriteriaConfig(5, True, 0.9),
        warm_start_config=WarmStartConfig(WarmStartTypes.IDENTICAL_DATA_AND_ALGORITHM, ["p"]),
        random_seed=1,
        max_runtime_in_seconds=120,
    )._tuning_job_request({"train": TrainingInput("data", content_type="text/csv")}, "t-1")
    assert botocore_errors("CreateHyperParameterTuningJob", tuning) == ""
    training = estimator._training_job_request({"train": "data"}, "t-2")
    assert botocore_errors("CreateTrainingJob", training) == ""


def test_a_server_session_is_a_boto3_client_on_that_endpoint() -> None:
    remote = Session(endpoint_url="http://127.0.0.1:8931", region_name="eu-west-1")
    assert remote.sagemaker_client.meta.endpoint_url == "http://127.0.0.1:8931"
    assert remote.sagemaker_client.meta.region_name == "eu-west-1"
    assert remote.boto_region_name == "eu-west-1"
    assert remote.home is None and remote.metric_series("any") is None
    with pytest.raises(ValueError, match="not both"):
        Session(endpoint_url="http://127.0.0.1:8931", home="elsewhere")
