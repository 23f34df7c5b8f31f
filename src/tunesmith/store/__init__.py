"""The store: the single source of truth for tuning jobs, training jobs and metric values."""

from tunesmith.store.database import default_home, store_url
from tunesmith.store.repository import (
    TERMINAL_STATUSES,
    Counters,
    Listing,
    MetricPoint,
    Store,
    TrainingJobRecord,
    TuningJobRecord,
)

__all__ = [
    "TERMINAL_STATUSES",
    "Counters",
    "Listing",
    "MetricPoint",
    "Store",
    "TrainingJobRecord",
    "TuningJobRecord",
    "default_home",
    "store_url",
]
