"""Tables of the store. Times are epoch seconds (REAL); documents are JSON text."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

SCHEMA_VERSION = 3

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
)

tuning_jobs = Table(
    "tuning_jobs",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("arn", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("strategy", String(16), nullable=False),
    Column("objective_metric", Text, nullable=False),
    Column("objective_type", String(8), nullable=False),
    Column("request", Text, nullable=False),
    Column("fingerprint", Text),
    Column("created", Float, nullable=False),
    Column("last_modified", Float, nullable=False),
    Column("end_time", Float),
    Column("failure_reason", Text),
    Column("completion_reason", Text),
    Column("convergence_time", Float),
    Column("engine_pid", Integer),
    Column("engine_host", Text),
    Column("heartbeat", Float),
    Column("backend", Text),
)

training_jobs = Table(
    "training_jobs",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("tuning_job", String(32), ForeignKey("tuning_jobs.name", ondelete="CASCADE")),
    Column("seq", Integer, nullable=False),
    Column("arn", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("secondary_status", String(32), nullable=False),
    Column("hyperparameters", Text, nullable=False),
    Column("created", Float, nullable=False),
    Column("start_time", Float),
    Column("end_time", Float),
    Column("final_objective", Float),
    Column("objective_status", String(16)),
    Column("failure_reason", Text),
    Column("exit_code", Integer),
    Column("pid", Integer),
    Column("model_artifacts", Text),
    Column("notes", Text),
    Column("transitions", Text, nullable=False),
    Column("definition", Text),
    Column("log_offset", Integer),
    Column("retryable", Integer),
    Index("ix_training_jobs_tuning_job_seq", "tuning_job", "seq"),
    Index("ix_training_jobs_tuning_job_objective", "tuning_job", "final_objective"),
    # Covers the counters, ConsumedResources and "finished after" of Describe: read from the
    # index alone, not from 10,000 rows of documents.
    Index(
        "ix_training_jobs_tuning_job_progress",
        "tuning_job", "status", "objective_status", "start_time", "end_time",
    ),
)

metric_values = Table(
    "metric_values",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "training_job",
        String(63),
        ForeignKey("training_jobs.name", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("metric", Text, nullable=False),
    Column("step", Integer, nullable=False),
    Column("timestamp", Float, nullable=False),
    Column("value", Float, nullable=False),
    Index("ix_metric_values_job_metric_step", "training_job", "metric", "step"),
)

tags = Table(
    "tags",
    metadata,
    Column("resource_arn", Text, primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("value", String(256), nullable=False),
)
