"""tunesmith: automatic model tuning on your own machines, with the SageMaker tuning API.

The public names load on first use, so importing a submodule (a strategy, say) stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_PUBLIC = {
    "TrainingJob": "tunesmith.api",
    "analytics": "tunesmith.api",
    "TuningJob": "tunesmith.api",
    "create_training_job": "tunesmith.api",
    "stop_training_job": "tunesmith.api",
    "resume_tuning_job": "tunesmith.api",
    "Workspace": "tunesmith.api",
    "create_tuning_job": "tunesmith.api",
    "describe_training_job": "tunesmith.api",
    "describe_tuning_job": "tunesmith.api",
    "list_training_jobs_for_tuning_job": "tunesmith.api",
    "list_tuning_jobs": "tunesmith.api",
    "stop_tuning_job": "tunesmith.api",
    "delete_tuning_job": "tunesmith.api",
    "tuning_job": "tunesmith.api",
    "ResourceInUse": "tunesmith.model.errors",
    "ResourceLimitExceeded": "tunesmith.model.errors",
    "ResourceNotFound": "tunesmith.model.errors",
    "TunesmithError": "tunesmith.model.errors",
    "ValidationException": "tunesmith.model.errors",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'tunesmith' has no attribute {name!r}")
