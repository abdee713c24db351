"""Tables of compute: jobs and the GPU-seconds they reserve and use."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from aicommons.database import Base, UTCDateTime
from aicommons.identity.models import _enum


class JobState(enum.StrEnum):
    QUEUED = "queued"
    STARTING = "starting"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    LOST = "lost"  # the engine no longer knows it; the reason says why


ACTIVE_STATES = (JobState.QUEUED, JobState.STARTING, JobState.RUNNING)


class Job(Base):
    """A job on an engine, paid for by an allocation: its reservation until it ends, then its usage."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_allocation_state", "allocation_id", "state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"))
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    engine: Mapped[str] = mapped_column(String(16))
    engine_job_id: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[JobState] = mapped_column(_enum(JobState, "job_state"))
    reason: Mapped[str | None] = mapped_column(Text)
    # An argument list (never a shell string built from user input), or a script's text.
    command: Mapped[list | None] = mapped_column(JSON)
    script: Mapped[str | None] = mapped_column(Text)
    nodes: Mapped[int] = mapped_column(Integer)
    gpus_per_node: Mapped[int] = mapped_column(Integer)
    cpus_per_node: Mapped[int] = mapped_column(Integer)
    memory_mb: Mapped[int] = mapped_column(Integer)
    time_limit_seconds: Mapped[int] = mapped_column(Integer)
    environment: Mapped[dict] = mapped_column(JSON)
    reserved_gpu_seconds: Mapped[int] = mapped_column(BigInteger)  # GPUs x time limit while active
    used_gpu_seconds: Mapped[int | None] = mapped_column(BigInteger)  # settled when it ends
    exit_code: Mapped[int | None] = mapped_column(Integer)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UsageRecord(Base):
    """GPU-seconds used on an allocation: one per portal job, and one per job run on the cluster directly."""

    __tablename__ = "usage_records"
    __table_args__ = (UniqueConstraint("engine", "engine_job_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.id"), index=True)
    member_state_code: Mapped[str] = mapped_column(String(2), index=True)
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id"), unique=True)
    engine: Mapped[str] = mapped_column(String(16))
    engine_job_id: Mapped[str] = mapped_column(String(64))
    gpu_seconds: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
