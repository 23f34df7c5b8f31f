"""Warm start: a tuning job that begins from what its parent tuning jobs learned.

A job's *fingerprint* records what defines its data and algorithm (entry point, a digest of the
source folder's content, each channel's path and content digest, the training image), so an
``IdenticalDataAndAlgorithm`` child can be checked against its parents by content, not by name.
Parents' finished training jobs, and their parents' in turn, become the child's first trials.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunesmith.model.errors import ResourceNotFound, ValidationException
from tunesmith.store import TERMINAL_STATUSES, Store, TuningJobRecord

if TYPE_CHECKING:  # numpy and pydantic load only where a job is created or run, not described
    from tunesmith.space import Config, SearchSpace
    from tunesmith.strategies.base import Trial

MAX_PARENTS = 5
_SKIPPED_FOLDERS = {"__pycache__", ".git", ".ipynb_checkpoints"}
_RANGE_KINDS = {
    "IntegerParameterRanges": "Integer",
    "ContinuousParameterRanges": "Continuous",
    "CategoricalParameterRanges": "Categorical",
}


def content_digest(path: Path) -> str:
    """SHA-256 of a file, or of a folder's files (relative names and contents, in name order)."""
    digest = hashlib.sha256()
    if path.is_file():
        _hash_file(digest, path)
        return digest.hexdigest()
    for file in sorted(_files(path)):
        digest.update(str(file.relative_to(path)).encode() + b"\0")
        _hash_file(digest, file)
    return digest.hexdigest()


def _files(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder, followlinks=True):
        dirs[:] = [d for d in dirs if d not in _SKIPPED_FOLDERS]
        for name in files:
            if not name.endswith(".pyc"):
                yield Path(root) / name


def _hash_file(digest: Any, path: Path) -> None:
    with open(path, "rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)


def fingerprint(request: Mapping[str, Any]) -> dict[str, Any]:
    """What defines a tuning job's data and algorithm, by content."""
    from tunesmith.model.validation import (
        PROGRAM,
        SUBMIT_DIRECTORY,
        hyperparameter_value,
        local_path,
    )

    definition = request["TrainingJobDefinition"]
    static = definition.get("StaticHyperParameters") or {}
    source = local_path(hyperparameter_value(static.get(SUBMIT_DIRECTORY, ".")))
    channels = {}
    for channel in definition.get("InputDataConfig") or []:
        path = local_path(channel["DataSource"]["S3DataSource"]["S3Uri"])
        channels[channel["ChannelName"]] = {
            "path": str(path),
            "digest": content_digest(path) if path and path.exists() else None,
        }
    # The source folder may hold the data too; its digest covers the code that runs.
    return {
        "entry_point": hyperparameter_value(static.get(PROGRAM, "")),
        "source_digest": content_digest(source) if source and source.exists() else None,
        "training_image": (definition.get("AlgorithmSpecification") or {}).get("TrainingImage"),
        "channels": channels,
    }


def parent_names(request: Mapping[str, Any]) -> list[str]:
    config = request.get("WarmStartConfig") or {}
    return [
        p["HyperParameterTuningJobName"] for p in config.get("ParentHyperParameterTuningJobs") or []
    ]


def validate_warm_start(store: Store, request: Mapping[str, Any]) -> None:
    """Check a child's ``WarmStartConfig`` against its parents in the store."""
    config = request.get("WarmStartConfig")
    if not config:
        return
    names = parent_names(request)
    field = "WarmStartConfig.ParentHyperParameterTuningJobs"
    if not 1 <= len(names) <= MAX_PARENTS:
        raise ValidationException(
            f"Value at '{field}' failed to satisfy constraint: Member must have length between "
            f"1 and {MAX_PARENTS} (got {len(names)})"
        )
    if len(set(names)) != len(names):
        raise ValidationException(f"'{field}' names the same parent tuning job twice")
    child_name = request["HyperParameterTuningJobName"]
    child_fingerprint = fingerprint(request)
    for name in names:
        if name == child_name:
            raise ValidationException(f"A tuning job cannot be its own parent ('{field}')")
        try:
            parent = store.get_tuning_job(name)
        except ResourceNotFound:
            raise ResourceNotFound(
                f"Parent hyperparameter tuning job '{name}' in '{field}' does not exist."
            ) from None
        if parent.status not in TERMINAL_STATUSES:
            raise ValidationException(
                f"Parent hyperparameter tuning job '{name}' is {parent.status}; a parent must "
                "have ended (Completed, Stopped or Failed) before a warm start"
            )
        if (
            parent.status == "Failed"
            and store.best_training_job(name, parent.objective_type) is None
        ):
            raise ValidationException(
                f"Parent hyperparameter tuning job '{name}' failed without any training job "
                "with an objective value: there is nothing to start from"
            )
        _check_objective(request, parent)
        _check_parameter_types(request, parent)
        if config["WarmStartType"] == "IdenticalDataAndAlgorithm":
            _check_identical(child_fingerprint, parent)


def _check_objective(request: Mapping[str, Any], parent: TuningJobRecord) -> None:
    objective = request["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    if (objective["MetricName"], objective["Type"]) != (
        parent.objective_metric,
        parent.objective_type,
    ):
        raise ValidationException(
            "The objective of a warm-started tuning job must be its parents': "
            f"'HyperParameterTuningJobObjective' is {objective['Type']} {objective['MetricName']}"
            f", parent '{parent.name}' has {parent.objective_type} {parent.objective_metric}"
        )


def _kinds(request: Mapping[str, Any]) -> dict[str, str]:
    ranges = request["HyperParameterTuningJobConfig"].get("ParameterRanges") or {}
    return {r["Name"]: kind for key, kind in _RANGE_KINDS.items() for r in ranges.get(key) or []}


def _check_parameter_types(request: Mapping[str, Any], parent: TuningJobRecord) -> None:
    parent_kinds = _kinds(parent.request)
    for name, kind in _kinds(request).items():
        if name in parent_kinds and parent_kinds[name] != kind:
            raise ValidationException(
                f"Hyperparameter '{name}' is {kind} in 'ParameterRanges' but "
                f"{parent_kinds[name]} in parent tuning job '{parent.name}': a warm start "
                "cannot change a hyperparameter's type"
            )


def _check_identical(child: Mapping[str, Any], parent: TuningJobRecord) -> None:
    theirs = parent.fingerprint or fingerprint(parent.request)
    what = "IdenticalDataAndAlgorithm requires the parents' data and algorithm"
    if child["entry_point"] != theirs["entry_point"]:
        raise ValidationException(
            f"{what}: the entry point is {child['entry_point']}, parent '{parent.name}' ran "
            f"{theirs['entry_point']} (use TransferLearning to change it)"
        )
    if child["source_digest"] != theirs["source_digest"]:
        raise ValidationException(
            f"{what}: the content of the source folder (sagemaker_submit_directory) differs "
            f"from parent '{parent.name}' (use TransferLearning to change it)"
        )
    if child["training_image"] != theirs["training_image"]:
        raise ValidationException(f"{what}: the TrainingImage differs from parent '{parent.name}'")
    mine = {name: c["digest"] for name, c in child["channels"].items()}
    other = {name: c["digest"] for name, c in theirs["channels"].items()}
    if mine != other:
        raise ValidationException(
            f"{what}: the data channels ({', '.join(sorted(mine)) or 'none'}) differ from parent "
            f"'{parent.name}' ({', '.join(sorted(other)) or 'none'}) in names or content "
            "(use TransferLearning to change them)"
        )


def lineage(store: Store, name: str) -> list[TuningJobRecord]:
    """Every ancestor of a tuning job (parents, their parents, ...), each once, nearest first.

    An ancestor deleted since is skipped: its trials are gone with it.
    """
    seen = {name}
    order: list[TuningJobRecord] = []
    frontier = parent_names(store.get_tuning_job(name).request)
    while frontier:
        following: list[str] = []
        for parent in frontier:
            if parent in seen:
                continue
            seen.add(parent)
            try:
                record = store.get_tuning_job(parent)
            except ResourceNotFound:
                continue
            order.append(record)
            following.extend(parent_names(record.request))
        frontier = following
    return order


def inherited_trials(store: Store, name: str, space: SearchSpace, maximize: bool) -> list[Trial]:
    """The finished training jobs of a tuning job's ancestors, as trials in its own space.

    A value outside the child's ranges is kept (the strategy decides what it can use); a trial
    that cannot be written in the child's space at all (a parameter with no value, a category
    the child does not have) is left out.
    """
    from tunesmith.strategies.base import Trial

    trials: list[Trial] = []
    for ancestor in lineage(store, name):
        static = (ancestor.request.get("TrainingJobDefinition") or {}).get(
            "StaticHyperParameters"
        ) or {}
        for record in store.training_jobs(ancestor.name):
            if record.status not in TERMINAL_STATUSES:
                continue
            config = _config_in(space, {**static, **record.hyperparameters})
            if config is None:
                continue
            value = record.final_objective if record.objective_status == "Succeeded" else None
            loss = None if value is None else (-value if maximize else value)
            trials.append(Trial(record.name, config, loss, source=ancestor.name))
    return trials


def _config_in(space: SearchSpace, hyperparameters: Mapping[str, str]) -> Config | None:
    from tunesmith.model.validation import hyperparameter_value

    try:
        return space.from_hyperparameters(
            {p.name: hyperparameter_value(hyperparameters[p.name]) for p in space.parameters}
        )
    except (KeyError, ValueError):
        return None


def overall_best(
    store: Store, job: TuningJobRecord, own_best: Any
) -> tuple[TuningJobRecord, Any] | None:
    """The best training job across a tuning job and its ancestors, with the job it ran in."""
    maximize = job.objective_type == "Maximize"
    best: tuple[TuningJobRecord, Any] | None = (job, own_best) if own_best else None
    for ancestor in lineage(store, job.name):
        candidate = store.best_training_job(ancestor.name, job.objective_type)
        if candidate is None:
            continue
        if best is None or (
            candidate.final_objective > best[1].final_objective
            if maximize
            else candidate.final_objective < best[1].final_objective
        ):
            best = (ancestor, candidate)
    return best


def with_warm_start(
    request: dict[str, Any], parents: Sequence[str], warm_start_type: str
) -> dict[str, Any]:
    """The request with a ``WarmStartConfig`` naming ``parents`` (as the CLI flags give them)."""
    return {
        **request,
        "WarmStartConfig": {
            "ParentHyperParameterTuningJobs": [
                {"HyperParameterTuningJobName": name} for name in parents
            ],
            "WarmStartType": warm_start_type,
        },
    }
