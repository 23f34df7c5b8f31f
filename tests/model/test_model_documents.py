"""Loading documents (JSON, YAML, mappings), defaults, path resolution, and dumping."""

from __future__ import annotations

import json
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from model_fixtures import tuning_request

from tunesmith.model import (
    PLACEHOLDER_ROLE_ARN,
    CreateHyperParameterTuningJobRequest,
    CreateTrainingJobRequest,
    DescribeHyperParameterTuningJobResponse,
    ValidationException,
    load_training_job_document,
    load_tuning_job_document,
    to_document,
    tuning_job_arn,
)


def relative_request(source_dir: Path) -> dict[str, Any]:
    """A document that names its paths relative to its own folder, as a user writes it."""
    doc = tuning_request(source_dir)
    doc["TrainingJobDefinition"]["StaticHyperParameters"]["sagemaker_submit_directory"] = "src"
    doc["TrainingJobDefinition"]["InputDataConfig"] = [
        {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": "data/train"}}},
        {"ChannelName": "test", "DataSource": {"S3DataSource": {"S3Uri": "file://data/test"}}},
    ]
    doc["TrainingJobDefinition"]["OutputDataConfig"] = {"S3OutputPath": "out"}
    doc["TrainingJobDefinition"]["CheckpointConfig"] = {"S3Uri": "ckpt"}
    return doc


def assert_resolved(request: CreateHyperParameterTuningJobRequest, folder: Path) -> None:
    definition = request.TrainingJobDefinition
    assert definition.StaticHyperParameters["sagemaker_submit_directory"] == str(folder / "src")
    uris = [c.DataSource.S3DataSource.S3Uri for c in definition.InputDataConfig]
    assert uris == [str(folder / "data/train"), str(folder / "data/test")]
    assert definition.OutputDataConfig.S3OutputPath == str(folder / "out")
    assert definition.CheckpointConfig.S3Uri == str(folder / "ckpt")


def test_json_file_paths_resolve_against_its_folder(tmp_path: Path, source_dir: Path) -> None:
    path = tmp_path / "job.json"
    path.write_text(json.dumps(relative_request(source_dir)))
    assert_resolved(load_tuning_job_document(path), tmp_path)


def test_yaml_file_with_numbers_where_aws_has_strings(tmp_path: Path, source_dir: Path) -> None:
    doc = relative_request(source_dir)
    doc["TrainingJobDefinition"]["StaticHyperParameters"]["max_depth"] = 5
    doc["HyperParameterTuningJobConfig"]["ParameterRanges"]["IntegerParameterRanges"][0].update(
        MinValue=10, MaxValue=100
    )
    doc["HyperParameterTuningJobConfig"]["ParameterRanges"]["CategoricalParameterRanges"][0][
        "Values"
    ] = [1, 2.5, True]
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(doc))
    request = load_tuning_job_document(str(path))
    assert_resolved(request, tmp_path)
    ranges = request.HyperParameterTuningJobConfig.ParameterRanges
    assert (
        ranges.IntegerParameterRanges[0].MinValue,
        ranges.IntegerParameterRanges[0].MaxValue,
    ) == ("10", "100")
    assert ranges.CategoricalParameterRanges[0].Values == ["1", "2.5", "true"]
    assert request.TrainingJobDefinition.StaticHyperParameters["max_depth"] == "5"


def test_format_is_decided_by_content(tmp_path: Path, source_dir: Path) -> None:
    yaml_in_json = tmp_path / "job.json"
    yaml_in_json.write_text(yaml.safe_dump(relative_request(source_dir)))
    json_in_txt = tmp_path / "job.txt"
    json_in_txt.write_text(json.dumps(relative_request(source_dir)))
    assert load_tuning_job_document(yaml_in_json) == load_tuning_job_document(json_in_txt)


@pytest.mark.parametrize("content", ["{not json: [", "a: b: c", "\x00\x01{", "- [unclosed"])
def test_unparseable_file_is_one_line_validation_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "job.json"
    path.write_text(content)
    with pytest.raises(ValidationException) as info:
        load_tuning_job_document(path)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("content", ["just text", "[1, 2]", "42", ""])
def test_document_must_be_a_mapping(tmp_path: Path, content: str) -> None:
    path = tmp_path / "job.yaml"
    path.write_text(content)
    with pytest.raises(ValidationException, match="must be a mapping"):
        load_tuning_job_document(path)


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(ValidationException, match="cannot read the document"):
        load_tuning_job_document(tmp_path / "nope.json")
    binary = tmp_path / "job.bin"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ValidationException, match="cannot read the document"):
        load_tuning_job_document(binary)


def test_mapping_resolves_against_base_dir(tmp_path: Path, source_dir: Path) -> None:
    doc = relative_request(source_dir)
    request = load_tuning_job_document(doc, base_dir=tmp_path)
    assert_resolved(request, tmp_path)
    assert (
        doc["TrainingJobDefinition"]["StaticHyperParameters"]["sagemaker_submit_directory"] == "src"
    )


def test_mapping_resolves_against_cwd(
    tmp_path: Path, source_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert_resolved(load_tuning_job_document(relative_request(source_dir)), tmp_path)


def test_submit_directory_defaults_to_document_folder(source_dir: Path) -> None:
    doc = tuning_request(source_dir)
    del doc["TrainingJobDefinition"]["StaticHyperParameters"]["sagemaker_submit_directory"]
    path = source_dir / "job.json"
    path.write_text(json.dumps(doc))
    request = load_tuning_job_document(path)
    assert request.TrainingJobDefinition.StaticHyperParameters["sagemaker_submit_directory"] == str(
        source_dir
    )


def test_quoted_relative_submit_directory_stays_quoted(tmp_path: Path, source_dir: Path) -> None:
    doc = tuning_request(source_dir)
    doc["TrainingJobDefinition"]["StaticHyperParameters"]["sagemaker_submit_directory"] = '"src"'
    request = load_tuning_job_document(doc, base_dir=tmp_path)
    assert request.TrainingJobDefinition.StaticHyperParameters[
        "sagemaker_submit_directory"
    ] == json.dumps(str(source_dir))


def test_file_uri_and_archive_submit_directory(tmp_path: Path, source_dir: Path) -> None:
    archive = tmp_path / "sourcedir.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source_dir / "train.py", arcname="train.py")
    for submit in (f"file://{source_dir}", "sourcedir.tar.gz", f"file://{archive}"):
        doc = tuning_request(source_dir)
        doc["TrainingJobDefinition"]["StaticHyperParameters"]["sagemaker_submit_directory"] = submit
        load_tuning_job_document(doc, base_dir=tmp_path)
    doc = tuning_request(source_dir)
    doc["TrainingJobDefinition"]["StaticHyperParameters"].update(
        sagemaker_submit_directory=str(archive), sagemaker_program="other.py"
    )
    with pytest.raises(ValidationException, match="does not exist in the archive"):
        load_tuning_job_document(doc)


def test_defaults_for_fields_a_local_user_lacks(request_doc: dict[str, Any]) -> None:
    definition = load_tuning_job_document(request_doc).TrainingJobDefinition
    assert definition.RoleArn == PLACEHOLDER_ROLE_ARN
    assert definition.AlgorithmSpecification.TrainingInputMode == "File"
    assert (
        definition.ResourceConfig.InstanceType,
        definition.ResourceConfig.InstanceCount,
        definition.ResourceConfig.VolumeSizeInGB,
    ) == ("local", 1, 1)
    assert definition.StoppingCondition.MaxRuntimeInSeconds == 86400
    assert definition.OutputDataConfig is None


def test_given_values_are_kept(request_doc: dict[str, Any]) -> None:
    definition = request_doc["TrainingJobDefinition"]
    definition["RoleArn"] = "arn:aws:iam::123456789012:role/SageMakerRole"
    definition["ResourceConfig"] = {
        "InstanceType": "ml.m5.xlarge",
        "InstanceCount": 2,
        "VolumeSizeInGB": 30,
    }
    loaded = load_tuning_job_document(request_doc).TrainingJobDefinition
    assert loaded.RoleArn == "arn:aws:iam::123456789012:role/SageMakerRole"
    assert loaded.ResourceConfig.InstanceType == "ml.m5.xlarge"


@pytest.mark.parametrize("timestamps", ["epoch", "iso"])
def test_stored_request_round_trips(request_doc: dict[str, Any], timestamps: str) -> None:
    request = load_tuning_job_document(request_doc)
    document = to_document(request, timestamps=timestamps)
    assert CreateHyperParameterTuningJobRequest.model_validate(document) == request
    assert load_tuning_job_document(json.loads(json.dumps(document))) == request


def test_to_document_leaves_out_absent_members(request_doc: dict[str, Any]) -> None:
    document = to_document(load_tuning_job_document(request_doc))
    assert "WarmStartConfig" not in document
    assert "TrainingJobEarlyStoppingType" not in document["HyperParameterTuningJobConfig"]


def describe_response() -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": "rf-digits",
        "HyperParameterTuningJobArn": tuning_job_arn("rf-digits"),
        "HyperParameterTuningJobConfig": {
            "Strategy": "Random",
            "ResourceLimits": {"MaxParallelTrainingJobs": 1},
        },
        "HyperParameterTuningJobStatus": "Completed",
        "CreationTime": 1700000000.5,
        "HyperParameterTuningEndTime": "2023-11-14T22:15:00+00:00",
        "TrainingJobStatusCounters": {"Completed": 3},
        "ObjectiveStatusCounters": {"Succeeded": 3},
    }


def test_timestamps_accept_epoch_and_iso_and_dump_both_ways() -> None:
    response = DescribeHyperParameterTuningJobResponse.model_validate(describe_response())
    assert response.CreationTime == datetime.fromtimestamp(1700000000.5, UTC)
    epoch = to_document(response)
    assert epoch["CreationTime"] == 1700000000.5
    assert epoch["HyperParameterTuningEndTime"] == 1700000100.0
    iso = to_document(response, timestamps="iso")
    assert iso["CreationTime"] == "2023-11-14T22:13:20.500000+00:00"
    assert DescribeHyperParameterTuningJobResponse.model_validate(iso) == response


def test_naive_times_are_utc() -> None:
    doc = describe_response()
    doc["CreationTime"] = "2023-11-14T22:13:20"
    assert (
        to_document(DescribeHyperParameterTuningJobResponse.model_validate(doc))["CreationTime"]
        == 1700000000.0
    )


def training_request(source_dir: Path) -> dict[str, Any]:
    return {
        "TrainingJobName": "rf-digits-001-0a1b2c3d",
        "HyperParameters": {"sagemaker_program": "train.py", "sagemaker_submit_directory": "src"},
        "AlgorithmSpecification": {
            "MetricDefinitions": [{"Name": "accuracy", "Regex": "accuracy: ([0-9.]+)"}]
        },
        "InputDataConfig": [
            {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": "data"}}}
        ],
    }


def test_training_job_document_with_program(tmp_path: Path, source_dir: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text(yaml.safe_dump(training_request(source_dir)))
    request = load_training_job_document(path)
    assert isinstance(request, CreateTrainingJobRequest)
    assert request.HyperParameters["sagemaker_submit_directory"] == str(source_dir)
    assert request.InputDataConfig[0].DataSource.S3DataSource.S3Uri == str(tmp_path / "data")
    assert request.ResourceConfig.InstanceType == "local"
    assert request.RoleArn == PLACEHOLDER_ROLE_ARN


def test_training_job_document_with_entrypoint(tmp_path: Path, source_dir: Path) -> None:
    doc = training_request(source_dir)
    del doc["HyperParameters"]
    doc["AlgorithmSpecification"].update(
        ContainerEntrypoint=["python", "-c"], ContainerArguments=["print(1)"]
    )
    request = load_training_job_document(doc, base_dir=tmp_path)
    assert request.AlgorithmSpecification.ContainerEntrypoint == ["python", "-c"]


def test_training_job_document_needs_program_or_entrypoint(
    tmp_path: Path, source_dir: Path
) -> None:
    doc = training_request(source_dir)
    del doc["HyperParameters"]["sagemaker_program"]
    with pytest.raises(ValidationException, match=r"HyperParameters\.sagemaker_program"):
        load_training_job_document(doc, base_dir=tmp_path)


def test_training_job_document_name_and_s3(tmp_path: Path, source_dir: Path) -> None:
    doc = training_request(source_dir)
    doc["TrainingJobName"] = "../escape"
    with pytest.raises(ValidationException, match="at 'TrainingJobName' failed"):
        load_training_job_document(doc, base_dir=tmp_path)
    doc["TrainingJobName"] = "fine"
    doc["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = "s3://bucket/data"
    with pytest.raises(
        ValidationException, match="S3 is not configured; use a local path or file://"
    ):
        load_training_job_document(doc, base_dir=tmp_path)
