"""What a training job asks for (CPUs, GPUs) and, on this machine, handing it out exclusively.

A training job's request comes from its ``ResourceConfig``: an ``ml.*`` instance type stands for
that instance's vCPUs and GPUs (times ``InstanceCount``, all run as one process here); ``local``
asks for nothing in particular and shares the machine, as SageMaker's local mode does;
``local_gpu`` asks for every GPU of the machine. ``TUNESMITH_NUM_CPUS`` / ``TUNESMITH_NUM_GPUS``
in the definition's ``Environment`` override the instance type's figures. The table and the
rules are documented in ``docs/scaling.md``.

:class:`LocalResources` hands the machine's CPUs and GPUs to the training jobs of this process:
a job starts only once what it asks for is free, its GPUs are its own (``CUDA_VISIBLE_DEVICES``)
until it ends, and :meth:`LocalResources.slots` tells an engine how many such jobs fit at once.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tunesmith.model.errors import ValidationException

CPUS_VARIABLE = "TUNESMITH_NUM_CPUS"
GPUS_VARIABLE = "TUNESMITH_NUM_GPUS"
MACHINE_CPUS_VARIABLE = "TUNESMITH_LOCAL_CPUS"
"""Declares how many CPUs this machine offers training jobs (default: those this process may
use)."""
MACHINE_GPUS_VARIABLE = "TUNESMITH_LOCAL_GPUS"
"""Declares the GPU ids this machine offers training jobs, e.g. ``0,1`` (default: the
``CUDA_VISIBLE_DEVICES`` of this process, else the GPUs ``nvidia-smi`` lists)."""

GPUS_PER_INSTANCE: Mapping[str, int] = {
    **{f"ml.p2.{size}": n for size, n in (("xlarge", 1), ("8xlarge", 8), ("16xlarge", 16))},
    **{f"ml.p3.{size}": n for size, n in (("2xlarge", 1), ("8xlarge", 4), ("16xlarge", 8))},
    "ml.p3dn.24xlarge": 8,
    "ml.p4d.24xlarge": 8,
    "ml.p4de.24xlarge": 8,
    "ml.p5.4xlarge": 1,
    "ml.p5.48xlarge": 8,
    "ml.p5e.48xlarge": 8,
    "ml.p5en.48xlarge": 8,
    "ml.p6-b200.48xlarge": 8,
    "ml.p6-b300.48xlarge": 8,
    "ml.p6e-gb200.36xlarge": 4,
    **{
        f"ml.{family}.{size}": n
        for family in ("g4dn", "g5", "g6", "g6e")
        for size, n in (
            ("xlarge", 1),
            ("2xlarge", 1),
            ("4xlarge", 1),
            ("8xlarge", 1),
            ("16xlarge", 1),
            ("12xlarge", 4),
            ("24xlarge", 4),
            ("48xlarge", 8),
        )
    },
}
"""GPUs of the ``ml.*`` instance types that have any; every other type counts none (a GPU type
missing here asks for its GPUs with ``TUNESMITH_NUM_GPUS``)."""

_SIZE = re.compile(r"^(?:(\d+)xlarge|xlarge|large|medium|small)$")


@dataclass(frozen=True)
class ResourceRequest:
    """What one training job asks for; ``field`` names where the request came from."""

    cpus: int
    gpus: int
    field: str = "ResourceConfig.InstanceType"

    @property
    def shares_machine(self) -> bool:
        """Asks for nothing in particular (``local``): runs beside anything."""
        return self.cpus == 0 and self.gpus == 0


def instance_vcpus(instance_type: str) -> int:
    """vCPUs of an ``ml.*`` instance type, from its size: ``large`` 2, ``xlarge`` 4,
    ``Nxlarge`` 4·N (``medium`` 2, ``small`` 1)."""
    size = instance_type.rsplit(".", 1)[-1]
    match = _SIZE.match(size)
    if match is None:
        raise ValidationException(
            f"ResourceConfig.InstanceType {instance_type} has no known size; set "
            f"{CPUS_VARIABLE} and {GPUS_VARIABLE} in TrainingJobDefinition.Environment"
        )
    if match.group(1):
        return 4 * int(match.group(1))
    return {"xlarge": 4, "large": 2, "medium": 2, "small": 1}[size]


def training_job_resources(definition: Mapping[str, Any], machine_gpus: int = 0) -> ResourceRequest:
    """The request of a training job definition (of a tuning job, or ``CreateTrainingJob``);
    ``local_gpu`` asks for ``machine_gpus``."""
    resources = (
        definition.get("ResourceConfig")
        or definition.get("HyperParameterTuningResourceConfig")
        or {}
    )
    instance_type = resources.get("InstanceType") or "local"
    count = int(resources.get("InstanceCount") or 1)
    if instance_type == "local":
        cpus, gpus = 0, 0
    elif instance_type == "local_gpu":
        cpus, gpus = 0, machine_gpus
    else:
        cpus = instance_vcpus(instance_type) * count
        gpus = GPUS_PER_INSTANCE.get(instance_type, 0) * count
    field = "ResourceConfig.InstanceType"
    environment = definition.get("Environment") or {}
    if CPUS_VARIABLE in environment:
        cpus, field = _count(environment, CPUS_VARIABLE), f"Environment.{CPUS_VARIABLE}"
    if GPUS_VARIABLE in environment:
        gpus, field = _count(environment, GPUS_VARIABLE), f"Environment.{GPUS_VARIABLE}"
    return ResourceRequest(cpus, gpus, field)


def _count(environment: Mapping[str, str], name: str) -> int:
    value = str(environment[name]).strip()
    if not value.isdigit():
        raise ValidationException(
            f"Value '{value[:32]}' at 'TrainingJobDefinition.Environment.{name}' failed to "
            "satisfy constraint: Member must be a whole number of at least 0"
        )
    return int(value)


class LocalResources:
    """The CPUs and GPUs this machine offers training jobs, each GPU held by one job at a time."""

    def __init__(self, cpus: int, gpus: tuple[int, ...]) -> None:
        self.cpus = max(1, cpus)
        self.gpus = gpus
        self._free_cpus = self.cpus
        self._free_gpus = list(gpus)
        self._changed = threading.Condition()

    def check(self, request: ResourceRequest) -> None:
        """A request no amount of waiting can satisfy here is the user's error."""
        if request.gpus > len(self.gpus):
            have = f"only {len(self.gpus)}" if self.gpus else "none"
            raise ValidationException(
                f"{request.field} asks for {request.gpus} GPU(s) per training job but this "
                f"machine has {have}; choose an instance type without GPUs, set "
                f"{GPUS_VARIABLE}=0 in the Environment, or run on a cluster that has them"
            )

    def slots(self, request: ResourceRequest) -> int | None:
        """How many training jobs with this request fit at once (``None``: no limit)."""
        self.check(request)
        if request.shares_machine:
            return None
        fits = [self.cpus // min(request.cpus, self.cpus)] if request.cpus else []
        if request.gpus:
            fits.append(len(self.gpus) // request.gpus)
        return max(1, min(fits))

    def wake(self) -> None:
        """Let waiting holders look at their ``cancelled`` condition again."""
        with self._changed:
            self._changed.notify_all()

    @contextmanager
    def hold(
        self, request: ResourceRequest, cancelled: Callable[[], bool]
    ) -> Iterator[tuple[int, ...] | None]:
        """Wait until the request fits, then hold it: yields the GPU ids given, or ``None`` if
        ``cancelled`` turned true while waiting (see :meth:`wake`)."""
        self.check(request)
        cpus = min(request.cpus, self.cpus)
        with self._changed:
            self._changed.wait_for(
                lambda: (
                    cancelled()
                    or (self._free_cpus >= cpus and len(self._free_gpus) >= request.gpus)
                )
            )
            if self._free_cpus < cpus or len(self._free_gpus) < request.gpus:
                given = None
            else:
                given = tuple(self._free_gpus[: request.gpus])
                del self._free_gpus[: request.gpus]
                self._free_cpus -= cpus
        try:
            yield given
        finally:
            if given is not None:
                with self._changed:
                    self._free_cpus += cpus
                    self._free_gpus.extend(given)
                    self._free_gpus.sort()
                    self._changed.notify_all()


_MACHINES: dict[tuple[int, tuple[int, ...]], LocalResources] = {}
_MACHINES_LOCK = threading.Lock()


def this_machine() -> LocalResources:
    """The resources of this machine, one pool per process (for what is declared now)."""
    key = (_machine_cpus(), _machine_gpus())
    with _MACHINES_LOCK:
        if key not in _MACHINES:
            _MACHINES[key] = LocalResources(*key)
        return _MACHINES[key]


def _machine_cpus() -> int:
    declared = os.environ.get(MACHINE_CPUS_VARIABLE, "").strip()
    if declared.isdigit() and int(declared) > 0:
        return int(declared)
    return len(os.sched_getaffinity(0))


def _machine_gpus() -> tuple[int, ...]:
    for variable in (MACHINE_GPUS_VARIABLE, "CUDA_VISIBLE_DEVICES"):
        declared = os.environ.get(variable)
        if declared is not None:
            return tuple(int(item) for item in declared.split(",") if item.strip().isdigit())
    return _nvidia_gpus()


_NVIDIA: list[tuple[int, ...]] = []


def _nvidia_gpus() -> tuple[int, ...]:
    """The GPUs ``nvidia-smi`` lists (asked once per process)."""
    if not _NVIDIA:
        found: tuple[int, ...] = ()
        if shutil.which("nvidia-smi"):
            try:
                listing = subprocess.run(
                    ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10
                ).stdout
                found = tuple(
                    range(sum(1 for line in listing.splitlines() if line.startswith("GPU ")))
                )
            except (OSError, subprocess.SubprocessError):
                found = ()
        _NVIDIA.append(found)
    return _NVIDIA[0]
