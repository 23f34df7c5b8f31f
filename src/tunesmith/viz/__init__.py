"""Visual analysis of tuning jobs: linked Altair charts and self-contained reports."""

from tunesmith.viz.charts import build_report
from tunesmith.viz.data import TuningJobData
from tunesmith.viz.export import save_report
from tunesmith.viz.loading import tuning_job_data, visualize_tuning_job, write_report

__all__ = [
    "TuningJobData",
    "build_report",
    "save_report",
    "tuning_job_data",
    "visualize_tuning_job",
    "write_report",
]
